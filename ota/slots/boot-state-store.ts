// BootStateStore: where a board keeps its A/B boot state (U-Boot environment, a file, the simulated board).

import type { Result } from "../../firmware/core/result.ts";
import type { SlotName } from "../../board/api/board.ts";
import type { BootState } from "./boot-state.ts";

export interface BootStateStore {
  /** A human-readable description for messages (`U-Boot env (/etc/fw_env.config)`). */
  readonly describe: string;
  read(): Promise<Result<BootState, string>>;
  /** Replaces the whole state atomically: after a crash either the old or the new state is read. */
  write(state: BootState): Promise<Result<void, string>>;
  /** The slot the running system was booted from, as the bootloader or launcher recorded it. */
  bootedSlot(): Promise<Result<SlotName, string>>;
}
