// The SK payload (RFC 7296 §3.14) with AES-GCM (RFC 5282) or AES-CBC + HMAC-SHA2 (RFC 3602, RFC 4868), and SKF fragments (RFC 7383).

import { cbc, gcm } from "@noble/ciphers/aes.js";
import { err, ok, type Result } from "../core/result.ts";
import type { SecretBytes } from "../core/secret.ts";
import type { IkeMessage, HeaderFields } from "../wire/ikev2/message.ts";
import { layoutEncrypted } from "../wire/ikev2/message.ts";
import { encodeChain, firstPayloadType, type Payload } from "../wire/ikev2/payloads.ts";
import type { RandomSource } from "./dh.ts";
import { concat, hmacFor } from "./keys.ts";
import type { EncryptionAlgorithm, IntegrityAlgorithm } from "./proposal.ts";

const GCM_IV = 8; // RFC 5282 §3.1
const GCM_SALT = 4;
const CBC_BLOCK = 16;

/** The cipher state of one direction of an IKE SA. */
export interface SkDirection {
  readonly encryption: EncryptionAlgorithm;
  readonly integrity?: IntegrityAlgorithm;
  readonly encryptionKey: SecretBytes;
  readonly integrityKey: SecretBytes;
}

export type DecryptFailure = "too-short" | "integrity" | "padding";

function ivLength(e: EncryptionAlgorithm): number {
  return e.aead ? GCM_IV : CBC_BLOCK;
}
function icvLength(d: SkDirection): number {
  return d.encryption.aead ? d.encryption.icvLength : (d.integrity?.icvLength ?? 0);
}

/** Octets of SK body for `plain` inner octets: IV, padded ciphertext with Pad Length, ICV. */
export function skBodyLength(d: SkDirection, plain: number): number {
  const padded = d.encryption.aead ? plain + 1 : Math.ceil((plain + 1) / CBC_BLOCK) * CBC_BLOCK;
  return ivLength(d.encryption) + padded + icvLength(d);
}

function seal(d: SkDirection, associated: Uint8Array, plain: Uint8Array, random: RandomSource, body: Uint8Array): void {
  const iv = random(ivLength(d.encryption));
  const padded = new Uint8Array(body.length - iv.length - icvLength(d));
  padded.set(plain);
  padded[padded.length - 1] = padded.length - plain.length - 1; // Pad Length; padding octets are zero
  body.set(iv, 0);
  const key = d.encryptionKey.expose();
  if (d.encryption.aead) {
    const k = key.subarray(0, key.length - GCM_SALT);
    const nonce = concat(key.subarray(key.length - GCM_SALT), iv);
    body.set(gcm(k, nonce, associated).encrypt(padded), iv.length);
    return;
  }
  body.set(cbc(key, iv, { disablePadding: true }).encrypt(padded), iv.length);
  const macEnd = body.length - icvLength(d);
  const mac = hmacFor(d.integrity!.hash, d.integrityKey.expose(), concat(associated, body.subarray(0, macEnd)));
  body.set(mac.subarray(0, icvLength(d)), macEnd);
}

/** Encodes a message whose payloads all travel inside one SK payload. */
export function encryptMessage(fields: HeaderFields, inner: readonly Payload[], d: SkDirection, random: RandomSource): Uint8Array {
  const plain = encodeChain(inner);
  const { out, bodyAt } = layoutEncrypted(fields, firstPayloadType(inner), skBodyLength(d, plain.length));
  seal(d, out.subarray(0, bodyAt), plain, random, out.subarray(bodyAt));
  return out;
}

/**
 * Splits the inner chain into SKF fragments (RFC 7383 §2.5) so that no datagram exceeds
 * `maxMessage` octets. Returns one message when it fits as a plain SK payload.
 */
export function encryptFragments(fields: HeaderFields, inner: readonly Payload[], d: SkDirection, random: RandomSource, maxMessage: number): Uint8Array[] {
  const whole = encryptMessage(fields, inner, d, random);
  if (whole.length <= maxMessage) return [whole];
  const plain = encodeChain(inner);
  const overhead = 28 + 8 + skBodyLength(d, 0);
  const room = d.encryption.aead ? maxMessage - overhead : Math.floor((maxMessage - overhead) / CBC_BLOCK) * CBC_BLOCK;
  const chunk = Math.max(1, room);
  const total = Math.ceil(plain.length / chunk);
  const out: Uint8Array[] = [];
  for (let i = 0; i < total; i++) {
    const piece = plain.subarray(i * chunk, (i + 1) * chunk);
    const { out: msg, bodyAt } = layoutEncrypted(fields, firstPayloadType(inner), skBodyLength(d, piece.length), { number: i + 1, total });
    seal(d, msg.subarray(0, bodyAt), piece, random, msg.subarray(bodyAt));
    out.push(msg);
  }
  return out;
}

/** Opens the SK (or one SKF) payload of a parsed message and returns the inner octets (without padding). */
export function decryptBody(message: IkeMessage, d: SkDirection): Result<Uint8Array, DecryptFailure> {
  const part = message.encrypted;
  if (!part) return err("too-short");
  const iv = ivLength(d.encryption);
  const icv = icvLength(d);
  const body = part.body;
  if (body.length < iv + icv + 1) return err("too-short");
  const key = d.encryptionKey.expose();
  let padded: Uint8Array;
  if (d.encryption.aead) {
    const k = key.subarray(0, key.length - GCM_SALT);
    const nonce = concat(key.subarray(key.length - GCM_SALT), body.subarray(0, iv));
    try {
      padded = gcm(k, nonce, part.associated).decrypt(body.subarray(iv));
    } catch {
      return err("integrity");
    }
  } else {
    const macEnd = body.length - icv;
    if ((macEnd - iv) % CBC_BLOCK !== 0 || macEnd - iv === 0) return err("padding");
    const expected = hmacFor(d.integrity!.hash, d.integrityKey.expose(), concat(part.associated, body.subarray(0, macEnd))).subarray(0, icv);
    if (!constantTimeEqual(expected, body.subarray(macEnd))) return err("integrity");
    padded = cbc(key, body.subarray(0, iv), { disablePadding: true }).decrypt(body.subarray(iv, macEnd));
  }
  const padLength = padded[padded.length - 1]!;
  if (padLength + 1 > padded.length) return err("padding");
  return ok(padded.subarray(0, padded.length - padLength - 1));
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
