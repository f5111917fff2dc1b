// The stored configuration: atomic writes (temp file, fsync, rename, fsync dir) and a last-known-good copy.

import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { err, ok, type Result } from "../core/result.ts";
import type { DeviceConfig } from "./schema.ts";
import { parseConfigText, type ConfigIssue } from "./validate.ts";

/** Bytes per write() call; small enough that an interrupted write really leaves a partial temp file. */
const WRITE_CHUNK_BYTES = 4096;

/**
 * Replaces `path` with `data` so that after a crash or power cut at any instant the file holds either the
 * old bytes or the new ones, never a mix: write a temp file in the same directory, fsync it, rename it over
 * `path` (atomic on POSIX file systems), then fsync the directory so the rename itself is durable.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o640): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, "w", mode);
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, Math.min(WRITE_CHUNK_BYTES, bytes.length - at));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  const dirFd = openSync(dirname(path), "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Removes temp files a crash left behind next to `path` (they never replaced it, so they are garbage). */
export function removeStaleTemporaries(path: string): number {
  const dir = dirname(path);
  const prefix = `${basename(path)}.tmp-`;
  let removed = 0;
  if (!existsSync(dir)) return 0;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    try {
      unlinkSync(join(dir, name));
      removed++;
    } catch {
      // already gone
    }
  }
  return removed;
}

export interface ConfigStorePaths {
  /** The running configuration; the file the first boot reads. */
  readonly active: string;
  /** The configuration that was active before the last commit. */
  readonly lastGood: string;
}

export function configStorePaths(active: string): ConfigStorePaths {
  const base = active.endsWith(".json") ? active.slice(0, -5) : active;
  return { active, lastGood: `${base}.last-good.json` };
}

export interface LoadedConfig {
  readonly config: DeviceConfig;
  readonly text: string;
  /** Which file it came from: `last-good` only when the active file is missing or invalid. */
  readonly source: "active" | "last-good";
  /** Why the active file was not used, when `source` is `last-good`. */
  readonly activeIssues?: readonly ConfigIssue[];
}

function readAndParse(path: string): Result<{ config: DeviceConfig; text: string }, ConfigIssue[]> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return err([{ kind: "missing-field", path: "(document)", message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }]);
  }
  const parsed = parseConfigText(text);
  return parsed.ok ? ok({ config: parsed.value, text }) : parsed;
}

/** Loads the active config, falling back to the last-known-good copy when the active one is unusable. */
export function loadStoredConfig(paths: ConfigStorePaths): Result<LoadedConfig, { active: ConfigIssue[]; lastGood: ConfigIssue[] }> {
  removeStaleTemporaries(paths.active);
  removeStaleTemporaries(paths.lastGood);
  const active = readAndParse(paths.active);
  if (active.ok) return ok({ ...active.value, source: "active" });
  const lastGood = readAndParse(paths.lastGood);
  if (lastGood.ok) return ok({ ...lastGood.value, source: "last-good", activeIssues: active.error });
  return err({ active: active.error, lastGood: lastGood.error });
}

/**
 * Makes `text` the active config: the current active file first becomes the last-known-good copy, then the
 * new text replaces the active file. Both steps are atomic, so every crash point leaves a valid pair.
 */
export function commitStoredConfig(paths: ConfigStorePaths, text: string): void {
  if (existsSync(paths.active)) {
    const current = readFileSync(paths.active);
    if (parseConfigText(current.toString("utf8")).ok) writeFileAtomic(paths.lastGood, current);
  }
  writeFileAtomic(paths.active, text);
}
