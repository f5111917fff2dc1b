// A/B installer (RAUC's order): verify the head before writing, stream parts into the inactive slot while hashing, read back, mark try-once.

import { createHash } from "node:crypto";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import { otherSlot, type BoardDefinition, type SlotName } from "../../board/api/board.ts";
import { ImageDecoder, type ImageHead } from "../image/container.ts";
import type { PublicKey } from "../sign/ed25519.ts";
import { markBad, markTryOnce, type BootState } from "../slots/boot-state.ts";
import type { BootStateStore } from "../slots/boot-state-store.ts";
import { hashPrefix, SlotWriter } from "../slots/slot-writer.ts";
import { PartDigests } from "../verify/part-digests.ts";
import type { Refusal } from "../verify/refusal.ts";
import { verifyHead } from "../verify/verify-head.ts";
import { readImageHead } from "../verify/verify-image.ts";
import { nextInstallState, type InstallEvent, type InstallState } from "./install-state.ts";

export type OpenSlot = (slot: SlotName, path: string, capacityBytes: number) => Promise<Result<SlotWriter, Refusal>>;

export interface InstallContext {
  readonly board: BoardDefinition;
  readonly store: BootStateStore;
  readonly trusted: readonly PublicKey[];
  /** Expected image length, for progress (e.g. from an update job); undefined if unknown. */
  readonly expectedLength?: number;
  /** Opens the target slot for writing; defaults to `SlotWriter.open` with the board's capacity. */
  readonly openSlot?: OpenSlot;
  /** Each state change, for logs, LEDs and (later) the fleet link. */
  readonly onState?: (state: InstallState) => void;
}

export interface InstallSummary {
  readonly slot: SlotName;
  readonly head: ImageHead;
  readonly imageSha256: string;
  readonly bootState: BootState;
}

/**
 * Installs the image arriving on `source` into the slot not booted, and marks it to be tried once.
 * The active slot is never opened for writing. On any refusal the target slot is left marked bad
 * (attempts 0) if writing had begun, so the bootloader never picks a half-written slot.
 * The caller reboots after success; the new slot must then confirm healthy (see boot-cycle.ts).
 */
export async function installImage(source: AsyncIterable<Uint8Array>, context: InstallContext): Promise<Result<InstallSummary, Refusal>> {
  let state: InstallState = { phase: "idle" };
  const step = (event: InstallEvent): void => {
    state = nextInstallState(state, event);
    context.onState?.(state);
  };
  const refuse = (refusal: Refusal): Result<never, Refusal> => {
    step({ kind: "refused", refusal });
    return err(refusal);
  };

  step({ kind: "start", total: context.expectedLength });
  const current = await context.store.read();
  if (!current.ok) return refuse({ kind: "io-error", target: context.store.describe, detail: current.error });
  if (current.value.trial !== undefined) {
    return refuse({ kind: "busy", detail: `slot ${current.value.trial.toUpperCase()} is on trial; it must confirm healthy or roll back first` });
  }
  const booted = await context.store.bootedSlot();
  const active: SlotName = booted.ok ? booted.value : current.value.order[0]!;
  const target = otherSlot(active);
  const targetSlot = context.board.slots[target];
  const installedSecurityVersion = await securityVersionOf(context.board.slots[active].device);

  const decoder = new ImageDecoder();
  const whole = createHash("sha256");
  let digests: PartDigests | undefined;
  let writer: SlotWriter | undefined;
  let received = 0;
  try {
    for await (const chunk of source) {
      received += chunk.length;
      step({ kind: "received", received });
      const before = decoder.consumed;
      const events = decoder.push(chunk);
      if (!events.ok) return refuse({ kind: "bad-image", error: events.error });
      for (const event of events.value) {
        if (event.kind === "head") {
          const verified = verifyHead(event.head, context.trusted, { board: context.board.name, installedSecurityVersion });
          if (!verified.ok) return refuse(verified.error);
          if (event.head.imageLength > targetSlot.capacityBytes) {
            return refuse({ kind: "too-large", imageLength: event.head.imageLength, capacity: targetSlot.capacityBytes });
          }
          step({ kind: "head-verified", manifest: event.head.manifest, total: event.head.imageLength });
          // RAUC marks the target bad before touching it: a crash mid-write can never boot it.
          const marked = await context.store.write(markBad(current.value, target));
          if (!marked.ok) return refuse({ kind: "io-error", target: context.store.describe, detail: marked.error });
          const opened = await (context.openSlot ?? defaultOpenSlot)(target, targetSlot.device, targetSlot.capacityBytes);
          if (!opened.ok) return refuse(opened.error);
          writer = opened.value;
          digests = new PartDigests(event.head);
          const wroteHead = await writer.write(event.head.raw);
          if (!wroteHead.ok) return refuse(wroteHead.error);
          continue;
        }
        if (!writer || !digests) return refuse({ kind: "bad-signature" });
        const checked = digests.handle(event);
        if (!checked.ok) return refuse(checked.error);
        if (event.kind === "part-data") {
          const wrote = await writer.write(event.bytes);
          if (!wrote.ok) return refuse(wrote.error);
        }
      }
      whole.update(chunk.subarray(0, decoder.consumed - before));
    }
    const done = decoder.finish();
    if (!done.ok) return refuse({ kind: "bad-image", error: done.error });
    if (!writer) return refuse({ kind: "bad-signature" });
    const synced = await writer.sync();
    if (!synced.ok) return refuse(synced.error);
    await writer.close();
    step({ kind: "written", slot: target });

    const imageSha256 = whole.digest("hex");
    const readBack = await hashPrefix(targetSlot.device, done.value.imageLength);
    if (!readBack.ok) return refuse(readBack.error);
    if (readBack.value !== imageSha256) return refuse({ kind: "readback-mismatch", target: targetSlot.device, expected: imageSha256, actual: readBack.value });
    step({ kind: "checked" });

    const latest = await context.store.read();
    if (!latest.ok) return refuse({ kind: "io-error", target: context.store.describe, detail: latest.error });
    const bootState = markTryOnce(latest.value, target);
    const marked = await context.store.write(bootState);
    if (!marked.ok) return refuse({ kind: "io-error", target: context.store.describe, detail: marked.error });
    step({ kind: "marked" });
    return ok({ slot: target, head: done.value, imageSha256, bootState });
  } finally {
    await writer?.close();
  }
}

const defaultOpenSlot: OpenSlot = (_slot, path, capacityBytes) => SlotWriter.open(path, { capacityBytes });

/** The installed security version: that of the image in the active slot, 0 when it holds none (factory state). */
async function securityVersionOf(device: string): Promise<number> {
  const head = await readImageHead(device);
  return head.ok ? head.value.manifest.securityVersion : 0;
}
