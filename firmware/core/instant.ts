// Time as protocol cores see it: an injected monotonic millisecond count, never the wall clock.

/** Milliseconds on a monotonic clock chosen by the runtime (real) or a test (virtual). */
export type Instant = number & { readonly __brand: "Instant" };
/** A span of milliseconds. */
export type Duration = number;

export function instant(ms: number): Instant {
  return ms as Instant;
}

export function later(at: Instant, by: Duration): Instant {
  return (at + by) as Instant;
}

/** The earlier of two optional deadlines (undefined = none). */
export function earliest(a: Instant | undefined, b: Instant | undefined): Instant | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}

/** A source of the current instant; the runtime passes a real one, tests a `VirtualClock`. */
export interface Clock {
  now(): Instant;
}

/** A clock that moves only when told to: for deterministic tests and the simulated board. */
export class VirtualClock implements Clock {
  #now: number;
  constructor(startMs = 0) {
    this.#now = startMs;
  }
  now(): Instant {
    return this.#now as Instant;
  }
  advance(by: Duration): Instant {
    if (by < 0) throw new RangeError("virtual time cannot go backwards");
    this.#now += by;
    return this.#now as Instant;
  }
  set(at: Instant): void {
    if (at < this.#now) throw new RangeError("virtual time cannot go backwards");
    this.#now = at;
  }
}
