// ByteReader/ByteWriter: bounds checks return errors (reader) or throw (writer), reads are zero-copy, fields are unsigned.

import { describe, expect, test } from "bun:test";
import { ByteReader, ByteWriter, bytesEqual, readU16, readU32, writeU16, writeU32 } from "../../../firmware/wire/bytes.ts";

describe("ByteReader", () => {
  const buf = Uint8Array.from([0x01, 0x02, 0x03, 0x04, 0xff, 0xfe, 0xfd, 0xfc, 0x09]);

  test("reads network-order fields and moves on", () => {
    const r = new ByteReader(buf, "ipv6");
    expect(r.u8()).toEqual({ ok: true, value: 1 });
    expect(r.u16()).toEqual({ ok: true, value: 0x0203 });
    expect(r.offset).toBe(3);
    expect(r.u32()).toEqual({ ok: true, value: 0x04fffefd });
    expect(r.remaining).toBe(2);
  });

  test("u32 with the top bit set is unsigned", () => {
    expect(new ByteReader(buf, "bytes", 4).u32()).toEqual({ ok: true, value: 0xfffefdfc });
    expect(readU32(buf, 4)).toBe(0xfffefdfc);
  });

  test("running off the end is a truncated error in the reader's layer, and does not move the cursor", () => {
    const r = new ByteReader(buf, "udp", 8);
    expect(r.u16()).toEqual({ ok: false, error: { layer: "udp", kind: "truncated", at: 8, detail: "need 2 byte(s), have 1" } });
    expect(r.offset).toBe(8);
    expect(r.u8()).toEqual({ ok: true, value: 9 });
    expect(r.u8().ok).toBe(false);
  });

  test("negative or fractional lengths are errors, not a cursor moved backwards", () => {
    const r = new ByteReader(buf);
    expect(r.bytes(-1).ok).toBe(false);
    expect(r.skip(1.5).ok).toBe(false);
    expect(r.offset).toBe(0);
  });

  test("bytes() and rest() are subarrays sharing memory", () => {
    const copy = Uint8Array.from(buf);
    const r = new ByteReader(copy);
    const first = r.bytes(2);
    if (!first.ok) throw new Error("bytes");
    copy[0] = 0xaa;
    expect(first.value[0]).toBe(0xaa);
    expect(r.skip(3).ok).toBe(true);
    const rest = r.rest();
    expect(rest.byteOffset).toBe(5);
    expect(r.remaining).toBe(0);
  });
});

describe("ByteWriter", () => {
  test("writes fields in network order", () => {
    const out = new Uint8Array(11);
    const w = new ByteWriter(out);
    w.u8(0x1ff).u16(0x12345).u32(0xdeadbeef).bytes(Uint8Array.from([7, 8])).zeros(2);
    expect(Array.from(out)).toEqual([0xff, 0x23, 0x45, 0xde, 0xad, 0xbe, 0xef, 7, 8, 0, 0]);
    expect(w.offset).toBe(11);
  });

  test("overflowing the buffer throws RangeError (a sizing bug, not bad input)", () => {
    const w = new ByteWriter(new Uint8Array(3), 2);
    expect(() => w.u16(1)).toThrow(RangeError);
    expect(() => w.zeros(-1)).toThrow(RangeError);
    expect(w.offset).toBe(2);
  });

  test("zeros() clears exactly the octets it covers", () => {
    const out = new Uint8Array(5).fill(9);
    new ByteWriter(out, 1).zeros(3);
    expect(Array.from(out)).toEqual([9, 0, 0, 0, 9]);
  });
});

describe("helpers", () => {
  test("readU16/writeU16/writeU32 round trip", () => {
    const b = new Uint8Array(6);
    writeU16(b, 0, 0xbeef);
    writeU32(b, 2, 0x80000001);
    expect(readU16(b, 0)).toBe(0xbeef);
    expect(readU32(b, 2)).toBe(0x80000001);
  });
  test("bytesEqual compares length and content", () => {
    expect(bytesEqual(Uint8Array.from([1, 2]), Uint8Array.from([1, 2]))).toBe(true);
    expect(bytesEqual(Uint8Array.from([1, 2]), Uint8Array.from([1, 3]))).toBe(false);
    expect(bytesEqual(Uint8Array.from([1]), Uint8Array.from([1, 0]))).toBe(false);
  });
});
