// Key exchange for groups 19 (ECP-256), 20 (ECP-384) and 31 (Curve25519) (RFC 5903 §7, RFC 8031 §2).

import { x25519 } from "@noble/curves/ed25519.js";
import { p256, p384 } from "@noble/curves/nist.js";
import { err, ok, type Result } from "../core/result.ts";
import { SecretBytes } from "../core/secret.ts";
import { DhGroup } from "./constants.ts";

/** Supplies random octets; the runtime passes crypto.getRandomValues, tests a seeded source. */
export type RandomSource = (length: number) => Uint8Array;

export const supportedDhGroups: readonly number[] = [DhGroup.ecp256, DhGroup.ecp384, DhGroup.curve25519];

export interface KeyExchange {
  readonly group: number;
  /** Key Exchange Data to send: x ‖ y for ECP (RFC 5903 §7, no 0x04 prefix), u for X25519. */
  readonly publicValue: Uint8Array;
  /** g^ir from the peer's Key Exchange Data; an error for a value that is not a valid point. */
  sharedSecret(peer: Uint8Array): Result<SecretBytes, string>;
  wipe(): void;
}

const ecp = (curve: typeof p256, size: number) => ({ curve, size });
const ecpGroups: Record<number, { curve: typeof p256; size: number }> = {
  [DhGroup.ecp256]: ecp(p256, 32),
  [DhGroup.ecp384]: ecp(p384, 48),
};

/** Starts a key exchange with a fresh private value (or `privateKey` for vector tests). */
export function createKeyExchange(group: number, random: RandomSource, privateKey?: Uint8Array): KeyExchange | undefined {
  if (group === DhGroup.curve25519) {
    const secret = privateKey ?? random(32);
    const publicValue = x25519.getPublicKey(secret);
    return {
      group,
      publicValue,
      sharedSecret(peer) {
        if (peer.length !== 32) return err(`X25519 value of ${peer.length} octets`);
        try {
          const shared = x25519.getSharedSecret(secret, peer);
          // RFC 8031 §2: an all-zero result MUST be rejected.
          if (shared.every((b) => b === 0)) return err("X25519 all-zero shared secret");
          return ok(new SecretBytes(shared));
        } catch (e) {
          return err(`X25519: ${(e as Error).message}`);
        }
      },
      wipe: () => secret.fill(0),
    };
  }
  const g = ecpGroups[group];
  if (!g) return undefined;
  const secret = privateKey ?? g.curve.utils.randomSecretKey(random(g.size + g.size / 2));
  const publicValue = g.curve.getPublicKey(secret, false).subarray(1);
  return {
    group,
    publicValue,
    sharedSecret(peer) {
      // RFC 5903 §7: x ‖ y, each the field size; the point must be on the curve (§2.2 of RFC 6989).
      if (peer.length !== 2 * g.size) return err(`ECP value of ${peer.length} octets, want ${2 * g.size}`);
      try {
        const uncompressed = new Uint8Array(1 + peer.length);
        uncompressed[0] = 4;
        uncompressed.set(peer, 1);
        const point = g.curve.getSharedSecret(secret, uncompressed, false);
        // RFC 5903 §7: the shared secret is the x coordinate only.
        return ok(new SecretBytes(point.slice(1, 1 + g.size)));
      } catch (e) {
        return err(`ECP: ${(e as Error).message}`);
      }
    },
    wipe: () => secret.fill(0),
  };
}
