// UDP codec over IPv6 and IPv4: known datagrams (tshark-checked checksums), zero-checksum rules, errors, round trips.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { fromHex } from "../../../firmware/core/hex.ts";
import { parseIpv4, parseIpv6 } from "../../../firmware/wire/address.ts";
import { parseIpv4Packet, ipv4UpperChecksumAddresses } from "../../../firmware/wire/ipv4.ts";
import { ipv6UpperChecksumAddresses, parseIpv6Packet } from "../../../firmware/wire/ipv6.ts";
import { emitUdp, emitUdpInto, parseUdp, udpLen, UdpView, type UdpRepr } from "../../../firmware/wire/udp.ts";
import { UDP_IPV4, UDP_IPV6 } from "../../vectors/wire/known-packets.ts";

const hex = (s: string): Uint8Array => fromHex(s)!;
const V6 = { source: parseIpv6("2001:db8::1")!, destination: parseIpv6("2001:db8::2")! };
const V4 = { source: parseIpv4("192.0.2.1")!, destination: parseIpv4("198.51.100.2")! };
const REPR: UdpRepr = { sourcePort: 40000, destinationPort: 40001, payload: new TextEncoder().encode("monami") };
const DATAGRAM_V6 = UDP_IPV6.subarray(40);
const DATAGRAM_V4 = UDP_IPV4.subarray(20);

describe("UDP over IPv6 (known datagram, tshark checksum 0x22a1)", () => {
  test("deconstruct through the IPv6 packet", () => {
    const p = parseIpv6Packet(UDP_IPV6);
    if (!p.ok) throw new Error("ipv6");
    const v = UdpView.parse(p.value.upperPayload);
    if (!v.ok) throw new Error("udp");
    expect([v.value.sourcePort, v.value.destinationPort, v.value.length, v.value.checksum]).toEqual([40000, 40001, 14, 0x22a1]);
    expect(v.value.payload).toEqual(REPR.payload);
    expect(v.value.payload.buffer).toBe(UDP_IPV6.buffer);
    expect(parseUdp(p.value.upperPayload, ipv6UpperChecksumAddresses(p.value))).toEqual({ ok: true, value: REPR });
  });
  test("construct, emit and buffer length", () => {
    expect(udpLen(REPR)).toBe(14);
    expect(emitUdp(REPR, V6)).toEqual(DATAGRAM_V6);
    const buffer: Uint8Array = new Uint8Array(20);
    expect(emitUdpInto(REPR, V6, buffer, 6)).toBe(14);
    expect(buffer.subarray(6)).toEqual(DATAGRAM_V6);
    expect(() => emitUdpInto(REPR, V6, buffer, 7)).toThrow(RangeError);
  });
  test("truncated at every offset: an error, never a throw", () => {
    for (let n = 0; n < DATAGRAM_V6.length; n++) expect(parseUdp(DATAGRAM_V6.subarray(0, n), V6).ok).toBe(false);
  });
  test("zero checksum is rejected over IPv6 (RFC 8200 §8.1)", () => {
    const zero = Uint8Array.from(DATAGRAM_V6);
    zero[6] = 0;
    zero[7] = 0;
    expect(parseUdp(zero, V6)).toMatchObject({ ok: false, error: { layer: "udp", kind: "bad-checksum", at: 6 } });
    expect(() => emitUdp(REPR, V6, { ipv4ZeroChecksum: true })).toThrow(RangeError);
  });
  test("a wrong checksum or wrong pseudo-header address fails", () => {
    const bad = Uint8Array.from(DATAGRAM_V6);
    bad[13]! ^= 1;
    expect(parseUdp(bad, V6)).toMatchObject({ ok: false, error: { kind: "bad-checksum" } });
    expect(parseUdp(DATAGRAM_V6, { ...V6, destination: parseIpv6("2001:db8::3")! })).toMatchObject({ ok: false, error: { kind: "bad-checksum" } });
  });
});

describe("UDP over IPv4 (known datagram, tshark checksum 0x91de)", () => {
  test("deconstruct through the IPv4 packet and construct", () => {
    const p = parseIpv4Packet(UDP_IPV4);
    if (!p.ok) throw new Error("ipv4");
    expect(parseUdp(p.value.upperPayload, ipv4UpperChecksumAddresses(p.value))).toEqual({ ok: true, value: REPR });
    expect(emitUdp(REPR, V4)).toEqual(DATAGRAM_V4);
  });
  test("zero checksum means none over IPv4 (RFC 768), and can be emitted", () => {
    const zero = emitUdp(REPR, V4, { ipv4ZeroChecksum: true });
    expect([zero[6], zero[7]]).toEqual([0, 0]);
    expect(parseUdp(zero, V4)).toEqual({ ok: true, value: REPR });
  });
  test("truncated at every offset", () => {
    for (let n = 0; n < DATAGRAM_V4.length; n++) expect(parseUdp(DATAGRAM_V4.subarray(0, n), V4).ok).toBe(false);
  });
});

describe("UDP length and checksum rules", () => {
  test("Length below 8 is bad-length; beyond the input is truncated; octets after it are ignored", () => {
    const short = Uint8Array.from(DATAGRAM_V6);
    short[5] = 7;
    expect(UdpView.parse(short)).toMatchObject({ ok: false, error: { kind: "bad-length", at: 4 } });
    const long = Uint8Array.from(DATAGRAM_V6);
    long[5] = 15;
    expect(UdpView.parse(long)).toMatchObject({ ok: false, error: { kind: "truncated" } });
    const padded = new Uint8Array(20);
    padded.set(DATAGRAM_V6);
    expect(parseUdp(padded, V6)).toEqual({ ok: true, value: REPR });
  });
  test("a computed checksum of zero is sent as 0xffff (RFC 768)", () => {
    // With payload word 0 the checksum is c; making the payload word c turns the sum to all ones, so the checksum computes to 0.
    const probe = emitUdp({ sourcePort: 1, destinationPort: 2, payload: new Uint8Array(2) }, V6);
    const payload = probe.subarray(6, 8).slice();
    const datagram = emitUdp({ sourcePort: 1, destinationPort: 2, payload }, V6);
    expect([datagram[6], datagram[7]]).toEqual([0xff, 0xff]);
    expect(parseUdp(datagram, V6).ok).toBe(true);
  });
  test("bad ports and mixed address families throw RangeError", () => {
    expect(() => emitUdp({ ...REPR, sourcePort: 65536 }, V6)).toThrow(RangeError);
    expect(() => emitUdp(REPR, { source: V4.source, destination: V6.destination })).toThrow(RangeError);
    expect(() => emitUdp({ ...REPR, payload: new Uint8Array(0xfff8) }, V6)).toThrow(RangeError);
  });
  test("hex sanity: the vector's UDP header", () => {
    expect(DATAGRAM_V6.subarray(0, 8)).toEqual(hex("9c409c41000e22a1"));
  });
});

describe("UDP round trips", () => {
  const repr = fc.record({
    sourcePort: fc.integer({ min: 0, max: 0xffff }),
    destinationPort: fc.integer({ min: 0, max: 0xffff }),
    payload: fc.uint8Array({ maxLength: 100 }),
  });
  const addresses = fc.oneof(
    fc.record({ source: fc.uint8Array({ minLength: 16, maxLength: 16 }), destination: fc.uint8Array({ minLength: 16, maxLength: 16 }) }),
    fc.record({ source: fc.uint8Array({ minLength: 4, maxLength: 4 }), destination: fc.uint8Array({ minLength: 4, maxLength: 4 }) }),
  );
  test("parse(emit(r)) equals r over either family (fast-check)", () => {
    fc.assert(
      fc.property(repr, addresses, (r, a) => {
        expect(parseUdp(emitUdp(r, a), a)).toEqual({ ok: true, value: r });
      }),
      { numRuns: 500, seed: 0x0d9 },
    );
  });
  test("flipping any one bit of an emitted datagram breaks it (checksum or length)", () => {
    fc.assert(
      fc.property(repr, fc.nat(), fc.nat(7), (r, at, bit) => {
        const bytes = emitUdp(r, V6);
        const i = at % bytes.length;
        bytes[i]! ^= 1 << bit;
        expect(parseUdp(bytes, V6).ok).toBe(false);
      }),
      { numRuns: 500, seed: 0x0da },
    );
  });
});
