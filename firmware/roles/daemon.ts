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
