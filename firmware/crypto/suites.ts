// ESP cipher suites monami negotiates: algorithms, key and IV sizes, IKEv2 transform IDs, Wireshark names.

import type { AeadAlgorithm, BlockCipherAlgorithm } from "./backend.ts";

/** strongSwan-style proposal keywords, so configurations read the same on both ends. */
export type EspSuiteId = "aes128gcm16" | "aes256gcm16" | "chacha20poly1305" | "aes128-sha256" | "aes256-sha256" | "null-sha256";

/** IKEv2 Transform Type 1 (encryption) IDs, RFC 7296 §3.3.2 and the IANA registry. */
export const IkeEncryptionId = { ENCR_AES_CBC: 12, ENCR_NULL: 11, ENCR_AES_GCM_16: 20, ENCR_CHACHA20_POLY1305: 28 } as const;
/** IKEv2 Transform Type 3 (integrity) IDs. */
export const IkeIntegrityId = { NONE: 0, AUTH_HMAC_SHA2_256_128: 12 } as const;

interface SuiteCommon {
  readonly id: EspSuiteId;
  readonly description: string;
  /** Octets of IV carried in each packet (RFC 4303 §2.3). */
  readonly ivLength: number;
  /** Octets of ICV after the trailer (RFC 4303 §2.8). */
  readonly icvLength: number;
  /** Padding aligns Pad Length + Next Header to this (RFC 4303 §2.4: 4, or the cipher block size). */
  readonly alignment: number;
  /** KEYMAT octets for the encryption transform (AEAD: key ‖ salt, RFC 4106 §8.1 / RFC 7634 §2). */
  readonly encryptionKeyLength: number;
  readonly ike: { readonly encryption: number; readonly keyLengthBits?: number; readonly integrity: number };
  /** Names in Wireshark's esp_sa table (RFC numbers in brackets, as its dialog spells them). */
  readonly wireshark: { readonly encryption: string; readonly authentication: string };
}

/** Combined-mode suites: one AEAD transform, no separate integrity key. */
export interface AeadSuite extends SuiteCommon {
  readonly kind: "aead";
  readonly aead: AeadAlgorithm;
  /** The cipher key inside the KEYMAT; the last 4 octets are the salt. */
  readonly keyLength: number;
  readonly saltLength: 4;
}

/** A cipher (or ENCR_NULL) plus HMAC-SHA-256-128 (RFC 4868). */
export interface CipherHmacSuite extends SuiteCommon {
  readonly kind: "cipher-hmac";
  readonly cipher: BlockCipherAlgorithm | "null";
  readonly integrity: "hmac-sha256-128";
  readonly integrityKeyLength: 32;
}

export type EspSuite = AeadSuite | CipherHmacSuite;

const AEAD_IV = 8;
const TAG = 16;

export const ESP_SUITES: Readonly<Record<EspSuiteId, EspSuite>> = {
  aes128gcm16: {
    id: "aes128gcm16",
    kind: "aead",
    description: "AES-128-GCM, 16-octet ICV (RFC 4106)",
    aead: "aes-128-gcm",
    keyLength: 16,
    saltLength: 4,
    encryptionKeyLength: 20,
    ivLength: AEAD_IV,
    icvLength: TAG,
    alignment: 4,
    ike: { encryption: IkeEncryptionId.ENCR_AES_GCM_16, keyLengthBits: 128, integrity: IkeIntegrityId.NONE },
    wireshark: { encryption: "AES-GCM with 16 octet ICV [RFC4106]", authentication: "NULL" },
  },
  aes256gcm16: {
    id: "aes256gcm16",
    kind: "aead",
    description: "AES-256-GCM, 16-octet ICV (RFC 4106)",
    aead: "aes-256-gcm",
    keyLength: 32,
    saltLength: 4,
    encryptionKeyLength: 36,
    ivLength: AEAD_IV,
    icvLength: TAG,
    alignment: 4,
    ike: { encryption: IkeEncryptionId.ENCR_AES_GCM_16, keyLengthBits: 256, integrity: IkeIntegrityId.NONE },
    wireshark: { encryption: "AES-GCM with 16 octet ICV [RFC4106]", authentication: "NULL" },
  },
  chacha20poly1305: {
    id: "chacha20poly1305",
    kind: "aead",
    description: "ChaCha20-Poly1305 (RFC 7634)",
    aead: "chacha20-poly1305",
    keyLength: 32,
    saltLength: 4,
    encryptionKeyLength: 36,
    ivLength: AEAD_IV,
    icvLength: TAG,
    alignment: 4,
    ike: { encryption: IkeEncryptionId.ENCR_CHACHA20_POLY1305, integrity: IkeIntegrityId.NONE },
    wireshark: { encryption: "ChaCha20 with Poly1305 [RFC7634]", authentication: "NULL" },
  },
  "aes128-sha256": {
    id: "aes128-sha256",
    kind: "cipher-hmac",
    description: "AES-128-CBC (RFC 3602) with HMAC-SHA-256-128 (RFC 4868)",
    cipher: "aes-128-cbc",
    encryptionKeyLength: 16,
    integrity: "hmac-sha256-128",
    integrityKeyLength: 32,
    ivLength: 16,
    icvLength: TAG,
    alignment: 16,
    ike: { encryption: IkeEncryptionId.ENCR_AES_CBC, keyLengthBits: 128, integrity: IkeIntegrityId.AUTH_HMAC_SHA2_256_128 },
    wireshark: { encryption: "AES-CBC [RFC3602]", authentication: "HMAC-SHA-256-128 [RFC4868]" },
  },
  "aes256-sha256": {
    id: "aes256-sha256",
    kind: "cipher-hmac",
    description: "AES-256-CBC (RFC 3602) with HMAC-SHA-256-128 (RFC 4868)",
    cipher: "aes-256-cbc",
    encryptionKeyLength: 32,
    integrity: "hmac-sha256-128",
    integrityKeyLength: 32,
    ivLength: 16,
    icvLength: TAG,
    alignment: 16,
    ike: { encryption: IkeEncryptionId.ENCR_AES_CBC, keyLengthBits: 256, integrity: IkeIntegrityId.AUTH_HMAC_SHA2_256_128 },
    wireshark: { encryption: "AES-CBC [RFC3602]", authentication: "HMAC-SHA-256-128 [RFC4868]" },
  },
  "null-sha256": {
    id: "null-sha256",
    kind: "cipher-hmac",
    description: "ENCR_NULL (RFC 2410) with HMAC-SHA-256-128, integrity only: for debugging",
    cipher: "null",
    encryptionKeyLength: 0,
    integrity: "hmac-sha256-128",
    integrityKeyLength: 32,
    ivLength: 0,
    icvLength: TAG,
    alignment: 4,
    ike: { encryption: IkeEncryptionId.ENCR_NULL, integrity: IkeIntegrityId.AUTH_HMAC_SHA2_256_128 },
    wireshark: { encryption: "NULL", authentication: "HMAC-SHA-256-128 [RFC4868]" },
  },
};

export const ESP_SUITE_IDS = Object.keys(ESP_SUITES) as EspSuiteId[];

export function isEspSuiteId(text: string): text is EspSuiteId {
  return Object.hasOwn(ESP_SUITES, text);
}

/** KEYMAT octets per direction: encryption key (with salt) then integrity key (RFC 7296 §2.17 order). */
export function keymatLength(suite: EspSuite): number {
  return suite.encryptionKeyLength + (suite.kind === "cipher-hmac" ? suite.integrityKeyLength : 0);
}
