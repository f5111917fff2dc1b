// One SA's ESP cryptography in one direction: builds nonce/AAD or ICV input and calls the backend in place.

import type { AeadContext, BlockCipherContext, CryptoBackend, MacContext } from "../crypto/backend.ts";
import { constantTimeEqual } from "../crypto/constant-time.ts";
import type { AeadSuite, CipherHmacSuite, EspSuite } from "../crypto/suites.ts";
import { zeroize } from "../crypto/zeroize.ts";
import type { SecretBytes } from "../core/secret.ts";
import { writeU32 } from "../wire/bytes.ts";
import { ESP_HEADER_LEN } from "../wire/esp.ts";

/** Key material of one SA (RFC 7296 §2.17: encryption key, with the AEAD salt at its end, then integrity key). */
export interface EspKeys {
  readonly encryption: SecretBytes;
  readonly integrity?: SecretBytes;
}

/**
 * The ESP packet in `packet[at, …)` is laid out as SPI | seq | IV | plaintext/ciphertext | ICV,
 * with `textLength` octets of (padded) text. Both calls work in place and allocate nothing on
 * the fast backends.
 */
export interface EspTransform {
  readonly suite: EspSuite;
  /** Writes the IV, encrypts and appends the ICV. SPI and sequence are already in place. */
  seal(packet: Uint8Array, at: number, textLength: number, sequenceHigh: number, sequenceLow: number, extendedSequenceNumbers: boolean): void;
  /** Verifies the ICV (constant time) and decrypts; false when the packet is not authentic. */
  open(packet: Uint8Array, at: number, textLength: number, sequenceHigh: number, extendedSequenceNumbers: boolean): boolean;
  /** Frees backend state and wipes key copies. */
  dispose(): void;
}

/** A new (SA-owned) buffer whose bytes never move, so FFI backends can keep its address. */
function scratch(length: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(length));
}

/** RFC 4106 §3–5 and RFC 7634 §2: nonce = salt ‖ IV, AAD = SPI ‖ [seq-high] ‖ seq-low, IV = the 64-bit sequence number. */
class AeadTransform implements EspTransform {
  readonly suite: AeadSuite;
  readonly #context: AeadContext;
  readonly #nonce = scratch(12);
  readonly #aad = scratch(12);

  constructor(suite: AeadSuite, backend: CryptoBackend, keys: EspKeys) {
    this.suite = suite;
    const keymat = keys.encryption.expose();
    if (keymat.length !== suite.encryptionKeyLength) {
      throw new RangeError(`${suite.id}: KEYMAT must be ${suite.encryptionKeyLength} octets (key ‖ 4-octet salt), got ${keymat.length}`);
    }
    this.#context = backend.createAead(suite.aead, keymat.subarray(0, suite.keyLength));
    this.#nonce.set(keymat.subarray(suite.keyLength), 0);
  }

  seal(packet: Uint8Array, at: number, textLength: number, sequenceHigh: number, sequenceLow: number, esn: boolean): void {
    // The IV is the 64-bit sequence number: unique per packet because the counter never cycles (RFC 4106 §3.1).
    const iv = at + ESP_HEADER_LEN;
    writeU32(packet, iv, sequenceHigh);
    writeU32(packet, iv + 4, sequenceLow);
    const aadLength = this.#prepare(packet, at, sequenceHigh, esn);
    this.#context.seal(this.#nonce, this.#aad, aadLength, packet, iv + 8, textLength);
  }

  open(packet: Uint8Array, at: number, textLength: number, sequenceHigh: number, esn: boolean): boolean {
    const aadLength = this.#prepare(packet, at, sequenceHigh, esn);
    return this.#context.open(this.#nonce, this.#aad, aadLength, packet, at + ESP_HEADER_LEN + 8, textLength);
  }

  /** Copies the IV into the nonce after the salt and builds the AAD; returns the AAD length. */
  #prepare(packet: Uint8Array, at: number, sequenceHigh: number, esn: boolean): number {
    const nonce = this.#nonce;
    const aad = this.#aad;
    for (let i = 0; i < 8; i++) nonce[4 + i] = packet[at + ESP_HEADER_LEN + i]!;
    for (let i = 0; i < 4; i++) aad[i] = packet[at + i]!;
    if (!esn) {
      for (let i = 4; i < 8; i++) aad[i] = packet[at + i]!;
      return 8;
    }
    writeU32(aad, 4, sequenceHigh);
    for (let i = 0; i < 4; i++) aad[8 + i] = packet[at + 4 + i]!;
    return 12;
  }

  dispose(): void {
    this.#context.dispose();
    zeroize(this.#nonce, this.#aad);
  }
}

/** Random IVs drawn from a pool refilled in bulk, so CBC costs no per-packet RNG call (RFC 3602 §2: unpredictable IVs). */
class IvPool {
  readonly #pool = scratch(4096);
  readonly #backend: CryptoBackend;
  #used: number;

  constructor(backend: CryptoBackend) {
    this.#backend = backend;
    this.#used = this.#pool.length;
  }

  take(into: Uint8Array, at: number, length: number): void {
    if (this.#used + length > this.#pool.length) {
      this.#backend.randomFill(this.#pool);
      this.#used = 0;
    }
    const pool = this.#pool;
    const from = this.#used;
    for (let i = 0; i < length; i++) into[at + i] = pool[from + i]!;
    this.#used += length;
  }
}

/**
 * RFC 4303 §3.3.2 and §3.4.4: encrypt-then-MAC over SPI ‖ seq ‖ IV ‖ ciphertext, with the ESN
 * high half appended to the MAC input only (§2.2.1); ICV = the first 16 octets (RFC 4868 §2.6).
 */
class CipherHmacTransform implements EspTransform {
  readonly suite: CipherHmacSuite;
  readonly #cipher: BlockCipherContext | undefined;
  readonly #mac: MacContext;
  readonly #ivs: IvPool | undefined;
  readonly #high = scratch(4);
  readonly #digest = scratch(32);

  constructor(suite: CipherHmacSuite, backend: CryptoBackend, keys: EspKeys) {
    this.suite = suite;
    const encryption = keys.encryption.expose();
    if (encryption.length !== suite.encryptionKeyLength) {
      throw new RangeError(`${suite.id}: encryption key must be ${suite.encryptionKeyLength} octets, got ${encryption.length}`);
    }
    if (keys.integrity === undefined || keys.integrity.length !== suite.integrityKeyLength) {
      throw new RangeError(`${suite.id}: integrity key must be ${suite.integrityKeyLength} octets`);
    }
    this.#cipher = suite.cipher === "null" ? undefined : backend.createBlockCipher(suite.cipher, encryption);
    this.#ivs = suite.cipher === "null" ? undefined : new IvPool(backend);
    this.#mac = backend.createMac("hmac-sha256", keys.integrity.expose());
  }

  seal(packet: Uint8Array, at: number, textLength: number, sequenceHigh: number, _sequenceLow: number, esn: boolean): void {
    const ivLength = this.suite.ivLength;
    const text = at + ESP_HEADER_LEN + ivLength;
    if (this.#cipher !== undefined) {
      this.#ivs!.take(packet, at + ESP_HEADER_LEN, ivLength);
      this.#cipher.encrypt(packet, at + ESP_HEADER_LEN, text, textLength);
    }
    this.#computeIcv(packet, at, text + textLength - at, sequenceHigh, esn);
    const digest = this.#digest;
    const icv = text + textLength;
    for (let i = 0; i < this.suite.icvLength; i++) packet[icv + i] = digest[i]!;
  }

  open(packet: Uint8Array, at: number, textLength: number, sequenceHigh: number, esn: boolean): boolean {
    const text = at + ESP_HEADER_LEN + this.suite.ivLength;
    this.#computeIcv(packet, at, text + textLength - at, sequenceHigh, esn);
    if (!constantTimeEqual(this.#digest, 0, packet, text + textLength, this.suite.icvLength)) return false;
    this.#cipher?.decrypt(packet, at + ESP_HEADER_LEN, text, textLength);
    return true;
  }

  #computeIcv(packet: Uint8Array, at: number, coveredLength: number, sequenceHigh: number, esn: boolean): void {
    if (esn) writeU32(this.#high, 0, sequenceHigh);
    this.#mac.compute(packet, at, coveredLength, esn ? this.#high : null, esn ? 4 : 0, this.#digest);
  }

  dispose(): void {
    this.#cipher?.dispose();
    this.#mac.dispose();
    zeroize(this.#digest);
  }
}

/** Builds the transform for `suite` on `backend`. Wrong key lengths throw RangeError (a configuration error). */
export function createEspTransform(suite: EspSuite, backend: CryptoBackend, keys: EspKeys): EspTransform {
  return suite.kind === "aead" ? new AeadTransform(suite, backend, keys) : new CipherHmacTransform(suite, backend, keys);
}

/** Whether `backend` implements everything `suite` needs. */
export function backendSupportsSuite(backend: CryptoBackend, suite: EspSuite): boolean {
  if (suite.kind === "aead") return backend.supportsAead(suite.aead);
  return (suite.cipher === "null" || backend.supportsBlockCipher(suite.cipher)) && backend.supportsMac("hmac-sha256");
}
