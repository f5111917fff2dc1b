// Watchdog: the hardware watchdog interface and the feeding policy (pet only while the main loop is healthy).

import type { Duration, Instant } from "../../firmware/core/instant.ts";
import type { Result } from "../../firmware/core/result.ts";

export interface WatchdogError {
  readonly kind: "open-failed" | "write-failed" | "closed";
  readonly detail: string;
}

/**
 * An armed hardware watchdog. Opening the device arms it; from then on the board resets unless
 * `keepalive()` is called within the timeout. `close()` performs the magic close (write 'V', then close),
 * which disarms drivers that support it unless the kernel was built with nowayout.
 */
export interface Watchdog {
  keepalive(): Result<void, WatchdogError>;
  close(): Result<void, WatchdogError>;
}

/**
 * When to pet: every `timeout / 3` while healthy, never after the main loop reported itself unhealthy.
 * The runtime calls `tick(now, healthy)` from its main loop and writes a keepalive when it returns true;
 * a stalled loop stops calling, so the watchdog fires on its own.
 */
export class WatchdogFeeder {
  readonly #interval: Duration;
  #last: Instant | undefined;
  #unhealthySince: Instant | undefined;

  constructor(timeoutSeconds: number) {
    if (!(timeoutSeconds > 0)) throw new RangeError("watchdog timeout must be positive");
    this.#interval = (timeoutSeconds * 1000) / 3;
  }

  /** True when a keepalive is due now. Once `healthy` is false it stays false: the reset is deliberate. */
  tick(now: Instant, healthy: boolean): boolean {
    if (!healthy && this.#unhealthySince === undefined) this.#unhealthySince = now;
    if (this.#unhealthySince !== undefined) return false;
    if (this.#last !== undefined && now - this.#last < this.#interval) return false;
    this.#last = now;
    return true;
  }

  /** The next instant `tick` may return true, or undefined once feeding stopped. */
  pollTimeout(): Instant | undefined {
    if (this.#unhealthySince !== undefined) return undefined;
    return this.#last === undefined ? undefined : ((this.#last + this.#interval) as Instant);
  }

  get stopped(): boolean {
    return this.#unhealthySince !== undefined;
  }
}
