// A/B boot selection state and the bootloader's choice (RAUC's U-Boot scheme: BOOT_ORDER + BOOT_x_LEFT, plus a trial flag).

import { err, ok, type Result } from "../../firmware/core/result.ts";
import { otherSlot, slotNames, type SlotName } from "../../board/api/board.ts";

/** Boot attempts a good slot gets back each time it is confirmed (RAUC's default for BOOT_x_LEFT). */
export const DEFAULT_BOOT_ATTEMPTS = 3;

export interface BootState {
  /** Slots in the order the bootloader tries them. */
  readonly order: readonly SlotName[];
  /** Boot attempts left per slot; a slot at 0 is skipped. */
  readonly left: Readonly<Record<SlotName, number>>;
  /** The slot on trial after an install (SWUpdate's `upgrade_available`): it must confirm healthy or it is rolled back. */
  readonly trial: SlotName | undefined;
}

/** A factory-fresh device: slot `a` holds the image, `b` is empty. */
export function factoryBootState(): BootState {
  return { order: ["a", "b"], left: { a: DEFAULT_BOOT_ATTEMPTS, b: 0 }, trial: undefined };
}

export type BootChoice = { readonly slot: SlotName; readonly next: BootState } | { readonly slot: undefined; readonly next: BootState };

/** What the bootloader does: the first slot in order with attempts left is booted, and one attempt is spent. */
export function chooseBoot(state: BootState): BootChoice {
  for (const slot of state.order) {
    const left = state.left[slot];
    if (left > 0) return { slot, next: { ...state, left: { ...state.left, [slot]: left - 1 } } };
  }
  return { slot: undefined, next: state };
}

/** Before writing a slot: it must not be booted while half-written. */
export function markBad(state: BootState, slot: SlotName): BootState {
  return { ...state, left: { ...state.left, [slot]: 0 }, trial: state.trial === slot ? undefined : state.trial };
}

/** After a verified write: boot `slot` next, exactly once; the other slot stays as the fallback. */
export function markTryOnce(state: BootState, slot: SlotName): BootState {
  return { order: [slot, otherSlot(slot)], left: { ...state.left, [slot]: 1 }, trial: slot };
}

/** The booted slot is healthy: it goes first with its attempts restored, and any trial ends. */
export function markGood(state: BootState, slot: SlotName): BootState {
  return { order: [slot, otherSlot(slot)], left: { ...state.left, [slot]: DEFAULT_BOOT_ATTEMPTS }, trial: undefined };
}

export type BootKind =
  /** An ordinary boot of a committed slot. */
  | "normal"
  /** The first boot of a freshly installed slot: confirm healthy within the deadline or be rolled back. */
  | "trial"
  /** A trial slot failed to confirm and the bootloader fell back to this one. */
  | "rolled-back";

export function classifyBoot(state: BootState, booted: SlotName): BootKind {
  if (state.trial === undefined) return "normal";
  return state.trial === booted ? "trial" : "rolled-back";
}

/** Variable names as RAUC's U-Boot integration spells them, plus BOOT_TRIAL. */
export function encodeBootVariables(state: BootState): Record<string, string> {
  return {
    BOOT_ORDER: state.order.map((s) => s.toUpperCase()).join(" "),
    BOOT_A_LEFT: String(state.left.a),
    BOOT_B_LEFT: String(state.left.b),
    BOOT_TRIAL: state.trial?.toUpperCase() ?? "",
  };
}

export function decodeBootVariables(vars: Readonly<Record<string, string | undefined>>): Result<BootState, string> {
  const order = (vars["BOOT_ORDER"] ?? "").trim().split(/\s+/).map((s) => s.toLowerCase());
  if (order.length !== 2 || new Set(order).size !== 2 || !order.every((s): s is SlotName => (slotNames as readonly string[]).includes(s))) {
    return err(`BOOT_ORDER '${vars["BOOT_ORDER"] ?? ""}' is not a permutation of 'A B'`);
  }
  const left: Record<SlotName, number> = { a: 0, b: 0 };
  for (const slot of slotNames) {
    const text = vars[`BOOT_${slot.toUpperCase()}_LEFT`] ?? "";
    if (!/^\d{1,3}$/.test(text)) return err(`BOOT_${slot.toUpperCase()}_LEFT '${text}' is not a count`);
    left[slot] = Number(text);
  }
  const trialText = (vars["BOOT_TRIAL"] ?? "").trim().toLowerCase();
  if (trialText !== "" && trialText !== "a" && trialText !== "b") return err(`BOOT_TRIAL '${trialText}' is not a slot`);
  return ok({ order, left, trial: trialText === "" ? undefined : trialText });
}
