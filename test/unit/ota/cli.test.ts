// `monami image` and `monami flash` end to end: keys, build, inspect, flash with read-back, every refusal audited, nothing written.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pseudoRandomBytes } from "./fixtures.ts";

const main = resolve(import.meta.dir, "../../../firmware/main.ts");
const dir = mkdtempSync(join(tmpdir(), "monami-h6-cli-"));
const audit = join(dir, "audit.jsonl");

function monami(...args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(["bun", main, ...args], { cwd: dir, env: { ...process.env, USER: "tech-anna" } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function auditLines(): Record<string, unknown>[] {
  return existsSync(audit) ? readFileSync(audit, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : [];
}

beforeAll(() => {
  writeFileSync(join(dir, "binary"), pseudoRandomBytes(200_000, 42));
  expect(monami("image", "keygen", "--out", "keys").code).toBe(0);
  expect(monami("image", "keygen", "--out", "other", "--name", "rogue").code).toBe(0);
  const built = monami("image", "build", "--key", "keys/fleet.key", "--board", "simulated", "--binary", "binary", "--out", "sim.img", "--security-version", "4", "--build-id", "cli-test");
  expect(built.err).toBe("");
  expect(built.code).toBe(0);
  expect(monami("image", "build", "--key", "other/rogue.key", "--board", "simulated", "--binary", "binary", "--out", "rogue.img").code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("monami image", () => {
  test("keygen writes a 0600 secret key and refuses to overwrite it", () => {
    expect(statSync(join(dir, "keys/fleet.key")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "keys/fleet.pub"), "utf8")).toMatch(/^monami-ed25519-public-key\n[0-9a-f]{64}\n$/);
    const again = monami("image", "keygen", "--out", "keys");
    expect(again.code).toBe(1);
    expect(again.err).toContain("exists");
  });

  test("inspect prints the manifest and exits 0 only when signature and digests verify", () => {
    const ok = monami("image", "inspect", "sim.img", "--pubkey", "keys/fleet.pub");
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("security version: 4");
    expect(ok.out).toContain("build id:         cli-test");
    expect(ok.out).toMatch(/binary\s+200000 bytes\s+sha256 [0-9a-f]{64}\s+verified/);
    const json = JSON.parse(monami("image", "inspect", "sim.img", "--pubkey", "keys/fleet.pub", "--json").out);
    expect(json.manifest.compatible).toEqual(["simulated"]);
    const wrong = monami("image", "inspect", "rogue.img", "--pubkey", "keys/fleet.pub");
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("not a trusted fleet key");
    const bytes = readFileSync(join(dir, "sim.img"));
    bytes[bytes.length - 10_000]! ^= 0xff; // inside the binary part
    writeFileSync(join(dir, "corrupt.img"), bytes);
    const corrupt = monami("image", "inspect", "corrupt.img", "--pubkey", "keys/fleet.pub");
    expect(corrupt.code).toBe(1);
    expect(corrupt.err).toContain("part 'binary' is corrupt");
  });

  test("build refuses an unknown board and mixed architectures", () => {
    const unknown = monami("image", "build", "--key", "keys/fleet.key", "--board", "toaster", "--binary", "binary", "--out", "x.img");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("unknown board 'toaster'");
    const mixed = monami("image", "build", "--key", "keys/fleet.key", "--board", "simulated", "--board", "rpi-cm4", "--binary", "binary", "--out", "x.img");
    expect(mixed.code).toBe(1);
    expect(mixed.err).toContain("need different binaries");
    expect(existsSync(join(dir, "x.img"))).toBe(false);
  });
});

describe("monami flash", () => {
  test("flashes a file, reads back, and audits who/what/result", () => {
    const r = monami("flash", "sim.img", "--to", "card.img", "--pubkey", "keys/fleet.pub", "--board", "simulated", "--audit-log", audit);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/flash: 100% .* of .*, .*\/s, ETA 0:00/);
    expect(readFileSync(join(dir, "card.img")).equals(readFileSync(join(dir, "sim.img")))).toBe(true);
    const entry = auditLines().at(-1)!;
    expect(entry).toMatchObject({ technician: "tech-anna", result: "flashed", version: "0.1.0", securityVersion: 4, board: "simulated", target: "card.img" });
  });

  test("writes in place into an existing SD card image without truncating it", () => {
    writeFileSync(join(dir, "sd.img"), new Uint8Array(1024 * 1024).fill(0xaa));
    expect(monami("flash", "sim.img", "--to", "sd.img", "--pubkey", "keys/fleet.pub", "--board", "simulated", "--audit-log", audit).code).toBe(0);
    const sd = readFileSync(join(dir, "sd.img"));
    expect(sd.length).toBe(1024 * 1024);
    expect(sd[sd.length - 1]).toBe(0xaa);
  });

  const refusals: [string, string[], string][] = [
    ["wrong key", ["rogue.img", "--board", "simulated"], "not a trusted fleet key"],
    ["wrong board", ["sim.img", "--board", "rpi-cm4"], "image is for simulated, not for board 'rpi-cm4'"],
    ["unknown board", ["sim.img", "--board", "toaster"], "board 'toaster' (from --board) is not a known board"],
    ["corrupt image", ["corrupt.img", "--board", "simulated"], "part 'binary' is corrupt"],
    ["not an image", ["binary", "--board", "simulated"], "not a valid image: image: bad-magic"],
  ];
  for (const [name, args, message] of refusals) {
    test(`refuses (${name}) before writing anything, and audits the refusal`, () => {
      const target = join(dir, `never-${name.replace(/ /g, "-")}.img`);
      const r = monami("flash", ...args, "--to", target, "--pubkey", "keys/fleet.pub", "--audit-log", audit);
      expect(r.code).toBe(1);
      expect(r.err).toContain("REFUSED");
      expect(r.err).toContain(message);
      expect(existsSync(target)).toBe(false);
      expect(auditLines().at(-1)).toMatchObject({ result: "refused", target });
      expect(String(auditLines().at(-1)!["reason"])).toContain(message);
    });
  }

  test.skipIf(process.getuid?.() !== 0)("a full file system (real ENOSPC on a 64 KiB tmpfs) fails cleanly and is audited", () => {
    const mnt = join(dir, "tiny");
    mkdirSync(mnt);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", `monami-h6-${process.pid}`, mnt]);
    try {
      const r = monami("flash", "sim.img", "--to", join(mnt, "card.img"), "--pubkey", "keys/fleet.pub", "--board", "simulated", "--audit-log", audit);
      expect(r.code).toBe(1);
      expect(r.err).toContain("no space left on");
      expect(auditLines().at(-1)).toMatchObject({ result: "failed" });
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});
