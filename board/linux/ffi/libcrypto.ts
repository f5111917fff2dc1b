// The libcrypto.so.3 backend over bun:ffi: one reused EVP_CIPHER_CTX / HMAC_CTX per key and direction.

import { dlopen, FFIType, ptr, type Pointer } from "bun:ffi";
import {
  AEAD_NONCE_LENGTH,
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
} from "../../../firmware/crypto/backend.ts";

/** EVP_CIPHER_CTX_ctrl commands (openssl/evp.h); the AEAD_* names equal the GCM_* ones. */
const EVP_CTRL_AEAD_SET_IVLEN = 0x9;
const EVP_CTRL_AEAD_GET_TAG = 0x10;
const EVP_CTRL_AEAD_SET_TAG = 0x11;

const LIBRARY_NAMES = ["libcrypto.so.3", "libcrypto.so"];

const symbols = {
  OpenSSL_version: { args: [FFIType.i32], returns: FFIType.cstring },
  EVP_CIPHER_CTX_new: { args: [], returns: FFIType.ptr },
  EVP_CIPHER_CTX_free: { args: [FFIType.ptr], returns: FFIType.void },
  EVP_CIPHER_CTX_ctrl: { args: [FFIType.ptr, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  EVP_CIPHER_CTX_set_padding: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  EVP_aes_128_gcm: { args: [], returns: FFIType.ptr },
  EVP_aes_256_gcm: { args: [], returns: FFIType.ptr },
  EVP_chacha20_poly1305: { args: [], returns: FFIType.ptr },
  EVP_aes_128_cbc: { args: [], returns: FFIType.ptr },
  EVP_aes_256_cbc: { args: [], returns: FFIType.ptr },
  EVP_EncryptInit_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  EVP_DecryptInit_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  EVP_EncryptUpdate: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  EVP_DecryptUpdate: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  EVP_EncryptFinal_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  EVP_DecryptFinal_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  EVP_sha256: { args: [], returns: FFIType.ptr },
  HMAC_CTX_new: { args: [], returns: FFIType.ptr },
  HMAC_CTX_free: { args: [FFIType.ptr], returns: FFIType.void },
  HMAC_Init_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  HMAC_Update: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  HMAC_Final: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  RAND_bytes: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
} as const;

type Library = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

/**
 * Remembers the address of the last buffer it saw, so a per-packet call on the same
 * (SA-owned, preallocated) buffer costs one identity comparison, not a `ptr()` call.
 * The cache holds the buffer itself, so the memory stays alive while its address is kept.
 *
 * JSC keeps small typed arrays inline in the GC heap and moves their bytes the first time
 * `.buffer` is read; `ptr()` alone does not, so an address taken before that move goes
 * stale (measured: writes landed in the old copy). Reading `.buffer` first pins the bytes.
 */
class AddressCache {
  #buffer: Uint8Array | undefined;
  #address = 0;

  /** The address of `buffer`'s first byte; 0 (NULL) for an empty buffer, which has none. */
  of(buffer: Uint8Array): number {
    if (buffer.length === 0) return 0;
    if (buffer !== this.#buffer) {
      void buffer.buffer; // materialise the ArrayBuffer before taking the address (see above)
      this.#address = ptr(buffer);
      this.#buffer = buffer;
    }
    return this.#address;
  }

  clear(): void {
    this.#buffer = undefined;
    this.#address = 0;
  }
}

/** The address of a buffer this module allocated and keeps, pinned first (see AddressCache). */
function addressOf(buffer: Int32Array | Uint32Array): number {
  void buffer.buffer;
  return ptr(buffer);
}

/** A returned pointer as a number (Bun gives numbers for pointers; anything else is treated as NULL). */
function pointer(value: unknown): Pointer | null {
  return typeof value === "number" && value !== 0 ? (value as Pointer) : null;
}

function check(what: string, rc: number): void {
  if (rc !== 1) throw new Error(`libcrypto: ${what} failed`);
}

class LibcryptoAead implements AeadContext {
  readonly #lib: Library;
  #encrypt: Pointer | null;
  #decrypt: Pointer | null;
  readonly #outLength = new Int32Array(1);
  readonly #outLengthAddress: number;
  readonly #nonce = new AddressCache();
  readonly #aad = new AddressCache();
  readonly #data = new AddressCache();

  constructor(lib: Library, cipher: Pointer, key: Uint8Array) {
    this.#lib = lib;
    this.#outLengthAddress = addressOf(this.#outLength);
    const encrypt = pointer(lib.EVP_CIPHER_CTX_new());
    const decrypt = pointer(lib.EVP_CIPHER_CTX_new());
    if (encrypt === null || decrypt === null) throw new Error("libcrypto: EVP_CIPHER_CTX_new failed");
    this.#encrypt = encrypt;
    this.#decrypt = decrypt;
    // Cipher and key once (the expensive key schedule), IV per packet: RFC 4106 §3.1 nonce = salt ‖ IV.
    check("EncryptInit", lib.EVP_EncryptInit_ex(encrypt, cipher, null, null, null));
    check("SET_IVLEN", lib.EVP_CIPHER_CTX_ctrl(encrypt, EVP_CTRL_AEAD_SET_IVLEN, AEAD_NONCE_LENGTH, null));
    check("EncryptInit key", lib.EVP_EncryptInit_ex(encrypt, null, null, key, null));
    check("DecryptInit", lib.EVP_DecryptInit_ex(decrypt, cipher, null, null, null));
    check("SET_IVLEN", lib.EVP_CIPHER_CTX_ctrl(decrypt, EVP_CTRL_AEAD_SET_IVLEN, AEAD_NONCE_LENGTH, null));
    check("DecryptInit key", lib.EVP_DecryptInit_ex(decrypt, null, null, key, null));
  }

  seal(nonce: Uint8Array, aad: Uint8Array, aadLength: number, data: Uint8Array, at: number, length: number): void {
    const lib = this.#lib;
    const ctx = this.#encrypt;
    const out = this.#outLengthAddress;
    const base = this.#data.of(data);
    const region = (base + at) as Pointer;
    lib.EVP_EncryptInit_ex(ctx, null, null, null, this.#nonce.of(nonce) as Pointer);
    if (aadLength > 0) lib.EVP_EncryptUpdate(ctx, null, out as Pointer, this.#aad.of(aad) as Pointer, aadLength);
    lib.EVP_EncryptUpdate(ctx, region, out as Pointer, region, length);
    lib.EVP_EncryptFinal_ex(ctx, (base + at + length) as Pointer, out as Pointer);
    lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LENGTH, (base + at + length) as Pointer);
  }

  open(nonce: Uint8Array, aad: Uint8Array, aadLength: number, data: Uint8Array, at: number, length: number): boolean {
    const lib = this.#lib;
    const ctx = this.#decrypt;
    const out = this.#outLengthAddress;
    const base = this.#data.of(data);
    const region = (base + at) as Pointer;
    lib.EVP_DecryptInit_ex(ctx, null, null, null, this.#nonce.of(nonce) as Pointer);
    lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LENGTH, (base + at + length) as Pointer);
    if (aadLength > 0) lib.EVP_DecryptUpdate(ctx, null, out as Pointer, this.#aad.of(aad) as Pointer, aadLength);
    lib.EVP_DecryptUpdate(ctx, region, out as Pointer, region, length);
    // Final compares the tag with CRYPTO_memcmp (constant time); 1 = authentic.
    return lib.EVP_DecryptFinal_ex(ctx, (base + at + length) as Pointer, out as Pointer) === 1;
  }

  dispose(): void {
    // EVP_CIPHER_CTX_free cleanses the key schedule before freeing it.
    if (this.#encrypt !== null) this.#lib.EVP_CIPHER_CTX_free(this.#encrypt);
    if (this.#decrypt !== null) this.#lib.EVP_CIPHER_CTX_free(this.#decrypt);
    this.#encrypt = null;
    this.#decrypt = null;
    this.#nonce.clear();
    this.#aad.clear();
    this.#data.clear();
  }
}

class LibcryptoCbc implements BlockCipherContext {
  readonly #lib: Library;
  #encrypt: Pointer | null;
  #decrypt: Pointer | null;
  readonly #outLength = new Int32Array(1);
  readonly #outLengthAddress: number;
  readonly #data = new AddressCache();

  constructor(lib: Library, cipher: Pointer, key: Uint8Array) {
    this.#lib = lib;
    this.#outLengthAddress = addressOf(this.#outLength);
    const encrypt = pointer(lib.EVP_CIPHER_CTX_new());
    const decrypt = pointer(lib.EVP_CIPHER_CTX_new());
    if (encrypt === null || decrypt === null) throw new Error("libcrypto: EVP_CIPHER_CTX_new failed");
    this.#encrypt = encrypt;
    this.#decrypt = decrypt;
    check("EncryptInit", lib.EVP_EncryptInit_ex(encrypt, cipher, null, key, null));
    check("DecryptInit", lib.EVP_DecryptInit_ex(decrypt, cipher, null, key, null));
    lib.EVP_CIPHER_CTX_set_padding(encrypt, 0);
    lib.EVP_CIPHER_CTX_set_padding(decrypt, 0);
  }

  encrypt(data: Uint8Array, ivAt: number, at: number, length: number): void {
    const base = this.#data.of(data);
    const lib = this.#lib;
    lib.EVP_EncryptInit_ex(this.#encrypt, null, null, null, (base + ivAt) as Pointer);
    lib.EVP_EncryptUpdate(this.#encrypt, (base + at) as Pointer, this.#outLengthAddress as Pointer, (base + at) as Pointer, length);
  }

  decrypt(data: Uint8Array, ivAt: number, at: number, length: number): void {
    const base = this.#data.of(data);
    const lib = this.#lib;
    // The IV is copied into the context by Init, so decrypting the next block in place is safe.
    lib.EVP_DecryptInit_ex(this.#decrypt, null, null, null, (base + ivAt) as Pointer);
    lib.EVP_DecryptUpdate(this.#decrypt, (base + at) as Pointer, this.#outLengthAddress as Pointer, (base + at) as Pointer, length);
  }

  dispose(): void {
    if (this.#encrypt !== null) this.#lib.EVP_CIPHER_CTX_free(this.#encrypt);
    if (this.#decrypt !== null) this.#lib.EVP_CIPHER_CTX_free(this.#decrypt);
    this.#encrypt = null;
    this.#decrypt = null;
    this.#data.clear();
  }
}

class LibcryptoHmac implements MacContext {
  readonly outputLength = HMAC_SHA256_LENGTH;
  readonly #lib: Library;
  #ctx: Pointer | null;
  readonly #outLength = new Uint32Array(1);
  readonly #outLengthAddress: number;
  readonly #data = new AddressCache();
  readonly #trailer = new AddressCache();
  readonly #out = new AddressCache();

  constructor(lib: Library, key: Uint8Array) {
    this.#lib = lib;
    this.#outLengthAddress = addressOf(this.#outLength);
    const ctx = pointer(lib.HMAC_CTX_new());
    if (ctx === null) throw new Error("libcrypto: HMAC_CTX_new failed");
    this.#ctx = ctx;
    check("HMAC_Init_ex", lib.HMAC_Init_ex(ctx, key, key.length, lib.EVP_sha256(), null));
  }

  compute(data: Uint8Array, at: number, length: number, trailer: Uint8Array | null, trailerLength: number, out: Uint8Array): void {
    const lib = this.#lib;
    const ctx = this.#ctx;
    // A NULL key and digest restart the MAC with the key already loaded (no re-derivation of the pads).
    lib.HMAC_Init_ex(ctx, null, 0, null, null);
    lib.HMAC_Update(ctx, (this.#data.of(data) + at) as Pointer, length);
    if (trailer !== null && trailerLength > 0) lib.HMAC_Update(ctx, this.#trailer.of(trailer) as Pointer, trailerLength);
    lib.HMAC_Final(ctx, this.#out.of(out) as Pointer, this.#outLengthAddress as Pointer);
  }

  dispose(): void {
    if (this.#ctx !== null) this.#lib.HMAC_CTX_free(this.#ctx);
    this.#ctx = null;
    this.#data.clear();
    this.#trailer.clear();
    this.#out.clear();
  }
}

/** Opens the system libcrypto; undefined when it is not there (another OS, a minimal image). */
function openLibrary(): Library | undefined {
  for (const name of LIBRARY_NAMES) {
    try {
      return dlopen(name, symbols).symbols;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

/** The libcrypto backend, or undefined when libcrypto.so.3 cannot be loaded. */
export function createLibcryptoBackend(): (CryptoBackend & { readonly version: string }) | undefined {
  const lib = openLibrary();
  if (lib === undefined) return undefined;
  const version = String(lib.OpenSSL_version(0));
  if (!version.startsWith("OpenSSL 3")) return undefined;
  const aeadCiphers: Record<AeadAlgorithm, Pointer | null> = {
    "aes-128-gcm": pointer(lib.EVP_aes_128_gcm()),
    "aes-256-gcm": pointer(lib.EVP_aes_256_gcm()),
    "chacha20-poly1305": pointer(lib.EVP_chacha20_poly1305()),
  };
  const blockCiphers: Record<BlockCipherAlgorithm, Pointer | null> = {
    "aes-128-cbc": pointer(lib.EVP_aes_128_cbc()),
    "aes-256-cbc": pointer(lib.EVP_aes_256_cbc()),
  };
  const randomAddress = new AddressCache();
  return {
    name: "libcrypto",
    version,
    supportsAead: (algorithm) => aeadCiphers[algorithm] !== null,
    supportsBlockCipher: (algorithm) => blockCiphers[algorithm] !== null,
    supportsMac: (algorithm: MacAlgorithm) => algorithm === "hmac-sha256",
    createAead(algorithm, key) {
      assertKeyLength(algorithm, key, aeadKeyLength(algorithm));
      const cipher = aeadCiphers[algorithm];
      if (cipher === null) throw new Error(`libcrypto backend: ${algorithm} is not available`);
      return new LibcryptoAead(lib, cipher, key);
    },
    createBlockCipher(algorithm, key) {
      assertKeyLength(algorithm, key, blockCipherKeyLength(algorithm));
      const cipher = blockCiphers[algorithm];
      if (cipher === null) throw new Error(`libcrypto backend: ${algorithm} is not available`);
      return new LibcryptoCbc(lib, cipher, key);
    },
    createMac(_algorithm, key) {
      return new LibcryptoHmac(lib, key);
    },
    randomFill(into) {
      if (into.length === 0) return;
      check("RAND_bytes", lib.RAND_bytes(randomAddress.of(into) as Pointer, into.length));
    },
  };
}
