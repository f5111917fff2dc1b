// One direction of an emulated link as a pure function of time and chance: cut, shaper, loss, delay, jitter, reorder.
//
// No clock and no I/O: the caller passes `now` and a seeded RandomSource, and gets back when to release
// the packet (or why it is dropped). The link emulator process is the only caller that uses real time.

import { type Instant, instant } from "../../firmware/core/instant.ts";
import type { PathProfile } from "./profiles.ts";
import type { RandomSource } from "./seeded-random.ts";

export type PathDropReason = "cut" | "queue" | "loss";

export type PathVerdict =
  | { readonly kind: "deliver"; readonly at: Instant; readonly reordered: boolean }
  | { readonly kind: "drop"; readonly reason: PathDropReason };

/**
 * The fate of each packet entering one direction of a link, in arrival order:
 * 1. cut: everything is dropped while the link is cut;
 * 2. shaper: a token bucket (rate, burst) in front of a FIFO bounded by `queueBytes` (tail drop);
 *    the departure time is computed at admission, so no packet is held before it;
 * 3. loss: lost packets used their airtime (they were shaped) but never arrive;
 * 4. delay: departure + delay + uniform jitter, clamped to never precede the previous release
 *    (jitter alone never reorders); with `reorderProbability` a packet skips the delay line.
 * `admit` must be called with non-decreasing `now`.
 */
export class PathModel {
  #profile: PathProfile;
  #bytesPerMs = 0;
  #cut = false;
  /** Tokens (bytes) available at `#tokensAt`; `#tokensAt` is the last shaper departure or refill time. */
  #tokens = 0;
  #tokensAt = 0;
  /** The latest release time handed out for an in-order packet. */
  #lastRelease = Number.NEGATIVE_INFINITY;

  constructor(
    profile: PathProfile,
    readonly random: RandomSource,
  ) {
    this.#profile = profile;
    this.setProfile(profile);
    this.#tokens = profile.burstBytes;
  }

  get profile(): PathProfile {
    return this.#profile;
  }

  get cut(): boolean {
    return this.#cut;
  }

  /** Changes the impairments from now on; packets already admitted keep their release time. */
  setProfile(profile: PathProfile): void {
    this.#profile = profile;
    this.#bytesPerMs = profile.rateBitsPerSecond / 8000;
    this.#tokens = Math.min(this.#tokens, profile.burstBytes);
  }

  setCut(cut: boolean): void {
    this.#cut = cut;
  }

  /** Bytes waiting in the shaper queue at `now` (0 when the bucket still holds tokens). */
  backlogBytes(now: Instant): number {
    if (this.#bytesPerMs === 0 || this.#tokensAt <= now) return 0;
    return (this.#tokensAt - now) * this.#bytesPerMs;
  }

  admit(now: Instant, sizeBytes: number): PathVerdict {
    if (this.#cut) return DROP_CUT;
    const p = this.#profile;
    let departure: number = now;
    if (this.#bytesPerMs > 0) {
      if (this.backlogBytes(now) + sizeBytes > Math.max(p.queueBytes, sizeBytes)) return DROP_QUEUE;
      departure = this.#shape(now, sizeBytes);
    }
    if (p.lossProbability > 0 && this.random.next() < p.lossProbability) return DROP_LOSS;
    if (p.reorderProbability > 0 && this.random.next() < p.reorderProbability) {
      return { kind: "deliver", at: instant(departure), reordered: departure < this.#lastRelease };
    }
    let at = departure + p.delayMs;
    if (p.jitterMs > 0) at += (2 * this.random.next() - 1) * p.jitterMs;
    at = Math.max(at, departure, this.#lastRelease);
    this.#lastRelease = at;
    return { kind: "deliver", at: instant(at), reordered: false };
  }

  /** Token bucket: returns the departure time of a `size`-byte packet queued behind the earlier ones. */
  #shape(now: number, size: number): number {
    const start = Math.max(now, this.#tokensAt);
    const available = Math.min(this.#profile.burstBytes, this.#tokens + (start - this.#tokensAt) * this.#bytesPerMs);
    if (available >= size) {
      this.#tokens = available - size;
      this.#tokensAt = start;
      return start;
    }
    const departure = start + (size - available) / this.#bytesPerMs;
    this.#tokens = 0;
    this.#tokensAt = departure;
    return departure;
  }
}

const DROP_CUT: PathVerdict = { kind: "drop", reason: "cut" };
const DROP_QUEUE: PathVerdict = { kind: "drop", reason: "queue" };
const DROP_LOSS: PathVerdict = { kind: "drop", reason: "loss" };
