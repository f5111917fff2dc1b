// Picks the crypto backends at run time: libcrypto over FFI, then node:crypto, then @noble (always present).

import type { CryptoBackend } from "../crypto/backend.ts";
import { createNobleBackend } from "../crypto/noble-backend.ts";
import { createNodeCryptoBackend } from "../crypto/node-crypto-backend.ts";
import type { EspSuite } from "../crypto/suites.ts";
import { backendSupportsSuite } from "../ipsec/esp-transform.ts";

/** Every backend that loads here, fastest first. libcrypto is skipped when MONAMI_CRYPTO_NO_FFI is set. */
export async function loadCryptoBackends(): Promise<CryptoBackend[]> {
  const backends: CryptoBackend[] = [];
  if (!process.env.MONAMI_CRYPTO_NO_FFI) {
    try {
      const { createLibcryptoBackend } = await import("../../board/linux/ffi/libcrypto.ts");
      const libcrypto = createLibcryptoBackend();
      if (libcrypto !== undefined && selfTest(libcrypto)) backends.push(libcrypto);
    } catch {
      // no bun:ffi or no libcrypto.so.3 on this system: fall through to the portable backends
    }
  }
  backends.push(createNodeCryptoBackend(), createNobleBackend());
  return backends;
}

/** The fastest backend that implements `suite` (noble implements all, so this finds one). */
export function pickBackend(backends: readonly CryptoBackend[], suite: EspSuite): CryptoBackend | undefined {
  return backends.find((backend) => backendSupportsSuite(backend, suite));
}

/** A provider for the SAD: the fastest backend per suite. */
export async function fastestCryptoProvider(): Promise<(suite: EspSuite) => CryptoBackend | undefined> {
  const backends = await loadCryptoBackends();
  return (suite) => pickBackend(backends, suite);
}

/**
 * One AES-128-GCM known answer before trusting a native library: a wrong symbol or ABI must make
 * monami fall back to a portable backend, not corrupt traffic.
 */
function selfTest(backend: CryptoBackend): boolean {
  try {
    const context = backend.createAead("aes-128-gcm", new Uint8Array(16));
    const buffer = new Uint8Array(new ArrayBuffer(32));
    context.seal(new Uint8Array(new ArrayBuffer(12)), new Uint8Array(new ArrayBuffer(12)), 0, buffer, 0, 16);
    context.dispose();
    // NIST GCM test case 2 (McGrew–Viega): K = 0^128, IV = 0^96, P = 0^128.
    const expected = "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf";
    return Buffer.from(buffer).toString("hex") === expected;
  } catch {
    return false;
  }
}
