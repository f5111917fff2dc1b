// BoardDefinition: what the firmware needs to know about the hardware it runs on, and start-up board selection.

import { err, ok, type Result } from "../../firmware/core/result.ts";

/** A board's registry name (`rpi-cm4`); the `compatible` list of an OTA manifest holds these. */
export type BoardName = string & { readonly __brand: "BoardName" };

export function boardName(name: string): BoardName {
  return name as BoardName;
}

export type UplinkKind = "lte" | "5g" | "wifi" | "ethernet" | "simulated";

/** How the firmware talks to a cellular modem (the control path, not the data interface). */
export interface ModemControl {
  readonly protocol: "qmi" | "mbim" | "at" | "simulated";
  /** Character device or socket of the control channel, e.g. `/dev/cdc-wdm0` or `/dev/ttyUSB2`. */
  readonly device: string;
}

export interface UplinkInterface {
  /** Kernel interface name (`wwan0`), or the simulated link's name. */
  readonly interface: string;
  readonly kind: UplinkKind;
  /** Kernel driver bound to the interface (`qmi_wwan`, `brcmfmac`, `sim`). */
  readonly driver: string;
  readonly modem?: ModemControl;
}

export interface LanInterface {
  readonly interface: string;
  readonly driver: string;
}

export type LedRole = "status" | "uplink" | "ota" | "fault";

export interface LedDefinition {
  readonly role: LedRole;
  /** sysfs LED directory (`/sys/class/leds/<name>`) or a simulated LED name. */
  readonly path: string;
}

export interface WatchdogDefinition {
  /** `/dev/watchdog0`-style device, or `sim` on the simulated board. */
  readonly device: string;
  /** The timeout the board's kernel/driver is configured with; the feeder pets at a third of it. */
  readonly timeoutSeconds: number;
}

export type SlotName = "a" | "b";
export const slotNames: readonly SlotName[] = ["a", "b"];

export function otherSlot(slot: SlotName): SlotName {
  return slot === "a" ? "b" : "a";
}

/** Where each A/B slot's bytes live: a block device (`/dev/mmcblk0p5`) or, simulated, a file. */
export interface SlotDefinition {
  readonly device: string;
  /** Upper bound on an image's length in this slot, in bytes. */
  readonly capacityBytes: number;
}

/** Who chooses the slot to boot, and where its boot counters live. */
export type BootSelection =
  | {
      /** U-Boot environment via libubootenv's `fw_printenv`/`fw_setenv` (RAUC's BOOT_ORDER / BOOT_x_LEFT variables). */
      readonly kind: "uboot-env";
      readonly configFile: string;
    }
  | {
      /** A small state file replaced atomically (write, fsync, rename), read by the launcher at boot. */
      readonly kind: "file";
      readonly path: string;
    };

export interface BoardDefinition {
  readonly name: BoardName;
  readonly description: string;
  /** CPU architecture of the board's binary, as in `dist/monami-linux-<arch>`. */
  readonly arch: "arm64" | "x64";
  /** Device-tree `compatible` strings that identify this board (any one matches); empty for boards chosen only by override. */
  readonly deviceTreeCompatible: readonly string[];
  readonly uplinks: readonly UplinkInterface[];
  readonly lan: LanInterface;
  readonly leds: readonly LedDefinition[];
  readonly watchdog: WatchdogDefinition;
  readonly slots: { readonly a: SlotDefinition; readonly b: SlotDefinition };
  readonly bootSelection: BootSelection;
  /** Capabilities the firmware needs instead of full root (see ota/install-units/). */
  readonly capabilities: readonly string[];
}

/** Where the start-up selection looks; the runtime fills it from the environment and the file system. */
export interface BoardProbe {
  /** Explicit choice (`MONAMI_BOARD` or the config's `board`); wins over the device tree. */
  readonly override?: string;
  /** Raw `/proc/device-tree/compatible`: NUL-separated strings, most specific first; undefined when absent. */
  readonly deviceTreeCompatible?: string;
}

export type BoardSelectionError =
  | { readonly kind: "unknown-override"; readonly name: string; readonly known: readonly string[] }
  | { readonly kind: "unknown-device-tree"; readonly compatible: readonly string[]; readonly known: readonly string[] }
  | { readonly kind: "no-device-tree"; readonly known: readonly string[] };

/**
 * Picks the board the firmware runs on: the override if given (it must name a known board),
 * else the first device-tree compatible string that a known board claims. Never guesses.
 */
export function selectBoard(known: readonly BoardDefinition[], probe: BoardProbe): Result<BoardDefinition, BoardSelectionError> {
  const names = known.map((b) => b.name as string);
  if (probe.override !== undefined && probe.override !== "") {
    const board = known.find((b) => b.name === probe.override);
    return board ? ok(board) : err({ kind: "unknown-override", name: probe.override, known: names });
  }
  if (probe.deviceTreeCompatible === undefined) return err({ kind: "no-device-tree", known: names });
  const compatible = probe.deviceTreeCompatible.split("\0").filter((s) => s.length > 0);
  for (const entry of compatible) {
    const board = known.find((b) => b.deviceTreeCompatible.includes(entry));
    if (board) return ok(board);
  }
  return err({ kind: "unknown-device-tree", compatible, known: names });
}

export function formatBoardSelectionError(error: BoardSelectionError): string {
  const known = `known boards: ${error.known.join(", ")}`;
  switch (error.kind) {
    case "unknown-override":
      return `refusing to run: board '${error.name}' (from MONAMI_BOARD or the config) is not a known board; ${known}`;
    case "unknown-device-tree":
      return `refusing to run on an unknown board: device-tree compatible is '${error.compatible.join("', '")}'; ${known} (set MONAMI_BOARD to override)`;
    case "no-device-tree":
      return `refusing to run: no /proc/device-tree/compatible to identify the board and no MONAMI_BOARD override; ${known}`;
  }
}
