// Boot state in a plain file (`NAME=value` lines), replaced atomically: write a temp file, fsync, rename, fsync the directory.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { SlotName } from "../../board/api/board.ts";
import { decodeBootVariables, encodeBootVariables, type BootState } from "./boot-state.ts";
import type { BootStateStore } from "./boot-state-store.ts";

export class FileBootStateStore implements BootStateStore {
  readonly path: string;
  readonly describe: string;

  constructor(path: string) {
    this.path = path;
    this.describe = `boot-state file ${path}`;
  }

  async read(): Promise<Result<BootState, string>> {
    const vars = this.#readVariables();
    if (!vars.ok) return vars;
    const state = decodeBootVariables(vars.value);
    return state.ok ? state : err(`${this.path}: ${state.error}`);
  }

  async write(state: BootState): Promise<Result<void, string>> {
    const vars = this.#readVariables();
    const booted = vars.ok ? vars.value["BOOTED"] : undefined;
    return this.#replace({ ...encodeBootVariables(state), ...(booted ? { BOOTED: booted } : {}) });
  }

  /** What a launcher or the simulated bootloader records at boot: the chosen slot and the spent attempt. */
  async recordBoot(slot: SlotName, next: BootState): Promise<Result<void, string>> {
    return this.#replace({ ...encodeBootVariables(next), BOOTED: slot.toUpperCase() });
  }

  async bootedSlot(): Promise<Result<SlotName, string>> {
    const vars = this.#readVariables();
    if (!vars.ok) return vars;
    const booted = (vars.value["BOOTED"] ?? "").toLowerCase();
    return booted === "a" || booted === "b" ? ok(booted) : err(`${this.path}: no BOOTED slot recorded`);
  }

  #readVariables(): Result<Record<string, string>, string> {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      return err(`${this.path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const vars: Record<string, string> = {};
    for (const line of text.split("\n")) {
      const at = line.indexOf("=");
      if (at > 0) vars[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return ok(vars);
  }

  #replace(vars: Record<string, string>): Result<void, string> {
    const text = `${Object.entries(vars)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n")}\n`;
    const temp = `${this.path}.tmp-${process.pid}`;
    try {
      const fd = openSync(temp, "w", 0o644);
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, this.path);
      const dir = openSync(dirname(this.path), "r");
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
      return ok(undefined);
    } catch (error) {
      return err(`${this.path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
