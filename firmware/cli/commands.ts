// The table of `monami` subcommands. Each lives in its own module and is loaded only when run.

import type { Command } from "./command.ts";

export const commands: readonly Command[] = [
  { name: "lab", summary: "network-namespace lab: up, smoke, perf, down, sweep", load: () => import("./lab.ts") },
];
