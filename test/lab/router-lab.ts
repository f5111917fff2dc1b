// Lab harness for the router as a device: any `monami` command (bun + main.ts, or the compiled binary), an optional device config, always torn down.

import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createLab, type Lab, type LabProcess } from "../../board/lab/lab.ts";
import { ipv6Of } from "../../board/lab/topology.ts";
import { toHex } from "../../firmware/core/hex.ts";
import { queryRoleControl } from "../../firmware/roles/role-control.ts";
import { HOME_ADDRESS, LAB_KEYS } from "./dataplane-harness.ts";

export const MAIN = resolve(import.meta.dir, "../../firmware/main.ts");
export const bunExecutable = /(^|\/)bun[^/]*$/.test(process.execPath) ? process.execPath : "bun";

export interface RouterLab {
  readonly lab: Lab;
  readonly dir: string;
  readonly router: LabProcess;
  readonly homeAgent: LabProcess;
  readonly routerControl: string;
  readonly homeAgentAddress: string;
  readonly logs: string[];
  routerCommand(command: string): Promise<Record<string, unknown>>;
  homeAgentCommand(command: string): Promise<Record<string, unknown>>;
  /** Polls the router's `status` until `match` holds (or throws with the logs after `timeoutMs`). */
  waitForStatus(match: (s: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>>;
  destroy(): Promise<void>;
}

export interface RouterLabOptions {
  /** Lab tag (lower-case alphanumerics); the namespaces are `mnm-<tag>-<pid>-<random>-<node>`. */
  readonly tag: string;
  /** The program to run: `[bun, MAIN]` (default) or a compiled binary. */
  readonly monami?: readonly string[];
  /** Writes the device config (if any) into `dir` and returns its path; it is added to the router's config. */
  readonly device?: (lab: Lab, dir: string) => string;
  /** Environment for the router (e.g. MONAMI_BOARD), given the lab's scratch directory. */
  readonly routerEnv?: (dir: string) => Readonly<Record<string, string>>;
  /** Started in the router's namespace before the router (e.g. the MQTT relay); stopped at teardown. */
  readonly beforeRouter?: (lab: Lab, dir: string) => Promise<void>;
  readonly log?: (line: string) => void;
  /** How the SAs are keyed: the lab's static keys (default) or IKEv2 with a PSK (both daemons' `ike` sections). */
  readonly security?: "static" | "ikev2";
}

function keyRef(dir: string, name: string, bytes: Uint8Array): { ref: string } {
  const path = join(dir, `${name}.key`);
  writeFileSync(path, `${toHex(bytes)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { ref: `file:${path}` };
}

/** The lab (emulator on plain pass-through), the home agent and the router running, the router registered. */
export async function startRouterLab(o: RouterLabOptions): Promise<RouterLab> {
  const lab = await createLab({ tag: o.tag, profiles: { lte: "off", wifi: "off" } });
  const logs: string[] = [];
  const processes: LabProcess[] = [];
  try {
    const t = lab.topology;
    const dir = lab.workDir;
    mkdirSync(dir, { recursive: true });
    const homeAgentAddress = ipv6Of(t.homeAgentHome);
    const k = LAB_KEYS;
    const pair = (outbound: { spi: number; keymat: Uint8Array }, inbound: { spi: number; keymat: Uint8Array }, names: [string, string]) => ({
      suite: "aes128gcm16",
      outbound: { spi: outbound.spi, key: keyRef(dir, names[0], outbound.keymat) },
      inbound: { spi: inbound.spi, key: keyRef(dir, names[1], inbound.keymat) },
    });
    const routerControl = join(dir, "router.sock");
    const homeAgentControl = join(dir, "homeagent.sock");
    const device = o.device?.(lab, dir);
    const pskFile = join(dir, "ike.psk");
    if (o.security === "ikev2") writeFileSync(pskFile, `lab-psk-${crypto.randomUUID()}`, { mode: 0o600 });
    const ike = { auth: { method: "psk", psk: { ref: `file:${pskFile}` } } };
    const routerConfig = {
      role: "router",
      homeAddress: HOME_ADDRESS,
      homeAgent: homeAgentAddress,
      mobileNetworkPrefixes: [t.mobileNetworkPrefix],
      lan: { interface: t.mobileRouterLan.name, address: ipv6Of(t.mobileRouterLan) },
      tunnel: { interface: "mnr0" },
      uplinks: [
        { id: "lte", interface: t.access.lte.router.name, bindingId: 1, careOfAddress: ipv6Of(t.access.lte.router) },
        { id: "wifi", interface: t.access.wifi.router.name, bindingId: 2, careOfAddress: ipv6Of(t.access.wifi.router) },
      ],
      activeUplink: "lte",
      ...(o.security === "ikev2"
        ? { security: "ikev2", ike: { ...ike, remoteId: homeAgentAddress }, ipsec: { multiCoaMode: "primary" } }
        : {
            ipsec: {
              multiCoaMode: "primary",
              tunnel: pair(k.tunnelToHomeAgent, k.tunnelToRouter, ["mr-tunnel-out", "mr-tunnel-in"]),
              signalling: pair(k.signallingToHomeAgent, k.signallingToRouter, ["mr-mh-out", "mr-mh-in"]),
            },
          }),
      controlSocket: routerControl,
      ...(device ? { device } : {}),
    };
    const homeAgentConfig = {
      role: "homeagent",
      address: homeAgentAddress,
      uplink: { interface: t.coreHomeAgent.name },
      tunnel: { interface: "mnh0" },
      mobileRouters: [
        {
          homeAddress: HOME_ADDRESS,
          mobileNetworkPrefixes: [t.mobileNetworkPrefix],
          ...(o.security === "ikev2"
            ? { security: "ikev2", ike, ipsec: { multiCoaMode: "primary" } }
            : {
                ipsec: {
                  multiCoaMode: "primary",
                  tunnel: pair(k.tunnelToRouter, k.tunnelToHomeAgent, ["ha-tunnel-out", "ha-tunnel-in"]),
                  signalling: pair(k.signallingToRouter, k.signallingToHomeAgent, ["ha-mh-out", "ha-mh-in"]),
                },
              }),
        },
      ],
      controlSocket: homeAgentControl,
    };
    writeFileSync(join(dir, "router.json"), JSON.stringify(routerConfig, null, 2));
    writeFileSync(join(dir, "homeagent.json"), JSON.stringify(homeAgentConfig, null, 2));
    for (const name of ["lte", "wifi"] as const) {
      const a = t.access[name];
      await lab.exec("mr", ["ip", "-6", "route", "replace", "default", "via", ipv6Of(a.gateway), "dev", a.router.name, "metric", name === "lte" ? "2000" : "2001"]);
    }
    const monami = o.monami ?? [bunExecutable, MAIN];
    const start = async (node: "mr" | "ha", role: "router" | "homeagent", env: Readonly<Record<string, string>>): Promise<LabProcess> => {
      const envArgs = Object.entries(env).map(([key, value]) => `${key}=${value}`);
      const proc = lab.spawn(node, ["env", ...envArgs, ...monami, role, "run", join(dir, `${role}.json`)]);
      processes.push(proc);
      void readLines(proc.process.stderr, (line) => {
        logs.push(`${role}: ${line}`);
        o.log?.(`${role}: ${line}`);
      });
      await waitForLine(proc.process.stdout, "ready", 30_000, () => logs.join("\n"));
      return proc;
    };
    const homeAgent = await start("ha", "homeagent", {});
    await o.beforeRouter?.(lab, dir);
    const router = await start("mr", "router", o.routerEnv?.(dir) ?? {});
    const command = async (socket: string, text: string) => (await queryRoleControl(socket, text)) as Record<string, unknown>;
    const harness: RouterLab = {
      lab,
      dir,
      router,
      homeAgent,
      routerControl,
      homeAgentAddress,
      logs,
      routerCommand: (c) => command(routerControl, c),
      homeAgentCommand: (c) => command(homeAgentControl, c),
      async waitForStatus(match, timeoutMs, what) {
        const deadline = performance.now() + timeoutMs;
        for (;;) {
          const status = await command(routerControl, "status");
          if (match(status)) return status;
          if (performance.now() > deadline) throw new Error(`router: no ${what} within ${timeoutMs} ms: ${JSON.stringify(status).slice(0, 3000)}\n${logs.slice(-60).join("\n")}`);
          await Bun.sleep(100);
        }
      },
      async destroy() {
        await router.stop("SIGTERM", 5000).catch(() => 0);
        await homeAgent.stop("SIGTERM", 5000).catch(() => 0);
        await lab.destroy();
      },
    };
    // The home agent steers towards one of the router's care-of addresses: registered.
    const deadline = performance.now() + 15_000;
    for (;;) {
      const table = (await harness.homeAgentCommand("status")).table as { careOfAddresses: string[] }[];
      if (table.length > 0) break;
      if (performance.now() > deadline) throw new Error(`router never registered\n${logs.join("\n")}`);
      await Bun.sleep(50);
    }
    return harness;
  } catch (e) {
    for (const p of processes) await p.stop("SIGKILL", 1000).catch(() => 0);
    await lab.destroy();
    throw e instanceof Error ? new Error(`${e.message}\n${logs.join("\n")}`) : e;
  }
}

export async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const line of lines) if (line.trim() !== "") onLine(line);
  }
}

/** Reads `stream` until a line equal to `text`; keeps draining it afterwards so the child never blocks. */
export async function waitForLine(stream: ReadableStream<Uint8Array>, text: string, timeoutMs: number, context: () => string): Promise<void> {
  let found: () => void = () => {};
  const seen = new Promise<void>((resolve) => (found = resolve));
  void readLines(stream, (line) => {
    if (line.trim() === text) found();
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no '${text}' within ${timeoutMs} ms:\n${context()}`)), timeoutMs);
  });
  try {
    await Promise.race([seen, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
