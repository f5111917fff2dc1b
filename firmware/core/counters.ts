// Named monotonic counters: every drop, error and notable event in monami is counted, never only logged.

/**
 * A set of named counters. Names are dotted paths (`wire.ipv6.truncated`, `esp.drop.replay`).
 * Counters only grow; `snapshot()` gives a stable, sorted copy for telemetry and tests.
 */
export class Counters {
  readonly #values = new Map<string, number>();

  increment(name: string, by = 1): void {
    this.#values.set(name, (this.#values.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.#values.get(name) ?? 0;
  }

  /** Sum of all counters whose name starts with `prefix`. */
  total(prefix: string): number {
    let sum = 0;
    for (const [name, value] of this.#values) if (name.startsWith(prefix)) sum += value;
    return sum;
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const name of [...this.#values.keys()].sort()) out[name] = this.#values.get(name) ?? 0;
    return out;
  }
}
