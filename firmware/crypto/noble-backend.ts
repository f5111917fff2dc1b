// The portable backend: @noble/ciphers and @noble/hashes in pure TypeScript; slow, but it always works.

import { cbc, gcm } from "@noble/ciphers/aes.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  AEAD_TAG_LENGTH,
  aeadKeyLength,
  assertKeyLength,
  blockCipherKeyLength,
  HMAC_SHA256_LENGTH,
  type AeadAlgorithm,
  type AeadContext,
  type BlockCipherContext,
  type CryptoBackend,
  type MacContext,
} from "./backend.ts";
import { zeroize } from "./zeroize.ts";

type NobleAeadFactory = (key: Uint8Array, nonce: Uint8Array, aad?: Uint8Array) => {
  encrypt(data: Uint8Array): Uint8Array;
  decrypt(data: Uint8Array): Uint8Array;
};

class NobleAead implements AeadContext {
  readonly #factory: NobleAeadFactory;
  readonly #key: Uint8Array;

  constructor(algorithm: AeadAlgorithm, key: Uint8Array) {
    this.#factory = (algorithm === "chacha20-poly1305" ? chacha20poly1305 : gcm) as unknown as NobleAeadFactory;
    this.#key = Uint8Array.from(key);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, aadLength: number, data: Uint8Array, at: number, length: number): void {
    const sealed = this.#factory(this.#key, nonce, aad.subarray(0, aadLength)).encrypt(data.subarray(at, at + length));
    data.set(sealed, at); // ciphertext ‖ tag
  }

  open(nonce: Uint8Array, aad: Uint8Array, aadLength: number, data: Uint8Array, at: number, length: number): boolean {
    try {
      const plain = this.#factory(this.#key, nonce, aad.subarray(0, aadLength)).decrypt(data.subarray(at, at + length + AEAD_TAG_LENGTH));
      data.set(plain, at);
      plain.fill(0);
      return true;
    } catch {
      return false; // noble checks the tag in constant time and throws on mismatch
    }
  }

  dispose(): void {
    zeroize(this.#key);
  }
}

class NobleCbc implements BlockCipherContext {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    this.#key = Uint8Array.from(key);
  }

  encrypt(data: Uint8Array, ivAt: number, at: number, length: number): void {
    const out = cbc(this.#key, data.slice(ivAt, ivAt + 16), { disablePadding: true }).encrypt(data.subarray(at, at + length));
    data.set(out, at);
  }

  decrypt(data: Uint8Array, ivAt: number, at: number, length: number): void {
    const out = cbc(this.#key, data.slice(ivAt, ivAt + 16), { disablePadding: true }).decrypt(data.subarray(at, at + length));
    data.set(out, at);
    out.fill(0);
  }

  dispose(): void {
    zeroize(this.#key);
  }
}

class NobleHmac implements MacContext {
  readonly outputLength = HMAC_SHA256_LENGTH;
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    this.#key = Uint8Array.from(key);
  }

  compute(data: Uint8Array, at: number, length: number, trailer: Uint8Array | null, trailerLength: number, out: Uint8Array): void {
    const mac = hmac.create(sha256, this.#key).update(data.subarray(at, at + length));
    if (trailer !== null && trailerLength > 0) mac.update(trailer.subarray(0, trailerLength));
    mac.digestInto(out);
  }

  dispose(): void {
    zeroize(this.#key);
  }
}

/** @noble/ciphers + @noble/hashes: every algorithm, everywhere, at a fraction of native speed. */
export function createNobleBackend(): CryptoBackend {
  return {
    name: "noble",
    supportsAead: () => true,
    supportsBlockCipher: () => true,
    supportsMac: () => true,
    createAead(algorithm, key) {
      assertKeyLength(algorithm, key, aeadKeyLength(algorithm));
      return new NobleAead(algorithm, key);
    },
    createBlockCipher(algorithm, key) {
      assertKeyLength(algorithm, key, blockCipherKeyLength(algorithm));
      return new NobleCbc(key);
    },
    createMac(_algorithm, key) {
      return new NobleHmac(key);
    },
    randomFill(into) {
      crypto.getRandomValues(into);
    },
  };
}
