// Atomic config store: temp + fsync + rename, last-known-good fallback, and kill -9 during writes never leaves half a config.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commitStoredConfig, configStorePaths, loadStoredConfig, writeFileAtomic } from "../../../firmware/config/store.ts";
import { configText } from "./atomic-config-text.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "monami-h7-store-"));
  dirs.push(d);
  return d;
}

const site = (text: string): string => (JSON.parse(text) as { device: { site: string } }).device.site;

describe("config store", () => {
  test("writeFileAtomic replaces the file and leaves no temp file", () => {
    const dir = tempDir();
    const path = join(dir, "config.json");
    writeFileAtomic(path, "one");
    writeFileAtomic(path, "two");
    expect(readFileSync(path, "utf8")).toBe("two");
    expect(readdirSync(dir)).toEqual(["config.json"]);
  });

  test("commit keeps the previous config as last-known-good; a broken active file falls back to it", () => {
    const dir = tempDir();
    const paths = configStorePaths(join(dir, "config.json"));
    expect(paths.lastGood).toBe(join(dir, "config.last-good.json"));
    commitStoredConfig(paths, configText(1));
    commitStoredConfig(paths, configText(2));
    expect(site(readFileSync(paths.lastGood, "utf8"))).toBe("v1");
    const loaded = loadStoredConfig(paths);
    expect(loaded.ok && loaded.value.source).toBe("active");
    expect(loaded.ok && loaded.value.config.device.site).toBe("v2");

    writeFileSync(paths.active, '{"device": {"id": "x"}, "uplinks": [');
    const fallback = loadStoredConfig(paths);
    expect(fallback.ok && fallback.value.source).toBe("last-good");
    expect(fallback.ok && fallback.value.config.device.site).toBe("v1");
    expect(fallback.ok && fallback.value.activeIssues?.length).toBeGreaterThan(0);

    rmSync(paths.lastGood);
    const none = loadStoredConfig(paths);
    expect(none.ok).toBe(false);
  });

  test("stale temp files from a crash are removed on load", () => {
    const dir = tempDir();
    const paths = configStorePaths(join(dir, "config.json"));
    commitStoredConfig(paths, configText(1));
    writeFileSync(`${paths.active}.tmp-99999`, "half");
    loadStoredConfig(paths);
    expect(existsSync(`${paths.active}.tmp-99999`)).toBe(false);
  });
});

/** Starts the writer child, lets it run a random while, kills it with SIGKILL; returns the last version it finished. */
async function killDuringWrites(path: string, mode: "atomic" | "naive", seed: number): Promise<number> {
  const child = Bun.spawn(["bun", join(import.meta.dir, "atomic-writer-child.ts"), path, mode], { stdout: "pipe", stderr: "inherit" });
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  while (!out.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  await Bun.sleep(5 + (seed % 7) * 9);
  child.kill("SIGKILL");
  await child.exited;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  const done = out.split("\n").filter((l) => /^\d+$/.test(l)).map(Number);
  return done.at(-1) ?? 1;
}

describe("power loss (kill -9) during config writes", () => {
  test("the stored config is always the old or the new one, never half (30 trials)", async () => {
    let trials = 0;
    let midWrite = 0;
    for (let i = 0; i < 30; i++) {
      const dir = tempDir();
      const paths = configStorePaths(join(dir, "config.json"));
      commitStoredConfig(paths, configText(1));
      const lastDone = await killDuringWrites(paths.active, "atomic", i);
      if (readdirSync(dir).some((f) => f.includes(".tmp-"))) midWrite++;
      const loaded = loadStoredConfig(paths);
      if (!loaded.ok) throw new Error(`trial ${i}: no valid config: ${JSON.stringify(loaded.error)}`);
      expect(loaded.value.source).toBe("active");
      const version = Number(loaded.value.config.device.site?.slice(1));
      // The last commit that returned, or the one in progress when the process died.
      expect(version === lastDone || version === lastDone + 1).toBe(true);
      expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
      trials++;
    }
    expect(trials).toBe(30);
    // Most kills land while a temp file is being written (the window that matters).
    console.log(`power-loss trials: 30, killed with a temp file half-written: ${midWrite}`);
    expect(midWrite).toBeGreaterThan(0);
  }, 60_000);

  test("control: the same harness catches torn files from an in-place writer", async () => {
    let torn = 0;
    for (let i = 0; i < 10; i++) {
      const dir = tempDir();
      const path = join(dir, "config.json");
      writeFileSync(path, configText(1));
      await killDuringWrites(path, "naive", i);
      if (!loadStoredConfig(configStorePaths(path)).ok) torn++;
    }
    expect(torn).toBeGreaterThan(0);
  }, 60_000);
});
