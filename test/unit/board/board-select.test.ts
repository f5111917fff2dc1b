// Board selection at start-up: override, device tree, and clear refusals for unknown boards.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatBoardSelectionError, selectBoard } from "../../../board/api/board.ts";
import { knownBoards, probeBoard } from "../../../board/boards/index.ts";

const boards = knownBoards({ MONAMI_SIM_ROOT: "/tmp/sim" });

describe("board selection", () => {
  test("every known board declares two slots, a watchdog, a LAN and at least one uplink", () => {
    expect(boards.map((b) => String(b.name))).toEqual(["generic-arm64-gateway", "rpi-cm4", "simulated"]);
    for (const b of boards) {
      expect(b.slots.a.device).not.toBe(b.slots.b.device);
      expect(b.uplinks.length).toBeGreaterThan(0);
      expect(b.watchdog.timeoutSeconds).toBeGreaterThan(0);
    }
    expect(boards[2]!.slots.a.device).toBe("/tmp/sim/slot-a.img");
  });

  test("the device tree's compatible list picks the board (most specific first)", () => {
    const cm4 = selectBoard(boards, { deviceTreeCompatible: "raspberrypi,4-compute-module\0brcm,bcm2711\0" });
    expect(cm4.ok && String(cm4.value.name)).toBe("rpi-cm4");
    const virt = selectBoard(boards, { deviceTreeCompatible: "linux,dummy-virt\0" });
    expect(virt.ok && String(virt.value.name)).toBe("generic-arm64-gateway");
  });

  test("an override wins over the device tree", () => {
    const r = selectBoard(boards, { override: "simulated", deviceTreeCompatible: "raspberrypi,4-compute-module\0" });
    expect(r.ok && String(r.value.name)).toBe("simulated");
  });

  test("unknown boards are refused with a message naming what was found and what is known", () => {
    const dt = selectBoard(boards, { deviceTreeCompatible: "acme,toaster\0acme,soc\0" });
    expect(dt.ok).toBe(false);
    if (!dt.ok) expect(formatBoardSelectionError(dt.error)).toBe("refusing to run on an unknown board: device-tree compatible is 'acme,toaster', 'acme,soc'; known boards: generic-arm64-gateway, rpi-cm4, simulated (set MONAMI_BOARD to override)");
    const o = selectBoard(boards, { override: "rpi-cm5" });
    expect(!o.ok && formatBoardSelectionError(o.error)).toContain("board 'rpi-cm5' (from MONAMI_BOARD or the config) is not a known board");
    const none = selectBoard(boards, {});
    expect(!none.ok && none.error.kind).toBe("no-device-tree");
  });

  test("probeBoard reads MONAMI_BOARD and the compatible file", () => {
    const dir = mkdtempSync(join(tmpdir(), "monami-h6-dt-"));
    try {
      writeFileSync(join(dir, "compatible"), "raspberrypi,4-compute-module\0brcm,bcm2711\0");
      expect(probeBoard({}, join(dir, "compatible"))).toEqual({ deviceTreeCompatible: "raspberrypi,4-compute-module\0brcm,bcm2711\0" });
      expect(probeBoard({ MONAMI_BOARD: "simulated" }, join(dir, "missing"))).toEqual({ override: "simulated" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
