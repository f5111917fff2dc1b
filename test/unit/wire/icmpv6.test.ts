// ICMPv6 codec: known echo reply and Packet Too Big (tshark-checked), every message kind, errors, the error builder's RFC 4443 §2.4 rules.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { fromHex } from "../../../firmware/core/hex.ts";
import { parseIpv6 } from "../../../firmware/wire/address.ts";
import {
  buildIcmpv6Error,
  buildPacketTooBig,
  emitIcmpv6,
  emitIcmpv6Into,
  icmpv6Len,
  Icmpv6View,
  parseIcmpv6,
  type Icmpv6Repr,
} from "../../../firmware/wire/icmpv6.ts";
import { emitIpv6Packet, ipv6UpperChecksumAddresses, parseIpv6Packet, type Ipv6PacketRepr } from "../../../firmware/wire/ipv6.ts";
import { upperLayerChecksum } from "../../../firmware/wire/pseudo-header.ts";
import { ECHO_REPLY, PACKET_TOO_BIG, UDP_IPV6 } from "../../vectors/wire/known-packets.ts";
import { icmpv6Repr } from "./arbitraries.ts";

const hex = (s: string): Uint8Array => fromHex(s)!;
const A = { source: parseIpv6("2001:db8::2")!, destination: parseIpv6("2001:db8::1")! };

function icmpOf(packet: Uint8Array) {
  const p = parseIpv6Packet(packet);
  if (!p.ok) throw new Error("ipv6");
  return { message: p.value.upperPayload, addresses: ipv6UpperChecksumAddresses(p.value) };
}

describe("ICMPv6 echo reply (known, tshark checksum 0x8580)", () => {
  const { message, addresses } = icmpOf(ECHO_REPLY);
  const repr: Icmpv6Repr = { kind: "echo-reply", identifier: 0xbeef, sequenceNumber: 3, data: new TextEncoder().encode("ping") };

  test("deconstruct", () => {
    const v = Icmpv6View.parse(message);
    if (!v.ok) throw new Error("view");
    expect([v.value.type, v.value.code, v.value.checksum]).toEqual([129, 0, 0x8580]);
    expect(v.value.body).toEqual(hex("beef000370696e67"));
    const r = parseIcmpv6(message, addresses);
    expect(r).toEqual({ ok: true, value: repr });
    expect(r.ok && r.value.kind === "echo-reply" && r.value.data.buffer).toBe(ECHO_REPLY.buffer);
  });
  test("construct, emit, buffer length", () => {
    expect(icmpv6Len(repr)).toBe(12);
    expect(emitIcmpv6(repr, addresses)).toEqual(message);
    const buffer: Uint8Array = new Uint8Array(14);
    expect(emitIcmpv6Into(repr, addresses, buffer, 2)).toBe(12);
    expect(buffer.subarray(2)).toEqual(message);
    expect(() => emitIcmpv6Into(repr, addresses, buffer, 3)).toThrow(RangeError);
  });
  test("truncated at every offset: an error, never a throw", () => {
    for (let n = 0; n < message.length; n++) expect(parseIcmpv6(message.subarray(0, n), addresses).ok).toBe(false);
  });
  test("bad checksum, and a checksum over other addresses", () => {
    const bad = Uint8Array.from(message);
    bad[11]! ^= 0x10;
    expect(parseIcmpv6(bad, addresses)).toEqual({ ok: false, error: { layer: "icmpv6", kind: "bad-checksum", at: 2, detail: "checksum 0x8580 does not verify" } });
    expect(parseIcmpv6(message, { source: addresses.destination, destination: parseIpv6("2001:db8::9")! }).ok).toBe(false);
    expect(() => parseIcmpv6(message, { source: new Uint8Array(4), destination: new Uint8Array(4) })).toThrow(RangeError);
  });
});

describe("ICMPv6 Packet Too Big (known, tshark checksum 0x2a6e)", () => {
  const { message, addresses } = icmpOf(PACKET_TOO_BIG);
  test("deconstruct and construct", () => {
    const r = parseIcmpv6(message, addresses);
    expect(r).toEqual({ ok: true, value: { kind: "packet-too-big", mtu: 1400, invokingPacket: UDP_IPV6 } });
    if (r.ok) expect(emitIcmpv6(r.value, addresses)).toEqual(message);
  });
  test("truncated at every offset below the fixed part; any cut of the quoted packet still parses (no length field)", () => {
    for (let n = 0; n < 8; n++) expect(Icmpv6View.parse(message.subarray(0, n)).ok).toBe(false);
    for (let n = 8; n <= message.length; n++) expect(Icmpv6View.parse(message.subarray(0, n)).ok).toBe(true);
  });
});

describe("every message kind", () => {
  const cases: [string, Icmpv6Repr, string][] = [
    ["destination unreachable, port", { kind: "destination-unreachable", code: 4, invokingPacket: hex("60") }, "01 04 ____ 00000000 60"],
    ["time exceeded, reassembly", { kind: "time-exceeded", code: 1, invokingPacket: hex("6000") }, "03 01 ____ 00000000 6000"],
    ["parameter problem, option, pointer", { kind: "parameter-problem", code: 2, pointer: 0x2a, invokingPacket: hex("") }, "04 02 ____ 0000002a"],
    ["echo request", { kind: "echo-request", identifier: 1, sequenceNumber: 2, data: hex("ff") }, "80 00 ____ 0001 0002 ff"],
    ["other (router solicitation)", { kind: "other", type: 133, code: 0, body: hex("00000000") }, "85 00 ____ 00000000"],
  ];
  for (const [name, repr, layout] of cases) {
    test(name, () => {
      const bytes = emitIcmpv6(repr, A);
      const expected = hex(layout.replace("____", "0000"));
      expected.set(bytes.subarray(2, 4), 2);
      expect(bytes).toEqual(expected);
      expect(parseIcmpv6(bytes, A)).toEqual({ ok: true, value: repr });
    });
  }
  test("a Packet Too Big or echo code is set to 0 and ignored (RFC 4443 §3.2, §4.1)", () => {
    for (const repr of [
      { kind: "packet-too-big", mtu: 1280, invokingPacket: hex("6000") },
      { kind: "echo-request", identifier: 7, sequenceNumber: 8, data: hex("01") },
    ] satisfies Icmpv6Repr[]) {
      const bytes = emitIcmpv6(repr, A);
      expect(bytes[1]).toBe(0);
      bytes[1] = 9;
      bytes[2] = 0;
      bytes[3] = 0;
      const checksum = upperLayerChecksum(A, 58, bytes);
      bytes[2] = checksum >>> 8;
      bytes[3] = checksum & 0xff;
      expect(parseIcmpv6(bytes, A)).toEqual({ ok: true, value: repr });
    }
  });
  test("emit rejects a reserved `other` type and out-of-range fields", () => {
    expect(() => emitIcmpv6({ kind: "other", type: 128, code: 0, body: hex("") }, A)).toThrow(RangeError);
    expect(() => emitIcmpv6({ kind: "destination-unreachable", code: 256, invokingPacket: hex("") }, A)).toThrow(RangeError);
    expect(() => emitIcmpv6({ kind: "echo-request", identifier: 0x10000, sequenceNumber: 0, data: hex("") }, A)).toThrow(RangeError);
  });
  test("parse(emit(r)) equals r (fast-check)", () => {
    fc.assert(
      fc.property(icmpv6Repr, (repr) => {
        expect(parseIcmpv6(emitIcmpv6(repr, A), A)).toEqual({ ok: true, value: repr });
      }),
      { numRuns: 500, seed: 0x1c6 },
    );
  });
});

describe("buildIcmpv6Error / buildPacketTooBig (RFC 4443 §2.4)", () => {
  const options = { source: "2001:db8:ff::1" };
  const udpPacket = (payloadLength: number, destination = "2001:db8::2", source = "2001:db8::1"): Uint8Array =>
    emitIpv6Packet({ source, destination, upperProtocol: 17, upperPayload: new Uint8Array(payloadLength) });

  test("an oversize packet gets a 1280-octet Packet Too Big quoting its start", () => {
    const invoking = udpPacket(1460);
    const r = buildPacketTooBig(invoking, 1400, options);
    if (!r.ok) throw new Error(r.error);
    expect(r.value.length).toBe(1280);
    const p = parseIpv6Packet(r.value);
    if (!p.ok) throw new Error("ipv6");
    expect(p.value.header).toMatchObject({ source: "2001:db8:ff::1", destination: "2001:db8::1", hopLimit: 64 });
    const m = parseIcmpv6(p.value.upperPayload, ipv6UpperChecksumAddresses(p.value));
    expect(m).toEqual({ ok: true, value: { kind: "packet-too-big", mtu: 1400, invokingPacket: invoking.subarray(0, 1232) } });
  });

  test("a small invoking packet is quoted whole", () => {
    const r = buildIcmpv6Error({ kind: "destination-unreachable", code: 1 }, udpPacket(10), { ...options, hopLimit: 255 });
    if (!r.ok) throw new Error(r.error);
    expect(r.value.length).toBe(40 + 8 + 50);
    expect(r.value[7]).toBe(255);
  });

  test("never in reply to an ICMPv6 error or a redirect; echo requests are fine", () => {
    const icmp = (type: number, extensionHeaders: Ipv6PacketRepr["extensionHeaders"] = []) =>
      emitIpv6Packet({ source: "2001:db8::1", destination: "2001:db8::2", extensionHeaders, upperProtocol: 58, upperPayload: hex(`${type.toString(16).padStart(2, "0")}00000000000000`) });
    expect(buildPacketTooBig(icmp(1), 1280, options)).toEqual({ ok: false, error: "invoking-icmpv6-error" });
    expect(buildPacketTooBig(icmp(4, [{ kind: "destination-options", options: [] }]), 1280, options)).toEqual({ ok: false, error: "invoking-icmpv6-error" });
    expect(buildPacketTooBig(icmp(137), 1280, options)).toEqual({ ok: false, error: "invoking-redirect" });
    expect(buildPacketTooBig(icmp(128), 1280, options).ok).toBe(true);
    // A later fragment's first octet is not an ICMPv6 type.
    expect(buildPacketTooBig(icmp(1, [{ kind: "fragment", fragmentOffset: 3, moreFragments: false, identification: 1 }]), 1280, options).ok).toBe(true);
  });

  test("multicast destinations: only Packet Too Big and Parameter Problem code 2", () => {
    const toGroup = udpPacket(10, "ff02::1");
    expect(buildPacketTooBig(toGroup, 1280, options).ok).toBe(true);
    expect(buildIcmpv6Error({ kind: "parameter-problem", code: 2, pointer: 42 }, toGroup, options).ok).toBe(true);
    expect(buildIcmpv6Error({ kind: "parameter-problem", code: 0, pointer: 4 }, toGroup, options)).toEqual({ ok: false, error: "multicast-destination" });
    expect(buildIcmpv6Error({ kind: "time-exceeded", code: 0 }, toGroup, options)).toEqual({ ok: false, error: "multicast-destination" });
  });

  test("sources that are not one node, and non-IPv6 input", () => {
    expect(buildPacketTooBig(udpPacket(10, "2001:db8::2", "::"), 1280, options)).toEqual({ ok: false, error: "source-not-unicast" });
    expect(buildPacketTooBig(udpPacket(10, "2001:db8::2", "ff05::1"), 1280, options)).toEqual({ ok: false, error: "source-not-unicast" });
    expect(buildPacketTooBig(new Uint8Array(39), 1280, options)).toEqual({ ok: false, error: "invoking-not-ipv6" });
    const v4 = udpPacket(10);
    v4[0] = 0x45;
    expect(buildPacketTooBig(v4, 1280, options)).toEqual({ ok: false, error: "invoking-not-ipv6" });
  });

  test("a malformed invoking packet still gets its error (Parameter Problem needs that)", () => {
    const broken = udpPacket(10);
    broken[6] = 60; // says Destination Options, but the payload is not one
    broken[41] = 200;
    const r = buildIcmpv6Error({ kind: "parameter-problem", code: 0, pointer: 41 }, broken, options);
    expect(r.ok).toBe(true);
  });

  test("an MTU below 1280 is a programmer error", () => {
    expect(() => buildPacketTooBig(udpPacket(10), 1279, options)).toThrow(RangeError);
  });
});
