// Fuzzing the Mobility Header decoder: random and mutated inputs never throw and never hang; emit/parse round-trips.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { canonicalIpv6 } from "../../firmware/wire/address.ts";
import { decodeMobilityMessage, encodeMobilityMessage, MobilityHeaderView, parseMobilityMessage, type MobilityMessage } from "../../firmware/wire/mobility-header.ts";
import { MobilityOptionType } from "../../firmware/wire/mobility-options.ts";
import { decodeMobilityPacket, encodeMobilityPacket } from "../../firmware/mobility/mobility-packet.ts";
import { selftestExchange } from "../../firmware/mobility/selftest-exchange.ts";
import { transmitPseudoHeader } from "../../firmware/mobility/types.ts";
import { mobilityCorpus, mutate, prng } from "./mobility-fuzz-corpus.ts";

const RUNS = Number(process.env.MONAMI_FUZZ_RUNS ?? 100_000);

describe("Mobility Header decoder under fuzzing", () => {
  test(`${RUNS} random and mutated inputs: no exception, every failure a typed mobility error`, () => {
    const corpus = mobilityCorpus();
    const random = prng(0x6275);
    const started = performance.now();
    let accepted = 0;
    for (let i = 0; i < RUNS; i++) {
      const input = i % 4 === 0 ? randomBytes(random) : mutate(corpus[i % corpus.length]!, random);
      const r = MobilityHeaderView.parse(input);
      if (r.ok) {
        accepted++;
        const m = parseMobilityMessage(r.value);
        expect(typeof m.type).toBe("string");
        r.value.verifyChecksum({ source: new Uint8Array(16), destination: new Uint8Array(16) });
      } else {
        expect(r.error.layer).toBe("mobility");
      }
    }
    // Not a hang: 100 000 inputs take well under a second per 10 000 on this codec.
    expect(performance.now() - started).toBeLessThan(RUNS * 0.5);
    expect(accepted).toBeGreaterThan(RUNS / 20); // the mutations reach the option parser, not only the length check
  }, 120_000);

  test("IPv6 packets carrying an MH, mutated: decodeMobilityPacket never throws", () => {
    const packets = selftestExchange().map((r) => encodeMobilityPacket(r.transmit));
    const random = prng(0x3963);
    for (let i = 0; i < Math.min(RUNS, 20_000); i++) {
      const r = decodeMobilityPacket(mutate(packets[i % packets.length]!, random));
      if (!r.ok) expect(["mobility", "ipv6", "ipv6-ext"]).toContain(r.error.layer);
    }
  });

  test("every selftest message round-trips: parse(emit(r)) equals r", () => {
    for (const rec of selftestExchange()) {
      const bytes = encodeMobilityMessage(rec.transmit.message, transmitPseudoHeader(rec.transmit));
      expect(decodeMobilityMessage(bytes, transmitPseudoHeader(rec.transmit))).toEqual({ ok: true, value: rec.transmit.message });
    }
  });

  test("property: any well-formed BU/BA Repr round-trips (fast-check)", () => {
    const knownOptionTypes = new Set<number>(Object.values(MobilityOptionType));
    const address = fc.tuple(fc.integer({ min: 0x2001, max: 0x2fff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 0xffff })).map(([a, b, c]) => canonicalIpv6(`${a.toString(16)}:db8:${b.toString(16)}::${c.toString(16)}`)!);
    const bid = fc.record({
      type: fc.constant("binding-identifier" as const),
      bindingId: fc.integer({ min: 1, max: 0xffff }),
      status: fc.integer({ min: 0, max: 255 }),
      simultaneousHomeAndForeign: fc.boolean(),
    });
    const option = fc.oneof(
      bid,
      fc.tuple(bid, address).map(([b, a]) => ({ ...b, careOfAddress: { family: "ipv6" as const, address: a } })),
      fc.tuple(bid, fc.ipV4()).map(([b, a]) => ({ ...b, careOfAddress: { family: "ipv4" as const, address: a } })),
      fc.record({ type: fc.constant("mobile-network-prefix" as const), prefix: address, prefixLength: fc.integer({ min: 0, max: 128 }) }),
      fc.record({ type: fc.constant("binding-refresh-advice" as const), refreshIntervalUnits: fc.integer({ min: 0, max: 0xffff }) }),
      fc.record({ type: fc.constant("alternate-care-of-address" as const), careOfAddress: address }),
      fc.record({ type: fc.constant("ipv4-care-of-address" as const), careOfAddress: fc.ipV4() }),
      fc.record({ type: fc.constant("nonce-indices" as const), homeNonceIndex: fc.integer({ min: 0, max: 0xffff }), careOfNonceIndex: fc.integer({ min: 0, max: 0xffff }) }),
      // Types the codec does not know stay "unknown" and round-trip as such (RFC 6275 §6.2.1); known ones are excluded.
      fc.record({ type: fc.constant("unknown" as const), optionType: fc.integer({ min: 7, max: 31 }).filter((t) => !knownOptionTypes.has(t)), data: fc.uint8Array({ maxLength: 30 }) }),
    );
    const flags = fc.record({
      acknowledge: fc.boolean(), homeRegistration: fc.boolean(), linkLocalCompatibility: fc.boolean(), keyManagementCapability: fc.boolean(), mapRegistration: fc.boolean(),
      mobileRouter: fc.boolean(), proxyRegistration: fc.boolean(), forceUdpEncapsulation: fc.boolean(), tlvHeaderFormat: fc.boolean(), bulkBindingUpdate: fc.boolean(),
    });
    const bu = fc.record({ type: fc.constant("binding-update" as const), sequenceNumber: fc.integer({ min: 0, max: 0xffff }), flags, lifetimeUnits: fc.integer({ min: 0, max: 0xffff }), options: fc.array(option, { maxLength: 8 }) });
    const ba = fc.record({
      type: fc.constant("binding-acknowledgement" as const), status: fc.integer({ min: 0, max: 255 }),
      flags: fc.record({ keyManagementCapability: fc.boolean(), mobileRouter: fc.boolean(), proxyRegistration: fc.boolean() }),
      sequenceNumber: fc.integer({ min: 0, max: 0xffff }), lifetimeUnits: fc.integer({ min: 0, max: 0xffff }), options: fc.array(option, { maxLength: 8 }),
    });
    const pseudo = { source: new Uint8Array(16).fill(1), destination: new Uint8Array(16).fill(2) };
    fc.assert(
      fc.property(fc.oneof(bu, ba), (m) => {
        const canonical = JSON.parse(JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));
        const r = decodeMobilityMessage(encodeMobilityMessage(m as MobilityMessage, pseudo), pseudo);
        expect(r.ok).toBe(true);
        if (r.ok) expect(JSON.parse(JSON.stringify(r.value, (_k, v) => (v instanceof Uint8Array ? [...v] : v)))).toEqual(canonical);
      }),
      { numRuns: 2000, seed: 5648 },
    );
  });
});

function randomBytes(random: () => number): Uint8Array {
  const n = Math.floor(random() * 80);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
  if (n > 2 && random() < 0.5) {
    out[0] = 59; // look like an MH often enough to go past the first check
    out[1] = Math.floor(n / 8) - 1 >= 0 ? Math.floor(n / 8) - 1 : 0;
  }
  return out;
}
