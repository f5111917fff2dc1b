// The simulated board's slots: two slot files, a boot-state file, and a simulated bootloader + launcher that verifies before booting.

import { mkdirSync, writeFileSync } from "node:fs";
import type { BoardDefinition, SlotName } from "../../board/api/board.ts";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { PublicKey } from "../sign/ed25519.ts";
import { verifyImageFile, type VerifiedImage } from "../verify/verify-image.ts";
import { formatRefusal } from "../verify/refusal.ts";
import { chooseBoot, encodeBootVariables, factoryBootState, markBad } from "./boot-state.ts";
import { FileBootStateStore } from "./file-boot-state.ts";
import { SlotWriter } from "./slot-writer.ts";
import type { OpenSlot } from "../install/installer.ts";

export interface SimBoot {
  readonly slot: SlotName;
  readonly image: VerifiedImage;
  /** Slots the bootloader chose but refused because their image did not verify (should stay empty). */
  readonly refused: readonly { readonly slot: SlotName; readonly reason: string }[];
}

export class SimSlots {
  readonly board: BoardDefinition;
  readonly store: FileBootStateStore;
  readonly #trusted: readonly PublicKey[];

  /** `board` must be a simulated board (file slots, file boot selection). */
  constructor(board: BoardDefinition, trusted: readonly PublicKey[]) {
    if (board.bootSelection.kind !== "file") throw new TypeError("simulated slots need a file boot selection");
    this.board = board;
    this.store = new FileBootStateStore(board.bootSelection.path);
    this.#trusted = trusted;
  }

  /** Factory state: `image` in slot A, slot B empty, booted from A. */
  provision(root: string, image: Uint8Array): void {
    mkdirSync(root, { recursive: true });
    writeFileSync(this.board.slots.a.device, image);
    writeFileSync(this.board.slots.b.device, new Uint8Array(0));
    const vars = { ...encodeBootVariables(factoryBootState()), BOOTED: "A" };
    writeFileSync(
      this.store.path,
      `${Object.entries(vars)
        .map(([k, v]) => `${k}=${v}`)
        .join("\n")}\n`,
    );
  }

  /**
   * One simulated power-on: the bootloader picks a slot by BOOT_ORDER / BOOT_x_LEFT and spends an attempt;
   * the launcher verifies the slot's image (signature and digests) and, if it does not verify, marks the
   * slot bad and lets the bootloader try the next. Fails only when no slot holds a verified image.
   */
  async boot(): Promise<Result<SimBoot, string>> {
    const refused: { slot: SlotName; reason: string }[] = [];
    const read = await this.store.read();
    if (!read.ok) return read;
    let state = read.value;
    for (;;) {
      const choice = chooseBoot(state);
      if (choice.slot === undefined) return err(`no bootable slot (refused: ${refused.map((r) => `${r.slot}: ${r.reason}`).join("; ") || "none"})`);
      const image = await verifyImageFile(this.board.slots[choice.slot].device, this.#trusted, { stopAtImageEnd: true });
      if (image.ok) {
        const recorded = await this.store.recordBoot(choice.slot, choice.next);
        if (!recorded.ok) return recorded;
        return ok({ slot: choice.slot, image: image.value, refused });
      }
      refused.push({ slot: choice.slot, reason: formatRefusal(image.error) });
      state = markBad(choice.next, choice.slot);
    }
  }

  /**
   * Slot opener for fault injection: writes fail with ENOSPC-like `no-space` once `freeBytes` are used,
   * as when the file system under the slot files is full.
   */
  static limitedOpener(freeBytes: number): OpenSlot {
    return (_slot, path, capacityBytes) => SlotWriter.open(path, { capacityBytes: Math.min(capacityBytes, freeBytes) });
  }
}
