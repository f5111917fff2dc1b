// IKEv2 numbers (IANA "Internet Key Exchange Version 2 (IKEv2) Parameters") and RFC 7296 timer defaults.

/** Exchange types (RFC 7296 §3.1). */
export const ExchangeType = { ikeSaInit: 34, ikeAuth: 35, createChildSa: 36, informational: 37 } as const;
export type ExchangeTypeNumber = (typeof ExchangeType)[keyof typeof ExchangeType];

/** Security protocol identifiers (§3.3.1). */
export const ProtocolId = { ike: 1, ah: 2, esp: 3 } as const;

/** Transform types (§3.3.2). Type 4 was "Diffie-Hellman Group", now "Key Exchange Method". */
export const TransformType = { encryption: 1, prf: 2, integrity: 3, keyExchange: 4, extendedSequenceNumbers: 5 } as const;

/** Encryption algorithm transform IDs (§3.3.2, RFC 5282 §7, RFC 7634). */
export const EncryptionId = { aesCbc: 12, aesCtr: 13, aesGcm8: 18, aesGcm12: 19, aesGcm16: 20, chacha20Poly1305: 28 } as const;
/** PRF transform IDs (RFC 4868). */
export const PrfId = { hmacSha1: 2, hmacSha2_256: 5, hmacSha2_384: 6, hmacSha2_512: 7 } as const;
/** Integrity algorithm transform IDs (RFC 4868). */
export const IntegrityId = { none: 0, hmacSha1_96: 2, hmacSha2_256_128: 12, hmacSha2_384_192: 13, hmacSha2_512_256: 14 } as const;
/** Key exchange (DH) group numbers (RFC 5903, RFC 8031). */
export const DhGroup = { none: 0, modp2048: 14, ecp256: 19, ecp384: 20, ecp521: 21, curve25519: 31, curve448: 32 } as const;
export const EsnId = { none: 0, extended: 1 } as const;
/** Transform attribute types (§3.3.5). */
export const TransformAttributeType = { keyLength: 14 } as const;

/** Identification types (§3.5). */
export const IdType = { ipv4Address: 1, fqdn: 2, rfc822Address: 3, ipv6Address: 5, derAsn1Dn: 9, derAsn1Gn: 10, keyId: 11 } as const;
/** Authentication methods (§3.8, RFC 7427). */
export const AuthMethod = { rsaSignature: 1, sharedKeyMic: 2, dssSignature: 3, ecdsaP256: 9, ecdsaP384: 10, ecdsaP521: 11, digitalSignature: 14 } as const;
/** Certificate encodings (§3.6). */
export const CertEncoding = { x509Signature: 4 } as const;
/** Hash algorithm identifiers for SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4, RFC 8420). */
export const HashAlgorithm = { sha1: 1, sha2_256: 2, sha2_384: 3, sha2_512: 4, identity: 5 } as const;
/** Configuration payload types and attributes (§3.15). */
export const CfgType = { request: 1, reply: 2, set: 3, ack: 4 } as const;
export const CfgAttribute = { internalIp4Address: 1, internalIp6Address: 8, internalIp6Dns: 10 } as const;

/** Notify message types: errors below 16384, status at or above (§3.10.1, RFC 4555, RFC 7383, RFC 7427). */
export const NotifyType = {
  unsupportedCriticalPayload: 1,
  invalidIkeSpi: 4,
  invalidMajorVersion: 5,
  invalidSyntax: 7,
  invalidMessageId: 9,
  invalidSpi: 11,
  noProposalChosen: 14,
  invalidKePayload: 17,
  authenticationFailed: 24,
  singlePairRequired: 34,
  noAdditionalSas: 35,
  internalAddressFailure: 36,
  failedCpRequired: 37,
  tsUnacceptable: 38,
  invalidSelectors: 39,
  unacceptableAddresses: 40,
  unexpectedNatDetected: 41,
  temporaryFailure: 43,
  childSaNotFound: 44,
  initialContact: 16384,
  setWindowSize: 16385,
  additionalTsPossible: 16386,
  ipcompSupported: 16387,
  natDetectionSourceIp: 16388,
  natDetectionDestinationIp: 16389,
  cookie: 16390,
  useTransportMode: 16391,
  httpCertLookupSupported: 16392,
  rekeySa: 16393,
  espTfcPaddingNotSupported: 16394,
  nonFirstFragmentsAlso: 16395,
  mobikeSupported: 16396,
  additionalIp4Address: 16397,
  additionalIp6Address: 16398,
  noAdditionalAddresses: 16399,
  updateSaAddresses: 16400,
  cookie2: 16401,
  noNatsAllowed: 16402,
  ikev2FragmentationSupported: 16430,
  signatureHashAlgorithms: 16431,
} as const;

const notifyNames = new Map<number, string>(Object.entries(NotifyType).map(([k, v]) => [v, k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()]));
/** RFC-style name of a notify type (e.g. NO_PROPOSAL_CHOSEN), or its number. */
export function notifyName(type: number): string {
  return notifyNames.get(type) ?? `NOTIFY_${type}`;
}
export function isErrorNotify(type: number): boolean {
  return type < 16384;
}

/** The PSK pad string of RFC 7296 §2.15. */
export const KEY_PAD_FOR_IKEV2 = "Key Pad for IKEv2";

/** Retransmission (§2.1, §2.4): first timeout, back-off factor and attempts before giving up. */
export const RETRANSMIT_INITIAL_TIMEOUT_MS = 1_000;
export const RETRANSMIT_BACKOFF = 2;
export const RETRANSMIT_MAX_TRIES = 6;
/** A rekey that did not happen (refused, lost, or still waiting) is tried again this long after it was due. */
export const REKEY_RETRY_MS = 30_000;
/** NAT keepalive interval (RFC 3948 §4: 20 s default). */
export const NAT_KEEPALIVE_INTERVAL_MS = 20_000;
/** Nonce length we send: at least half the PRF key size and ≥ 16 (§2.10); 32 covers SHA-512. */
export const NONCE_LENGTH = 32;
/** IKE ports (§2.23, RFC 3948 §2). */
export const IKE_PORT = 500;
export const IKE_NAT_T_PORT = 4500;
/** Half-open IKE SAs a responder keeps before it demands cookies (§2.6). */
export const HALF_OPEN_COOKIE_THRESHOLD = 32;
/** Hard cap on half-open IKE SAs; above it IKE_SA_INIT requests are dropped. */
export const HALF_OPEN_LIMIT = 256;
/** How long a half-open IKE SA may wait for IKE_AUTH. */
export const HALF_OPEN_TIMEOUT_MS = 30_000;
/** Cookie secret rotation period (§2.6 suggests changing it regularly). */
export const COOKIE_SECRET_LIFETIME_MS = 120_000;
