// `monami ota status | install | mark-good` on the simulated board, end to end through firmware/main.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { simulatedBoard } from "../../../board/boards/simulated.ts";
import { formatPublicKeyFile } from "../../../ota/sign/ed25519.ts";
import { SimSlots } from "../../../ota/slots/sim-slots.ts";
import { fleetKey, fleetPublic, otherKey, testImage } from "./fixtures.ts";

const main = resolve(import.meta.dir, "../../../firmware/main.ts");
const dir = mkdtempSync(join(tmpdir(), "monami-h10-otacli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function monami(...args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(["bun", main, ...args], { cwd: dir, env: { ...process.env, MONAMI_BOARD: "simulated", MONAMI_SIM_ROOT: dir } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("monami ota", () => {
  test("status, refused and accepted installs, mark-good", async () => {
    const slots = new SimSlots(simulatedBoard(dir), [fleetPublic]);
    slots.provision(dir, testImage({ version: "1.0.0", securityVersion: 3 }, fleetKey));
    expect((await slots.boot()).ok).toBe(true);
    writeFileSync(join(dir, "fleet.pub"), formatPublicKeyFile(fleetKey.publicKey));
    writeFileSync(join(dir, "v2.img"), testImage({ version: "2.0.0", securityVersion: 3 }, fleetKey, 50_000));
    writeFileSync(join(dir, "rogue.img"), testImage({ version: "6.6.6", securityVersion: 3 }, otherKey));
    writeFileSync(join(dir, "old.img"), testImage({ version: "0.9.0", securityVersion: 2 }, fleetKey));
    const state = ["--state-dir", join(dir, "ota")];

    const before = monami("ota", "status", ...state);
    expect(before.code).toBe(0);
    expect(before.out).toContain("booted from slot A");
    expect(before.out).toContain("slot A: 1.0.0 (security version 3)");
    expect(before.out).toContain("slot B: (no image)");
    expect(before.out).toContain("no job in progress");

    const rogue = monami("ota", "install", "rogue.img", "--pubkey", "fleet.pub");
    expect(rogue.code).toBe(1);
    expect(rogue.err).toContain("REFUSED");
    expect(rogue.err).toContain("not a trusted fleet key");
    const old = monami("ota", "install", "old.img", "--pubkey", "fleet.pub");
    expect(old.code).toBe(1);
    expect(old.err).toContain("security version 2 is below the installed security version 3");

    const installed = monami("ota", "install", "v2.img", "--pubkey", "fleet.pub");
    expect(installed.err).toBe("");
    expect(installed.code).toBe(0);
    expect(installed.out).toContain("into slot B");
    const busy = monami("ota", "install", "v2.img", "--pubkey", "fleet.pub");
    expect(busy.code).toBe(1);
    expect(busy.err).toContain("on trial");

    expect(monami("ota", "mark-good").code).toBe(1); // booted A is not the trial slot
    const trial = await slots.boot();
    expect(trial.ok && trial.value.slot).toBe("b");
    const json = JSON.parse(monami("ota", "status", ...state, "--json").out);
    expect(json.bootState.trial).toBe("b");
    expect(json.slots.b.version).toBe("2.0.0");

    const good = monami("ota", "mark-good");
    expect(good.code).toBe(0);
    expect(good.out).toContain("slot B marked good");
    const after = monami("ota", "status", ...state);
    expect(after.out).toContain("boot order B A, attempts left A=2 B=3"); // A spent one attempt at its last boot
    expect(after.out).not.toContain("ON TRIAL");
    expect(monami("ota").code).toBe(2);
  }, 30_000);
});
