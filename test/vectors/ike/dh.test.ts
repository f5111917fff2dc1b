// Key exchange vectors: RFC 7748 / RFC 5903 known answers, an OpenSSL cross-check for every group, and values that must be rejected.
import { describe, expect, test } from "bun:test";
import { createECDH } from "node:crypto";
import { fromHex, toHex } from "../../../firmware/core/hex.ts";
import { createKeyExchange } from "../../../firmware/ike/dh.ts";
import vectors from "./dh-vectors.json";

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const hex = (s: string) => fromHex(s)!;

describe("DH vectors", () => {
  test("X25519 (RFC 7748 §6.1): both public values and the shared secret", () => {
    const v = vectors.x25519;
    const alice = createKeyExchange(31, random, hex(v.alicePrivate))!;
    const bob = createKeyExchange(31, random, hex(v.bobPrivate))!;
    expect(toHex(alice.publicValue)).toBe(v.alicePublic);
    expect(toHex(bob.publicValue)).toBe(v.bobPublic);
    const s1 = alice.sharedSecret(bob.publicValue);
    const s2 = bob.sharedSecret(alice.publicValue);
    expect(s1.ok && toHex(s1.value.expose())).toBe(v.shared);
    expect(s2.ok && toHex(s2.value.expose())).toBe(v.shared);
  });

  test("ECP-256 (RFC 5903 §8.1): KE data is x ‖ y, the shared secret is x only", () => {
    const v = vectors.ecp256;
    const i = createKeyExchange(19, random, hex(v.i))!;
    const r = createKeyExchange(19, random, hex(v.r))!;
    expect(toHex(i.publicValue)).toBe(v.gi);
    expect(toHex(r.publicValue)).toBe(v.gr);
    const s = i.sharedSecret(hex(v.gr));
    expect(s.ok && toHex(s.value.expose())).toBe(v.gir);
  });

  for (const [group, curve, size] of [
    [19, "prime256v1", 32],
    [20, "secp384r1", 48],
  ] as const) {
    test(`group ${group} agrees with OpenSSL (node:crypto ECDH ${curve})`, () => {
      for (let k = 0; k < 5; k++) {
        const ours = createKeyExchange(group, random)!;
        const theirs = createECDH(curve);
        theirs.generateKeys();
        const theirPublic = new Uint8Array(theirs.getPublicKey()).subarray(1); // drop 0x04
        expect(theirPublic.length).toBe(2 * size);
        const s = ours.sharedSecret(theirPublic);
        const expected = theirs.computeSecret(Buffer.concat([Buffer.of(4), Buffer.from(ours.publicValue)]));
        expect(s.ok && toHex(s.value.expose())).toBe(expected.toString("hex"));
      }
    });
  }

  test("X25519 agrees with OpenSSL (node:crypto diffieHellman)", async () => {
    const { generateKeyPairSync, diffieHellman, createPublicKey } = await import("node:crypto");
    const theirs = generateKeyPairSync("x25519");
    const raw = new Uint8Array(theirs.publicKey.export({ format: "der", type: "spki" })).subarray(12);
    const ours = createKeyExchange(31, random)!;
    const ourKey = createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b656e032100", "hex"), Buffer.from(ours.publicValue)]), format: "der", type: "spki" });
    const expected = diffieHellman({ privateKey: theirs.privateKey, publicKey: ourKey });
    const s = ours.sharedSecret(raw);
    expect(s.ok && toHex(s.value.expose())).toBe(expected.toString("hex"));
  });

  for (const r of vectors.reject) {
    test(`rejects group ${r.group}: ${r.why}`, () => {
      const s = createKeyExchange(r.group, random)!.sharedSecret(hex(r.peer));
      expect(s.ok).toBe(false);
    });
  }

  test("unsupported groups are refused, not guessed", () => {
    expect(createKeyExchange(14, random)).toBeUndefined();
    expect(createKeyExchange(21, random)).toBeUndefined();
  });
});
