// Watchdog drivers and feeding policy: Linux keepalive/magic close bytes, simulated expiry, feeding stops when unhealthy.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { instant, VirtualClock } from "../../../firmware/core/instant.ts";
import { WatchdogFeeder } from "../../../board/api/watchdog.ts";
import { LinuxWatchdog } from "../../../board/linux/watchdog.ts";
import { SimWatchdog } from "../../../board/sim/watchdog.ts";
import { SimLeds } from "../../../board/sim/leds.ts";

describe("watchdog", () => {
  test("Linux driver: keepalives are zero bytes, close writes the magic 'V', use after close is an error", () => {
    const dir = mkdtempSync(join(tmpdir(), "monami-h6-wdt-"));
    try {
      const device = join(dir, "watchdog");
      writeFileSync(device, "");
      const wd = LinuxWatchdog.open(device);
      if (!wd.ok) throw new Error(wd.error.detail);
      expect(wd.value.keepalive().ok).toBe(true);
      expect(wd.value.keepalive().ok).toBe(true);
      expect(wd.value.close().ok).toBe(true);
      expect([...readFileSync(device)]).toEqual([0, 0, 0x56]);
      const after = wd.value.keepalive();
      expect(!after.ok && after.error.kind).toBe("closed");
      const missing = LinuxWatchdog.open(join(dir, "no-such-dir", "watchdog"));
      expect(!missing.ok && missing.error.kind).toBe("open-failed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("simulated watchdog expires exactly one timeout after the last keepalive", () => {
    const clock = new VirtualClock();
    const wd = new SimWatchdog(clock, 10);
    clock.advance(9_000);
    wd.keepalive();
    clock.advance(9_999);
    expect(wd.expired(clock.now())).toBe(false);
    clock.advance(1);
    expect(wd.expired(clock.now())).toBe(true);
    expect(wd.close().ok).toBe(true);
    expect(wd.expired(instant(1e9))).toBe(false);
  });

  test("the feeder pets every third of the timeout while healthy and never again once unhealthy", () => {
    const feeder = new WatchdogFeeder(30);
    const pets: number[] = [];
    for (let t = 0; t <= 60_000; t += 1000) if (feeder.tick(instant(t), t < 40_000)) pets.push(t);
    expect(pets).toEqual([0, 10_000, 20_000, 30_000]);
    expect(feeder.stopped).toBe(true);
    expect(feeder.tick(instant(100_000), true)).toBe(false);
    expect(feeder.pollTimeout()).toBeUndefined();
  });

  test("simulated LEDs record changes for the roles the board has", () => {
    const clock = new VirtualClock();
    const leds = new SimLeds(clock, ["status", "ota"]);
    leds.set("ota", "blink-fast");
    clock.advance(5);
    leds.set("ota", "blink-fast");
    leds.set("ota", "on");
    leds.set("fault", "on");
    expect(leds.state("ota")).toBe("on");
    expect(leds.state("fault")).toBe("off");
    expect(leds.history).toEqual([
      { at: instant(0), role: "ota", state: "blink-fast" },
      { at: instant(5), role: "ota", state: "on" },
    ]);
  });
});
