// AUTH payload data (RFC 7296 §2.15): the signed octets, pre-shared key MACs, and RFC 7427 digital signatures.

import { SecretBytes } from "../core/secret.ts";
import { sign, verifySignature, Oid, type KeyAlgorithm, type PublicKey, type SigningKey } from "./certificate.ts";
import { AuthMethod, HashAlgorithm, KEY_PAD_FOR_IKEV2 } from "./constants.ts";
import { encodeTlv, Tag } from "./der.ts";
import { constantTimeEqual } from "./encrypted-payload.ts";
import { concat, prf } from "./keys.ts";
import type { PrfAlgorithm } from "./proposal.ts";

/**
 * InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI, MACedIDForI = prf(SK_pi, RestOfInitIDPayload);
 * the responder's mirror uses RealMessage2, NonceIData and SK_pr (§2.15).
 */
export function signedOctets(prfAlg: PrfAlgorithm, realMessage: Uint8Array, peerNonce: Uint8Array, skP: SecretBytes, idPayloadBody: Uint8Array): Uint8Array {
  return concat(realMessage, peerNonce, prf(prfAlg, skP.expose(), idPayloadBody));
}

/** AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>) (§2.15). */
export function pskAuthData(prfAlg: PrfAlgorithm, sharedSecret: SecretBytes, octets: Uint8Array): Uint8Array {
  const padKey = prf(prfAlg, sharedSecret.expose(), new TextEncoder().encode(KEY_PAD_FOR_IKEV2));
  const out = prf(prfAlg, padKey, octets);
  padKey.fill(0);
  return out;
}

export function verifyPskAuth(prfAlg: PrfAlgorithm, sharedSecret: SecretBytes, octets: Uint8Array, method: number, data: Uint8Array): boolean {
  return method === AuthMethod.sharedKeyMic && constantTimeEqual(pskAuthData(prfAlg, sharedSecret, octets), data);
}

/** Reads a PSK file: the whole file is the secret; a `0x…` line is hex; one trailing newline is dropped. */
export function pskFromFileText(text: string): SecretBytes {
  const trimmed = text.replace(/\r?\n$/, "");
  if (/^0x[0-9a-fA-F]+$/.test(trimmed)) return SecretBytes.fromHex(trimmed);
  return new SecretBytes(new TextEncoder().encode(trimmed));
}

/** RFC 7427 Appendix A AlgorithmIdentifiers (no parameters), and RFC 8420 for Ed25519. */
const signatureAlgorithmIdentifier: Record<KeyAlgorithm, Uint8Array> = {
  "ecdsa-p256": encodeTlv(Tag.sequence, encodeTlv(Tag.oid, Uint8Array.from(Buffer.from(Oid.ecdsaWithSha256, "hex")))),
  "ecdsa-p384": encodeTlv(Tag.sequence, encodeTlv(Tag.oid, Uint8Array.from(Buffer.from(Oid.ecdsaWithSha384, "hex")))),
  ed25519: encodeTlv(Tag.sequence, encodeTlv(Tag.oid, Uint8Array.from(Buffer.from(Oid.ed25519, "hex")))),
};

/** The SIGNATURE_HASH_ALGORITHMS we announce: SHA2-256, SHA2-384 and Identity for Ed25519 (RFC 7427 §4, RFC 8420). */
export const supportedSignatureHashes: readonly number[] = [HashAlgorithm.sha2_256, HashAlgorithm.sha2_384, HashAlgorithm.identity];

export function encodeHashAlgorithms(ids: readonly number[]): Uint8Array {
  const out = new Uint8Array(ids.length * 2);
  ids.forEach((id, i) => {
    out[2 * i] = id >> 8;
    out[2 * i + 1] = id & 0xff;
  });
  return out;
}

/** AUTH data for method 14 (RFC 7427 §3): ASN.1 Length | AlgorithmIdentifier | Signature Value. */
export function signatureAuthData(key: SigningKey, octets: Uint8Array): Uint8Array {
  const algId = signatureAlgorithmIdentifier[key.algorithm];
  return concat(Uint8Array.of(algId.length), algId, sign(key, octets));
}

/**
 * Checks a peer's signature AUTH: method 14 with an AlgorithmIdentifier matching the certificate's
 * key, or the RFC 4754 methods 9/10 (ECDSA, raw r ‖ s).
 */
export function verifySignatureAuth(key: PublicKey, method: number, data: Uint8Array, octets: Uint8Array): boolean {
  if (method === AuthMethod.digitalSignature) {
    if (data.length < 1) return false;
    const algLength = data[0]!;
    const algId = data.subarray(1, 1 + algLength);
    if (algId.length !== algLength || !constantTimeEqual(algId, signatureAlgorithmIdentifier[key.algorithm])) return false;
    return verifySignature(key, octets, data.subarray(1 + algLength));
  }
  if (method === AuthMethod.ecdsaP256 && key.algorithm === "ecdsa-p256") return verifySignature(key, octets, data, true);
  if (method === AuthMethod.ecdsaP384 && key.algorithm === "ecdsa-p384") return verifySignature(key, octets, data, true);
  return false;
}
