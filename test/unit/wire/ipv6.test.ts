// IPv6 codec: smoltcp's six tests over known bytes, every error path of the chain walk, emit layout, round trips.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { fromHex } from "../../../firmware/core/hex.ts";
import { parseIpv6 } from "../../../firmware/wire/address.ts";
import { ipv6UpperLayerChecksum } from "../../../firmware/wire/checksum.ts";
import { optionDataMayChange, unrecognizedOptionAction } from "../../../firmware/wire/ipv6-options.ts";
import { MAX_EXTENSION_HEADERS, type ExtensionHeaderRepr } from "../../../firmware/wire/ipv6-extension-headers.ts";
import {
  emitIpv6Header,
  emitIpv6Packet,
  emitIpv6PacketInto,
  IPV6_HEADER_LEN,
  ipv6PacketLen,
  ipv6ReprChecksumAddresses,
  ipv6UpperChecksumAddresses,
  Ipv6View,
  parseIpv6Header,
  parseIpv6Packet,
  type Ipv6PacketRepr,
} from "../../../firmware/wire/ipv6.ts";
import { IPV6_CHAIN_ECHO } from "../../vectors/wire/known-packets.ts";
import { ipv6PacketRepr } from "./arbitraries.ts";

const hex = (s: string): Uint8Array => fromHex(s)!;

const CHAIN = IPV6_CHAIN_ECHO;

const CHAIN_REPR: Ipv6PacketRepr = {
  source: "2001:db8:1::a",
  destination: "2001:db8:1::b",
  hopLimit: 61,
  extensionHeaders: [
    { kind: "hop-by-hop", options: [{ type: "unknown", optionType: 5, data: hex("0000") }] },
    { kind: "routing-type2", homeAddress: "2001:db8:c::2" },
    { kind: "destination-options", options: [{ type: "home-address", homeAddress: "2001:db8:a::1" }] },
    { kind: "fragment", fragmentOffset: 0, moreFragments: false, identification: 0x1234 },
  ],
  upperProtocol: 58,
  upperPayload: hex("8000e01100420007 68656c6c6f"),
};

function mustParse(bytes: Uint8Array) {
  const r = parseIpv6Packet(bytes);
  if (!r.ok) throw new Error(`expected a packet, got ${JSON.stringify(r.error)}`);
  return r.value;
}

function errorOf(bytes: Uint8Array) {
  const r = parseIpv6Packet(bytes);
  if (r.ok) throw new Error("expected an error");
  return r.error;
}

/** A plain packet whose payload is `extension` bytes, first next header `first`. */
function withPayload(first: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(IPV6_HEADER_LEN + payload.length);
  emitIpv6Header(
    { source: "2001:db8::1", destination: "2001:db8::2", nextHeader: first, payloadLength: payload.length, hopLimit: 64, trafficClass: 0, flowLabel: 0 },
    out,
    0,
  );
  out.set(payload, IPV6_HEADER_LEN);
  return out;
}

describe("Ipv6View (fixed header)", () => {
  const header = hex("6a bc de f1 0008 11 40 fe800000000000000000000000000001 ff020000000000000000000000000002 0102030405060708");

  test("deconstruct: every field of a known header", () => {
    const r = Ipv6View.parse(header);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const v = r.value;
    expect(v.trafficClass).toBe(0xab);
    expect(v.flowLabel).toBe(0xcdef1);
    expect(v.payloadLength).toBe(8);
    expect(v.nextHeader).toBe(17);
    expect(v.hopLimit).toBe(64);
    expect(v.sourceBytes).toEqual(parseIpv6("fe80::1")!);
    expect(v.destinationBytes).toEqual(parseIpv6("ff02::2")!);
    expect(v.payload).toEqual(hex("0102030405060708"));
  });

  test("zero copy: addresses and payload share the input's memory", () => {
    const copy = Uint8Array.from(header);
    const r = Ipv6View.parse(copy);
    if (!r.ok) throw new Error("parse");
    copy[8 + 15] = 0x09;
    copy[40] = 0xaa;
    expect(r.value.sourceBytes).toEqual(parseIpv6("fe80::9")!);
    expect(r.value.payload[0]).toBe(0xaa);
  });

  test("construct and emit: the repr writes the same 40 octets", () => {
    const r = Ipv6View.parse(header);
    if (!r.ok) throw new Error("parse");
    const repr = parseIpv6Header(r.value);
    expect(repr).toEqual({ source: "fe80::1", destination: "ff02::2", nextHeader: 17, payloadLength: 8, hopLimit: 64, trafficClass: 0xab, flowLabel: 0xcdef1 });
    const out: Uint8Array = new Uint8Array(40);
    expect(emitIpv6Header(repr, out, 0)).toBe(40);
    expect(out).toEqual(header.subarray(0, 40));
  });

  test("trailing octets after the payload are cut off", () => {
    const longer = new Uint8Array(header.length + 5);
    longer.set(header);
    const r = Ipv6View.parse(longer);
    expect(r.ok && r.value.packet.length).toBe(48);
  });

  test("bad version", () => {
    const bad = Uint8Array.from(header);
    bad[0] = 0x4a;
    expect(Ipv6View.parse(bad)).toEqual({ ok: false, error: { layer: "ipv6", kind: "bad-version", at: 0, detail: "version 4" } });
  });

  test("payload length beyond the input is truncated", () => {
    const r = Ipv6View.parse(header.subarray(0, 47));
    expect(!r.ok && r.error.kind).toBe("truncated");
  });

  test("emit rejects out-of-range fields and bad addresses", () => {
    const base = { source: "::1", destination: "::2", nextHeader: 59, payloadLength: 0, hopLimit: 64, trafficClass: 0, flowLabel: 0 };
    const out: Uint8Array = new Uint8Array(40);
    expect(() => emitIpv6Header({ ...base, flowLabel: 0x100000 }, out, 0)).toThrow(RangeError);
    expect(() => emitIpv6Header({ ...base, hopLimit: 256 }, out, 0)).toThrow(RangeError);
    expect(() => emitIpv6Header({ ...base, source: "not-an-address" }, out, 0)).toThrow(RangeError);
    expect(() => emitIpv6Header(base, new Uint8Array(39), 0)).toThrow(RangeError);
  });
});

describe("parseIpv6Packet over a known chain (HBH, RH2, DestOpt+HAO, Fragment, ICMPv6)", () => {
  test("deconstruct", () => {
    const p = mustParse(CHAIN);
    expect(p.header).toMatchObject({ source: "2001:db8:1::a", destination: "2001:db8:1::b", hopLimit: 61, trafficClass: 0, flowLabel: 0, payloadLength: 77, nextHeader: 0 });
    expect(p.header.sourceBytes).toEqual(parseIpv6("2001:db8:1::a")!);
    expect(p.extensionHeaders).toEqual(CHAIN_REPR.extensionHeaders!);
    expect(p.upperProtocol).toBe(58);
    expect(p.upperOffset).toBe(40 + 8 + 24 + 24 + 8);
    expect(p.upperPayload).toEqual(CHAIN_REPR.upperPayload);
    expect(p.homeAddress).toBe("2001:db8:a::1");
    expect(p.routingType2Address).toBe("2001:db8:c::2");
    expect(p.unrecognizedOptions).toEqual([{ optionType: 5, action: "skip", offset: 42 }]);
  });

  test("zero copy: every byte field is a view of the input", () => {
    const p = mustParse(CHAIN);
    for (const part of [p.header.sourceBytes, p.header.destinationBytes, p.upperPayload, p.homeAddressBytes!, p.routingType2AddressBytes!]) {
      expect(part.buffer).toBe(CHAIN.buffer);
    }
    expect(p.homeAddressBytes!.byteOffset - CHAIN.byteOffset).toBe(40 + 8 + 24 + 8);
  });

  test("construct: emit writes exactly the known bytes, pads included", () => {
    expect(emitIpv6Packet(CHAIN_REPR)).toEqual(CHAIN);
  });

  test("buffer length and emit at an offset", () => {
    expect(ipv6PacketLen(CHAIN_REPR)).toBe(CHAIN.length);
    const buffer: Uint8Array = new Uint8Array(CHAIN.length + 10).fill(0xee);
    expect(emitIpv6PacketInto(CHAIN_REPR, buffer, 7)).toBe(CHAIN.length);
    expect(buffer.subarray(7, 7 + CHAIN.length)).toEqual(CHAIN);
    expect(buffer[6]).toBe(0xee);
    expect(buffer[7 + CHAIN.length]).toBe(0xee);
    expect(() => emitIpv6PacketInto(CHAIN_REPR, buffer, 11)).toThrow(RangeError);
  });

  test("truncated at every offset: an error, never a throw", () => {
    for (let n = 0; n < CHAIN.length; n++) {
      const r = parseIpv6Packet(CHAIN.subarray(0, n));
      expect(r.ok).toBe(false);
    }
    // The payload length field shrunk to each shorter value: chain errors, or a shorter upper layer.
    for (let len = 0; len < 77; len++) {
      const copy = Uint8Array.from(CHAIN);
      copy[5] = len;
      const r = parseIpv6Packet(copy);
      if (len < 64) expect(r.ok).toBe(false);
      else expect(r.ok && r.value.upperPayload.length).toBe(len - 64);
    }
  });

  test("checksum addresses: home address as source, Type 2 address as destination", () => {
    const p = mustParse(CHAIN);
    const a = ipv6UpperChecksumAddresses(p);
    expect(a.source).toEqual(parseIpv6("2001:db8:a::1")!);
    expect(a.destination).toEqual(parseIpv6("2001:db8:c::2")!);
    expect(ipv6UpperLayerChecksum(a.source, a.destination, 58, p.upperPayload)).toBe(0);
    // With the header's own addresses the checksum would not verify.
    expect(ipv6UpperLayerChecksum(p.header.sourceBytes, p.header.destinationBytes, 58, p.upperPayload)).not.toBe(0);
    expect(ipv6ReprChecksumAddresses(CHAIN_REPR)).toEqual({ source: parseIpv6("2001:db8:a::1")!, destination: parseIpv6("2001:db8:c::2")! });
  });

  test("without HAO or Type 2 the header addresses are the pseudo-header", () => {
    const p = mustParse(withPayload(59, new Uint8Array(0)));
    expect(ipv6UpperChecksumAddresses(p)).toEqual({ source: p.header.sourceBytes, destination: p.header.destinationBytes });
    expect(p.homeAddress).toBeUndefined();
    expect("routingType2Address" in p).toBe(false);
  });
});

describe("extension-header errors", () => {
  test("Hop-by-Hop after another header (RFC 8200 §4.3)", () => {
    const e = errorOf(withPayload(60, hex("00 00 01 04 00000000" + "3b 00 01 04 00000000")));
    expect(e).toMatchObject({ layer: "ipv6-ext", kind: "bad-value", at: 48 });
  });

  test("too many headers: a long Destination Options chain stops at the limit", () => {
    const one = hex("3c 00 01 04 00000000");
    const many = new Uint8Array(8 * 200);
    for (let i = 0; i < 200; i++) many.set(one, 8 * i);
    const e = errorOf(withPayload(60, many));
    expect(e).toEqual({ layer: "ipv6-ext", kind: "too-many-headers", at: 40 + 8 * MAX_EXTENSION_HEADERS, detail: `more than ${MAX_EXTENSION_HEADERS} extension headers` });
    // Exactly the limit is fine.
    const limit = Uint8Array.from(many.subarray(0, 8 * MAX_EXTENSION_HEADERS));
    limit[8 * (MAX_EXTENSION_HEADERS - 1)] = 59;
    expect(mustParse(withPayload(60, limit)).extensionHeaders.length).toBe(MAX_EXTENSION_HEADERS);
  });

  test("a header that overruns the payload, or less than 8 octets of one", () => {
    expect(errorOf(withPayload(60, hex("3b 01 01 04 00000000")))).toMatchObject({ kind: "truncated", at: 40 });
    expect(errorOf(withPayload(44, hex("3b 00 0000")))).toMatchObject({ kind: "truncated", at: 40 });
  });

  test("an option that overruns its header, or lacks its length octet", () => {
    expect(errorOf(withPayload(60, hex("3b 00 01 05 00000000")))).toMatchObject({ kind: "bad-length", at: 42 });
    expect(errorOf(withPayload(60, hex("3b 00 00000000 00 07")))).toMatchObject({ kind: "bad-length", at: 47 });
  });

  test("home address option: wrong length, misaligned, twice", () => {
    const hao = "20010db8000a0000000000000000 0001";
    expect(errorOf(withPayload(60, hex(`3b 02 01 02 0000 c9 0f ${hao} 00`)))).toMatchObject({ kind: "bad-length", at: 46 });
    expect(errorOf(withPayload(60, hex(`3b 02 01 01 00 c9 10 ${hao} 00 00`)))).toMatchObject({ kind: "bad-alignment", at: 45 });
    const twice = hex(`3c 02 01 02 0000 c9 10 ${hao}` + `3b 02 01 02 0000 c9 10 ${hao}`);
    expect(errorOf(withPayload(60, twice))).toMatchObject({ kind: "bad-value", at: 64 });
    const twiceInOne = hex(`3b 05 01 02 0000 c9 10 ${hao} 01 04 00000000 c9 10 ${hao}`);
    expect(errorOf(withPayload(60, twiceInOne))).toMatchObject({ kind: "bad-value", at: 70 });
  });

  test("type 2 routing header: wrong length, segments left not 1, twice", () => {
    const addr = "20010db8000a0000000000000000 0002";
    expect(errorOf(withPayload(43, hex(`3b 01 02 01 00000000 ${addr.slice(0, 16)}`)))).toMatchObject({ kind: "bad-length", at: 41 });
    expect(errorOf(withPayload(43, hex(`3b 02 02 00 00000000 ${addr}`)))).toMatchObject({ kind: "bad-value", at: 43 });
    expect(errorOf(withPayload(43, hex(`2b 02 02 01 00000000 ${addr}` + `3b 02 02 01 00000000 ${addr}`)))).toMatchObject({ kind: "bad-value", at: 64 });
  });

  test("generic routing types are kept raw (RH0 is not processed, RFC 5095)", () => {
    const p = mustParse(withPayload(43, hex("3b 02 00 01 00000000 20010db8000000000000000000000009")));
    expect(p.extensionHeaders).toEqual([{ kind: "routing", routingType: 0, segmentsLeft: 1, data: hex("00000000 20010db8000000000000000000000009") }]);
    expect(p.routingType2Address).toBeUndefined();
  });

  test("a later fragment ends the walk: what follows is fragment data", () => {
    const p = mustParse(withPayload(44, hex("3c 00 0011 aabbccdd 3b 00 01 04 00000000")));
    expect(p.extensionHeaders).toEqual([{ kind: "fragment", fragmentOffset: 2, moreFragments: true, identification: 0xaabbccdd }]);
    expect(p.upperProtocol).toBe(60);
    expect(p.upperOffset).toBe(48);
    expect(p.upperPayload.length).toBe(8);
  });

  test("unrecognised options carry their RFC 8200 §4.2 action and packet offset", () => {
    const p = mustParse(withPayload(60, hex("3b 01 3e 00 7e 00 be 00 fe 00 0000000000000000")));
    expect(p.unrecognizedOptions).toEqual([
      { optionType: 0x3e, action: "skip", offset: 42 },
      { optionType: 0x7e, action: "discard", offset: 44 },
      { optionType: 0xbe, action: "discard-send-parameter-problem", offset: 46 },
      { optionType: 0xfe, action: "discard-send-parameter-problem-unless-multicast", offset: 48 },
    ]);
  });

  test("action bits and the may-change bit of option types (RFC 8200 §4.2)", () => {
    expect([0x05, 0x42, 0x8f, 0xc9].map(unrecognizedOptionAction)).toEqual([
      "skip",
      "discard",
      "discard-send-parameter-problem",
      "discard-send-parameter-problem-unless-multicast",
    ]);
    expect([0x05, 0x3e, 0xc9, 0xff].map(optionDataMayChange)).toEqual([false, true, false, true]);
  });

  test("Pad1 and PadN are dropped from the repr; ESP ends the walk as an upper layer", () => {
    const p = mustParse(withPayload(0, hex("32 00 00 01 02 0000 00" + "00000001 00000001")));
    expect(p.extensionHeaders).toEqual([{ kind: "hop-by-hop", options: [] }]);
    expect(p.upperProtocol).toBe(50);
    expect(p.upperPayload).toEqual(hex("00000001 00000001"));
  });
});

describe("emit layout", () => {
  const hao = "2001:db8:a::1";
  const destOpts = (options: ExtensionHeaderRepr & { kind: "destination-options" }) => {
    const bytes = emitIpv6Packet({ source: "::1", destination: "::2", extensionHeaders: [options], upperProtocol: 59, upperPayload: new Uint8Array(0) });
    return bytes.subarray(40);
  };

  test("HAO lands at 8n+6 whatever precedes it, and headers are multiples of 8", () => {
    for (let before = 0; before <= 12; before++) {
      const options = [
        ...(before >= 2 ? [{ type: "unknown" as const, optionType: 0x1e, data: new Uint8Array(before - 2) }] : before === 1 ? [{ type: "pad1" as const }] : []),
        { type: "home-address" as const, homeAddress: hao },
      ];
      const header = destOpts({ kind: "destination-options", options });
      expect(header.length % 8).toBe(0);
      const at = header.indexOf(0xc9, before + 2);
      expect(at % 8).toBe(6);
      expect(header[1]).toBe(header.length / 8 - 1);
      const p = mustParse(emitIpv6Packet({ source: "::1", destination: "::2", extensionHeaders: [{ kind: "destination-options", options }], upperProtocol: 59, upperPayload: new Uint8Array(0) }));
      expect(p.homeAddress).toBe(hao);
    }
  });

  test("padding is Pad1 for one octet and zero-filled PadN for more", () => {
    expect(destOpts({ kind: "destination-options", options: [{ type: "unknown", optionType: 0x1e, data: new Uint8Array(3) }] })).toEqual(hex("3b 00 1e 03 000000 00"));
    expect(destOpts({ kind: "destination-options", options: [{ type: "unknown", optionType: 0x1e, data: new Uint8Array(0) }] })).toEqual(hex("3b 00 1e 00 01 02 0000"));
    expect(destOpts({ kind: "destination-options", options: [] })).toEqual(hex("3b 00 01 04 00000000"));
    expect(destOpts({ kind: "destination-options", options: [{ type: "padn", length: 6 }] })).toEqual(hex("3b 00 01 04 00000000"));
  });

  test("invalid reprs throw RangeError (programmer errors)", () => {
    const emit = (extensionHeaders: ExtensionHeaderRepr[]) =>
      emitIpv6Packet({ source: "::1", destination: "::2", extensionHeaders, upperProtocol: 59, upperPayload: new Uint8Array(0) });
    expect(() => emit([{ kind: "destination-options", options: [{ type: "unknown", optionType: 1, data: new Uint8Array(0) }] }])).toThrow(RangeError);
    expect(() => emit([{ kind: "destination-options", options: [{ type: "unknown", optionType: 9, data: new Uint8Array(256) }] }])).toThrow(RangeError);
    expect(() => emit([{ kind: "destination-options", options: [{ type: "padn", length: 1 }] }])).toThrow(RangeError);
    expect(() => emit([{ kind: "routing", routingType: 3, segmentsLeft: 0, data: new Uint8Array(5) }])).toThrow(RangeError);
    expect(() => emit([{ kind: "routing-type2", homeAddress: "nope" }])).toThrow(RangeError);
    expect(() => emit([{ kind: "routing", routingType: 2, segmentsLeft: 1, data: new Uint8Array(20) }])).toThrow(RangeError);
    expect(() => emit([{ kind: "fragment", fragmentOffset: 0x2000, moreFragments: false, identification: 0 }])).toThrow(RangeError);
    expect(() =>
      emitIpv6Packet({ source: "::1", destination: "::2", upperProtocol: 59, upperPayload: new Uint8Array(0x10000) }),
    ).toThrow(RangeError);
  });
});

describe("round trips", () => {
  test("parse(emit(r)) equals r (fast-check)", () => {
    fc.assert(
      fc.property(ipv6PacketRepr, (repr) => {
        const bytes = emitIpv6Packet(repr);
        expect(bytes.length).toBe(ipv6PacketLen(repr));
        const p = mustParse(bytes);
        expect({
          source: p.header.source,
          destination: p.header.destination,
          hopLimit: p.header.hopLimit,
          trafficClass: p.header.trafficClass,
          flowLabel: p.header.flowLabel,
          extensionHeaders: p.extensionHeaders,
          upperProtocol: p.upperProtocol,
          upperPayload: p.upperPayload,
        }).toEqual({ ...repr, extensionHeaders: repr.extensionHeaders ?? [] } as never);
        const checksum = ipv6UpperChecksumAddresses(p);
        expect(checksum).toEqual(ipv6ReprChecksumAddresses(repr));
      }),
      { numRuns: 500, seed: 0x6a6 },
    );
  });

  test("emit(parse(bytes)) gives the same bytes for packets monami emitted", () => {
    fc.assert(
      fc.property(ipv6PacketRepr, (repr) => {
        const bytes = emitIpv6Packet(repr);
        const p = mustParse(bytes);
        const again = emitIpv6Packet({ ...p.header, extensionHeaders: p.extensionHeaders, upperProtocol: p.upperProtocol, upperPayload: p.upperPayload });
        expect(again).toEqual(bytes);
      }),
      { numRuns: 300, seed: 0x6a7 },
    );
  });
});
