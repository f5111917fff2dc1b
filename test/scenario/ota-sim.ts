// Scenario helpers for OTA on the simulated board: a temp board root, factory provisioning, chunked sources.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { simulatedBoard } from "../../board/boards/simulated.ts";
import { SimSlots } from "../../ota/slots/sim-slots.ts";
import { resolveBoot } from "../../ota/install/boot-cycle.ts";
import { instant } from "../../firmware/core/instant.ts";
import { fleetPublic, testImage } from "../unit/ota/fixtures.ts";

export interface SimDevice {
  readonly root: string;
  readonly sim: SimSlots;
  cleanup(): void;
}

/** A simulated board under a fresh temp dir, provisioned with `factory` in slot A and booted once. */
export async function provisionedDevice(factory: Uint8Array = testImage({ version: "1.0.0", securityVersion: 1 }), capacity?: number): Promise<SimDevice> {
  const root = mkdtempSync(join(tmpdir(), "monami-h6-ota-"));
  const sim = new SimSlots(simulatedBoard(root, capacity), [fleetPublic]);
  sim.provision(root, factory);
  const booted = await sim.boot();
  if (!booted.ok) throw new Error(booted.error);
  const outcome = await resolveBoot(sim.store, { now: instant(0), confirmWithinMs: 1000, checks: ["bindings"] });
  if (!outcome.ok || outcome.value.kind !== "normal") throw new Error("factory boot was not normal");
  return { root, sim, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export async function* chunksOf(bytes: Uint8Array, size = 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

export function fileSha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}
