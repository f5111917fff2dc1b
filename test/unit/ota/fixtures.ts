// Shared OTA test fixtures: a deterministic signing key, small images with chosen manifest fields.

import { SecretBytes } from "../../../firmware/core/secret.ts";
import { buildImage, concatImage, type ImageBuildInput } from "../../../ota/sign/build-image.ts";
import { signingKeyFromSecret, type PublicKey, type SigningKey } from "../../../ota/sign/ed25519.ts";

export function testKey(seed: number): SigningKey {
  return signingKeyFromSecret(new SecretBytes(new Uint8Array(32).fill(seed)));
}

export const fleetKey = testKey(1);
export const otherKey = testKey(2);
export const fleetPublic: PublicKey = { publicKey: fleetKey.publicKey, keyId: fleetKey.keyId };

/** Deterministic pseudo-random bytes (xorshift), so images differ by version but tests stay reproducible. */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function testImageInput(overrides: Partial<ImageBuildInput> = {}, binaryLength = 4096): ImageBuildInput {
  const version = overrides.version ?? "1.0.0";
  return {
    version,
    securityVersion: 1,
    compatible: ["simulated"],
    buildId: `test-${version}`,
    created: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
    parts: [
      { name: "binary", bytes: pseudoRandomBytes(binaryLength, version.length * 7919 + binaryLength) },
      { name: "board", bytes: new TextEncoder().encode('{"name":"simulated"}') },
      { name: "config", bytes: new TextEncoder().encode("{}") },
    ],
    ...overrides,
  };
}

export function testImage(overrides: Partial<ImageBuildInput> = {}, key: SigningKey = fleetKey, binaryLength = 4096): Uint8Array {
  return concatImage(buildImage(testImageInput(overrides, binaryLength), key));
}
