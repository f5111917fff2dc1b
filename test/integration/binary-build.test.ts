// The compiled binaries: build both targets once per run, x64 prints its version natively, arm64 under qemu-aarch64-static; size and idle RSS.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { formatPublicKeyFile, generateSigningKey } from "../../ota/sign/ed25519.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { compile } from "../../scripts/build.ts";
import pkg from "../../package.json" with { type: "json" };

const QEMU = "/usr/bin/qemu-aarch64-static";
const ARM64_LIBS = "/usr/aarch64-linux-gnu";
const buildId = `itest-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "monami-h6-bin-"));
const x64 = join(dir, "monami-linux-x64");
const arm64 = join(dir, "monami-linux-arm64");

beforeAll(() => {
  compile("x64", x64, buildId, true);
  compile("arm64", arm64, buildId, true);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `argv` blocked on reading a FIFO (image inspect of a pipe nobody writes), samples VmRSS after it settles. */
async function idleRssKiB(argv: string[]): Promise<number> {
  const fifo = join(dir, `idle-${argv.length}.fifo`);
  execFileSync("mkfifo", [fifo]);
  const pub = join(dir, "idle.pub");
  writeFileSync(pub, formatPublicKeyFile(generateSigningKey().publicKey));
  const proc = Bun.spawn([...argv, "image", "inspect", fifo, "--pubkey", pub], { stdout: "ignore", stderr: "ignore" });
  try {
    await Bun.sleep(argv[0] === QEMU ? 3000 : 1000);
    const status = readFileSync(`/proc/${proc.pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  } finally {
    proc.kill("SIGKILL");
    await proc.exited;
    rmSync(fifo, { force: true });
  }
}

describe("compiled binaries", () => {
  test("x64: --version prints the package version and the embedded build id", async () => {
    const r = Bun.spawnSync([x64, "--version"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe(`monami ${pkg.version} (build ${buildId}, bun ${Bun.version}, linux/x64)\n`);
    const rss = await idleRssKiB([x64]);
    expect(rss).toBeGreaterThan(1000);
    console.log(`x64: ${(statSync(x64).size / 1048576).toFixed(1)} MiB, idle RSS ${(rss / 1024).toFixed(1)} MiB`);
  });

  test.skipIf(!existsSync(QEMU) || !existsSync(join(ARM64_LIBS, "lib", "ld-linux-aarch64.so.1")))(
    "arm64 under qemu-aarch64-static: --version reports linux/arm64 and the same build id",
    async () => {
      expect(readFileSync(arm64).subarray(18, 20)).toEqual(Buffer.from([0xb7, 0x00])); // ELF e_machine = EM_AARCH64
      const r = Bun.spawnSync([QEMU, "-L", ARM64_LIBS, arm64, "--version"]);
      expect(r.stderr.toString()).toBe("");
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toBe(`monami ${pkg.version} (build ${buildId}, bun ${Bun.version}, linux/arm64)\n`);
      const rss = await idleRssKiB([QEMU, "-L", ARM64_LIBS, arm64]);
      expect(rss).toBeGreaterThan(1000);
      console.log(`arm64 (qemu-user): ${(statSync(arm64).size / 1048576).toFixed(1)} MiB, idle RSS ${(rss / 1024).toFixed(1)} MiB (includes the emulator)`);
    },
    60_000,
  );

  test("an unknown subcommand in the compiled binary exits 2", () => {
    const r = Bun.spawnSync([x64, "no-such-command"]);
    expect(r.exitCode).toBe(2);
  });
});
