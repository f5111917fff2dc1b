// Simulated watchdog: a virtual-time timer that "resets the board" when not petted within its timeout.

import type { Clock, Instant } from "../../firmware/core/instant.ts";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { Watchdog, WatchdogError } from "../api/watchdog.ts";

export class SimWatchdog implements Watchdog {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #lastPet: Instant;
  #armed = true;
  keepalives = 0;

  /** Arms at `clock.now()`, like opening /dev/watchdog. */
  constructor(clock: Clock, timeoutSeconds: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutSeconds * 1000;
    this.#lastPet = clock.now();
  }

  keepalive(): Result<void, WatchdogError> {
    if (!this.#armed) return err({ kind: "closed", detail: "sim watchdog is closed" });
    this.#lastPet = this.#clock.now();
    this.keepalives++;
    return ok(undefined);
  }

  /** Magic close: the simulated driver always honours it (no nowayout). */
  close(): Result<void, WatchdogError> {
    if (!this.#armed) return err({ kind: "closed", detail: "sim watchdog is closed" });
    this.#armed = false;
    return ok(undefined);
  }

  /** The instant the board resets unless petted before it; undefined when disarmed. */
  pollTimeout(): Instant | undefined {
    return this.#armed ? ((this.#lastPet + this.#timeoutMs) as Instant) : undefined;
  }

  /** True when the timeout has passed without a keepalive: the simulated board must reboot. */
  expired(now: Instant): boolean {
    const deadline = this.pollTimeout();
    return deadline !== undefined && now >= deadline;
  }
}
