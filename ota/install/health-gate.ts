// The health gate of a trial boot: every named check must pass before the deadline, or the slot is rolled back.

import type { Instant } from "../../firmware/core/instant.ts";

/** Checks a trial boot must pass; the router supplies results (bindings up, broker reachable, …). */
export type HealthCheck = string;

export type HealthVerdict = "pending" | "healthy" | "timed-out";

/**
 * Sans-IO: `report(check, passed)` as results arrive, `poll(now)` for the verdict, `pollTimeout()` for
 * when to poll again. The first verdict other than `pending` is final.
 */
export class HealthGate {
  readonly #required: ReadonlySet<HealthCheck>;
  readonly #passed = new Set<HealthCheck>();
  readonly #deadline: Instant;
  #verdict: HealthVerdict = "pending";

  constructor(required: readonly HealthCheck[], deadline: Instant) {
    if (required.length === 0) throw new RangeError("a health gate needs at least one check");
    this.#required = new Set(required);
    this.#deadline = deadline;
  }

  /** A check's latest result; a check that fails again after passing counts as not passed. */
  report(check: HealthCheck, passed: boolean): void {
    if (!this.#required.has(check) || this.#verdict !== "pending") return;
    if (passed) this.#passed.add(check);
    else this.#passed.delete(check);
  }

  poll(now: Instant): HealthVerdict {
    if (this.#verdict !== "pending") return this.#verdict;
    if (this.#passed.size === this.#required.size) this.#verdict = "healthy";
    else if (now >= this.#deadline) this.#verdict = "timed-out";
    return this.#verdict;
  }

  pollTimeout(): Instant | undefined {
    return this.#verdict === "pending" ? this.#deadline : undefined;
  }

  /** Checks still missing, for the failure reason. */
  missing(): HealthCheck[] {
    return [...this.#required].filter((c) => !this.#passed.has(c));
  }
}
