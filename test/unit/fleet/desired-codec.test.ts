// Desired-document codec: every refusal kind, the Ed25519 signature over RFC 8785 canonical JSON, topics, back-off, versions.

import { describe, expect, test } from "bun:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { canonicalJson } from "../../../firmware/fleet/canonical-json.ts";
import { decodeDesiredEnvelope, signedMessage, SIGNATURE_CONTEXT, validateDesiredConfig, type DesiredLimits } from "../../../firmware/fleet/desired-codec.ts";
import { ReconnectBackoff } from "../../../firmware/fleet/backoff.ts";
import { judgeVersion } from "../../../firmware/fleet/shadow.ts";
import { fleetTopics } from "../../../firmware/fleet/topics.ts";
import { isProtocolVersionRefusal } from "../../../firmware/runtime/mqtt-session.ts";
import { configInput, desired, fleetPublicKeyHex, fleetSecretKey } from "./fixtures.ts";

const publicKey = Uint8Array.from(Buffer.from(fleetPublicKeyHex, "hex"));
const limits: DesiredLimits = { maxBytes: 65_536, requireSignature: true, publicKey };
const bytes = (s: string) => new TextEncoder().encode(s);

describe("desired document codec", () => {
  test("a signed document decodes; its digest is stable and content-sensitive", () => {
    const a = decodeDesiredEnvelope(desired(4, configInput()), limits);
    const b = decodeDesiredEnvelope(desired(4, configInput()), limits);
    const c = decodeDesiredEnvelope(desired(4, configInput((x) => (x.device.site = "y"))), limits);
    expect(a.ok && a.value.signed).toBe(true);
    expect(a.ok && b.ok && a.value.digest === b.value.digest).toBe(true);
    expect(a.ok && c.ok && a.value.digest !== c.value.digest).toBe(true);
  });

  test("the signature covers the context and the canonical form, not the bytes on the wire", () => {
    const config = { b: 1, a: [true, null, "x"] };
    const message = new TextDecoder().decode(signedMessage(7, config));
    expect(message).toBe(`${SIGNATURE_CONTEXT}{"config":{"a":[true,null,"x"],"b":1},"version":7}`);
    const signature = ed25519.sign(bytes(message), fleetSecretKey);
    const reordered = `{"signature":{"value":"${Buffer.from(signature).toString("base64")}","algorithm":"ed25519"},  "config":{"a":[true,null,"x"],"b":1},"version":7}`;
    const decoded = decodeDesiredEnvelope(bytes(reordered), limits);
    expect(decoded.ok).toBe(true);
  });

  const refusals: [string, Uint8Array, DesiredLimits, string][] = [
    ["oversized", desired(4, configInput()), { ...limits, maxBytes: 100 }, "oversized"],
    ["not UTF-8", Uint8Array.of(0x7b, 0xff, 0x7d), limits, "malformed-json"],
    ["not JSON", bytes("{version: 1}"), limits, "malformed-json"],
    ["an array", bytes("[1,2]"), limits, "wrong-type"],
    ["version as a string", bytes('{"version":"4","config":{}}'), limits, "wrong-type"],
    ["version zero", bytes('{"version":0,"config":{}}'), limits, "invalid-value"],
    ["unknown envelope field", bytes('{"version":4,"config":{},"state":{}}'), limits, "unknown-field"],
    ["missing config", bytes('{"version":4}'), limits, "missing-field"],
    ["no signature", desired(4, configInput(), { unsigned: true }), limits, "missing-signature"],
    ["wrong key", desired(4, configInput(), { key: new Uint8Array(32).fill(1) }), limits, "bad-signature"],
    ["no device key", desired(4, configInput()), { maxBytes: 65_536, requireSignature: false }, "bad-signature"],
    ["truncated signature", bytes('{"version":4,"config":{},"signature":{"algorithm":"ed25519","value":"AAAA"}}'), limits, "bad-signature"],
    ["other algorithm", bytes('{"version":4,"config":{},"signature":{"algorithm":"rsa","value":"AAAA"}}'), limits, "wrong-type"],
  ];
  for (const [name, payload, lim, kind] of refusals) {
    test(`refuses ${name} as ${kind}`, () => {
      const r = decodeDesiredEnvelope(payload, lim);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.kind).toBe(kind as never);
    });
  }

  test("unsigned documents pass when signatures are not required", () => {
    const r = decodeDesiredEnvelope(desired(4, configInput(), { unsigned: true }), { maxBytes: 65_536, requireSignature: false });
    expect(r.ok && r.value.signed).toBe(false);
  });

  test("config issues are path-precise under config.", () => {
    const env = decodeDesiredEnvelope(desired(4, configInput((c) => (c.uplinks[0].driver.kind = "lora"))), limits);
    if (!env.ok) throw new Error(env.error.detail);
    const r = validateDesiredConfig(env.value);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.issues?.[0]?.path).toBe("config.uplinks[0].driver.kind");
  });
});

describe("canonical JSON (RFC 8785)", () => {
  test("sorts keys by UTF-16 code units (U+20AC before the surrogate pair of U+1F600) and writes ES numbers", () => {
    expect(canonicalJson({ "\u20ac": 1, "\r": 2, "\ud83d\ude00": 3, "1": 4, a: [1e21, 0.1, -0, 5e-7] })).toBe(
      '{"\\r":2,"1":4,"a":[1e+21,0.1,0,5e-7],"€":1,"😀":3}',
    );
    expect(canonicalJson({ x: Number.NaN })).toBeUndefined();
  });
});

describe("topics, versions, back-off, protocol fallback", () => {
  test("topics", () => {
    const t = fleetTopics("fleet/eu", "bus-1");
    expect(t.ok && t.value).toEqual({
      presence: "fleet/eu/bus-1/presence",
      telemetry: "fleet/eu/bus-1/telemetry",
      metrics: "fleet/eu/bus-1/metrics",
      events: "fleet/eu/bus-1/events",
      reported: "fleet/eu/bus-1/state/reported",
      desired: "fleet/eu/bus-1/config/desired",
      result: "fleet/eu/bus-1/config/result",
      otaJob: "fleet/eu/bus-1/ota/job",
      otaStatus: "fleet/eu/bus-1/ota/status",
      otaChunkRequest: "fleet/eu/bus-1/ota/chunk/request",
      otaChunk: "fleet/eu/bus-1/ota/chunk",
    });
    expect(fleetTopics("monami", "bus/1").ok).toBe(false);
    expect(fleetTopics("monami", "+").ok).toBe(false);
    expect(fleetTopics("a//b", "x").ok).toBe(false);
  });

  test("shadow versions", () => {
    expect(judgeVersion(undefined, 1, "a")).toBe("new");
    expect(judgeVersion({ version: 4, digest: "a" }, 5, "b")).toBe("new");
    expect(judgeVersion({ version: 4, digest: "a" }, 4, "a")).toBe("duplicate");
    expect(judgeVersion({ version: 4, digest: "a" }, 4, "b")).toBe("stale");
    expect(judgeVersion({ version: 4, digest: "a" }, 3, "a")).toBe("stale");
  });

  test("back-off grows exponentially to the cap, jitter only shortens, reset starts over", () => {
    const b = new ReconnectBackoff({ initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitterRatio: 0.5 });
    expect([0, 0, 0, 0, 0, 0].map(() => b.next(() => 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    b.reset();
    expect(b.next(() => 0.999999)).toBe(50);
    expect(b.next(() => 0.5)).toBe(150);
    expect(b.attempts).toBe(2);
  });

  test("MQTT 5 refusals that mean 'speak 3.1.1'", () => {
    expect(isProtocolVersionRefusal(1)).toBe(true);
    expect(isProtocolVersionRefusal(0x84)).toBe(true);
    expect(isProtocolVersionRefusal(5)).toBe(false);
    expect(isProtocolVersionRefusal(0x87)).toBe(false);
    expect(isProtocolVersionRefusal(undefined)).toBe(false);
  });
});
