// Fuzz: the IKEv2 decoder and the whole IKE receive path never throw (100 000 inputs; MONAMI_FUZZ_RUNS to change).
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { fromHex } from "../../firmware/core/hex.ts";
import { instant } from "../../firmware/core/instant.ts";
import { encryptMessage } from "../../firmware/ike/encrypted-payload.ts";
import { IkeEndpoint } from "../../firmware/ike/ike-endpoint.ts";
import { encodeMessage, parseMessage } from "../../firmware/wire/ikev2/message.ts";
import { decodePayloads, encodeChain, walkChain } from "../../firmware/wire/ikev2/payloads.ts";
import { ikeAuthResponse, ikeSaInitRequest, ikeSaInitResponse } from "../unit/ike/captures.ts";
import { config, connect, seededRandom } from "../unit/ike/harness.ts";

const runs = Number(process.env.MONAMI_FUZZ_RUNS ?? 100_000);
const seeds = [ikeSaInitRequest, ikeSaInitResponse, ikeAuthResponse].map((h) => fromHex(h)!);

/** Random bytes, or a captured message with flips, cuts and insertions (lengths patched half the time so the chain is reached). */
const mutated = (pool: Uint8Array[]) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    fc.tuple(fc.constantFrom(...pool), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }), fc.nat(), fc.uint8Array({ maxLength: 12 }), fc.boolean()).map(
      ([seed, flips, cut, insert, patch]) => {
        const bytes = Uint8Array.from(seed);
        for (const [at, mask] of flips) bytes[at % bytes.length]! ^= mask;
        const end = cut % 3 === 0 ? cut % bytes.length : bytes.length;
        const out = Uint8Array.from([...bytes.subarray(0, end), ...(cut % 5 === 0 ? insert : [])]);
        if (patch && out.length >= 28) new DataView(out.buffer).setUint32(24, out.length);
        return out;
      },
    ),
  );

describe("fuzz: IKEv2", () => {
  test(`parseMessage never throws; what parses re-encodes to a message that parses the same (${runs} inputs)`, () => {
    let parsed = 0;
    fc.assert(
      fc.property(mutated(seeds), (bytes) => {
        const m = parseMessage(bytes);
        if (!m.ok) {
          expect(m.error.layer).toBe("ikev2");
          return;
        }
        parsed++;
        if (m.value.encrypted) return;
        const h = m.value.header;
        const again = parseMessage(encodeMessage({ initiatorSpi: h.initiatorSpi, responderSpi: h.responderSpi, exchangeType: h.exchangeType, response: h.response, initiator: h.initiator, messageId: h.messageId }, m.value.payloads));
        expect(again.ok).toBe(true);
        if (again.ok) expect(again.value.payloads).toEqual(m.value.payloads);
      }),
      { numRuns: runs },
    );
    expect(parsed).toBeGreaterThan(0);
  });

  test(`payload chains (the decrypted inner side) never throw (${runs} inputs)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 60 }), (bytes, first) => {
        const w = walkChain(bytes, first);
        if (!w.ok) return;
        const p = decodePayloads(w.value.payloads);
        if (p.ok && !w.value.encrypted) expect(encodeChain(p.value).length).toBe(bytes.length);
      }),
      { numRuns: runs },
    );
  });

  test(`an established responder survives mutated authenticated-looking traffic (${Math.max(1, Math.floor(runs / 10))} inputs)`, () => {
    const a = new IkeEndpoint({ random: seededRandom("fa") });
    const b = new IkeEndpoint({ random: seededRandom("fb"), responder: config({ local: "b.lab", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64" }) });
    const net = connect(a, b, ["2001:db8:1::a"], ["2001:db8:1::b"]);
    const sa = a.initiate(config({ remote: "b.lab" }), { address: "2001:db8:1::a", port: 500 }, { address: "2001:db8:1::b", port: 500 }, instant(0));
    net.run();
    const real = [2, 3, 4].map((id) =>
      encryptMessage({ initiatorSpi: sa.initiatorSpi, responderSpi: sa.responderSpi, exchangeType: 37, response: false, initiator: true, messageId: id }, [{ kind: "delete", protocolId: 3, spiSize: 4, spis: [Uint8Array.of(1, 2, 3, 4)] }], sa.sendDirection, seededRandom(`m${id}`)),
    );
    fc.assert(
      fc.property(mutated([...real, ...seeds]), (bytes) => {
        b.handleDatagram({ local: { address: "2001:db8:1::b", port: 4500 }, remote: { address: "2001:db8:1::a", port: 4500 }, bytes, nonEspMarker: true }, instant(0));
        while (b.pollTransmit()) {}
        while (b.pollEvent()) {}
      }),
      { numRuns: Math.max(1, Math.floor(runs / 10)) },
    );
    // Flipped bits never authenticate: the SA is still there and only counted drops happened.
    expect(b.ikeSas.some((s) => s.state === "established")).toBe(true);
    expect(b.counters.total("ike.error.")).toBeGreaterThan(0);
  });
});
