// Lifetime-driven rekeys and expiries (RFC 7296 §2.8, §2.18) and scheduled liveness checks (§2.4), on injected instants.

import { later, type Instant } from "../core/instant.ts";
import type { ChildSa, ChildSaLifetimes } from "./child-sa.ts";
import { REKEY_RETRY_MS } from "./constants.ts";
import type { RandomSource } from "./dh.ts";
import type { IkeSa } from "./ike-sa.ts";

/** Work the scheduler asks the endpoint to queue on one IKE SA. */
export type ScheduledWork =
  | { readonly kind: "rekey-ike" }
  | { readonly kind: "expire-ike" }
  | { readonly kind: "rekey-child"; readonly child: ChildSa }
  | { readonly kind: "expire-child"; readonly child: ChildSa }
  | { readonly kind: "liveness" };

interface Deadlines {
  rekeyAt: Instant;
  expireAt: Instant | undefined;
}

interface IkeDeadlines extends Deadlines {
  /** The last authenticated message (or reported ESP packet) from the peer, or the last liveness check. */
  lastHeard: Instant;
}

/** A uniform fraction in [0, 1) from four random octets. */
function fraction(random: RandomSource): number {
  const b = random(4);
  return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 2 ** 32;
}

/** When an SA installed at `at` starts its rekey: `rekeyAfterMs` minus a random part of the jitter (never before `at`). */
export function rekeyDeadline(policy: ChildSaLifetimes, at: Instant, random: RandomSource): Instant {
  const jitter = Math.max(0, Math.min(policy.rekeyJitterMs, policy.rekeyAfterMs));
  return later(at, policy.rekeyAfterMs - Math.floor(jitter * fraction(random)));
}

/**
 * The clocks of every IKE SA and CHILD_SA of an endpoint. Clocks start when the endpoint first sees
 * an SA established (`track`); `due` hands out each piece of work once: a rekey that has not
 * replaced its SA by REKEY_RETRY_MS later is asked for again, an expiry only once.
 */
export class SaScheduler {
  readonly #random: RandomSource;
  readonly #ike = new WeakMap<IkeSa, IkeDeadlines>();
  readonly #child = new WeakMap<ChildSa, Deadlines>();

  constructor(random: RandomSource) {
    this.#random = random;
  }

  #deadlines(policy: ChildSaLifetimes, now: Instant): Deadlines {
    return { rekeyAt: rekeyDeadline(policy, now, this.#random), expireAt: later(now, policy.expireAfterMs) };
  }

  /** Starts the clocks of `sa` (once established) and of its CHILD_SAs not seen before. */
  track(sa: IkeSa, now: Instant): void {
    if (sa.state !== "established") return;
    if (!this.#ike.has(sa)) this.#ike.set(sa, { ...this.#deadlines(sa.config.ikeLifetimes, now), lastHeard: now });
    for (const child of sa.children) if (!this.#child.has(child)) this.#child.set(child, this.#deadlines(sa.config.childLifetimes, now));
  }

  /** The peer proved it is alive at `now` (an authenticated IKE message, or ESP on one of the SA's CHILD_SAs). */
  heard(sa: IkeSa, now: Instant): void {
    const d = this.#ike.get(sa);
    if (d && now > d.lastHeard) d.lastHeard = now;
  }

  /** Asks for a CHILD_SA rekey now (an ESP soft lifetime by bytes, packets or sequence numbers). */
  rekeyChildNow(child: ChildSa, now: Instant): void {
    const d = this.#child.get(child);
    if (d && d.rekeyAt > now) d.rekeyAt = now;
  }

  /** Asks for a CHILD_SA's expiry now (an ESP hard lifetime). */
  expireChildNow(child: ChildSa, now: Instant): void {
    const d = this.#child.get(child);
    if (d && d.expireAt !== undefined && d.expireAt > now) d.expireAt = now;
  }

  /**
   * The work due at `now`. `idle` says the SA has no exchange outstanding: only then is a liveness
   * check started (an outstanding request already probes the peer, §2.4).
   */
  due(sa: IkeSa, now: Instant, idle: boolean): ScheduledWork[] {
    const out: ScheduledWork[] = [];
    const d = this.#ike.get(sa);
    if (!d || sa.state !== "established") return out;
    if (d.expireAt !== undefined && now >= d.expireAt) {
      d.expireAt = undefined;
      out.push({ kind: "expire-ike" });
      return out;
    }
    if (now >= d.rekeyAt) {
      d.rekeyAt = later(now, REKEY_RETRY_MS);
      if (!sa.rekeying) out.push({ kind: "rekey-ike" });
    }
    const interval = sa.config.livenessIntervalMs;
    if (interval > 0 && idle && now >= d.lastHeard + interval) {
      d.lastHeard = now;
      out.push({ kind: "liveness" });
    }
    for (const child of sa.children) {
      const c = this.#child.get(child);
      if (!c) continue;
      if (c.expireAt !== undefined && now >= c.expireAt) {
        c.expireAt = undefined;
        if (child.state !== "deleting") out.push({ kind: "expire-child", child });
      } else if (now >= c.rekeyAt) {
        c.rekeyAt = later(now, REKEY_RETRY_MS);
        if (child.state === "installed") out.push({ kind: "rekey-child", child });
      }
    }
    return out;
  }

  /** The next instant at which `due` has work for `sa` (liveness only counted when `idle`). */
  next(sa: IkeSa, idle: boolean): Instant | undefined {
    const d = this.#ike.get(sa);
    if (!d || sa.state !== "established") return undefined;
    let next: number = d.expireAt ?? Infinity;
    next = Math.min(next, d.rekeyAt);
    if (sa.config.livenessIntervalMs > 0 && idle) next = Math.min(next, d.lastHeard + sa.config.livenessIntervalMs);
    for (const child of sa.children) {
      const c = this.#child.get(child);
      if (!c) continue;
      next = Math.min(next, c.expireAt ?? Infinity);
      if (c.expireAt !== undefined) next = Math.min(next, c.rekeyAt);
    }
    return next === Infinity ? undefined : (next as Instant);
  }
}
