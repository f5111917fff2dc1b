// Ed25519 (RFC 8032) image signing keys: generation, key ids, text key files, signing.

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromHex, toHex } from "../../firmware/core/hex.ts";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import { SecretBytes } from "../../firmware/core/secret.ts";
import { KEY_ID_LENGTH } from "../image/header.ts";

export const PUBLIC_KEY_LENGTH = 32;
export const SECRET_KEY_LENGTH = 32;

const SECRET_LABEL = "monami-ed25519-secret-key";
const PUBLIC_LABEL = "monami-ed25519-public-key";

export interface SigningKey {
  readonly secretKey: SecretBytes;
  readonly publicKey: Uint8Array;
  readonly keyId: Uint8Array;
}

export interface PublicKey {
  readonly publicKey: Uint8Array;
  readonly keyId: Uint8Array;
}

/** The 8-octet key id carried in the image header: the first octets of SHA-256(public key). */
export function keyIdOf(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey).subarray(0, KEY_ID_LENGTH);
}

export function generateSigningKey(): SigningKey {
  const { secretKey, publicKey } = ed25519.keygen();
  return { secretKey: new SecretBytes(secretKey), publicKey, keyId: keyIdOf(publicKey) };
}

export function signingKeyFromSecret(secret: SecretBytes): SigningKey {
  const publicKey = ed25519.getPublicKey(secret.expose());
  return { secretKey: secret, publicKey, keyId: keyIdOf(publicKey) };
}

export function sign(key: SigningKey, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, key.secretKey.expose());
}

/** Never throws: a malformed signature or key is simply not valid. */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

/** Key files are two lines: a label and the hex key (`monami-ed25519-public-key\n<64 hex>\n`). */
export function formatSecretKeyFile(key: SigningKey): string {
  return `${SECRET_LABEL}\n${toHex(key.secretKey.expose())}\n`;
}

export function formatPublicKeyFile(publicKey: Uint8Array): string {
  return `${PUBLIC_LABEL}\n${toHex(publicKey)}\n`;
}

export function parseSecretKeyFile(text: string): Result<SigningKey, string> {
  const bytes = parseKeyText(text, SECRET_LABEL, SECRET_KEY_LENGTH);
  if (!bytes.ok) return bytes;
  return ok(signingKeyFromSecret(new SecretBytes(bytes.value)));
}

export function parsePublicKeyFile(text: string): Result<PublicKey, string> {
  const bytes = parseKeyText(text, PUBLIC_LABEL, PUBLIC_KEY_LENGTH);
  if (!bytes.ok) return bytes;
  return ok({ publicKey: bytes.value, keyId: keyIdOf(bytes.value) });
}

function parseKeyText(text: string, label: string, length: number): Result<Uint8Array, string> {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length !== 2 || lines[0] !== label) return err(`not a ${label} file (expected the line '${label}' and one hex line)`);
  const bytes = fromHex(lines[1]!);
  if (!bytes || bytes.length !== length) return err(`${label}: expected ${length} bytes of hex`);
  return ok(bytes);
}
