// The node:crypto backend: Bun's built-in OpenSSL-compatible ciphers, one cipher object per packet.

import { createCipheriv, createDecipheriv, createHmac, getCiphers, randomFillSync } from "node:crypto";
import {
  AEAD_TAG_LENGTH,
  aeadKeyLength,
  assertKeyLength,
  blockCipherKeyLength,
  HMAC_SHA256_LENGTH,
  type AeadAlgorithm,
  type AeadContext,
  type BlockCipherAlgorithm,
  type BlockCipherContext,
  type CryptoBackend,
  type MacAlgorithm,
  type MacContext,
} from "./backend.ts";
import { zeroize } from "./zeroize.ts";

/** Copies a Buffer result into `into[at]` and wipes the Buffer (it may hold plaintext or key-derived bytes). */
function copyOut(from: Buffer, into: Uint8Array, at: number): void {
  into.set(from, at);
  from.fill(0);
}

class NodeAead implements AeadContext {
  readonly #algorithm: AeadAlgorithm;
  readonly #key: Buffer;

  constructor(algorithm: AeadAlgorithm, key: Uint8Array) {
    this.#algorithm = algorithm;
    this.#key = Buffer.from(key);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, aadLength: number, data: Uint8Array, at: number, length: number): void {
    const cipher = createCipheriv(this.#algorithm as "aes-128-gcm", this.#key, nonce, { authTagLength: AEAD_TAG_LENGTH });
    cipher.setAAD(aad.subarray(0, aadLength));
    const body = cipher.update(data.subarray(at, at + length));
    const tail = cipher.final();
    data.set(body, at);
    if (tail.length > 0) data.set(tail, at + body.length);
    data.set(cipher.getAuthTag(), at + length);
  }

  open(nonce: Uint8Array, aad: Uint8Array, aadLength: number, data: Uint8Array, at: number, length: number): boolean {
    try {
      const decipher = createDecipheriv(this.#algorithm as "aes-128-gcm", this.#key, nonce, { authTagLength: AEAD_TAG_LENGTH });
      decipher.setAAD(aad.subarray(0, aadLength));
      decipher.setAuthTag(data.subarray(at + length, at + length + AEAD_TAG_LENGTH));
      const body = decipher.update(data.subarray(at, at + length));
      decipher.final(); // throws on a bad tag: unverified plaintext is never copied out
      copyOut(body, data, at);
      return true;
    } catch {
      return false;
    }
  }

  dispose(): void {
    zeroize(this.#key);
  }
}

class NodeCbc implements BlockCipherContext {
  readonly #algorithm: BlockCipherAlgorithm;
  readonly #key: Buffer;

  constructor(algorithm: BlockCipherAlgorithm, key: Uint8Array) {
    this.#algorithm = algorithm;
    this.#key = Buffer.from(key);
  }

  encrypt(data: Uint8Array, ivAt: number, at: number, length: number): void {
    const cipher = createCipheriv(this.#algorithm, this.#key, data.subarray(ivAt, ivAt + 16)).setAutoPadding(false);
    const body = cipher.update(data.subarray(at, at + length));
    cipher.final();
    data.set(body, at);
  }

  decrypt(data: Uint8Array, ivAt: number, at: number, length: number): void {
    const decipher = createDecipheriv(this.#algorithm, this.#key, data.subarray(ivAt, ivAt + 16)).setAutoPadding(false);
    const body = decipher.update(data.subarray(at, at + length));
    decipher.final();
    copyOut(body, data, at);
  }

  dispose(): void {
    zeroize(this.#key);
  }
}

class NodeHmac implements MacContext {
  readonly outputLength = HMAC_SHA256_LENGTH;
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    this.#key = Buffer.from(key);
  }

  compute(data: Uint8Array, at: number, length: number, trailer: Uint8Array | null, trailerLength: number, out: Uint8Array): void {
    const mac = createHmac("sha256", this.#key).update(data.subarray(at, at + length));
    if (trailer !== null && trailerLength > 0) mac.update(trailer.subarray(0, trailerLength));
    out.set(mac.digest());
  }

  dispose(): void {
    zeroize(this.#key);
  }
}

/** node:crypto as Bun provides it: AES-GCM, AES-CBC and HMAC; no ChaCha20-Poly1305 in Bun 1.4. */
export function createNodeCryptoBackend(): CryptoBackend {
  const ciphers = new Set(getCiphers());
  return {
    name: "node",
    supportsAead: (algorithm) => ciphers.has(algorithm),
    supportsBlockCipher: (algorithm) => ciphers.has(algorithm),
    supportsMac: (algorithm: MacAlgorithm) => algorithm === "hmac-sha256",
    createAead(algorithm, key) {
      assertKeyLength(algorithm, key, aeadKeyLength(algorithm));
      if (!ciphers.has(algorithm)) throw new Error(`node:crypto backend: ${algorithm} is not available`);
      return new NodeAead(algorithm, key);
    },
    createBlockCipher(algorithm, key) {
      assertKeyLength(algorithm, key, blockCipherKeyLength(algorithm));
      return new NodeCbc(algorithm, key);
    },
    createMac(_algorithm, key) {
      return new NodeHmac(key);
    },
    randomFill(into) {
      randomFillSync(into);
    },
  };
}
