#!/usr/bin/env bun
// monami: the single entry point of the firmware binary; dispatches to subcommands.

import { parseArgs } from "node:util";
import { ExitCode } from "./cli/command.ts";
import { commands } from "./cli/commands.ts";
import { buildId, version } from "./version.ts";

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "monami: NEMO mobile router and home agent with multiple care-of addresses and userspace IPsec",
    "",
    "usage: monami <command> [options]",
    "       monami <command> --help",
    "",
    "commands:",
    ...lines,
    "",
    "options:",
    "  -h, --help     show this help",
    "  -v, --version  print version and build id",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const name = argv[0];
  if (name === undefined || name.startsWith("-")) {
    const { values } = parseArgs({
      args: argv,
      options: { help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "v" } },
      strict: false,
    });
    if (values.version) {
      console.log(`monami ${version} (build ${buildId}, bun ${Bun.version}, ${process.platform}/${process.arch})`);
      return ExitCode.ok;
    }
    console.log(usage());
    return values.help ? ExitCode.ok : ExitCode.usage;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`monami: unknown command '${name}'\n\n${usage()}`);
    return ExitCode.usage;
  }
  const module = await command.load();
  return module.run(argv.slice(1));
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`monami: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(ExitCode.failure);
    },
  );
}
