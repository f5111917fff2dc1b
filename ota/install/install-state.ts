// The install state machine (Mender-like): downloading → verifying → installing → rebooting → committed | rolled-back, or failed with a reason.

import { assertNever } from "../../firmware/core/result.ts";
import type { SlotName } from "../../board/api/board.ts";
import type { Manifest } from "../image/manifest.ts";
import type { Refusal } from "../verify/refusal.ts";

/**
 * The states a fleet link publishes (`downloading` … `failed`). `downloading` covers receiving the image
 * and streaming it into the inactive slot: the head's signature is checked before the first slot write,
 * so a refused image never touches a slot. `verifying` is the digest and read-back check of what was written.
 */
export type InstallState =
  | { readonly phase: "idle" }
  | { readonly phase: "downloading"; readonly received: number; readonly total: number | undefined; readonly version: string | undefined }
  | { readonly phase: "verifying"; readonly version: string; readonly slot: SlotName }
  | { readonly phase: "installing"; readonly version: string; readonly slot: SlotName }
  | { readonly phase: "rebooting"; readonly version: string; readonly slot: SlotName }
  | { readonly phase: "committed"; readonly version: string; readonly slot: SlotName }
  | { readonly phase: "rolled-back"; readonly version: string; readonly slot: SlotName; readonly reason: string }
  | { readonly phase: "failed"; readonly reason: Refusal };

export type InstallPhase = InstallState["phase"];

export type InstallEvent =
  | { readonly kind: "start"; readonly total: number | undefined }
  /** Bytes of the image received so far (resumable downloads report the running total). */
  | { readonly kind: "received"; readonly received: number }
  | { readonly kind: "head-verified"; readonly manifest: Manifest; readonly total: number }
  | { readonly kind: "written"; readonly slot: SlotName }
  | { readonly kind: "checked" }
  | { readonly kind: "marked" }
  | { readonly kind: "confirmed" }
  | { readonly kind: "rolled-back"; readonly reason: string }
  | { readonly kind: "refused"; readonly refusal: Refusal };

/** Thrown only for an event that cannot happen in a state: an installer bug, not bad input. */
export class InstallTransitionError extends Error {}

export function nextInstallState(state: InstallState, event: InstallEvent): InstallState {
  if (event.kind === "refused") {
    if (state.phase === "committed" || state.phase === "rolled-back" || state.phase === "failed") return illegal(state, event);
    return { phase: "failed", reason: event.refusal };
  }
  switch (state.phase) {
    case "idle":
    case "committed":
    case "rolled-back":
    case "failed":
      if (event.kind === "start") return { phase: "downloading", received: 0, total: event.total, version: undefined };
      return illegal(state, event);
    case "downloading":
      if (event.kind === "received") return { ...state, received: event.received };
      if (event.kind === "head-verified") return { ...state, total: event.total, version: event.manifest.version };
      if (event.kind === "written" && state.version !== undefined) return { phase: "verifying", version: state.version, slot: event.slot };
      return illegal(state, event);
    case "verifying":
      if (event.kind === "checked") return { phase: "installing", version: state.version, slot: state.slot };
      return illegal(state, event);
    case "installing":
      if (event.kind === "marked") return { phase: "rebooting", version: state.version, slot: state.slot };
      return illegal(state, event);
    case "rebooting":
      if (event.kind === "confirmed") return { phase: "committed", version: state.version, slot: state.slot };
      if (event.kind === "rolled-back") return { phase: "rolled-back", version: state.version, slot: state.slot, reason: event.reason };
      return illegal(state, event);
    default:
      return assertNever(state, "install state");
  }
}

function illegal(state: InstallState, event: InstallEvent): never {
  throw new InstallTransitionError(`install: event '${event.kind}' in phase '${state.phase}'`);
}
