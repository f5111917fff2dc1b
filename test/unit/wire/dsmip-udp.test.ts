// The DSMIPv6 UDP encapsulation codec (RFC 5555 §4.1): the six codec tests over a built packet, and a fuzz that it never throws.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { encodeMobilityPacket } from "../../../firmware/mobility/mobility-packet.ts";
import { DSMIPV6_UDP_PORT, dsmipDatagramLen, emitDsmipDatagram, parseDsmipDatagram, parseDsmipPayload, type DsmipDatagramRepr } from "../../../firmware/wire/dsmip-udp.ts";
import { buFlags } from "../../../firmware/wire/mobility-header.ts";

// A BU from an IPv4 CoA (home address as source, no HAO) with the IPv4 Care-of Address option.
const inner = encodeMobilityPacket({
  message: {
    type: "binding-update",
    sequenceNumber: 7,
    flags: buFlags({ acknowledge: true, homeRegistration: true, mobileRouter: true }),
    lifetimeUnits: 150,
    options: [
      { type: "binding-identifier", bindingId: 1, status: 0, simultaneousHomeAndForeign: false, careOfAddress: { family: "ipv4", address: "100.64.0.2" } },
      { type: "ipv4-care-of-address", careOfAddress: "100.64.0.2" },
    ],
  },
  source: "2001:db8:10::20",
  destination: "2001:db8:10::1",
});
const repr: DsmipDatagramRepr = { ipv4Source: "100.64.0.2", ipv4Destination: "192.0.2.2", sourcePort: 39034, destinationPort: DSMIPV6_UDP_PORT, ipv6Packet: inner };
const bytes = emitDsmipDatagram(repr);

describe("DSMIPv6 UDP encapsulation", () => {
  test("construct: IPv4 (protocol 17) + UDP to 4191 + the IPv6 packet unchanged", () => {
    expect(bytes[0]).toBe(0x45);
    expect(bytes[9]).toBe(17);
    expect((bytes[22]! << 8) | bytes[23]!).toBe(4191);
    expect(bytes.subarray(28)).toEqual(inner);
  });

  test("deconstruct and parse: every field back, the inner packet a subarray", () => {
    const r = parseDsmipDatagram(bytes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect({ ...r.value, ipv6Packet: Uint8Array.from(r.value.ipv6Packet) } as DsmipDatagramRepr).toEqual({ ...repr, ipv6Packet: inner });
    expect(r.value.ipv6Packet.buffer).toBe(bytes.buffer);
  });

  test("buffer length", () => {
    expect(dsmipDatagramLen(repr)).toBe(bytes.length);
  });

  test("truncated at every offset: a typed error, never a throw", () => {
    for (let n = 0; n < bytes.length; n++) {
      const r = parseDsmipDatagram(bytes.subarray(0, n));
      expect(r.ok).toBe(false);
    }
  });

  test("refused: neither port 4191, a payload that is not exactly one IPv6 packet, a bad UDP checksum", () => {
    expect(parseDsmipDatagram(emitDsmipDatagram({ ...repr, destinationPort: 4500 }))).toMatchObject({ ok: false, error: { layer: "dsmipv6", kind: "unsupported" } });
    expect(parseDsmipPayload(Uint8Array.of(0x45, ...new Uint8Array(39)))).toMatchObject({ ok: false, error: { kind: "unsupported" } });
    const longer = Uint8Array.from([...inner, 0]);
    expect(parseDsmipPayload(longer)).toMatchObject({ ok: false, error: { kind: "bad-length" } });
    const broken = Uint8Array.from(bytes);
    broken[40] = broken[40]! ^ 0xff;
    expect(parseDsmipDatagram(broken)).toMatchObject({ ok: false, error: { layer: "udp", kind: "bad-checksum" } });
    // The 4191 answer direction (from the home agent's port) parses too.
    expect(parseDsmipDatagram(emitDsmipDatagram({ ...repr, sourcePort: 4191, destinationPort: 40000 })).ok).toBe(true);
  });

  test("fuzz: random and mutated input never throws; emit then parse round-trips", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        parseDsmipDatagram(b);
        parseDsmipPayload(b);
      }),
      { numRuns: Number(process.env.MONAMI_FUZZ_RUNS ?? 2000) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const m = Uint8Array.from(bytes);
        m[at] = value;
        parseDsmipDatagram(m);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (other) => {
        const r = parseDsmipDatagram(emitDsmipDatagram({ ...repr, sourcePort: other }));
        expect(r.ok && r.value.sourcePort === other && r.value.destinationPort === DSMIPV6_UDP_PORT).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
