// The registry of boards monami knows, and the start-up probe that reads the environment and the device tree.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { BoardDefinition, BoardProbe } from "../api/board.ts";
import { genericArm64Gateway } from "./generic-arm64-gateway.ts";
import { rpiCm4 } from "./rpi-cm4.ts";
import { defaultSimulatedRoot, simulatedBoard } from "./simulated.ts";

/** Every known board; the simulated one rooted at `MONAMI_SIM_ROOT` (or `./.monami-sim`). */
export function knownBoards(env: Record<string, string | undefined> = process.env): readonly BoardDefinition[] {
  return [genericArm64Gateway, rpiCm4, simulatedBoard(resolve(env["MONAMI_SIM_ROOT"] ?? defaultSimulatedRoot))];
}

/** Reads what `selectBoard` needs: `MONAMI_BOARD` and `/proc/device-tree/compatible` (absent on PCs). */
export function probeBoard(env: Record<string, string | undefined> = process.env, compatiblePath = "/proc/device-tree/compatible"): BoardProbe {
  let deviceTreeCompatible: string | undefined;
  try {
    deviceTreeCompatible = readFileSync(compatiblePath, "latin1");
  } catch {
    deviceTreeCompatible = undefined;
  }
  const override = env["MONAMI_BOARD"];
  return {
    ...(override !== undefined ? { override } : {}),
    ...(deviceTreeCompatible !== undefined ? { deviceTreeCompatible } : {}),
  };
}
