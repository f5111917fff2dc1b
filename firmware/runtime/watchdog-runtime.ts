// The hardware watchdog at run time: opened at start, fed only while the event loop and the packet loop are healthy.

import type { BoardDefinition } from "../../board/api/board.ts";
import { type Watchdog, WatchdogFeeder } from "../../board/api/watchdog.ts";
import { LinuxWatchdog } from "../../board/linux/watchdog.ts";
import { SimWatchdog } from "../../board/sim/watchdog.ts";
import type { DataplaneHandle } from "../dataplane/dataplane-handle.ts";
import { monotonicNow } from "../roles/daemon.ts";

/** How often health is judged (and the feeder asked whether a keepalive is due). */
const TICK_MS = 250;
/** The packet loop counts a pass at least every 10 ms even when idle (ppoll timeout); none for this long = stuck. */
const LOOP_STALL_MS = 3_000;
/** Exit status of the process when the simulated board's watchdog fires (the simulated reset). */
export const SIMULATED_WATCHDOG_RESET_EXIT = 3;

export interface WatchdogRuntime {
  /** `fed` while healthy, `stopped` once feeding stopped (a reset follows), `off` without a watchdog. */
  state(): "fed" | "stopped" | "off";
  /** Magic close: a clean shutdown does not reset the board. */
  stop(): void;
}

/**
 * Opens the board's watchdog and feeds it every timeout/3 while (1) this thread's timers run late by less
 * than half the timeout and (2) the packet loop made a pass within LOOP_STALL_MS. Once unhealthy it never
 * feeds again (WatchdogFeeder): the board resets. On the simulated board the watchdog runs on the real
 * monotonic clock and its expiry ends the process, as a reset would.
 */
export function startWatchdog(
  board: BoardDefinition,
  handle: Pick<DataplaneHandle, "hotCounters">,
  log: (line: string) => void,
  /** What the simulated board's reset does (tests observe it instead). */
  simulatedReset: () => void = () => process.exit(SIMULATED_WATCHDOG_RESET_EXIT),
): WatchdogRuntime | undefined {
  const timeoutSeconds = board.watchdog.timeoutSeconds;
  let watchdog: Watchdog;
  let sim: SimWatchdog | undefined;
  if (board.watchdog.device === "sim") {
    sim = new SimWatchdog({ now: monotonicNow }, timeoutSeconds);
    watchdog = sim;
  } else {
    const opened = LinuxWatchdog.open(board.watchdog.device);
    if (!opened.ok) {
      log(`watchdog: cannot open ${board.watchdog.device} (${opened.error.detail}); running without it`);
      return undefined;
    }
    watchdog = opened.value;
  }
  const feeder = new WatchdogFeeder(timeoutSeconds);
  let expected = performance.now() + TICK_MS;
  let passes = handle.hotCounters.get("loop.passes");
  let passAt = performance.now();
  let reported = false;
  const timer = setInterval(() => {
    const t = performance.now();
    const lateMs = Math.max(0, t - expected);
    expected = t + TICK_MS;
    const p = handle.hotCounters.get("loop.passes");
    if (p !== passes) {
      passes = p;
      passAt = t;
    }
    const healthy = lateMs < (timeoutSeconds * 1000) / 2 && t - passAt < LOOP_STALL_MS;
    if (!healthy && !reported) {
      reported = true;
      log(`watchdog: main loop unhealthy (timer ${lateMs.toFixed(0)} ms late, packet loop idle ${(t - passAt).toFixed(0)} ms): feeding stops, the board resets`);
    }
    const now = monotonicNow();
    if (feeder.tick(now, healthy)) {
      const r = watchdog.keepalive();
      if (!r.ok) log(`watchdog: keepalive failed: ${r.error.detail}`);
    }
    if (sim?.expired(now)) {
      log("watchdog: the simulated board's watchdog expired: reset");
      clearInterval(timer);
      simulatedReset();
    }
  }, TICK_MS);
  log(`watchdog ${board.watchdog.device}: ${timeoutSeconds}s timeout, fed every ${(timeoutSeconds / 3).toFixed(1)}s while healthy`);
  return {
    state: () => (feeder.stopped ? "stopped" : "fed"),
    stop() {
      clearInterval(timer);
      watchdog.close();
    },
  };
}
