// The Security Association Database (RFC 4301 §4.4.2): SAs by SPI, mutable tunnel endpoints, lifetime and rekey events.

import type { CryptoBackend } from "../crypto/backend.ts";
import { ESP_SUITES, type EspSuite, type EspSuiteId } from "../crypto/suites.ts";
import { earliest, type Instant } from "../core/instant.ts";
import { err, ok, type Result } from "../core/result.ts";
import { ESP_MAX_PACKET, REPLAY_WINDOW_DEFAULT, SEQUENCE_MAX_32, SEQUENCE_SOFT_MARGIN } from "./constants.ts";
import { createEspTransform, type EspKeys, type EspTransform } from "./esp-transform.ts";
import { LifetimeTracker, type LifetimeChange, type LifetimeReason, type SaLifetimes } from "./lifetimes.ts";
import { ReplayWindow } from "./replay-window.ts";
import type { TrafficSelector } from "./traffic-selector.ts";

/** A Security Parameters Index: 32 bits, never 0; 1–255 are reserved by IANA (RFC 4303 §2.1). */
export type Spi = number & { readonly __brand: "Spi" };

/** Makes an Spi; values outside 256..2^32−1 throw RangeError (SAD inputs come from IKE or configuration). */
export function spi(value: number): Spi {
  if (!Number.isInteger(value) || value < 256 || value > 0xffffffff) throw new RangeError(`SPI ${value} outside 256..0xffffffff`);
  return value as Spi;
}

export function formatSpi(value: Spi | number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, "0")}`;
}

export type IpsecMode = "tunnel" | "transport";
export type SaDirection = "inbound" | "outbound";

/** Outer addresses of a tunnel-mode SA (16 bytes each for IPv6, 4 for IPv4). Mutable: mobility moves them. */
export interface TunnelEndpoints {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
}

/** How ESP packets of the SA travel: directly (IP protocol 50) or in UDP (RFC 3948). */
export type Encapsulation =
  | { readonly kind: "none" }
  | { readonly kind: "udp"; readonly sourcePort: number; readonly destinationPort: number };

export interface SaConfig {
  readonly spi: Spi;
  readonly direction: SaDirection;
  readonly mode: IpsecMode;
  readonly suite: EspSuiteId;
  /** Taken over by the SAD: wiped when the SA is deleted. */
  readonly keys: EspKeys;
  /** RFC 4303 §2.2.1, as negotiated by IKEv2 (ESN transform). Default false. */
  readonly extendedSequenceNumbers?: boolean;
  /** Inbound only; default REPLAY_WINDOW_DEFAULT. */
  readonly replayWindow?: number;
  /** Tunnel mode: the outer addresses. Transport mode: the packet addresses (for key export and checks). */
  readonly endpoints?: TunnelEndpoints;
  readonly encapsulation?: Encapsulation;
  /** The (inner) traffic the SA may carry, in the SA's direction; undefined or empty = any. */
  readonly selectors?: readonly TrafficSelector[];
  readonly lifetimes?: SaLifetimes;
  /** Outbound tunnel mode: pad inner packets with TFC padding to at least this many octets (RFC 4303 §2.7). */
  readonly tfcPadTo?: number;
}

/**
 * One SA. Hot fields are plain properties; `endpoints` and `encapsulation` may be replaced at any
 * time by the layer above (the primary-CoA design does so on every handover, RFC 4877 §4.3).
 */
export class SecurityAssociation {
  readonly spi: Spi;
  readonly direction: SaDirection;
  readonly mode: IpsecMode;
  readonly suite: EspSuite;
  readonly extendedSequenceNumbers: boolean;
  readonly transform: EspTransform;
  readonly lifetime: LifetimeTracker;
  readonly selectors: readonly TrafficSelector[];
  readonly tfcPadTo: number;
  endpoints: TunnelEndpoints | undefined;
  encapsulation: Encapsulation;
  /** Inbound: the anti-replay window (also the source of ESN high bits, RFC 4303 App. A2). */
  readonly replay: ReplayWindow | undefined;
  /** Outbound: the last sequence number sent, as 32-bit halves (0, 0 before the first packet). */
  sequenceHigh = 0;
  sequenceLow = 0;
  /** Outbound: where `protect` builds packets; valid until the next packet on this SA. */
  readonly output: Uint8Array | undefined;
  readonly #keys: EspKeys;
  #deleted = false;

  constructor(config: SaConfig, backend: CryptoBackend, now: Instant) {
    this.spi = config.spi;
    this.direction = config.direction;
    this.mode = config.mode;
    this.suite = ESP_SUITES[config.suite];
    this.extendedSequenceNumbers = config.extendedSequenceNumbers ?? false;
    this.#keys = config.keys;
    this.transform = createEspTransform(this.suite, backend, config.keys);
    this.lifetime = new LifetimeTracker(config.lifetimes, now);
    this.selectors = config.selectors ?? [];
    this.tfcPadTo = config.tfcPadTo ?? 0;
    this.endpoints = config.endpoints;
    this.encapsulation = config.encapsulation ?? { kind: "none" };
    this.replay = config.direction === "inbound" ? new ReplayWindow(config.replayWindow ?? REPLAY_WINDOW_DEFAULT) : undefined;
    // Room for the largest ESP packet plus slack for IV, padding and ICV of any suite.
    this.output = config.direction === "outbound" ? new Uint8Array(new ArrayBuffer(ESP_MAX_PACKET + 512)) : undefined;
  }

  get deleted(): boolean {
    return this.#deleted;
  }

  /**
   * Advances the outbound counter and reports exhaustion: "exhausted" when no number is left
   * (the counter never cycles, RFC 4303 §3.3.3), "soft" when SEQUENCE_SOFT_MARGIN remain.
   */
  nextSequence(): "ok" | "soft" | "exhausted" {
    if (this.extendedSequenceNumbers) {
      if (this.sequenceLow === SEQUENCE_MAX_32) {
        if (this.sequenceHigh === SEQUENCE_MAX_32) return "exhausted";
        this.sequenceHigh += 1;
        this.sequenceLow = 0;
        return "ok";
      }
      this.sequenceLow += 1;
      return this.sequenceHigh === SEQUENCE_MAX_32 && this.sequenceLow === SEQUENCE_MAX_32 - SEQUENCE_SOFT_MARGIN ? "soft" : "ok";
    }
    if (this.sequenceLow === SEQUENCE_MAX_32) return "exhausted";
    this.sequenceLow += 1;
    return this.sequenceLow === SEQUENCE_MAX_32 - SEQUENCE_SOFT_MARGIN ? "soft" : "ok";
  }

  /**
   * The SA's keys, still wrapped (they redact themselves). Only the debug key export
   * (`key-export.ts`) reads them; after `wipe()` exposing them throws.
   */
  keysForDebugExport(): EspKeys {
    return this.#keys;
  }

  /** Disposes the crypto state and wipes the keys. Idempotent. */
  wipe(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    this.transform.dispose();
    this.#keys.encryption.wipe();
    this.#keys.integrity?.wipe();
    this.output?.fill(0);
  }

  toJSON(): Record<string, unknown> {
    return { spi: formatSpi(this.spi), direction: this.direction, mode: this.mode, suite: this.suite.id, state: this.lifetime.state };
  }
}

/** An event for the key manager: rekey on soft expiry, replace on hard expiry (the SA is then unusable). */
export interface SaEvent {
  readonly kind: "soft-expired" | "hard-expired";
  readonly spi: Spi;
  readonly direction: SaDirection;
  readonly reason: LifetimeReason;
}

export type SadError = { readonly kind: "duplicate-spi"; readonly spi: Spi } | { readonly kind: "unsupported-suite"; readonly suite: EspSuiteId };

/** Picks the backend for a suite (the runtime passes the fastest available one). */
export type CryptoProvider = (suite: EspSuite) => CryptoBackend | undefined;

/**
 * The SAD. Sans-IO: time comes in through `handleTimeout(now)`, events leave through `pollEvent()`,
 * `pollTimeout()` says when time limits next need a look (a spurious call is harmless).
 */
export class SecurityAssociationDatabase {
  readonly #inbound = new Map<number, SecurityAssociation>();
  readonly #outbound = new Map<number, SecurityAssociation>();
  readonly #events: SaEvent[] = [];
  readonly #provider: CryptoProvider;

  constructor(provider: CryptoProvider) {
    this.#provider = provider;
  }

  add(config: SaConfig, now: Instant): Result<SecurityAssociation, SadError> {
    const table = config.direction === "inbound" ? this.#inbound : this.#outbound;
    if (table.has(config.spi)) return err({ kind: "duplicate-spi", spi: config.spi });
    const backend = this.#provider(ESP_SUITES[config.suite]);
    if (backend === undefined) return err({ kind: "unsupported-suite", suite: config.suite });
    const sa = new SecurityAssociation(config, backend, now);
    table.set(config.spi, sa);
    return ok(sa);
  }

  /** Inbound lookup by SPI (RFC 4301 §4.1: ESP only, so the SPI alone identifies the SA). */
  inbound(spi: number): SecurityAssociation | undefined {
    return this.#inbound.get(spi);
  }

  outbound(spi: number): SecurityAssociation | undefined {
    return this.#outbound.get(spi);
  }

  all(): SecurityAssociation[] {
    return [...this.#inbound.values(), ...this.#outbound.values()];
  }

  /** Removes the SA and wipes its keys. */
  delete(spi: Spi, direction: SaDirection): boolean {
    const table = direction === "inbound" ? this.#inbound : this.#outbound;
    const sa = table.get(spi);
    if (sa === undefined) return false;
    table.delete(spi);
    sa.wipe();
    return true;
  }

  /** Deletes every SA (shutdown): all keys are wiped. */
  clear(): void {
    for (const sa of this.all()) this.delete(sa.spi, sa.direction);
  }

  /** Moves a tunnel's outer addresses (and optionally its UDP encapsulation), e.g. on handover. */
  setEndpoints(spi: Spi, direction: SaDirection, endpoints: TunnelEndpoints, encapsulation?: Encapsulation): boolean {
    const sa = direction === "inbound" ? this.#inbound.get(spi) : this.#outbound.get(spi);
    if (sa === undefined) return false;
    sa.endpoints = endpoints;
    if (encapsulation !== undefined) sa.encapsulation = encapsulation;
    return true;
  }

  /** Records a lifetime change of `sa` as an event (the datapath calls this when counting crosses a limit). */
  report(sa: SecurityAssociation, change: LifetimeChange): void {
    if (change !== undefined) this.#events.push({ kind: change.kind, spi: sa.spi, direction: sa.direction, reason: change.reason });
  }

  handleTimeout(now: Instant): void {
    for (const sa of this.all()) this.report(sa, sa.lifetime.checkTime(now));
  }

  pollTimeout(): Instant | undefined {
    let next: Instant | undefined;
    for (const sa of this.all()) next = earliest(next, sa.lifetime.nextDeadline());
    return next;
  }

  pollEvent(): SaEvent | undefined {
    return this.#events.shift();
  }
}
