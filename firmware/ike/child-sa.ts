// A CHILD_SA as the IKE core knows it, and the install/delete records it hands to the SAD owner (RFC 7296 §2.17, RFC 4301 §4.4.2).

import type { SecretBytes } from "../core/secret.ts";
import type { EspSuiteId } from "../crypto/suites.ts";
import { isEspSuiteId } from "../crypto/suites.ts";
import type { TrafficSelector } from "../wire/ikev2/traffic-selector.ts";
import type { Endpoint } from "./endpoint.ts";
import type { ChildSaKeys } from "./keys.ts";
import type { Negotiated } from "./proposal.ts";

/** An ESP SPI (RFC 4303 §2.1), 32 bits. */
export type EspSpi = number & { readonly __brand: "EspSpi" };
export function espSpi(value: number): EspSpi {
  return (value >>> 0) as EspSpi;
}
export function espSpiBytes(spi: EspSpi): Uint8Array {
  return Uint8Array.of(spi >>> 24, (spi >>> 16) & 0xff, (spi >>> 8) & 0xff, spi & 0xff);
}
export function espSpiFromBytes(b: Uint8Array): EspSpi | undefined {
  if (b.length !== 4) return undefined;
  return espSpi(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0);
}
export function espSpiHex(spi: EspSpi): string {
  return spi.toString(16).padStart(8, "0");
}

export type ChildSaMode = "tunnel" | "transport";

/** The suite identifier of firmware/crypto for a negotiated ESP proposal, when the data plane has it. */
export function espSuiteOf(n: Negotiated): EspSuiteId | undefined {
  const e = n.encryption;
  let id: string;
  if (e.name === "AES_GCM_16") id = `aes${e.keyBits}gcm16`;
  else if (e.name === "CHACHA20_POLY1305") id = "chacha20poly1305";
  else if (e.name === "AES_CBC" && n.integrity?.name === "HMAC_SHA2_256_128") id = `aes${e.keyBits}-sha256`;
  else return undefined;
  return isEspSuiteId(id) ? id : undefined;
}

/**
 * Time limits of an SA (CHILD_SA or IKE SA), as strongSwan's rekey_time / life_time / rand_time:
 * the rekey starts `rekeyAfterMs` minus a random part of `rekeyJitterMs` after installation (so two
 * peers with the same settings rarely collide, RFC 7296 §2.8.1), the SA is deleted at `expireAfterMs`.
 */
export interface ChildSaLifetimes {
  /** Rekey this long after installation (soft). */
  readonly rekeyAfterMs: number;
  /** Delete this long after installation (hard). */
  readonly expireAfterMs: number;
  /** Up to this much earlier than `rekeyAfterMs`, drawn at random per SA. */
  readonly rekeyJitterMs: number;
}

/**
 * What the runtime installs into the SAD for one CHILD_SA (both directions). Keys are
 * SecretBytes: they never appear in logs or JSON, and they are the core's own, wiped when the
 * CHILD_SA goes: copy them when the event is handled. `udpEncapsulation` is set when ESP must
 * travel in UDP (RFC 3948), with the ports of the IKE SA at the time of installation.
 */
export interface ChildSaInstall {
  readonly ikeSaName: string;
  readonly childName: string;
  readonly protocol: "esp";
  readonly mode: ChildSaMode;
  readonly inboundSpi: EspSpi;
  readonly outboundSpi: EspSpi;
  readonly suite: EspSuiteId | undefined;
  readonly negotiated: Negotiated;
  readonly esn: boolean;
  readonly inbound: { readonly encryptionKey: SecretBytes; readonly integrityKey: SecretBytes };
  readonly outbound: { readonly encryptionKey: SecretBytes; readonly integrityKey: SecretBytes };
  readonly localTs: readonly TrafficSelector[];
  readonly remoteTs: readonly TrafficSelector[];
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly udpEncapsulation?: { readonly localPort: number; readonly remotePort: number };
  readonly lifetimes: ChildSaLifetimes;
  /** The inbound SPI of the CHILD_SA this one replaces (rekey), if any. */
  readonly rekeys?: EspSpi;
  /**
   * We initiated the exchange that made it. A rekey's responder keeps sending on the old SA until that
   * one is deleted (RFC 7296 §2.8: it cannot know when the initiator's new inbound SA is ready).
   */
  readonly createdAsInitiator?: boolean;
}

export type ChildSaState = "installed" | "rekeying" | "rekeyed" | "deleting";

export interface ChildSa {
  readonly name: string;
  readonly inboundSpi: EspSpi;
  readonly outboundSpi: EspSpi;
  readonly negotiated: Negotiated;
  readonly mode: ChildSaMode;
  readonly localTs: readonly TrafficSelector[];
  readonly remoteTs: readonly TrafficSelector[];
  readonly keys: ChildSaKeys;
  /** Whether we initiated the exchange that created it (decides KEYMAT direction and rekey collisions). */
  readonly createdAsInitiator: boolean;
  /** The lowest of the two nonces of the creating exchange (RFC 7296 §2.8.1 collision rule). */
  readonly lowestNonce: Uint8Array;
  state: ChildSaState;
  /** Set when the peer rekeyed this CHILD_SA while we were rekeying it too: the SA its exchange made (§2.8.1). */
  collision?: ChildSa;
}

/** Both directions' keys, seen from our side. */
export function directionalKeys(child: ChildSa): ChildSaInstall["inbound"] extends infer T ? { inbound: T; outbound: T } : never {
  const i2r = { encryptionKey: child.keys.initiatorToResponder.encryption, integrityKey: child.keys.initiatorToResponder.integrity };
  const r2i = { encryptionKey: child.keys.responderToInitiator.encryption, integrityKey: child.keys.responderToInitiator.integrity };
  return child.createdAsInitiator ? { inbound: r2i, outbound: i2r } : { inbound: i2r, outbound: r2i };
}
