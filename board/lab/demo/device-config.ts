// The router's device configuration for the demo: its own link selection (in-tunnel probes) and its fleet link to the lab broker.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MultiCoaMode } from "../../../firmware/config/schema.ts";
import { formatIssue, validateConfig } from "../../../firmware/config/validate.ts";
import { err, ok, type Result } from "../../../firmware/core/result.ts";
import type { Lab } from "../lab.ts";
import { LAB_HOME_ADDRESS } from "../role-daemons.ts";
import { type AccessLinkName, ACCESS_LINKS, ipv6Of } from "../topology.ts";
import type { Scenario } from "./scenarios.ts";

export const DEMO_DEVICE_ID = "demo-bus";

export interface DemoDevice {
  readonly path: string;
  /** Environment the router needs: the simulated board, rooted in the lab's work folder. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Writes `device.json` into the lab's work folder. Probes every second on each uplink, three losses of five
 * = down; the dwell time shrinks with the drive's speed so the sped-up drive meets the same hysteresis.
 * The fleet link goes to `brokerUrl` (through the tunnel: see `routeFleetThroughTunnel`).
 */
export function writeDemoDevice(lab: Lab, scenario: Scenario, mode: MultiCoaMode, speed: number, brokerUrl: string): Result<DemoDevice, string> {
  const t = lab.topology;
  const dir = lab.workDir;
  const state = join(dir, "device-state");
  mkdirSync(state, { recursive: true });
  const psk = join(dir, "ike.psk");
  writeFileSync(psk, `demo-${crypto.randomUUID()}\n`, { mode: 0o600 });
  const driver = (name: AccessLinkName) => {
    const iface = t.access[name].router.name;
    return scenario.uplinks[name].kind === "wifi" ? { kind: "wifi", interface: iface, ssid: "demo" } : { kind: "cellular", interface: iface, apn: "demo" };
  };
  const device = {
    device: { id: DEMO_DEVICE_ID, site: "monami demo lab" },
    uplinks: ACCESS_LINKS.map((name) => ({
      id: name,
      driver: driver(name),
      probeIntervalMs: 1000,
      probeTimeoutMs: 1000,
      ...(scenario.uplinks[name].kind === "cellular" ? { costPerMegabyte: 0.005 } : {}),
    })),
    selection: { minimumDwellMs: Math.max(2000, Math.round(20_000 / speed)), downCount: 3, upCount: 3, maxSwitchesPerWindow: 20, switchWindowSeconds: 300 },
    ipsec: { multiCoaMode: mode, auth: { method: "psk", psk: { ref: `file:${psk}` } } },
    mobility: { homeAddress: LAB_HOME_ADDRESS, homeAgent: ipv6Of(t.homeAgentHome), mobileNetworkPrefixes: [t.mobileNetworkPrefix] },
    mqtt: { url: brokerUrl, keepaliveSeconds: 10, reconnect: { initialDelayMs: 250, maxDelayMs: 2000 } },
    telemetry: { intervalSeconds: 5, metricsIntervalMs: 2000, outbox: { path: join(state, "outbox.db") } },
    ota: { image: { publicKeyFile: join(dir, "no-ota-key.pub") } },
  };
  const checked = validateConfig(device);
  if (!checked.ok) return err(checked.error.map(formatIssue).join("; "));
  const path = join(dir, "device.json");
  writeFileSync(path, JSON.stringify(device, null, 2));
  return ok({ path, env: { MONAMI_BOARD: "simulated", MONAMI_SIM_ROOT: join(dir, "sim-board") } });
}

/**
 * mr's own traffic to the broker goes through the tunnel, from its LAN address (in the mobile network prefix, so
 * the tunnel SA's selectors cover it). Before the router's tunnel exists, and after it is gone, a `prohibit` route
 * refuses it: nothing for the back-end may leave in clear on an uplink.
 */
export async function routeFleetThroughTunnel(lab: Lab, phase: "before-router" | "tunnel-up", tunnel = "mnr0"): Promise<void> {
  const t = lab.topology;
  const broker = `${ipv6Of(t.correspondent)}/128`;
  // The prohibit route stays (metric 2) under the tunnel route (metric 1): when the tunnel interface goes at
  // shutdown, what the router still sends to the back-end is refused, not sent in clear.
  const argv =
    phase === "before-router"
      ? ["ip", "-6", "route", "replace", "prohibit", broker, "metric", "2"]
      : ["ip", "-6", "route", "replace", broker, "dev", tunnel, "src", ipv6Of(t.mobileRouterLan), "metric", "1"];
  const r = await lab.exec("mr", argv);
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim()}`);
}
