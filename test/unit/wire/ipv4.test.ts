// IPv4 codec: smoltcp's six tests over a tshark-checked packet, options, checksum, fragments, round trips.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { fromHex } from "../../../firmware/core/hex.ts";
import {
  emitIpv4Packet,
  emitIpv4PacketInto,
  ipv4PacketLen,
  ipv4ReprChecksumAddresses,
  ipv4UpperChecksumAddresses,
  Ipv4View,
  parseIpv4Packet,
  type Ipv4PacketRepr,
} from "../../../firmware/wire/ipv4.ts";
import { internetChecksum } from "../../../firmware/wire/checksum.ts";
import { UDP_IPV4 } from "../../vectors/wire/known-packets.ts";
import { ipv4PacketRepr } from "./arbitraries.ts";

const hex = (s: string): Uint8Array => fromHex(s)!;

const REPR: Ipv4PacketRepr = {
  source: "192.0.2.1",
  destination: "198.51.100.2",
  identification: 0x1c46,
  dontFragment: true,
  timeToLive: 64,
  upperProtocol: 17,
  upperPayload: hex("9c409c41000e91de6d6f6e616d69"),
};

/** Rewrites the header checksum after an edit, so a test reaches the check it is about. */
function refreshChecksum(packet: Uint8Array): Uint8Array {
  const headerLength = (packet[0]! & 0x0f) * 4;
  packet[10] = 0;
  packet[11] = 0;
  const sum = internetChecksum(packet.subarray(0, Math.min(headerLength, packet.length)));
  packet[10] = sum >>> 8;
  packet[11] = sum & 0xff;
  return packet;
}

describe("IPv4 over a known UDP packet", () => {
  test("deconstruct", () => {
    const r = parseIpv4Packet(UDP_IPV4);
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    const p = r.value;
    expect(p.header).toMatchObject({
      source: "192.0.2.1",
      destination: "198.51.100.2",
      typeOfService: 0,
      totalLength: 34,
      headerLength: 20,
      identification: 0x1c46,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      timeToLive: 64,
    });
    expect(p.header.options.length).toBe(0);
    expect(p.isFragment).toBe(false);
    expect(p.upperProtocol).toBe(17);
    expect(p.upperOffset).toBe(20);
    expect(p.upperPayload).toEqual(REPR.upperPayload);
    expect(p.view.checksum).toBe(0x324e);
    expect(p.upperPayload.buffer).toBe(UDP_IPV4.buffer);
    expect(ipv4UpperChecksumAddresses(p)).toEqual({ source: hex("c0000201"), destination: hex("c6336402") });
  });

  test("construct: emit writes the same bytes, header checksum included", () => {
    expect(emitIpv4Packet(REPR)).toEqual(UDP_IPV4);
    expect(ipv4ReprChecksumAddresses(REPR)).toEqual({ source: hex("c0000201"), destination: hex("c6336402") });
  });

  test("buffer length and emit at an offset", () => {
    expect(ipv4PacketLen(REPR)).toBe(34);
    const buffer: Uint8Array = new Uint8Array(40);
    expect(emitIpv4PacketInto(REPR, buffer, 3)).toBe(34);
    expect(buffer.subarray(3, 37)).toEqual(UDP_IPV4);
    expect(() => emitIpv4PacketInto(REPR, buffer, 7)).toThrow(RangeError);
  });

  test("truncated at every offset: an error, never a throw", () => {
    for (let n = 0; n < UDP_IPV4.length; n++) expect(parseIpv4Packet(UDP_IPV4.subarray(0, n)).ok).toBe(false);
  });

  test("trailing octets after Total Length are cut off", () => {
    const longer = new Uint8Array(60);
    longer.set(UDP_IPV4);
    const r = parseIpv4Packet(longer);
    expect(r.ok && r.value.upperPayload.length).toBe(14);
  });
});

describe("IPv4 errors", () => {
  const edit = (at: number, value: number, fix = true): Uint8Array => {
    const copy = Uint8Array.from(UDP_IPV4);
    copy[at] = value;
    return fix ? refreshChecksum(copy) : copy;
  };

  test("bad version", () => {
    expect(parseIpv4Packet(edit(0, 0x65))).toMatchObject({ ok: false, error: { layer: "ipv4", kind: "bad-version", at: 0 } });
  });
  test("IHL below 5", () => {
    expect(parseIpv4Packet(edit(0, 0x44))).toMatchObject({ ok: false, error: { kind: "bad-length", at: 0 } });
  });
  test("IHL beyond the input", () => {
    expect(parseIpv4Packet(edit(0, 0x4f))).toMatchObject({ ok: false, error: { kind: "truncated" } });
  });
  test("total length below the header, and beyond the input", () => {
    expect(parseIpv4Packet(edit(3, 19))).toMatchObject({ ok: false, error: { kind: "bad-length", at: 2 } });
    expect(parseIpv4Packet(edit(3, 35))).toMatchObject({ ok: false, error: { kind: "truncated" } });
  });
  test("bad header checksum", () => {
    expect(parseIpv4Packet(edit(8, 63, false))).toEqual({
      ok: false,
      error: { layer: "ipv4", kind: "bad-checksum", at: 10, detail: "header checksum 0x324e does not verify" },
    });
  });
  test("options: NOP and End of List pass, a bad length or a missing length octet fail", () => {
    const withOptions = (options: string) => emitIpv4Packet({ ...REPR, options: hex(options) });
    const ok = parseIpv4Packet(withOptions("01 01 94 04 0000 00 00"));
    expect(ok.ok && ok.value.header.options).toEqual(hex("0101940400000000"));
    expect(ok.ok && ok.value.header.headerLength).toBe(28);
    expect(parseIpv4Packet(withOptions("94 01 0000"))).toMatchObject({ ok: false, error: { kind: "bad-length", at: 21 } });
    expect(parseIpv4Packet(withOptions("94 05 0000"))).toMatchObject({ ok: false, error: { kind: "bad-length", at: 21 } });
    expect(parseIpv4Packet(withOptions("01 01 01 07"))).toMatchObject({ ok: false, error: { kind: "bad-length", at: 23 } });
    expect(parseIpv4Packet(withOptions("00 07 ff ff"))).toMatchObject({ ok: true });
  });
  test("a parsed View does not check the checksum; verifyChecksum does", () => {
    const bad = edit(8, 63, false);
    const v = Ipv4View.parse(bad);
    expect(v.ok).toBe(true);
    expect(v.ok && v.value.verifyChecksum().ok).toBe(false);
  });
  test("emit rejects invalid reprs", () => {
    expect(() => emitIpv4Packet({ ...REPR, options: new Uint8Array(3) })).toThrow(RangeError);
    expect(() => emitIpv4Packet({ ...REPR, options: new Uint8Array(44) })).toThrow(RangeError);
    expect(() => emitIpv4Packet({ ...REPR, fragmentOffset: 0x2000 })).toThrow(RangeError);
    expect(() => emitIpv4Packet({ ...REPR, source: "192.0.2.256" })).toThrow(RangeError);
    expect(() => emitIpv4Packet({ ...REPR, upperPayload: new Uint8Array(0xffff) })).toThrow(RangeError);
  });
});

describe("IPv4 fragments", () => {
  test("MF and offset are flagged; DF alone is not a fragment", () => {
    const first = parseIpv4Packet(emitIpv4Packet({ ...REPR, dontFragment: false, moreFragments: true }));
    expect(first.ok && [first.value.isFragment, first.value.header.moreFragments, first.value.header.fragmentOffset]).toEqual([true, true, 0]);
    const last = parseIpv4Packet(emitIpv4Packet({ ...REPR, dontFragment: false, fragmentOffset: 185 }));
    expect(last.ok && [last.value.isFragment, last.value.header.fragmentOffset]).toEqual([true, 185]);
    expect(last.ok && last.value.view.packet[6]).toBe(0x00);
    expect(last.ok && last.value.view.packet[7]).toBe(185);
    const whole = parseIpv4Packet(UDP_IPV4);
    expect(whole.ok && whole.value.isFragment).toBe(false);
  });
});

describe("IPv4 round trips", () => {
  test("parse(emit(r)) equals r (fast-check)", () => {
    fc.assert(
      fc.property(ipv4PacketRepr, (repr) => {
        const bytes = emitIpv4Packet(repr);
        expect(bytes.length).toBe(ipv4PacketLen(repr));
        const r = parseIpv4Packet(bytes);
        if (!r.ok) throw new Error(JSON.stringify(r.error));
        const h = r.value.header;
        expect({
          source: h.source,
          destination: h.destination,
          timeToLive: h.timeToLive,
          typeOfService: h.typeOfService,
          identification: h.identification,
          dontFragment: h.dontFragment,
          moreFragments: h.moreFragments,
          fragmentOffset: h.fragmentOffset,
          options: h.options,
          upperProtocol: r.value.upperProtocol,
          upperPayload: r.value.upperPayload,
        }).toEqual(repr as never);
      }),
      { numRuns: 500, seed: 0x4a4 },
    );
  });
});
