// `monami homeagent run CONFIG | ctl SOCKET COMMAND`: the home agent daemon and its control socket.

import { startHomeAgent } from "../roles/homeagent.ts";
import { runRoleCli } from "../roles/role-cli.ts";
import { HomeAgentConfigSchema, loadRoleConfig } from "../roles/role-config.ts";

const USAGE = `usage: monami homeagent run CONFIG [--loop worker|main-thread]
       monami homeagent ctl SOCKET COMMAND...

run   start the home agent from a JSON config: ESP from mobile routers is decrypted, then its outer
      source checked against the binding cache; the binding cache picks the care-of address towards
      each router. Prints "ready" once running; SIGTERM closes every descriptor and undoes routes.
ctl   send one command to a running home agent: status, counters.

options:
  --loop P    where the packet loop runs: worker (default) or main-thread
  -h, --help  show this help`;

export function run(args: string[]): Promise<number> {
  return runRoleCli({ name: "homeagent", usage: USAGE, load: (path) => loadRoleConfig(path, HomeAgentConfigSchema), start: startHomeAgent }, args);
}
