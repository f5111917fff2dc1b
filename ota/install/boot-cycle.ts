// What the firmware does with the boot state at start-up: keep a normal boot, gate a trial boot, report a rollback.

import type { Instant } from "../../firmware/core/instant.ts";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { SlotName } from "../../board/api/board.ts";
import { classifyBoot, markBad, markGood } from "../slots/boot-state.ts";
import type { BootStateStore } from "../slots/boot-state-store.ts";
import { HealthGate, type HealthCheck } from "./health-gate.ts";

export type BootOutcome =
  | { readonly kind: "normal"; readonly slot: SlotName }
  /** Confirm with `commitTrial` once `gate` says healthy, or `rejectTrial` and reboot when it times out. */
  | { readonly kind: "trial"; readonly slot: SlotName; readonly gate: HealthGate }
  /** The trial slot never confirmed; this (old) slot is running again and has been made primary. */
  | { readonly kind: "rolled-back"; readonly slot: SlotName; readonly failedSlot: SlotName };

export interface BootCycleOptions {
  readonly now: Instant;
  /** How long a trial boot has to pass every check. */
  readonly confirmWithinMs: number;
  readonly checks: readonly HealthCheck[];
}

export async function resolveBoot(store: BootStateStore, options: BootCycleOptions): Promise<Result<BootOutcome, string>> {
  const state = await store.read();
  if (!state.ok) return state;
  const booted = await store.bootedSlot();
  if (!booted.ok) return booted;
  const slot = booted.value;
  const kind = classifyBoot(state.value, slot);
  switch (kind) {
    case "trial":
      return ok({ kind, slot, gate: new HealthGate(options.checks, (options.now + options.confirmWithinMs) as Instant) });
    case "normal":
    case "rolled-back": {
      const failedSlot = state.value.trial;
      const written = await store.write(markGood(state.value, slot));
      if (!written.ok) return written;
      if (kind === "normal" || failedSlot === undefined) return ok({ kind: "normal", slot });
      return ok({ kind: "rolled-back", slot, failedSlot });
    }
  }
}

/** The trial slot passed its health checks: it becomes the primary slot (RAUC `mark-good`). */
export async function commitTrial(store: BootStateStore, slot: SlotName): Promise<Result<void, string>> {
  const state = await store.read();
  if (!state.ok) return state;
  if (state.value.trial !== slot) return err(`slot ${slot.toUpperCase()} is not on trial`);
  return store.write(markGood(state.value, slot));
}

/** The trial slot failed its health checks: it gets no more attempts (RAUC `mark-bad`); the caller reboots. */
export async function rejectTrial(store: BootStateStore, slot: SlotName): Promise<Result<void, string>> {
  const state = await store.read();
  if (!state.ok) return state;
  return store.write({ ...markBad(state.value, slot), trial: slot });
}
