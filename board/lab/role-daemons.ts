// Runs the real `monami router` and `monami homeagent` in the lab (mr and ha) from generated configs (IKEv2 with a lab PSK, or static lab keys); stops them always.

import { chmodSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { toHex } from "../../firmware/core/hex.ts";
import type { LoopPlacement } from "../../firmware/dataplane/dataplane-handle.ts";
import { queryRoleControl } from "../../firmware/roles/role-control.ts";
import type { Lab, LabProcess } from "./lab.ts";
import { type AccessLinkName, ACCESS_LINKS, ipv6Of } from "./topology.ts";

const MAIN = resolve(import.meta.dir, "../../firmware/main.ts");

/** Fixed lab keys (never used outside the lab): 16-octet AES-128 key ‖ 4-octet salt each (RFC 4106 §8.1). */
export const LAB_KEYS = {
  tunnelToHomeAgent: { spi: 0x1001, keymat: keymat(0x11) },
  tunnelToRouter: { spi: 0x2001, keymat: keymat(0x22) },
  signallingToHomeAgent: { spi: 0x1002, keymat: keymat(0x33) },
  signallingToRouter: { spi: 0x2002, keymat: keymat(0x44) },
} as const;

function keymat(seed: number): Uint8Array {
  return Uint8Array.from({ length: 20 }, (_, i) => (seed + i * 7) & 0xff);
}

/** The mobile router's home address on the home link (RFC 6275 §2). */
export const LAB_HOME_ADDRESS = "2001:db8:10::20";

/** The routing metric of each uplink's own default route in mr (lower = the kernel's choice for unbound sockets). */
const UPLINK_ROUTE_METRIC: Record<AccessLinkName, number> = { lte: 2000, wifi: 2001 };

export function bunExecutable(): string {
  return /(^|\/)bun[^/]*$/.test(process.execPath) ? process.execPath : "bun";
}

/** How to start monami: the compiled binary (`[dist/monami-linux-x64]`) or Bun with the sources (the default). */
export type MonamiCommand = readonly string[];
export const MONAMI_FROM_SOURCES: MonamiCommand = [bunExecutable(), MAIN];

export interface RoleDaemonOptions {
  /** How the SAs are keyed: static lab keys (default) or IKEv2 with a fresh lab PSK (RFC 4877). */
  readonly security?: "static" | "ikev2";
  readonly command?: MonamiCommand;
  readonly placement?: LoopPlacement;
  readonly batchSize?: number;
  /** Large segments across the tunnel interfaces (vnet header + TSO); default true. */
  readonly offload?: boolean;
  /** The uplink MTUs the router is told (its inner MTU per uplink follows). Default 1500 each. */
  readonly uplinkMtus?: Partial<Record<AccessLinkName, number>>;
  /** The uplink the router starts on. Default `lte`. */
  readonly activeUplink?: AccessLinkName;
  /** Last word on the router config before it is written (e.g. a multi-CoA mode); returns the config to use. */
  readonly routerConfig?: (config: Record<string, unknown>) => Record<string, unknown>;
  readonly homeAgentConfig?: (config: Record<string, unknown>) => Record<string, unknown>;
  /** Extra environment of the router (e.g. MONAMI_BOARD for a device config). */
  readonly routerEnv?: Readonly<Record<string, string>>;
  /** Each line both daemons write on stderr, prefixed with the role. */
  readonly log?: (line: string) => void;
  /** How long each daemon may take to print `ready`. Default 20 s. */
  readonly readyTimeoutMs?: number;
  /** Runs after the home agent is ready and before the router starts (e.g. a relay the router needs). */
  readonly beforeRouter?: () => Promise<void>;
  /**
   * What "registered" means before `startRoleDaemons` returns: a binding on the start uplink's care-of
   * address (default), or any binding at all (a router whose own link engine picks the uplink).
   */
  readonly registered?: "start-uplink" | "any";
}

export interface RoleDaemons {
  readonly router: LabProcess;
  readonly homeAgent: LabProcess;
  readonly routerControl: string;
  readonly homeAgentControl: string;
  readonly homeAgentAddress: string;
  readonly homeAddress: string;
  /** The configs as written (JSON objects, keys as file references). */
  readonly routerConfig: Record<string, unknown>;
  readonly homeAgentConfig: Record<string, unknown>;
  /** Everything both daemons wrote on stderr so far. */
  readonly logs: string[];
  routerCommand(command: string): Promise<Record<string, unknown>>;
  homeAgentCommand(command: string): Promise<Record<string, unknown>>;
  /** Waits until the home agent's binding table steers towards `careOfAddress`. */
  waitForBinding(careOfAddress: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM both (the router first, so it deregisters), SIGKILL after the grace time. Idempotent. */
  stop(): Promise<void>;
}

/** Writes a key file (mode 0600) holding hex, and returns its secret reference. */
function keyRef(dir: string, name: string, bytes: Uint8Array): { ref: string } {
  const path = join(dir, `${name}.key`);
  writeFileSync(path, `${toHex(bytes)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { ref: `file:${path}` };
}

/** Both daemons' configs for this lab: static ESP keys or an IKEv2 PSK by file reference, control sockets in the lab's work folder. */
export function roleDaemonConfigs(lab: Lab, options: RoleDaemonOptions = {}): { router: Record<string, unknown>; homeAgent: Record<string, unknown> } {
  const t = lab.topology;
  const dir = lab.workDir;
  const loop = { placement: options.placement ?? "worker", batchSize: options.batchSize ?? 64, offload: options.offload ?? true };
  const k = LAB_KEYS;
  const pair = (outbound: { spi: number; keymat: Uint8Array }, inbound: { spi: number; keymat: Uint8Array }, names: [string, string]) => ({
    suite: "aes128gcm16",
    outbound: { spi: outbound.spi, key: keyRef(dir, names[0], outbound.keymat) },
    inbound: { spi: inbound.spi, key: keyRef(dir, names[1], inbound.keymat) },
  });
  const ikev2 = options.security === "ikev2";
  // IKEv2: one PSK both ends read (never used outside the lab); the IDs are the defaults (router: home address, RFC 4877 §4.1).
  const psk = join(dir, "ike.psk");
  if (ikev2) {
    writeFileSync(psk, `lab-${toHex(crypto.getRandomValues(new Uint8Array(16)))}\n`, { mode: 0o600 });
    chmodSync(psk, 0o600);
  }
  const ike = { auth: { method: "psk", psk: { ref: `file:${psk}` } } };
  const router: Record<string, unknown> = {
    role: "router",
    homeAddress: LAB_HOME_ADDRESS,
    homeAgent: ipv6Of(t.homeAgentHome),
    mobileNetworkPrefixes: [t.mobileNetworkPrefix],
    lan: { interface: t.mobileRouterLan.name, address: ipv6Of(t.mobileRouterLan) },
    tunnel: { interface: "mnr0" },
    uplinks: ACCESS_LINKS.map((name, i) => ({
      id: name,
      interface: t.access[name].router.name,
      bindingId: i + 1,
      careOfAddress: ipv6Of(t.access[name].router),
      mtu: options.uplinkMtus?.[name] ?? 1500,
    })),
    activeUplink: options.activeUplink ?? "lte",
    ...(ikev2
      ? { security: "ikev2", ike: { ...ike, remoteId: ipv6Of(t.homeAgentHome) }, ipsec: {} }
      : {
          ipsec: {
            tunnel: pair(k.tunnelToHomeAgent, k.tunnelToRouter, ["mr-tunnel-out", "mr-tunnel-in"]),
            signalling: pair(k.signallingToHomeAgent, k.signallingToRouter, ["mr-mh-out", "mr-mh-in"]),
          },
        }),
    controlSocket: join(dir, "router.sock"),
    loop,
  };
  const homeAgent: Record<string, unknown> = {
    role: "homeagent",
    address: ipv6Of(t.homeAgentHome),
    uplink: { interface: t.coreHomeAgent.name },
    tunnel: { interface: "mnh0" },
    mobileRouters: [
      {
        homeAddress: LAB_HOME_ADDRESS,
        mobileNetworkPrefixes: [t.mobileNetworkPrefix],
        ...(ikev2
          ? { security: "ikev2", ike, ipsec: {} }
          : {
              ipsec: {
                tunnel: pair(k.tunnelToRouter, k.tunnelToHomeAgent, ["ha-tunnel-out", "ha-tunnel-in"]),
                signalling: pair(k.signallingToRouter, k.signallingToHomeAgent, ["ha-mh-out", "ha-mh-in"]),
              },
            }),
      },
    ],
    controlSocket: join(dir, "homeagent.sock"),
    loop,
  };
  return {
    router: options.routerConfig ? options.routerConfig(router) : router,
    homeAgent: options.homeAgentConfig ? options.homeAgentConfig(homeAgent) : homeAgent,
  };
}

/**
 * Gives each uplink of mr its own default route (so a socket pinned to it with SO_BINDTODEVICE can leave there).
 * Call again after a carrier cut is restored: losing the carrier flushes the route.
 */
export async function installUplinkRoutes(lab: Lab, only?: AccessLinkName): Promise<void> {
  for (const name of ACCESS_LINKS) {
    if (only !== undefined && name !== only) continue;
    const a = lab.topology.access[name];
    await lab.exec("mr", ["ip", "-6", "route", "replace", "default", "via", ipv6Of(a.gateway), "dev", a.router.name, "metric", String(UPLINK_ROUTE_METRIC[name])]);
  }
}

/** Starts the home agent in ha, then the router in mr, and waits for the first binding on the router's start uplink. */
export async function startRoleDaemons(lab: Lab, options: RoleDaemonOptions = {}): Promise<RoleDaemons> {
  const dir = lab.workDir;
  const command = options.command ?? MONAMI_FROM_SOURCES;
  const logs: string[] = [];
  const log = options.log ?? (() => {});
  const configs = roleDaemonConfigs(lab, options);
  writeFileSync(join(dir, "router.json"), JSON.stringify(configs.router, null, 2));
  writeFileSync(join(dir, "homeagent.json"), JSON.stringify(configs.homeAgent, null, 2));
  await installUplinkRoutes(lab);
  const started: LabProcess[] = [];
  const start = async (node: "mr" | "ha", role: "router" | "homeagent", config: string, env: Readonly<Record<string, string>> = {}): Promise<LabProcess> => {
    const envArgs = Object.entries(env).map(([key, value]) => `${key}=${value}`);
    const proc = lab.spawn(node, [...(envArgs.length > 0 ? ["env", ...envArgs] : []), ...command, role, "run", join(dir, config)]);
    started.push(proc);
    void drainLines(proc.process.stderr, (line) => {
      logs.push(`${role}: ${line}`);
      log(`${role}: ${line}`);
    });
    await waitForLine(proc.process.stdout, "ready", options.readyTimeoutMs ?? 20_000, () => logs.join("\n"));
    return proc;
  };
  const routerControl = String(configs.router.controlSocket);
  const homeAgentControl = String(configs.homeAgent.controlSocket);
  const query = async (socket: string, text: string) => (await queryRoleControl(socket, text)) as Record<string, unknown>;
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    // The router first, so it deregisters while the home agent still answers.
    for (const p of [...started].reverse()) await p.stop("SIGTERM", 5000).catch(() => 0);
  };
  try {
    const homeAgent = await start("ha", "homeagent", "homeagent.json");
    await options.beforeRouter?.();
    const router = await start("mr", "router", "router.json", options.routerEnv);
    const daemons: RoleDaemons = {
      router,
      homeAgent,
      routerControl,
      homeAgentControl,
      homeAgentAddress: ipv6Of(lab.topology.homeAgentHome),
      homeAddress: LAB_HOME_ADDRESS,
      routerConfig: configs.router,
      homeAgentConfig: configs.homeAgent,
      logs,
      routerCommand: (c) => query(routerControl, c),
      homeAgentCommand: (c) => query(homeAgentControl, c),
      async waitForBinding(careOfAddress, timeoutMs = 10_000) {
        const deadline = performance.now() + timeoutMs;
        for (;;) {
          const status = await query(homeAgentControl, "status");
          const table = (status.table ?? []) as { careOfAddresses?: string[] }[];
          if (table.some((b) => b.careOfAddresses?.includes(careOfAddress))) return;
          if (performance.now() > deadline) throw new Error(`no binding to ${careOfAddress}: ${JSON.stringify(status)}\n${logs.join("\n")}`);
          await Bun.sleep(50);
        }
      },
      stop: stopAll,
    };
    if (options.registered === "any") await waitForAnyBinding(() => query(homeAgentControl, "status"), 15_000, () => logs.join("\n"));
    else await daemons.waitForBinding(ipv6Of(lab.topology.access[options.activeUplink ?? "lte"].router));
    return daemons;
  } catch (e) {
    await stopAll();
    throw e instanceof Error ? new Error(`${e.message}\n${logs.join("\n")}`) : e;
  }
}

/** Polls the home agent's `status` until its binding table holds any router. */
async function waitForAnyBinding(status: () => Promise<Record<string, unknown>>, timeoutMs: number, context: () => string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const table = ((await status()).table ?? []) as unknown[];
    if (table.length > 0) return;
    if (performance.now() > deadline) throw new Error(`the router never registered within ${timeoutMs} ms\n${context()}`);
    await Bun.sleep(50);
  }
}

/** Calls `onLine` for each non-empty line of `stream` until it ends. */
export async function drainLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const line of lines) if (line.trim() !== "") onLine(line);
  }
  if (rest.trim() !== "") onLine(rest);
}

/** Reads `stream` until a line equal to `text`; keeps draining it afterwards so the child never blocks. */
export async function waitForLine(stream: ReadableStream<Uint8Array>, text: string, timeoutMs: number, context: () => string): Promise<void> {
  let found: () => void = () => {};
  let ended: () => void = () => {};
  const seen = new Promise<void>((resolve) => (found = resolve));
  const closed = new Promise<never>((_, reject) => (ended = () => reject(new Error(`process ended before '${text}':\n${context()}`))));
  void drainLines(stream, (line) => {
    if (line.trim() === text) found();
  }).then(() => ended());
  closed.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no '${text}' within ${timeoutMs} ms:\n${context()}`)), timeoutMs);
  });
  try {
    await Promise.race([seen, timeout, closed]);
  } finally {
    clearTimeout(timer);
  }
}
