// Fuzz: the desired-document codec and config validation never throw on any input (bounded; FUZZ_RUNS for longer).

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Counters } from "../../firmware/core/counters.ts";
import { VirtualClock } from "../../firmware/core/instant.ts";
import { validateConfig } from "../../firmware/config/validate.ts";
import { canonicalJson } from "../../firmware/fleet/canonical-json.ts";
import { ConfigTransaction } from "../../firmware/fleet/config-transaction.ts";
import { decodeDesiredEnvelope } from "../../firmware/fleet/desired-codec.ts";
import { configInput, desired, deviceConfig, fleetPublicKeyHex } from "../unit/fleet/fixtures.ts";

const runs = Number(process.env.FUZZ_RUNS ?? 300);
const limits = { maxBytes: 65_536, requireSignature: false, publicKey: Uint8Array.from(Buffer.from(fleetPublicKeyHex, "hex")) };
const seed = new TextDecoder().decode(desired(4, configInput()));

/** Mutations of a real signed document: byte flips, truncations, insertions. */
const mutated = fc.tuple(fc.nat(seed.length), fc.nat(seed.length), fc.string({ maxLength: 8 }), fc.constantFrom("flip", "cut", "insert")).map(([at, len, text, op]) => {
  if (op === "cut") return seed.slice(0, at) + seed.slice(Math.min(seed.length, at + len));
  if (op === "insert") return seed.slice(0, at) + text + seed.slice(at);
  const code = seed.charCodeAt(at) ^ (1 + (len % 127));
  return seed.slice(0, at) + String.fromCharCode(code) + seed.slice(at + 1);
});

describe("fuzz: fleet inputs", () => {
  test("decodeDesiredEnvelope never throws on random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      const r = decodeDesiredEnvelope(bytes, limits);
      expect(typeof r.ok).toBe("boolean");
    }), { numRuns: runs });
  });

  test("mutated real documents are accepted or refused with a typed error, never thrown", () => {
    fc.assert(fc.property(mutated, (text) => {
      const r = decodeDesiredEnvelope(new TextEncoder().encode(text), limits);
      if (!r.ok) expect(r.error.kind.length).toBeGreaterThan(0);
    }), { numRuns: runs });
  });

  test("validateConfig never throws on arbitrary JSON, nor on a real config with a random field replaced", () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      expect(typeof validateConfig(value).ok).toBe("boolean");
    }), { numRuns: runs });
    const sections = ["device", "uplinks", "ipsec", "mobility", "mqtt", "telemetry", "ota", "control", "selection"];
    fc.assert(fc.property(fc.constantFrom(...sections), fc.jsonValue({ maxDepth: 3 }), (section, value) => {
      const c = configInput();
      c[section] = value;
      const r = validateConfig(c);
      if (!r.ok) for (const issue of r.error) expect(issue.path.length).toBeGreaterThan(0);
    }), { numRuns: runs });
  });

  test("the transaction survives any payload stream and its running config stays valid", () => {
    const clock = new VirtualClock();
    const tx = new ConfigTransaction({ running: deviceConfig((c) => (c.ota.config.requireSignature = false)), runningVersion: 0, counters: new Counters() });
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 256 }), mutated.map((t) => new TextEncoder().encode(t))), fc.nat(60_000), (payload, step) => {
      tx.handleDesired(payload, clock.now());
      clock.advance(step);
      tx.handleTimeout(clock.now());
      while (tx.pollAction()) {}
      expect(validateConfig(tx.running.config).ok).toBe(true);
    }), { numRuns: runs });
  });

  test("canonicalJson(JSON.parse(canonicalJson(v))) is stable", () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const once = canonicalJson(value);
      if (once === undefined) return;
      expect(canonicalJson(JSON.parse(once))).toBe(once);
    }), { numRuns: runs });
  });
});
