// pcap writer (memory and file) and reader: exact header bytes, timestamps, snap length, appending, torn records, typed errors.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromHex } from "../../../firmware/core/hex.ts";
import { readPcap } from "../../../firmware/pcap/pcap-reader.ts";
import { PcapFileWriter, PcapWriter } from "../../../firmware/pcap/pcap-writer.ts";
import { ECHO_REPLY, UDP_IPV4 } from "../../vectors/wire/known-packets.ts";

const hex = (s: string): Uint8Array => fromHex(s)!;
const dir = mkdtempSync(join(tmpdir(), "monami-h1-pcap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function records(bytes: Uint8Array) {
  const r = readPcap(bytes);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

describe("PcapWriter (memory)", () => {
  test("file header: magic a1b2c3d4 little-endian, v2.4, snaplen, LINKTYPE_RAW", () => {
    const bytes = new PcapWriter().bytes();
    expect(bytes).toEqual(hex("d4c3b2a1 0200 0400 00000000 00000000 00000400 65000000"));
  });

  test("record header: seconds, microseconds, lengths; data follows", () => {
    const w = new PcapWriter();
    w.add(hex("6000"), 1_700_000_000_123.456);
    expect(w.recordCount).toBe(1);
    expect(w.bytes().subarray(24)).toEqual(hex("00f15365 40e20100 02000000 02000000 6000"));
  });

  test("round trip through the reader, IPv4 and IPv6 in one file", () => {
    const w = new PcapWriter();
    w.add(ECHO_REPLY, 1000);
    w.add(UDP_IPV4, 2500.0004);
    const rs = records(w.bytes());
    expect(rs.map((r) => [r.linkType, r.seconds, r.nanoseconds, r.originalLength])).toEqual([
      [101, 1, 0, ECHO_REPLY.length],
      [101, 2, 500_000_000, UDP_IPV4.length],
    ]);
    expect(rs[0]!.data).toEqual(ECHO_REPLY);
    expect(rs[1]!.data).toEqual(UDP_IPV4);
  });

  test("microseconds round to the nearest and carry into seconds", () => {
    const w = new PcapWriter();
    w.add(hex("60"), 1999.9996);
    const [r] = records(w.bytes());
    expect([r!.seconds, r!.nanoseconds]).toEqual([2, 0]);
  });

  test("the snap length cuts packets but keeps their original length", () => {
    const w = new PcapWriter({ snapLength: 10 });
    w.add(ECHO_REPLY, 0);
    const [r] = records(w.bytes());
    expect(r!.data).toEqual(ECHO_REPLY.subarray(0, 10));
    expect(r!.originalLength).toBe(ECHO_REPLY.length);
  });

  test("the packet is copied at add time", () => {
    const w = new PcapWriter();
    const p = Uint8Array.from(ECHO_REPLY);
    w.add(p, 0);
    p[0] = 0;
    expect(records(w.bytes())[0]!.data[0]).toBe(0x60);
  });

  test("bad timestamps and snap lengths throw RangeError", () => {
    expect(() => new PcapWriter().add(hex("60"), -1)).toThrow(RangeError);
    expect(() => new PcapWriter().add(hex("60"), Number.NaN)).toThrow(RangeError);
    expect(() => new PcapWriter().add(hex("60"), 2 ** 32 * 1000)).toThrow(RangeError);
    expect(() => new PcapWriter({ snapLength: 0 })).toThrow(RangeError);
  });
});

describe("readPcap errors and variants", () => {
  const one = (() => {
    const w = new PcapWriter();
    w.add(hex("60000000"), 1000);
    return w.bytes();
  })();

  test("bad magic", () => {
    const bad = Uint8Array.from(one);
    bad[0] = 0x0a;
    expect(readPcap(bad)).toMatchObject({ ok: false, error: { layer: "pcap", kind: "bad-value", at: 0 } });
    expect(readPcap(hex("0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffffffffffff 1c000000"))).toMatchObject({ ok: false, error: { kind: "bad-value" } });
  });

  test("bad version", () => {
    const bad = Uint8Array.from(one);
    bad[4] = 1;
    expect(readPcap(bad)).toMatchObject({ ok: false, error: { kind: "bad-version", at: 4 } });
  });

  test("truncated at every offset inside the header or a record", () => {
    for (let n = 0; n < one.length; n++) {
      const r = readPcap(one.subarray(0, n));
      if (n === 24) expect(r).toEqual({ ok: true, value: [] });
      else expect(r).toMatchObject({ ok: false, error: { layer: "pcap", kind: "truncated" } });
    }
  });

  test("included length above the original length", () => {
    const bad = Uint8Array.from(one);
    bad[24 + 12] = 3;
    expect(readPcap(bad)).toMatchObject({ ok: false, error: { kind: "bad-length", at: 32 } });
  });

  test("a sub-second field of a second or more", () => {
    const bad = Uint8Array.from(one);
    bad.set(hex("40420f00"), 28); // 1 000 000 µs
    expect(readPcap(bad)).toMatchObject({ ok: false, error: { kind: "bad-value", at: 28 } });
  });

  test("big-endian and nanosecond files are read too", () => {
    const be = hex("a1b2c3d4 0002 0004 00000000 00000000 0000ffff 00000065" + "00000005 00000007 00000001 00000002 60");
    expect(records(be)).toEqual([{ linkType: 101, seconds: 5, nanoseconds: 7000, originalLength: 2, data: hex("60") }]);
    const ns = hex("4d3cb2a1 0200 0400 00000000 00000000 ffff0000 65000000" + "05000000 07000000 01000000 01000000 60");
    expect(records(ns)[0]!.nanoseconds).toBe(7);
  });
});

describe("PcapFileWriter (streaming, bounded memory)", () => {
  test("creates a file, buffers, and flushes on demand and on close", () => {
    const path = join(dir, "a.pcap");
    const w = PcapFileWriter.open(path, { bufferBytes: 4096 });
    expect(statSync(path).size).toBe(24);
    w.add(ECHO_REPLY, 1000);
    expect(statSync(path).size).toBe(24); // still buffered
    w.flush();
    expect(statSync(path).size).toBe(24 + 16 + ECHO_REPLY.length);
    w.add(UDP_IPV4, 2000);
    w.close();
    const rs = records(readFileSync(path));
    expect(rs.map((r) => r.data)).toEqual([ECHO_REPLY, UDP_IPV4]);
    expect(() => w.add(ECHO_REPLY, 0)).toThrow();
  });

  test("writes through once the buffer would overflow; file size tracks records; memory is the buffer only", () => {
    const path = join(dir, "b.pcap");
    const w = PcapFileWriter.open(path, { bufferBytes: 200 });
    for (let i = 0; i < 1000; i++) w.add(ECHO_REPLY, i);
    expect(w.recordsWritten).toBe(1000);
    expect(w.fileBytes).toBe(24 + 1000 * (16 + ECHO_REPLY.length));
    expect(statSync(path).size).toBeGreaterThan(w.fileBytes - 200);
    w.close();
    expect(statSync(path).size).toBe(w.fileBytes);
    expect(records(readFileSync(path)).length).toBe(1000);
  });

  test("a packet bigger than the buffer, and bufferBytes 0, are written at once", () => {
    const path = join(dir, "c.pcap");
    const w = PcapFileWriter.open(path, { bufferBytes: 0 });
    w.add(new Uint8Array(3000).fill(0x60), 0);
    expect(statSync(path).size).toBe(24 + 16 + 3000);
    w.close();
  });

  test("reopening appends to the same capture", () => {
    const path = join(dir, "d.pcap");
    const first = PcapFileWriter.open(path);
    first.add(ECHO_REPLY, 1);
    first.close();
    const second = PcapFileWriter.open(path);
    second.add(UDP_IPV4, 2);
    second.close();
    expect(records(readFileSync(path)).map((r) => r.seconds * 1e9 + r.nanoseconds)).toEqual([1_000_000, 2_000_000]);
  });

  test("a torn last record (crash mid-write) is cut off before appending", () => {
    const path = join(dir, "e.pcap");
    const w = PcapFileWriter.open(path);
    w.add(ECHO_REPLY, 1);
    w.add(ECHO_REPLY, 2);
    w.close();
    truncateSync(path, statSync(path).size - 5);
    expect(readPcap(readFileSync(path)).ok).toBe(false);
    const again = PcapFileWriter.open(path);
    again.add(UDP_IPV4, 3);
    again.close();
    const rs = records(readFileSync(path));
    expect(rs.map((r) => r.data)).toEqual([ECHO_REPLY, UDP_IPV4]);
  });

  test("a file that is not our kind of pcap is refused and left alone", () => {
    const path = join(dir, "f.txt");
    writeFileSync(path, "not a capture at all, certainly not");
    expect(() => PcapFileWriter.open(path)).toThrow(/not a little-endian microsecond pcap/);
    expect(readFileSync(path, "utf8")).toBe("not a capture at all, certainly not");
    const other = join(dir, "g.pcap");
    writeFileSync(other, new PcapWriter({ linkType: 1 }).bytes());
    expect(() => PcapFileWriter.open(other)).toThrow();
    const short = join(dir, "h.pcap");
    appendFileSync(short, "abc");
    expect(() => PcapFileWriter.open(short)).toThrow(/too short/);
  });

  test("maxFileBytes: later records are dropped and counted, the file stays valid", () => {
    const path = join(dir, "i.pcap");
    const w = PcapFileWriter.open(path, { maxFileBytes: 24 + 2 * (16 + ECHO_REPLY.length) });
    expect([w.add(ECHO_REPLY, 1), w.add(ECHO_REPLY, 2), w.add(ECHO_REPLY, 3)]).toEqual([true, true, false]);
    expect([w.recordsWritten, w.recordsDropped]).toEqual([2, 1]);
    w.close();
    expect(records(readFileSync(path)).length).toBe(2);
  });
});
