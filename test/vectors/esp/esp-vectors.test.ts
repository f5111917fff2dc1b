// Published ESP packets (draft-mcgrew-gcm-test-01, RFC 7634 App. A) through the full inbound path on every backend, and the must-reject set.
import { describe, expect, test } from "bun:test";
import { ESP_SUITES, type EspSuiteId } from "../../../firmware/crypto/suites.ts";
import { fromHex, toHex } from "../../../firmware/core/hex.ts";
import { SecretBytes } from "../../../firmware/core/secret.ts";
import { backendSupportsSuite, createEspTransform } from "../../../firmware/ipsec/esp-transform.ts";
import { spi } from "../../../firmware/ipsec/sad.ts";
import { loadCryptoBackends } from "../../../firmware/runtime/crypto-backends.ts";
import { harness, T0, v6 } from "../../unit/ipsec/fixtures.ts";
import known from "./known-answer.json";
import rejected from "./rejected.json";

const backends = await loadCryptoBackends();
const hex = (text: string) => fromHex(text)!;
type Vector = (typeof known.vectors)[number];

/** The SA a vector was made for, positioned so its (extended) sequence number is the next fresh one. */
function receiverFor(backend: (typeof backends)[number], v: Vector, extendedSequenceNumbers = v.extendedSequenceNumbers) {
  const h = harness(backend);
  const plaintext = hex(v.plaintext);
  const nextHeader = plaintext[plaintext.length - 1]!;
  const added = h.sad.add(
    {
      spi: spi(parseInt(v.spi, 16)),
      direction: "inbound",
      mode: nextHeader === 4 || nextHeader === 41 ? "tunnel" : "transport",
      suite: v.suite as EspSuiteId,
      keys: { encryption: new SecretBytes(hex(v.keymat)) },
      extendedSequenceNumbers,
      endpoints: { source: v6("2001:db8::1"), destination: v6("2001:db8::2") },
    },
    T0,
  );
  if (!added.ok) throw new Error("SA not added");
  const high = parseInt(v.sequence.slice(0, 8), 16);
  const low = parseInt(v.sequence.slice(8), 16);
  // Pretend the packet before this one was received, so the window infers this packet's high bits.
  if (extendedSequenceNumbers && (high > 0 || low > 1)) {
    added.value.replay!.update(low === 0 ? high - 1 : high, low === 0 ? 0xffffffff : low - 1);
  }
  return { h, sa: added.value, plaintext, nextHeader, high, low };
}

const usable = known.vectors.filter((v) => v.suite !== null && v.spi !== "00000000");

test("the vector files hold what the suite expects", () => {
  expect(known.vectors.length).toBe(15);
  expect(usable.length).toBe(13); // AES-192 (case 7) and SPI 0 (case 4) run at the transform level only
  expect(rejected.vectors.length).toBe(40);
});

for (const backend of backends) {
  describe(`${backend.name}`, () => {
    for (const v of usable) {
      const suite = ESP_SUITES[v.suite as EspSuiteId];
      test.skipIf(!backendSupportsSuite(backend, suite))(`accepts ${v.name}`, () => {
        const { h, plaintext, nextHeader, high, low } = receiverFor(backend, v);
        const packet = hex(v.packet);
        const transport = { source: v6("2001:db8::1"), destination: v6("2001:db8::2") };
        expect(h.inbound.process(packet, 0, packet.length, T0, transport)).toBe(true);
        const r = h.inbound.result;
        const padLength = plaintext[plaintext.length - 2]!;
        const payload = plaintext.subarray(0, plaintext.length - 2 - padLength);
        expect(r.nextHeader).toBe(nextHeader);
        expect(toHex(packet.subarray(r.payloadOffset, r.payloadOffset + r.payloadLength))).toBe(toHex(payload));
        expect([r.sequenceHigh, r.sequenceLow]).toEqual([v.extendedSequenceNumbers ? high : 0, low]);
        // The same packet again is a replay.
        expect(h.inbound.process(hex(v.packet), 0, packet.length, T0, transport)).toBe(false);
        expect(h.counters.get("esp.drop.replay-duplicate")).toBe(1);
      });

      if (!v.extendedSequenceNumbers) continue;
      test.skipIf(!backendSupportsSuite(backend, suite))(`an SA without ESN rejects ${v.name}`, () => {
        const { h } = receiverFor(backend, v, false);
        const packet = hex(v.packet);
        expect(h.inbound.process(packet, 0, packet.length, T0, { source: v6("2001:db8::1"), destination: v6("2001:db8::2") })).toBe(false);
        expect(h.inbound.lastDrop === "esp.drop.icv" || h.inbound.lastDrop === "esp.drop.replay-too-old").toBe(true);
      });
    }

    test.skipIf(!backend.supportsAead("aes-128-gcm"))("transform level: case 4 (SPI 0) decrypts", () => {
      const v = known.vectors.find((x) => x.spi === "00000000")!;
      const transform = createEspTransform(ESP_SUITES.aes128gcm16, backend, { encryption: new SecretBytes(hex(v.keymat)) });
      const packet = hex(v.packet);
      expect(transform.open(packet, 0, packet.length - 32, 0, false)).toBe(true);
      expect(toHex(packet.subarray(16, packet.length - 16))).toBe(v.plaintext);
    });

    for (const r of rejected.vectors) {
      const v = known.vectors.find((x) => x.name === r.vector)!;
      test.skipIf(!backendSupportsSuite(backend, ESP_SUITES[v.suite as EspSuiteId]))(`rejects ${r.vector}: ${r.mutation}`, () => {
        const { h } = receiverFor(backend, v);
        const packet = hex(r.packet);
        const transport = { source: v6("2001:db8::1"), destination: v6("2001:db8::2") };
        expect(h.inbound.process(packet, 0, packet.length, T0, transport)).toBe(false);
        expect(h.inbound.lastDrop).toBe(r.drop as typeof h.inbound.lastDrop);
        expect(h.counters.get(r.drop)).toBe(1);
        // And the genuine packet still gets in afterwards: a rejected forgery must not move the window.
        const genuine = hex(v.packet);
        expect(h.inbound.process(genuine, 0, genuine.length, T0, transport)).toBe(true);
      });
    }
  });
}
