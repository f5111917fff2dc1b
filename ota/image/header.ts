// The fixed 24-octet image header: magic, format, signature algorithm, manifest length, signing key id.

import { ok, type Result } from "../../firmware/core/result.ts";
import { readU16, readU32, writeU16, writeU32 } from "../../firmware/wire/bytes.ts";
import { imageError, type ImageError } from "./error.ts";
import { MAX_MANIFEST_LENGTH } from "./manifest.ts";

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                 magic "MONAMIMG" (8 octets)                   |
// +                                                               +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |        format version (1)     |   signature algorithm (1)     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                        manifest length                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |       key id: first 8 octets of SHA-256(signer public key)    |
// +                                                               +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const field = { magic: 0, formatVersion: 8, signatureAlgorithm: 10, manifestLength: 12, keyId: 16 } as const;

export const HEADER_LENGTH = 24;
export const IMAGE_MAGIC = new TextEncoder().encode("MONAMIMG");
export const IMAGE_FORMAT_VERSION = 1;
/** Ed25519 (RFC 8032), pure, over the signed message of `signedMessage()`. */
export const SIGNATURE_ALGORITHM_ED25519 = 1;
export const SIGNATURE_LENGTH = 64;
export const KEY_ID_LENGTH = 8;

export interface ImageHeader {
  readonly formatVersion: number;
  readonly signatureAlgorithm: number;
  readonly manifestLength: number;
  readonly keyId: Uint8Array;
}

export function parseHeader(bytes: Uint8Array): Result<ImageHeader, ImageError> {
  if (bytes.length < HEADER_LENGTH) return imageError("truncated", bytes.length, `header needs ${HEADER_LENGTH} bytes, have ${bytes.length}`);
  for (let i = 0; i < IMAGE_MAGIC.length; i++) {
    if (bytes[field.magic + i] !== IMAGE_MAGIC[i]) return imageError("bad-magic", field.magic + i, "not a monami image");
  }
  const formatVersion = readU16(bytes, field.formatVersion);
  if (formatVersion !== IMAGE_FORMAT_VERSION) return imageError("bad-version", field.formatVersion, `format ${formatVersion}`);
  const signatureAlgorithm = readU16(bytes, field.signatureAlgorithm);
  if (signatureAlgorithm !== SIGNATURE_ALGORITHM_ED25519) {
    return imageError("bad-algorithm", field.signatureAlgorithm, `signature algorithm ${signatureAlgorithm}`);
  }
  const manifestLength = readU32(bytes, field.manifestLength);
  if (manifestLength === 0 || manifestLength > MAX_MANIFEST_LENGTH) {
    return imageError("bad-length", field.manifestLength, `manifest length ${manifestLength}`);
  }
  const keyId = bytes.subarray(field.keyId, field.keyId + KEY_ID_LENGTH);
  return ok({ formatVersion, signatureAlgorithm, manifestLength, keyId });
}

export function emitHeader(header: ImageHeader, into: Uint8Array): void {
  if (header.keyId.length !== KEY_ID_LENGTH) throw new RangeError("key id must be 8 bytes");
  into.set(IMAGE_MAGIC, field.magic);
  writeU16(into, field.formatVersion, header.formatVersion);
  writeU16(into, field.signatureAlgorithm, header.signatureAlgorithm);
  writeU32(into, field.manifestLength, header.manifestLength);
  into.set(header.keyId, field.keyId);
}
