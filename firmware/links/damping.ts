// Exponential flap damping for one link (the RFC 2439 route-flap-damping shape, on a vehicle time scale).

import type { Instant } from "../core/instant.ts";
import type { DampingConfig } from "./config.ts";

/**
 * Each failure adds `penaltyPerFailure`; the penalty halves every `halfLifeMs`. Above `suppressAbove`
 * the link is suppressed (last resort only) until the penalty decays below `reuseBelow`.
 */
export class FlapDamping {
  readonly #config: DampingConfig;
  #penalty = 0;
  #at: Instant;
  #suppressed = false;

  constructor(config: DampingConfig, now: Instant) {
    this.#config = config;
    this.#at = now;
  }

  penalty(now: Instant): number {
    this.#decay(now);
    return this.#penalty;
  }

  suppressed(now: Instant): boolean {
    this.#decay(now);
    return this.#suppressed;
  }

  /** Records a failure; returns true when this failure suppressed the link. */
  fail(now: Instant): boolean {
    this.#decay(now);
    this.#penalty = Math.min(this.#config.maxPenalty, this.#penalty + this.#config.penaltyPerFailure);
    if (!this.#suppressed && this.#penalty > this.#config.suppressAbove) {
      this.#suppressed = true;
      return true;
    }
    return false;
  }

  /** Damping factor for hold times: 1 with no penalty, +1 per failure's worth of penalty. */
  factor(now: Instant): number {
    return 1 + this.penalty(now) / this.#config.penaltyPerFailure;
  }

  /** When a suppressed link becomes reusable (for pollTimeout), or undefined when not suppressed. Does not advance time. */
  get reuseAt(): Instant | undefined {
    if (!this.#suppressed) return undefined;
    const halvings = Math.log2(this.#penalty / this.#config.reuseBelow);
    return (this.#at + Math.max(0, Math.ceil(halvings * this.#config.halfLifeMs))) as Instant;
  }

  #decay(now: Instant): void {
    if (now > this.#at) {
      this.#penalty *= Math.pow(0.5, (now - this.#at) / this.#config.halfLifeMs);
      if (this.#penalty < 1) this.#penalty = 0;
      this.#at = now;
    }
    if (this.#suppressed && this.#penalty < this.#config.reuseBelow) this.#suppressed = false;
  }
}
