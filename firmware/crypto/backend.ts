// The crypto backend interface: AEAD, CBC and HMAC contexts that work in place on caller buffers.

/** AEAD algorithms with a 96-bit nonce and a 128-bit tag (RFC 5116 §5.1, RFC 8439 §2.8). */
export type AeadAlgorithm = "aes-128-gcm" | "aes-256-gcm" | "chacha20-poly1305";
/** Block ciphers in CBC mode without padding (ESP pads itself, RFC 4303 §2.4). */
export type BlockCipherAlgorithm = "aes-128-cbc" | "aes-256-cbc";
/** MAC algorithms (full-length output; truncation is the caller's, RFC 4868 §2.6). */
export type MacAlgorithm = "hmac-sha256";

export type BackendName = "libcrypto" | "node" | "noble";

export const AEAD_NONCE_LENGTH = 12;
export const AEAD_TAG_LENGTH = 16;
export const AES_BLOCK_LENGTH = 16;
export const HMAC_SHA256_LENGTH = 32;

/**
 * One key, one direction. Contexts are made once per SA and direction and reused for
 * every packet; the per-packet calls allocate nothing on the fast backends. `nonce` and
 * `aad` should be the same (SA-owned) buffers on every call: backends may cache their
 * addresses.
 */
export interface AeadContext {
  /**
   * Encrypts `data[at, at+length)` in place and writes the 16-byte tag at `data[at+length]`.
   * `nonce` is 12 bytes, the AAD is `aad[0, aadLength)`. The caller guarantees room for the tag.
   */
  seal(nonce: Uint8Array, aad: Uint8Array, aadLength: number, data: Uint8Array, at: number, length: number): void;
  /**
   * Checks the tag at `data[at+length, at+length+16)` (in constant time) and decrypts
   * `data[at, at+length)` in place. Returns false when the tag is wrong; the region's
   * contents are then unspecified. Never throws for bad input.
   */
  open(nonce: Uint8Array, aad: Uint8Array, aadLength: number, data: Uint8Array, at: number, length: number): boolean;
  /** Frees native state and wipes every copy of the key this context holds. Idempotent. */
  dispose(): void;
}

/** AES-CBC without padding, IV taken from the same buffer (ESP carries it just before the ciphertext). */
export interface BlockCipherContext {
  /** Encrypts `data[at, at+length)` in place with the 16-byte IV at `data[ivAt]`; length is a multiple of 16. */
  encrypt(data: Uint8Array, ivAt: number, at: number, length: number): void;
  decrypt(data: Uint8Array, ivAt: number, at: number, length: number): void;
  dispose(): void;
}

/** A keyed MAC computed over one buffer region plus an optional short trailer (the ESN high bits). */
export interface MacContext {
  readonly outputLength: number;
  /**
   * Writes MAC(key, data[at, at+length) ‖ trailer[0, trailerLength)) into `out[0, outputLength)`.
   * `trailer` may be null when `trailerLength` is 0.
   */
  compute(data: Uint8Array, at: number, length: number, trailer: Uint8Array | null, trailerLength: number, out: Uint8Array): void;
  dispose(): void;
}

/** A crypto implementation. `supports*` are cheap and side-effect free. */
export interface CryptoBackend {
  readonly name: BackendName;
  supportsAead(algorithm: AeadAlgorithm): boolean;
  supportsBlockCipher(algorithm: BlockCipherAlgorithm): boolean;
  supportsMac(algorithm: MacAlgorithm): boolean;
  /** The key is copied (or loaded into native state); the caller may wipe its own copy afterwards. */
  createAead(algorithm: AeadAlgorithm, key: Uint8Array): AeadContext;
  createBlockCipher(algorithm: BlockCipherAlgorithm, key: Uint8Array): BlockCipherContext;
  createMac(algorithm: MacAlgorithm, key: Uint8Array): MacContext;
  /** Fills `into` with cryptographically strong random bytes. */
  randomFill(into: Uint8Array): void;
}

export function aeadKeyLength(algorithm: AeadAlgorithm): number {
  return algorithm === "aes-128-gcm" ? 16 : 32;
}

export function blockCipherKeyLength(algorithm: BlockCipherAlgorithm): number {
  return algorithm === "aes-128-cbc" ? 16 : 32;
}

/** Throws for a key of the wrong length: a programmer error at the API boundary, never wire input. */
export function assertKeyLength(what: string, key: Uint8Array, expected: number): void {
  if (key.length !== expected) throw new RangeError(`${what}: key must be ${expected} bytes, got ${key.length}`);
}
