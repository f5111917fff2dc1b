// The watchdog at run time on the simulated board: fed while the packet loop makes passes, left to expire once it stalls.
import { expect, test } from "bun:test";
import { simulatedBoard } from "../../../board/boards/simulated.ts";
import { HotCounter, SharedCounters } from "../../../firmware/dataplane/shared-counters.ts";
import { startWatchdog } from "../../../firmware/runtime/watchdog-runtime.ts";

test("fed while the loop runs; a stalled packet loop stops the feeding and the board resets within the timeout", async () => {
  const board = { ...simulatedBoard("/nonexistent"), watchdog: { device: "sim", timeoutSeconds: 1.5 } };
  const hotCounters = new SharedCounters();
  const lines: string[] = [];
  let resetAt: number | undefined;
  const running = setInterval(() => hotCounters.add(HotCounter["loop.passes"], 1), 10);
  const started = performance.now();
  const watchdog = startWatchdog(board, { hotCounters }, (l) => lines.push(l), () => (resetAt = performance.now()))!;
  try {
    await Bun.sleep(2500); // longer than the timeout: only the feeding keeps the board alive
    expect(resetAt).toBeUndefined();
    expect(watchdog.state()).toBe("fed");
    clearInterval(running);
    const stalledAt = performance.now();
    for (let i = 0; i < 100 && resetAt === undefined; i++) await Bun.sleep(100);
    expect(watchdog.state()).toBe("stopped");
    expect(resetAt).toBeDefined();
    // Stall noticed after 3 s, then at most one timeout until the reset.
    expect(resetAt! - stalledAt).toBeLessThan(3000 + 1500 + 500);
    expect(lines.some((l) => l.includes("main loop unhealthy"))).toBe(true);
    expect(resetAt! - started).toBeGreaterThan(2500);
  } finally {
    clearInterval(running);
    watchdog.stop();
  }
}, 15_000);
