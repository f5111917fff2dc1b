// What both daemons share: the monotonic clock, a sans-IO core's timer, shutdown on SIGTERM/SIGINT, and the packet loop's counters.

import { instant, type Instant } from "../core/instant.ts";

export const monotonicNow = (): Instant => instant(performance.now());

/** Keeps one timer armed at a core's `pollTimeout()`; `rearm` after every input. */
export class CoreTimer {
  readonly #next: () => Instant | undefined;
  readonly #fire: (now: Instant) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(next: () => Instant | undefined, fire: (now: Instant) => void) {
    this.#next = next;
    this.#fire = fire;
  }

  rearm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#stopped) return;
    const at = this.#next();
    if (at === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fire(monotonicNow());
      this.rearm();
    }, Math.max(0, at - performance.now()));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}

export interface Daemon {
  /** Deregisters where it can, stops the loop (every descriptor closed), undoes host networking. */
  stop(): Promise<void>;
}

/** Runs a started daemon until SIGTERM or SIGINT, then stops it once; resolves to the exit code. */
export function runUntilSignalled(daemon: Daemon, log: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: shutting down`);
      daemon.stop().then(
        () => resolve(0),
        (e) => {
          log(`shutdown failed: ${e instanceof Error ? e.message : String(e)}`);
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

/**
 * Measures how late a periodic timer fires on this thread: the event loop's health (MQTT, control socket
 * and protocol timers all wait behind a busy loop). `take()` returns the figures since the last take.
 */
export class TimerLateness {
  readonly #periodMs: number;
  readonly #samples: number[] = [];
  #expected = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(periodMs = 10) {
    this.#periodMs = periodMs;
  }

  start(): void {
    this.#expected = performance.now() + this.#periodMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      if (this.#samples.length < 100_000) this.#samples.push(Math.max(0, now - this.#expected));
      this.#expected = now + this.#periodMs;
    }, this.#periodMs);
  }

  take(): { samples: number; medianMs: number; p99Ms: number; maxMs: number } {
    const sorted = this.#samples.splice(0).sort((a, b) => a - b);
    const at = (q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    return { samples: sorted.length, medianMs: at(0.5), p99Ms: at(0.99), maxMs: sorted.length === 0 ? 0 : sorted[sorted.length - 1]! };
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }
}
