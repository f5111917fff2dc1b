// SA lifetimes (RFC 4301 §4.4.2.1): soft and hard limits in bytes, packets and time, checked per packet.

import type { Duration, Instant } from "../core/instant.ts";

export interface LifetimeLimits {
  readonly bytes?: number;
  readonly packets?: number;
  /** Milliseconds after the SA was added. */
  readonly time?: Duration;
}

export interface SaLifetimes {
  /** Crossing a soft limit asks for a rekey; the SA keeps working. */
  readonly soft?: LifetimeLimits;
  /** Reaching a hard limit ends the SA: every later packet is dropped. */
  readonly hard?: LifetimeLimits;
}

export type LifetimeReason = "bytes" | "packets" | "time" | "sequence";
export type LifetimeState = "live" | "soft-expired" | "hard-expired";

/** What a counting step changed: nothing, or the limit that was crossed just now. */
export type LifetimeChange = { readonly kind: "soft-expired" | "hard-expired"; readonly reason: LifetimeReason } | undefined;

/**
 * Per-SA usage and limits. Counting is a few additions and comparisons; limits left undefined
 * never trigger. Each of soft and hard expiry is reported once.
 */
export class LifetimeTracker {
  readonly addedAt: Instant;
  bytes = 0;
  packets = 0;
  #state: LifetimeState = "live";
  readonly #softBytes: number;
  readonly #softPackets: number;
  readonly #hardBytes: number;
  readonly #hardPackets: number;
  readonly softDeadline: Instant | undefined;
  readonly hardDeadline: Instant | undefined;
  /** `hardDeadline` as a plain number (Infinity when none) for the per-packet comparison. */
  readonly #hardAt: number;

  constructor(lifetimes: SaLifetimes | undefined, addedAt: Instant) {
    this.addedAt = addedAt;
    this.#softBytes = lifetimes?.soft?.bytes ?? Infinity;
    this.#softPackets = lifetimes?.soft?.packets ?? Infinity;
    this.#hardBytes = lifetimes?.hard?.bytes ?? Infinity;
    this.#hardPackets = lifetimes?.hard?.packets ?? Infinity;
    const soft = lifetimes?.soft?.time;
    const hard = lifetimes?.hard?.time;
    this.softDeadline = soft === undefined ? undefined : ((addedAt + soft) as Instant);
    this.hardDeadline = hard === undefined ? undefined : ((addedAt + hard) as Instant);
    this.#hardAt = this.hardDeadline ?? Infinity;
  }

  get state(): LifetimeState {
    return this.#state;
  }

  /** Whether the SA may still carry a packet at `now`: not hard-expired and before the hard deadline. */
  usable(now: Instant): boolean {
    if (this.#state === "hard-expired") return false;
    return now < this.#hardAt;
  }

  /** Adds one packet of `bytes` payload octets; returns the limit crossed by it, if any. */
  count(bytes: number): LifetimeChange {
    this.bytes += bytes;
    this.packets += 1;
    if (this.bytes >= this.#hardBytes) return this.expire("hard-expired", "bytes");
    if (this.packets >= this.#hardPackets) return this.expire("hard-expired", "packets");
    if (this.#state === "live") {
      if (this.bytes >= this.#softBytes) return this.expire("soft-expired", "bytes");
      if (this.packets >= this.#softPackets) return this.expire("soft-expired", "packets");
    }
    return undefined;
  }

  /** Checks the time limits at `now`; returns the one that expired just now, if any. */
  checkTime(now: Instant): LifetimeChange {
    if (this.hardDeadline !== undefined && now >= this.hardDeadline) return this.expire("hard-expired", "time");
    if (this.softDeadline !== undefined && now >= this.softDeadline && this.#state === "live") return this.expire("soft-expired", "time");
    return undefined;
  }

  /** The next instant at which `checkTime` can change something. */
  nextDeadline(): Instant | undefined {
    if (this.#state === "hard-expired") return undefined;
    if (this.#state === "live" && this.softDeadline !== undefined) return this.softDeadline;
    return this.hardDeadline;
  }

  /** Moves to `to` (never backwards) and reports it once; undefined when already there or beyond. */
  expire(to: "soft-expired" | "hard-expired", reason: LifetimeReason): LifetimeChange {
    if (this.#state === "hard-expired" || this.#state === to) return undefined;
    this.#state = to;
    return { kind: to, reason };
  }
}
