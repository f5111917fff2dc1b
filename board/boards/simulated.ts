// Board: the simulated board of tests and the demo: simulated links and modem, file-backed slots and boot state.

import { join } from "node:path";
import { boardName, type BoardDefinition } from "../api/board.ts";

const MiB = 1024 * 1024;

/** The simulated board's slot and state files live under `root` (`MONAMI_SIM_ROOT`, default `./.monami-sim`). */
export function simulatedBoard(root: string, slotCapacityBytes = 512 * MiB): BoardDefinition {
  return {
    name: boardName("simulated"),
    description: "Simulated board: virtual-time links, scripted modem, file-backed A/B slots, simulated watchdog and LEDs",
    arch: process.arch === "arm64" ? "arm64" : "x64",
    deviceTreeCompatible: [],
    uplinks: [
      { interface: "sim-lte0", kind: "simulated", driver: "sim", modem: { protocol: "simulated", device: "sim-modem0" } },
      { interface: "sim-wifi0", kind: "simulated", driver: "sim" },
    ],
    lan: { interface: "sim-lan0", driver: "sim" },
    leds: [
      { role: "status", path: "sim:status" },
      { role: "uplink", path: "sim:uplink" },
      { role: "ota", path: "sim:ota" },
      { role: "fault", path: "sim:fault" },
    ],
    watchdog: { device: "sim", timeoutSeconds: 10 },
    slots: {
      a: { device: join(root, "slot-a.img"), capacityBytes: slotCapacityBytes },
      b: { device: join(root, "slot-b.img"), capacityBytes: slotCapacityBytes },
    },
    bootSelection: { kind: "file", path: join(root, "boot-state") },
    capabilities: [],
  };
}

export const defaultSimulatedRoot = ".monami-sim";
