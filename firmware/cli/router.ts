// `monami router run CONFIG | ctl SOCKET COMMAND`: the mobile router daemon and its control socket.

import { runRoleCli } from "../roles/role-cli.ts";
import { loadRoleConfig, RouterConfigSchema } from "../roles/role-config.ts";
import { startRouter } from "../roles/router.ts";

const USAGE = `usage: monami router run CONFIG [--loop worker|main-thread]
       monami router ctl SOCKET COMMAND...

run   start the mobile router from a JSON config (static ESP keys by secret reference): a TUN for the
      mobile network, ESP over raw sockets per uplink, BU/BA under ESP transport mode. Prints "ready"
      on stdout once traffic can flow; SIGTERM deregisters, closes every descriptor and undoes routes.
      With "device": "/path/device.json" in CONFIG the router runs as a fleet device (docs/router-device.md):
      board selection (MONAMI_BOARD or the device tree; unknown boards are refused), automatic uplink
      choice from in-tunnel probes, MQTT telemetry and remote config, OTA agent, hardware watchdog.
ctl   send one command to a running router: status, counters, lateness, uplink ID (switch the uplink by
      hand; refused while the device config's link policy chooses). \`monami status --socket SOCKET\`
      shows the same status for people.

options:
  --loop P    where the packet loop runs: worker (default, a Worker thread) or main-thread (for measuring)
  -h, --help  show this help`;

export function run(args: string[]): Promise<number> {
  return runRoleCli({ name: "router", usage: USAGE, load: (path) => loadRoleConfig(path, RouterConfigSchema), start: startRouter }, args);
}
