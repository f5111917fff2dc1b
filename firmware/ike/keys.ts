// IKEv2 key derivation: prf, prf+, SKEYSEED, SK_* and CHILD_SA KEYMAT (RFC 7296 §2.13, §2.14, §2.17, §2.18).

import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { SecretBytes } from "../core/secret.ts";
import type { EncryptionAlgorithm, IntegrityAlgorithm, Negotiated, PrfAlgorithm } from "./proposal.ts";

const hashes = { sha256, sha384, sha512 } as const;

export function hmacFor(hash: "sha256" | "sha384" | "sha512", key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(hashes[hash], key, data);
}

/** prf(K, S) for the negotiated PRF (HMAC-SHA2, RFC 4868). */
export function prf(alg: PrfAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmacFor(alg.hash, key, data);
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * prf+ (§2.13): T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n); output T1 | T2 | … cut to
 * `length`. At most 255 blocks, so asking for more is a programmer error.
 */
export function prfPlus(alg: PrfAlgorithm, key: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  const blocks = Math.ceil(length / alg.length);
  if (blocks > 255) throw new RangeError(`prf+: ${length} octets need ${blocks} > 255 blocks`);
  const out = new Uint8Array(blocks * alg.length);
  let previous: Uint8Array = new Uint8Array(0);
  for (let n = 1; n <= blocks; n++) {
    previous = prf(alg, key, concat(previous, seed, Uint8Array.of(n)));
    out.set(previous, (n - 1) * alg.length);
  }
  return out.subarray(0, length);
}

/** Encryption key octets an algorithm consumes from KEYMAT: key plus the 4-octet salt for GCM (RFC 5282 §7.1, RFC 4106 §8.1). */
export function encryptionKeyLength(a: EncryptionAlgorithm): number {
  return a.keyBits / 8 + (a.aead ? 4 : 0);
}

export interface IkeSaKeys {
  readonly skD: SecretBytes;
  readonly skAi: SecretBytes;
  readonly skAr: SecretBytes;
  readonly skEi: SecretBytes;
  readonly skEr: SecretBytes;
  readonly skPi: SecretBytes;
  readonly skPr: SecretBytes;
}

/** SKEYSEED = prf(Ni | Nr, g^ir) for a new IKE SA (§2.14). */
export function skeyseedInitial(alg: PrfAlgorithm, nonceI: Uint8Array, nonceR: Uint8Array, sharedSecret: Uint8Array): Uint8Array {
  return prf(alg, concat(nonceI, nonceR), sharedSecret);
}

/** SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) for a rekeyed IKE SA (§2.18); the PRF is the old SA's. */
export function skeyseedRekey(oldPrf: PrfAlgorithm, oldSkD: Uint8Array, sharedSecret: Uint8Array, nonceI: Uint8Array, nonceR: Uint8Array): Uint8Array {
  return prf(oldPrf, oldSkD, concat(sharedSecret, nonceI, nonceR));
}

/**
 * {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) (§2.14).
 * SK_d, SK_pi and SK_pr take the PRF's preferred key length; SK_a* the integrity key length (0 with AEAD).
 */
export function deriveIkeSaKeys(suite: Negotiated, skeyseed: Uint8Array, nonceI: Uint8Array, nonceR: Uint8Array, spiI: Uint8Array, spiR: Uint8Array): IkeSaKeys {
  const prfAlg = suite.prf;
  if (!prfAlg) throw new TypeError("IKE suite without PRF");
  const p = prfAlg.length;
  const a = suite.integrity?.keyLength ?? 0;
  const e = encryptionKeyLength(suite.encryption);
  const stream = prfPlus(prfAlg, skeyseed, concat(nonceI, nonceR, spiI, spiR), 3 * p + 2 * a + 2 * e);
  let at = 0;
  const take = (n: number) => {
    const out = new SecretBytes(stream.slice(at, at + n));
    at += n;
    return out;
  };
  const skD = take(p);
  const skAi = take(a);
  const skAr = take(a);
  const skEi = take(e);
  const skEr = take(e);
  const skPi = take(p);
  const skPr = take(p);
  stream.fill(0);
  return { skD, skAi, skAr, skEi, skEr, skPi, skPr };
}

/** Keys for one direction of a CHILD_SA. */
export interface ChildSaDirectionKeys {
  /** Encryption key (plus 4-octet salt for AES-GCM). */
  readonly encryption: SecretBytes;
  /** Integrity key (empty with AEAD). */
  readonly integrity: SecretBytes;
}

export interface ChildSaKeys {
  /** initiator → responder (the initiator of the exchange that created the CHILD_SA). */
  readonly initiatorToResponder: ChildSaDirectionKeys;
  readonly responderToInitiator: ChildSaDirectionKeys;
}

/**
 * KEYMAT = prf+(SK_d, Ni | Nr) or, with PFS, prf+(SK_d, g^ir (new) | Ni | Nr) (§2.17). Keys are
 * taken initiator→responder first, encryption before integrity in each direction.
 */
export function deriveChildSaKeys(
  prfAlg: PrfAlgorithm,
  skD: Uint8Array,
  encryption: EncryptionAlgorithm,
  integrity: IntegrityAlgorithm | undefined,
  nonceI: Uint8Array,
  nonceR: Uint8Array,
  sharedSecret?: Uint8Array,
): ChildSaKeys {
  const e = encryptionKeyLength(encryption);
  const a = encryption.aead ? 0 : (integrity?.keyLength ?? 0);
  const seed = sharedSecret ? concat(sharedSecret, nonceI, nonceR) : concat(nonceI, nonceR);
  const stream = prfPlus(prfAlg, skD, seed, 2 * (e + a));
  const take = (at: number, n: number) => new SecretBytes(stream.slice(at, at + n));
  const out = {
    initiatorToResponder: { encryption: take(0, e), integrity: take(e, a) },
    responderToInitiator: { encryption: take(e + a, e), integrity: take(2 * e + a, a) },
  };
  stream.fill(0);
  return out;
}
