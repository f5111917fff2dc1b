// The fleet back-end of the demo: a Mosquitto broker in the correspondent's namespace and a `mosquitto_sub -t 'monami/#'` view.
//
// The broker sits behind the home agent (cn), where a fleet back-end would be, so a router reaches it
// through its tunnel. The subscriber is the fleet engineer's view: every message under `monami/` as it arrives.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab, LabProcess } from "../lab.ts";
import { drainLines } from "../role-daemons.ts";
import { ipv6Of } from "../topology.ts";

export const FLEET_TOPIC_FILTER = "monami/#";

export interface FleetMessage {
  /** ms since the demo started (receive time at the subscriber). */
  readonly tMs: number;
  readonly topic: string;
  readonly payload: string;
}

export interface FleetBroker {
  readonly host: string;
  readonly port: number;
  /** `mqtt://[address]:port`, as a router's fleet settings name it. */
  readonly url: string;
  readonly messages: FleetMessage[];
  stop(): Promise<void>;
}

export function fleetToolsAvailable(): boolean {
  return Bun.which("mosquitto") !== null && Bun.which("mosquitto_sub") !== null;
}

/**
 * Starts Mosquitto in cn on the correspondent's address (anonymous, no persistence: a lab broker) and a subscriber
 * to `monami/#`. `onMessage` sees each message; all of them stay in `messages` for the report.
 */
export async function startFleetBroker(lab: Lab, elapsedMs: () => number, onMessage: (m: FleetMessage) => void, port = 1883): Promise<FleetBroker> {
  const host = ipv6Of(lab.topology.correspondent);
  const config = join(lab.workDir, "mosquitto.conf");
  // Mosquitto drops to its own user when started as root: the config must be readable by it (the work dir is 0755).
  writeFileSync(config, [`listener ${port} ${host}`, "allow_anonymous true", "persistence false", "log_dest stderr", "log_type error", "log_type warning", ""].join("\n"), { mode: 0o644 });
  const processes: LabProcess[] = [];
  const stop = async () => {
    for (const p of processes.reverse()) await p.stop("SIGTERM", 2000).catch(() => 0);
  };
  try {
    const broker = lab.spawn("cn", ["mosquitto", "-c", config]);
    processes.push(broker);
    void drainLines(broker.process.stdout, () => {});
    const brokerLog: string[] = [];
    void drainLines(broker.process.stderr, (l) => brokerLog.push(l));
    await waitForListener(lab, host, port, 5000, () => brokerLog.join("\n"));
    const messages: FleetMessage[] = [];
    // -v: "topic payload" per line; payloads are JSON or short words, one line each.
    const sub = lab.spawn("cn", ["mosquitto_sub", "-h", host, "-p", String(port), "-t", FLEET_TOPIC_FILTER, "-v", "-q", "1"]);
    processes.push(sub);
    void drainLines(sub.process.stderr, () => {});
    void drainLines(sub.process.stdout, (line) => {
      const cut = line.indexOf(" ");
      const m: FleetMessage = { tMs: elapsedMs(), topic: cut < 0 ? line : line.slice(0, cut), payload: cut < 0 ? "" : line.slice(cut + 1) };
      messages.push(m);
      onMessage(m);
    });
    return { host, port, url: `mqtt://[${host}]:${port}`, messages, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Waits until something accepts TCP connections on host:port inside cn. */
async function waitForListener(lab: Lab, host: string, port: number, timeoutMs: number, context: () => string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  while (performance.now() < deadline) {
    const r = await lab.exec("cn", ["cat", "/proc/net/tcp6"]);
    // State 0A = LISTEN (include/net/tcp_states.h).
    if (r.stdout.split("\n").some((l) => l.includes(`:${hex} `) && / 0A /.test(l))) return;
    await Bun.sleep(50);
  }
  throw new Error(`mosquitto did not listen on [${host}]:${port} within ${timeoutMs} ms: ${context()}`);
}
