// Boot state in the U-Boot environment through libubootenv's fw_printenv / fw_setenv (the variables RAUC's U-Boot script uses).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { SlotName } from "../../board/api/board.ts";
import { decodeBootVariables, encodeBootVariables, type BootState } from "./boot-state.ts";
import type { BootStateStore } from "./boot-state-store.ts";

export interface CommandOutput {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program (no shell). Injected so tests can stand in for fw_printenv/fw_setenv. */
export type CommandRunner = (argv: readonly string[]) => Promise<CommandOutput>;

export const spawnRunner: CommandRunner = async (argv) => {
  const child = Bun.spawn([...argv], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { exitCode, stdout, stderr };
};

export interface UbootEnvOptions {
  /** fw_env.config describing where the environment lives. */
  readonly configFile: string;
  readonly run?: CommandRunner;
  readonly fwPrintenv?: string;
  readonly fwSetenv?: string;
  /** Source of the kernel command line, which carries `rauc.slot=A` or `monami.slot=A` from the U-Boot script. */
  readonly readCmdline?: () => string;
}

export class UbootEnvStore implements BootStateStore {
  readonly describe: string;
  readonly #options: UbootEnvOptions;
  readonly #run: CommandRunner;

  constructor(options: UbootEnvOptions) {
    this.#options = options;
    this.#run = options.run ?? spawnRunner;
    this.describe = `U-Boot environment (${options.configFile})`;
  }

  async read(): Promise<Result<BootState, string>> {
    const out = await this.#run([this.#options.fwPrintenv ?? "fw_printenv", "-c", this.#options.configFile]);
    if (out.exitCode !== 0) return err(`fw_printenv failed (exit ${out.exitCode}): ${out.stderr.trim()}`);
    const vars: Record<string, string> = {};
    for (const line of out.stdout.split("\n")) {
      const at = line.indexOf("=");
      if (at > 0) vars[line.slice(0, at)] = line.slice(at + 1);
    }
    const state = decodeBootVariables(vars);
    return state.ok ? state : err(`U-Boot environment: ${state.error}`);
  }

  /** One `fw_setenv -s` script, so all variables change in one environment write (libubootenv keeps a redundant copy). */
  async write(state: BootState): Promise<Result<void, string>> {
    const script = Object.entries(encodeBootVariables(state))
      .map(([name, value]) => (value === "" ? name : `${name} ${value}`))
      .join("\n");
    const dir = mkdtempSync(join(tmpdir(), "monami-fwenv-"));
    try {
      const file = join(dir, "script");
      writeFileSync(file, `${script}\n`);
      const out = await this.#run([this.#options.fwSetenv ?? "fw_setenv", "-c", this.#options.configFile, "-s", file]);
      return out.exitCode === 0 ? ok(undefined) : err(`fw_setenv failed (exit ${out.exitCode}): ${out.stderr.trim()}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async bootedSlot(): Promise<Result<SlotName, string>> {
    const cmdline = (this.#options.readCmdline ?? (() => readFileSync("/proc/cmdline", "utf8")))();
    const match = /(?:^|\s)(?:rauc|monami)\.slot=([AaBb])(?:\s|$)/.exec(cmdline);
    return match ? ok(match[1]!.toLowerCase() as SlotName) : err("kernel command line has no rauc.slot= or monami.slot= (U-Boot script must pass it)");
  }
}
