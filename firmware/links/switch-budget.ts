// Switch budget: at most N moves of the primary care-of address in any sliding window (forced failovers count too).

import type { Instant } from "../core/instant.ts";

export class SwitchBudget {
  readonly #max: number;
  readonly #windowMs: number;
  #times: Instant[] = [];

  constructor(maxSwitches: number, windowMs: number) {
    this.#max = maxSwitches;
    this.#windowMs = windowMs;
  }

  used(now: Instant): number {
    this.#times = this.#times.filter((t) => t > now - this.#windowMs);
    return this.#times.length;
  }

  /** True while another move fits in the window; `allowance` scales the limit (anticipatory moves get more). */
  available(now: Instant, allowance = 1): boolean {
    return this.used(now) < this.#max * allowance;
  }

  record(now: Instant): void {
    this.#times.push(now);
  }

  /** When the oldest move leaves the window (for pollTimeout), if the budget is spent. */
  refillAt(now: Instant): Instant | undefined {
    if (this.available(now)) return undefined;
    return (this.#times[0]! + this.#windowMs) as Instant;
  }
}
