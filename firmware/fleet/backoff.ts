// Reconnect back-off: exponential growth with a cap and random jitter, driven by the caller's clock and random source.

import type { Duration } from "../core/instant.ts";

export interface BackoffPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  /** 0 = no jitter; r = each delay is drawn uniformly in [d·(1−r), d]. */
  readonly jitterRatio: number;
}

/**
 * Attempt n (from 0) waits min(max, initial·multiplier^n), reduced by up to `jitterRatio` so a fleet that lost
 * its broker at the same instant does not reconnect in lockstep. `reset()` after a successful connection.
 */
export class ReconnectBackoff {
  #attempt = 0;
  constructor(private readonly policy: BackoffPolicy) {}

  get attempts(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt; `random` returns a number in [0, 1). */
  next(random: () => number): Duration {
    const { initialDelayMs, maxDelayMs, multiplier, jitterRatio } = this.policy;
    const ceiling = Math.min(maxDelayMs, initialDelayMs * multiplier ** Math.min(this.#attempt, 64));
    this.#attempt++;
    const r = Math.min(Math.max(random(), 0), 1);
    return Math.max(0, Math.round(ceiling * (1 - jitterRatio * r)));
  }

  reset(): void {
    this.#attempt = 0;
  }
}
