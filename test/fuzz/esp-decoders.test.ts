// Fuzz: the ESP and RFC 3948 decoders and the whole inbound ESP path never throw (100 000 inputs; MONAMI_FUZZ_RUNS to change).
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { EspCounter } from "../../firmware/ipsec/constants.ts";
import { loadCryptoBackends } from "../../firmware/runtime/crypto-backends.ts";
import { EspView, parseEspPlaintext } from "../../firmware/wire/esp.ts";
import { parseUdpEncapsulated } from "../../firmware/wire/udp-encapsulation.ts";
import { addPair, harness, ipv6Packet, T0, v6 } from "../unit/ipsec/fixtures.ts";

const runs = Number(process.env.MONAMI_FUZZ_RUNS ?? 100_000);
const backend = (await loadCryptoBackends())[0]!;
const drops = new Set<string>(Object.values(EspCounter));

// Real packets to mutate: one per suite kind, sealed by the outbound path.
const a = harness(backend);
const b = harness(backend);
const endpoints = { source: v6("2001:db8:1::10"), destination: v6("2001:db8:ffff::1") };
const gcm = addPair(a, b, { suite: "aes128gcm16", mode: "tunnel", endpoints, spi: 0x1000, extendedSequenceNumbers: true });
const cbc = addPair(a, b, { suite: "aes128-sha256", mode: "tunnel", endpoints, spi: 0x2000 });
const inner = ipv6Packet("2001:db8:aaaa::10", "2001:db8:5::1", 59, Uint8Array.from({ length: 64 }, (_, i) => i));
const seeds = [gcm.outbound, cbc.outbound].map((sa) => Uint8Array.from(sa.output!.subarray(0, a.outbound.protectTunnel(sa, inner, T0))));

/** Random bytes, or a seed with flips, cuts and insertions (so the SPI often matches and crypto runs). */
const input = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }), fc.nat(), fc.uint8Array({ maxLength: 8 })).map(
    ([seed, flips, cut, insert]) => {
      const bytes = Uint8Array.from(seed);
      for (const [at, mask] of flips) bytes[8 + (at % (bytes.length - 8))]! ^= mask; // keep the SPI, break the rest
      const end = cut % 3 === 0 ? cut % bytes.length : bytes.length;
      return Uint8Array.from([...bytes.subarray(0, end), ...(cut % 5 === 0 ? insert : [])]);
    },
  ),
);

describe("fuzz: ESP decoders", () => {
  test(`EspView, parseEspPlaintext and parseUdpEncapsulated never throw (${runs} inputs)`, () => {
    fc.assert(
      fc.property(input, (bytes) => {
        const view = EspView.parse(bytes);
        if (view.ok) expect(view.value.packet.length).toBeGreaterThanOrEqual(8);
        const plain = parseEspPlaintext(bytes);
        if (plain.ok) expect(plain.value.payload.length + plain.value.padLength + 2).toBe(bytes.length);
        const udp = parseUdpEncapsulated(bytes);
        if (!udp.ok) expect(udp.error.layer).toBe("udp-encap");
      }),
      { numRuns: runs },
    );
  });

  test(`the inbound path drops every malformed or forged packet with exactly one named counter (${runs} inputs)`, () => {
    let accepted = 0;
    let total = 0;
    fc.assert(
      fc.property(input, (bytes) => {
        const before = b.counters.total("esp.drop.");
        const ok = b.inbound.process(bytes, 0, bytes.length, T0);
        total++;
        if (ok) {
          accepted++;
          return;
        }
        expect(b.counters.total("esp.drop.")).toBe(before + 1);
        expect(drops.has(b.inbound.lastDrop!)).toBe(true);
      }),
      { numRuns: runs },
    );
    // Only untouched seeds can get through, and each only once (then it is a replay).
    expect(accepted).toBeLessThanOrEqual(seeds.length);
    expect(total).toBe(runs);
  });
});
