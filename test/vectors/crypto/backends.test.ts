// Every crypto backend against the same published vectors, byte for byte (AEAD, AES-CBC, HMAC-SHA-256).
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import type { AeadAlgorithm, BlockCipherAlgorithm } from "../../../firmware/crypto/backend.ts";
import { toHex, fromHex } from "../../../firmware/core/hex.ts";
import { loadCryptoBackends } from "../../../firmware/runtime/crypto-backends.ts";
import aeadVectors from "./aead.json";
import cbcVectors from "./aes-cbc.json";
import hmacVectors from "./hmac-sha256.json";

const backends = await loadCryptoBackends();
const hex = (text: string): Uint8Array => fromHex(text)!;

test("the libcrypto, node:crypto and noble backends all load here", () => {
  const names = backends.map((b) => b.name);
  expect(names).toContain("node");
  expect(names).toContain("noble");
  if (existsSync("/usr/lib/x86_64-linux-gnu/libcrypto.so.3") || existsSync("/usr/lib/aarch64-linux-gnu/libcrypto.so.3")) {
    expect(names[0]).toBe("libcrypto");
  }
});

for (const backend of backends) {
  describe(`${backend.name} backend`, () => {
    for (const v of aeadVectors.vectors) {
      const algorithm = v.algorithm as AeadAlgorithm;
      test.skipIf(!backend.supportsAead(algorithm))(`seals and opens: ${v.name}`, () => {
        const plaintext = hex(v.plaintext);
        const buffer = new Uint8Array(8 + plaintext.length + 16 + 8);
        buffer.set(plaintext, 8);
        const context = backend.createAead(algorithm, hex(v.key));
        const aad = hex(v.aad);
        context.seal(hex(v.nonce), aad, aad.length, buffer, 8, plaintext.length);
        expect(toHex(buffer.subarray(8, 8 + plaintext.length))).toBe(v.ciphertext);
        expect(toHex(buffer.subarray(8 + plaintext.length, 24 + plaintext.length))).toBe(v.tag);
        expect(context.open(hex(v.nonce), aad, aad.length, buffer, 8, plaintext.length)).toBe(true);
        expect(toHex(buffer.subarray(8, 8 + plaintext.length))).toBe(v.plaintext);
        context.dispose();
      });
    }

    for (const v of aeadVectors.rejected) {
      const algorithm = v.algorithm as AeadAlgorithm;
      test.skipIf(!backend.supportsAead(algorithm))(`rejects: ${v.name}`, () => {
        const ciphertext = hex(v.ciphertext);
        const buffer = new Uint8Array(ciphertext.length + 16);
        buffer.set(ciphertext, 0);
        buffer.set(hex(v.tag), ciphertext.length);
        const context = backend.createAead(algorithm, hex(v.key));
        const aad = hex(v.aad);
        expect(context.open(hex(v.nonce), aad, aad.length, buffer, 0, ciphertext.length)).toBe(false);
        context.dispose();
      });
    }

    for (const v of cbcVectors.vectors) {
      const algorithm = v.algorithm as BlockCipherAlgorithm;
      test(`AES-CBC: ${v.name}`, () => {
        const plaintext = hex(v.plaintext);
        const buffer = new Uint8Array(16 + plaintext.length);
        buffer.set(hex(v.iv), 0);
        buffer.set(plaintext, 16);
        const context = backend.createBlockCipher(algorithm, hex(v.key));
        context.encrypt(buffer, 0, 16, plaintext.length);
        expect(toHex(buffer.subarray(16))).toBe(v.ciphertext);
        context.decrypt(buffer, 0, 16, plaintext.length);
        expect(toHex(buffer.subarray(16))).toBe(v.plaintext);
        context.dispose();
      });
    }

    for (const v of hmacVectors.vectors) {
      test(`HMAC-SHA-256: ${v.name}`, () => {
        const data = hex(v.data);
        const mac = backend.createMac("hmac-sha256", hex(v.key));
        const out = new Uint8Array(32);
        // Split the input over the region and the trailer to exercise the ESN-style second part.
        const split = Math.max(0, data.length - 4);
        const framed = new Uint8Array(3 + data.length);
        framed.set(data, 3);
        mac.compute(framed, 3, split, data.subarray(split), data.length - split, out);
        if (v.mac !== undefined) expect(toHex(out)).toBe(v.mac);
        if (v.truncated !== undefined) expect(toHex(out.subarray(0, 16))).toBe(v.truncated);
        mac.dispose();
      });
    }

    test("randomFill fills (two draws of 32 octets differ)", () => {
      const a = new Uint8Array(32);
      const b = new Uint8Array(32);
      backend.randomFill(a);
      backend.randomFill(b);
      expect(toHex(a)).not.toBe(toHex(b));
    });
  });
}

describe("backends agree on random inputs", () => {
  for (const algorithm of ["aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"] as const) {
    test(`${algorithm}: identical ciphertext and tag from every backend that has it`, () => {
      const key = crypto.getRandomValues(new Uint8Array(algorithm === "aes-128-gcm" ? 16 : 32));
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      const aad = crypto.getRandomValues(new Uint8Array(12));
      const outputs = new Set<string>();
      let count = 0;
      for (const backend of backends.filter((b) => b.supportsAead(algorithm))) {
        for (const length of [0, 1, 15, 16, 17, 64, 1400]) {
          const buffer = new Uint8Array(length + 16);
          for (let i = 0; i < length; i++) buffer[i] = (i * 7 + length) & 0xff;
          backend.createAead(algorithm, key).seal(nonce, aad, 12, buffer, 0, length);
          outputs.add(`${length}:${toHex(buffer)}`);
        }
        count++;
      }
      expect(count).toBeGreaterThanOrEqual(algorithm === "chacha20-poly1305" ? 1 : 2);
      expect(outputs.size).toBe(7); // one distinct output per length, whatever the backend
    });
  }
});
