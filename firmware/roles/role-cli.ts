// The shared command line of `monami router` and `monami homeagent`: run a daemon from a config file, or query a running one.

import { parseArgs } from "node:util";
import { ExitCode } from "../cli/command.ts";
import type { LoopPlacement } from "../dataplane/dataplane-handle.ts";
import { type Daemon, runUntilSignalled } from "./daemon.ts";
import { queryRoleControl } from "./role-control.ts";

export interface RoleCli<C> {
  readonly name: "router" | "homeagent";
  readonly usage: string;
  load(path: string): { ok: true; value: C } | { ok: false; error: string };
  start(config: C, options: { log: (line: string) => void; placement?: LoopPlacement }): Promise<Daemon>;
}

export async function runRoleCli<C>(cli: RoleCli<C>, args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { help: { type: "boolean", short: "h" }, loop: { type: "string" } } });
  } catch (e) {
    console.error(`monami ${cli.name}: ${(e as Error).message}\n${cli.usage}`);
    return ExitCode.usage;
  }
  const [verb, ...rest] = parsed.positionals;
  if (parsed.values.help || verb === undefined) {
    console.log(cli.usage);
    return parsed.values.help ? ExitCode.ok : ExitCode.usage;
  }
  const log = (line: string) => console.error(`[${cli.name}] ${line}`);
  if (verb === "run") {
    const path = rest[0];
    if (path === undefined) {
      console.error(`monami ${cli.name} run: missing CONFIG\n${cli.usage}`);
      return ExitCode.usage;
    }
    const placement = parsed.values.loop;
    if (placement !== undefined && placement !== "worker" && placement !== "main-thread") {
      console.error(`monami ${cli.name}: --loop must be worker or main-thread`);
      return ExitCode.usage;
    }
    const config = cli.load(path);
    if (!config.ok) {
      console.error(config.error);
      return ExitCode.failure;
    }
    let daemon: Daemon;
    try {
      daemon = await cli.start(config.value, { log, ...(placement ? { placement } : {}) });
    } catch (e) {
      log(`cannot start: ${e instanceof Error ? e.message : String(e)}`);
      return ExitCode.failure;
    }
    console.log("ready");
    return runUntilSignalled(daemon, log);
  }
  if (verb === "ctl") {
    const [socket, ...command] = rest;
    if (socket === undefined || command.length === 0) {
      console.error(`monami ${cli.name} ctl: needs SOCKET and a COMMAND\n${cli.usage}`);
      return ExitCode.usage;
    }
    try {
      const reply = await queryRoleControl(socket, command.join(" "));
      console.log(JSON.stringify(reply, null, 2));
      return typeof reply === "object" && reply !== null && "error" in reply ? ExitCode.failure : ExitCode.ok;
    } catch (e) {
      console.error(`monami ${cli.name} ctl: ${e instanceof Error ? e.message : String(e)}`);
      return ExitCode.failure;
    }
  }
  console.error(`monami ${cli.name}: unknown verb '${verb}'\n${cli.usage}`);
  return ExitCode.usage;
}
