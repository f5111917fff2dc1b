// OTA on the simulated board: A/B install, trial boot, commit, every refusal, and rollback of an image that never confirms.
import { afterEach, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { instant, VirtualClock } from "../../firmware/core/instant.ts";
import { SimWatchdog } from "../../board/sim/watchdog.ts";
import { WatchdogFeeder } from "../../board/api/watchdog.ts";
import { installImage } from "../../ota/install/installer.ts";
import { commitTrial, rejectTrial, resolveBoot } from "../../ota/install/boot-cycle.ts";
import type { InstallState } from "../../ota/install/install-state.ts";
import { SimSlots } from "../../ota/slots/sim-slots.ts";
import { parseImageHead } from "../../ota/image/container.ts";
import { formatRefusal, type RefusalKind } from "../../ota/verify/refusal.ts";
import { fleetPublic, otherKey, testImage } from "../unit/ota/fixtures.ts";
import { chunksOf, fileSha256, provisionedDevice, type SimDevice } from "./ota-sim.ts";

let device: SimDevice | undefined;
afterEach(() => device?.cleanup());

const v2 = testImage({ version: "2.0.0", securityVersion: 2 }, undefined, 64 * 1024);

async function install(d: SimDevice, image: Uint8Array, extra: Partial<Parameters<typeof installImage>[1]> = {}) {
  const states: InstallState[] = [];
  const result = await installImage(chunksOf(image, 4096), { board: d.sim.board, store: d.sim.store, trusted: [fleetPublic], onState: (s) => states.push(s), ...extra });
  return { result, phases: [...new Set(states.map((s) => s.phase))] };
}

describe("A/B install on the simulated board", () => {
  test("install → trial boot → healthy → committed; the next boot is normal from B", async () => {
    device = await provisionedDevice();
    // install v2 --> inactive slot B
    const { result, phases } = await install(device, v2);
    expect(result.ok).toBe(true);
    expect(phases).toEqual(["downloading", "verifying", "installing", "rebooting"]);
    expect(result.ok && result.value.slot).toBe("b");
    expect(fileSha256(device.sim.board.slots.b.device)).toBe(new Bun.CryptoHasher("sha256").update(v2).digest("hex"));
    // reboot: the bootloader tries B once
    const boot = await device.sim.boot();
    expect(boot.ok && boot.value.slot).toBe("b");
    expect(boot.ok && boot.value.image.head.manifest.version).toBe("2.0.0");
    const outcome = await resolveBoot(device.sim.store, { now: instant(0), confirmWithinMs: 60_000, checks: ["bindings", "broker"] });
    if (!outcome.ok || outcome.value.kind !== "trial") throw new Error("expected a trial boot");
    // health: bindings up, broker reachable --> commit
    outcome.value.gate.report("bindings", true);
    expect(outcome.value.gate.poll(instant(1000))).toBe("pending");
    outcome.value.gate.report("broker", true);
    expect(outcome.value.gate.poll(instant(2000))).toBe("healthy");
    expect((await commitTrial(device.sim.store, "b")).ok).toBe(true);
    const again = await device.sim.boot();
    expect(again.ok && again.value.slot).toBe("b");
    const normal = await resolveBoot(device.sim.store, { now: instant(0), confirmWithinMs: 60_000, checks: ["bindings"] });
    expect(normal.ok && normal.value.kind).toBe("normal");
  });

  test("an image that never confirms healthy is rolled back by the boot counter", async () => {
    device = await provisionedDevice();
    const activeBefore = fileSha256(device.sim.board.slots.a.device);
    expect((await install(device, v2)).result.ok).toBe(true);
    const boot = await device.sim.boot();
    expect(boot.ok && boot.value.slot).toBe("b");
    const clock = new VirtualClock();
    const outcome = await resolveBoot(device.sim.store, { now: clock.now(), confirmWithinMs: 120_000, checks: ["bindings", "broker"] });
    if (!outcome.ok || outcome.value.kind !== "trial") throw new Error("expected a trial boot");
    // the broker never answers
    outcome.value.gate.report("bindings", true);
    clock.advance(119_999);
    expect(outcome.value.gate.poll(clock.now())).toBe("pending");
    clock.advance(1);
    expect(outcome.value.gate.poll(clock.now())).toBe("timed-out");
    expect(outcome.value.gate.missing()).toEqual(["broker"]);
    expect((await rejectTrial(device.sim.store, "b")).ok).toBe(true);
    // reboot --> the bootloader skips B (no attempts left) and boots A
    const back = await device.sim.boot();
    expect(back.ok && back.value.slot).toBe("a");
    expect(back.ok && back.value.image.head.manifest.version).toBe("1.0.0");
    const rolled = await resolveBoot(device.sim.store, { now: clock.now(), confirmWithinMs: 1, checks: ["bindings"] });
    expect(rolled.ok && rolled.value).toEqual({ kind: "rolled-back", slot: "a", failedSlot: "b" });
    expect(fileSha256(device.sim.board.slots.a.device)).toBe(activeBefore);
    // and it stays on A afterwards
    const later = await device.sim.boot();
    expect(later.ok && later.value.slot).toBe("a");
  });

  test("a trial image that hangs stops feeding the watchdog; the reset falls back to the old slot", async () => {
    device = await provisionedDevice();
    expect((await install(device, v2)).result.ok).toBe(true);
    expect((await device.sim.boot()).ok).toBe(true);
    const clock = new VirtualClock();
    const watchdog = new SimWatchdog(clock, device.sim.board.watchdog.timeoutSeconds);
    const feeder = new WatchdogFeeder(device.sim.board.watchdog.timeoutSeconds);
    // the main loop runs for 20 s, then hangs (no more ticks)
    for (let t = 0; t < 20_000; t += 500) {
      clock.set(instant(t));
      if (feeder.tick(clock.now(), true)) watchdog.keepalive();
    }
    expect(watchdog.keepalives).toBeGreaterThan(3);
    expect(watchdog.expired(clock.now())).toBe(false);
    clock.advance(device.sim.board.watchdog.timeoutSeconds * 1000);
    expect(watchdog.expired(clock.now())).toBe(true);
    // watchdog reset --> power-on
    const back = await device.sim.boot();
    expect(back.ok && back.value.slot).toBe("a");
    const rolled = await resolveBoot(device.sim.store, { now: clock.now(), confirmWithinMs: 1, checks: ["bindings"] });
    expect(rolled.ok && rolled.value.kind).toBe("rolled-back");
  });

  test("a second install is refused while a slot is on trial", async () => {
    device = await provisionedDevice();
    expect((await install(device, v2)).result.ok).toBe(true);
    expect((await device.sim.boot()).ok).toBe(true);
    const { result } = await install(device, testImage({ version: "3.0.0", securityVersion: 3 }));
    expect(!result.ok && result.error.kind).toBe("busy");
  });
});

function flip(image: Uint8Array, at: number): Uint8Array {
  const copy = image.slice();
  copy[at]! ^= 0x01;
  return copy;
}

const signatureOffset = (parseImageHead(v2) as { value: { partsOffset: number } }).value.partsOffset - 64;
const refusals: { name: string; image: () => Uint8Array; kind: RefusalKind; message: RegExp; writesTarget: boolean; capacity?: number; freeBytes?: number }[] = [
  { name: "wrong signature", image: () => flip(v2, signatureOffset + 10), kind: "bad-signature", message: /signature does not verify/, writesTarget: false },
  { name: "wrong key", image: () => testImage({ version: "2.0.0", securityVersion: 2 }, otherKey), kind: "wrong-key", message: /not a trusted fleet key/, writesTarget: false },
  { name: "wrong board", image: () => testImage({ version: "2.0.0", compatible: ["rpi-cm4"] }), kind: "wrong-board", message: /for rpi-cm4, not for board 'simulated'/, writesTarget: false },
  { name: "downgrade below the security version", image: () => testImage({ version: "3.0.0", securityVersion: 0 }), kind: "downgrade", message: /security version 0 is below the installed security version 1/, writesTarget: false },
  { name: "truncated image", image: () => v2.subarray(0, v2.length - 100), kind: "bad-image", message: /truncated/, writesTarget: true },
  { name: "corrupt download", image: () => flip(v2, v2.length - 5000), kind: "digest-mismatch", message: /part 'binary' is corrupt/, writesTarget: true },
  { name: "image larger than the slot", image: () => v2, kind: "too-large", message: /target holds only 10000/, writesTarget: false, capacity: 10_000 },
  { name: "full disk (ENOSPC from the writer)", image: () => v2, kind: "no-space", message: /no space left/, writesTarget: true, freeBytes: 20_000 },
];

describe("refusals leave the active slot untouched and A bootable", () => {
  for (const r of refusals) {
    test(r.name, async () => {
      device = await provisionedDevice(undefined, r.capacity);
      const activeBefore = fileSha256(device.sim.board.slots.a.device);
      const targetBefore = statSync(device.sim.board.slots.b.device).mtimeMs;
      const { result, phases } = await install(device, r.image(), r.freeBytes ? { openSlot: SimSlots.limitedOpener(r.freeBytes) } : {});
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error.kind).toBe(r.kind);
      expect(formatRefusal(result.error)).toMatch(r.message);
      expect(phases.at(-1)).toBe("failed");
      expect(fileSha256(device.sim.board.slots.a.device)).toBe(activeBefore);
      if (!r.writesTarget) expect(statSync(device.sim.board.slots.b.device).mtimeMs).toBe(targetBefore);
      const state = await device.sim.store.read();
      expect(state.ok && state.value.order[0]).toBe("a");
      expect(state.ok && state.value.left.b).toBe(0);
      const boot = await device.sim.boot();
      expect(boot.ok && boot.value.slot).toBe("a");
      expect(boot.ok && boot.value.refused).toEqual([]);
    });
  }
});
