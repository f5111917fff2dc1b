// What one IKE SA is configured with: identities, credentials, proposals, selectors, timers.

import type { SecretBytes } from "../core/secret.ts";
import type { TrafficSelector } from "../wire/ikev2/traffic-selector.ts";
import type { LocalCredential, TrustAnchor } from "./certificate.ts";
import type { ChildSaLifetimes, ChildSaMode } from "./child-sa.ts";
import { IKE_NAT_T_PORT, IKE_PORT, RETRANSMIT_BACKOFF, RETRANSMIT_INITIAL_TIMEOUT_MS, RETRANSMIT_MAX_TRIES } from "./constants.ts";
import type { Identity } from "./identity.ts";
import type { ProposalSpec } from "./proposal.ts";

export type AuthConfig =
  | { readonly kind: "psk"; readonly secret: SecretBytes }
  /** RFC 7427 signatures with our certificate; the peer's chain must end at one of `trust`. */
  | { readonly kind: "pubkey"; readonly credential: LocalCredential; readonly trust: readonly TrustAnchor[] };

export interface RetransmitPolicy {
  readonly initialMs: number;
  readonly backoff: number;
  /** Transmissions in total (first send included) before the exchange is given up (§2.4). */
  readonly maxTries: number;
}

/**
 * One kind of CHILD_SA an IKE SA may carry: its name, mode and selectors. The configuration's own
 * `childName`/`mode`/`localTs`/`remoteTs` are the first (made in IKE_AUTH); `additionalChildren`
 * are made later with CREATE_CHILD_SA (RFC 4877 §4.3: transport-mode SAs for BU/BA beside the
 * tunnel-mode payload SA) and, as responder, chosen by the mode and selectors a request asks for.
 */
export interface ChildSpec {
  readonly name: string;
  readonly mode: ChildSaMode;
  readonly localTs: readonly TrafficSelector[];
  readonly remoteTs: readonly TrafficSelector[];
}

export interface IkeConfig {
  readonly name: string;
  readonly localId: Identity;
  /** The identity the peer must prove; undefined accepts any identity the credentials cover. */
  readonly remoteId?: Identity;
  readonly auth: AuthConfig;
  readonly ikeProposals: readonly ProposalSpec[];
  readonly espProposals: readonly ProposalSpec[];
  readonly childName: string;
  readonly localTs: readonly TrafficSelector[];
  readonly remoteTs: readonly TrafficSelector[];
  readonly mode: ChildSaMode;
  /** Further CHILD_SA kinds (see ChildSpec); none by default. */
  readonly additionalChildren?: readonly ChildSpec[];
  readonly mobike: boolean;
  /** Offer and accept IKE fragmentation (RFC 7383). */
  readonly fragmentation: boolean;
  /** Largest IKE datagram we send before fragmenting (RFC 7383 §2.5.1: 1280 for IPv6 paths). */
  readonly maxMessageSize: number;
  readonly childLifetimes: ChildSaLifetimes;
  /** IKE SA rekey (§2.18) and hard expiry, timed from establishment. */
  readonly ikeLifetimes: ChildSaLifetimes;
  /**
   * Liveness check (§2.4) after this long without an authenticated IKE message or reported ESP
   * traffic from the peer; 0 turns scheduled checks off. A check that gets no answer closes the SA.
   */
  readonly livenessIntervalMs: number;
  readonly retransmit: RetransmitPolicy;
  /** UDP ports of the I/O edge: plain IKE and NAT-T (non-ESP marker, ESP-in-UDP). */
  readonly ports: { readonly ike: number; readonly natT: number };
  /** Emit IKE SA keys as an event for the debug key export (off by default). */
  readonly exportKeys: boolean;
  /** Wall-clock seconds for certificate validity checks (cores never read the clock). */
  readonly wallClockSeconds?: () => number;
}

export const defaultRetransmit: RetransmitPolicy = {
  initialMs: RETRANSMIT_INITIAL_TIMEOUT_MS,
  backoff: RETRANSMIT_BACKOFF,
  maxTries: RETRANSMIT_MAX_TRIES,
};

export const defaultPorts = { ike: IKE_PORT, natT: IKE_NAT_T_PORT } as const;

/** strongSwan's defaults: CHILD_SA rekey after 1 h (life 1.1 h, up to 6 min earlier), IKE SA after 4 h (+10 %). */
export const defaultChildLifetimes: ChildSaLifetimes = { rekeyAfterMs: 3_600_000, expireAfterMs: 3_960_000, rekeyJitterMs: 360_000 };
export const defaultIkeLifetimes: ChildSaLifetimes = { rekeyAfterMs: 14_400_000, expireAfterMs: 15_840_000, rekeyJitterMs: 1_440_000 };

/** The first CHILD_SA's spec (IKE_AUTH). */
export function primaryChildSpec(config: IkeConfig): ChildSpec {
  return { name: config.childName, mode: config.mode, localTs: config.localTs, remoteTs: config.remoteTs };
}

/** Every CHILD_SA spec of a configuration, the primary one first. */
export function childSpecsOf(config: IkeConfig): ChildSpec[] {
  return [primaryChildSpec(config), ...(config.additionalChildren ?? [])];
}
