// Lab harness for the data plane: keys and configs for `monami router` / `monami homeagent`, started in mr and ha, torn down always.

import { chmodSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createLab, type Lab, type LabOptions, type LabProcess } from "../../board/lab/lab.ts";
import { ipv6Of } from "../../board/lab/topology.ts";
import { toHex } from "../../firmware/core/hex.ts";
import type { LoopPlacement } from "../../firmware/dataplane/dataplane-handle.ts";
import { queryRoleControl } from "../../firmware/roles/role-control.ts";

const MAIN = resolve(import.meta.dir, "../../firmware/main.ts");

// The lab keys and home address are the ones the demo's daemons use (board/lab/role-daemons.ts).
import { LAB_HOME_ADDRESS as HOME_ADDRESS, LAB_KEYS } from "../../board/lab/role-daemons.ts";
export { HOME_ADDRESS, LAB_KEYS };

export interface DataplaneLab {
  readonly lab: Lab;
  readonly router: LabProcess;
  readonly homeAgent: LabProcess;
  readonly routerControl: string;
  readonly homeAgentControl: string;
  readonly homeAgentAddress: string;
  /** Everything both daemons wrote on stderr so far. */
  readonly logs: string[];
  routerCommand(command: string): Promise<Record<string, unknown>>;
  homeAgentCommand(command: string): Promise<Record<string, unknown>>;
  /** Waits until the home agent's binding table steers towards `careOfAddress`. */
  waitForBinding(careOfAddress: string, timeoutMs?: number): Promise<void>;
  destroy(): Promise<void>;
}

export interface DataplaneLabOptions {
  readonly tag: string;
  readonly placement?: LoopPlacement;
  readonly batchSize?: number;
  /** Large segments across the tunnel interfaces (vnet header + TSO); default true. */
  readonly offload?: boolean;
  /** The uplink MTUs the router is told (its inner MTU per uplink follows). Default 1500 each. */
  readonly uplinkMtus?: { readonly lte?: number; readonly wifi?: number };
  readonly labOptions?: LabOptions;
  readonly log?: (line: string) => void;
}

function bunExecutable(): string {
  return /(^|\/)bun[^/]*$/.test(process.execPath) ? process.execPath : "bun";
}

/** Writes a key file (mode 0600) holding hex, and returns its secret reference. */
function keyRef(dir: string, name: string, bytes: Uint8Array): { ref: string } {
  const path = join(dir, `${name}.key`);
  writeFileSync(path, `${toHex(bytes)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { ref: `file:${path}` };
}

/** The lab with both daemons running and the router registered over LTE (emulation off: plain veth). */
export async function startDataplaneLab(options: DataplaneLabOptions): Promise<DataplaneLab> {
  const lab = await createLab({ tag: options.tag, profiles: { lte: "off", wifi: "off" }, ...options.labOptions });
  const logs: string[] = [];
  const log = options.log ?? (() => {});
  try {
    const t = lab.topology;
    const dir = lab.workDir;
    const homeAgentAddress = ipv6Of(t.homeAgentHome);
    const loop = { placement: options.placement ?? "worker", batchSize: options.batchSize ?? 64, offload: options.offload ?? true };
    const k = LAB_KEYS;
    const pair = (outbound: { spi: number; keymat: Uint8Array }, inbound: { spi: number; keymat: Uint8Array }, names: [string, string]) => ({
      suite: "aes128gcm16",
      outbound: { spi: outbound.spi, key: keyRef(dir, names[0], outbound.keymat) },
      inbound: { spi: inbound.spi, key: keyRef(dir, names[1], inbound.keymat) },
    });
    const routerControl = join(dir, "router.sock");
    const homeAgentControl = join(dir, "homeagent.sock");
    const routerConfig = {
      role: "router",
      homeAddress: HOME_ADDRESS,
      homeAgent: homeAgentAddress,
      mobileNetworkPrefixes: [t.mobileNetworkPrefix],
      lan: { interface: t.mobileRouterLan.name, address: ipv6Of(t.mobileRouterLan) },
      tunnel: { interface: "mnr0" },
      uplinks: [
        { id: "lte", interface: t.access.lte.router.name, bindingId: 1, careOfAddress: ipv6Of(t.access.lte.router), mtu: options.uplinkMtus?.lte ?? 1500 },
        { id: "wifi", interface: t.access.wifi.router.name, bindingId: 2, careOfAddress: ipv6Of(t.access.wifi.router), mtu: options.uplinkMtus?.wifi ?? 1500 },
      ],
      activeUplink: "lte",
      ipsec: {
        tunnel: pair(k.tunnelToHomeAgent, k.tunnelToRouter, ["mr-tunnel-out", "mr-tunnel-in"]),
        signalling: pair(k.signallingToHomeAgent, k.signallingToRouter, ["mr-mh-out", "mr-mh-in"]),
      },
      controlSocket: routerControl,
      loop,
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
          ipsec: {
            tunnel: pair(k.tunnelToRouter, k.tunnelToHomeAgent, ["ha-tunnel-out", "ha-tunnel-in"]),
            signalling: pair(k.signallingToRouter, k.signallingToHomeAgent, ["ha-mh-out", "ha-mh-in"]),
          },
        },
      ],
      controlSocket: homeAgentControl,
      loop,
    };
    writeFileSync(join(dir, "router.json"), JSON.stringify(routerConfig, null, 2));
    writeFileSync(join(dir, "homeagent.json"), JSON.stringify(homeAgentConfig, null, 2));
    // Each uplink of mr gets its own default route, so a socket pinned to it (SO_BINDTODEVICE) can leave there.
    for (const name of ["lte", "wifi"] as const) {
      const a = t.access[name];
      await lab.exec("mr", ["ip", "-6", "route", "replace", "default", "via", ipv6Of(a.gateway), "dev", a.router.name, "metric", name === "lte" ? "2000" : "2001"]);
    }
    const start = async (node: "mr" | "ha", role: "router" | "homeagent", config: string): Promise<LabProcess> => {
      const proc = lab.spawn(node, [bunExecutable(), MAIN, role, "run", join(dir, config)]);
      void drain(proc.process.stderr, (line) => {
        logs.push(`${role}: ${line}`);
        log(`${role}: ${line}`);
      });
      await waitForLine(proc.process.stdout, "ready", 20_000, () => logs.join("\n"));
      return proc;
    };
    const homeAgent = await start("ha", "homeagent", "homeagent.json");
    const router = await start("mr", "router", "router.json");
    const command = async (socket: string, text: string) => (await queryRoleControl(socket, text)) as Record<string, unknown>;
    const harness: DataplaneLab = {
      lab,
      router,
      homeAgent,
      routerControl,
      homeAgentControl,
      homeAgentAddress,
      logs,
      routerCommand: (c) => command(routerControl, c),
      homeAgentCommand: (c) => command(homeAgentControl, c),
      async waitForBinding(careOfAddress, timeoutMs = 10_000) {
        const deadline = performance.now() + timeoutMs;
        for (;;) {
          const status = await command(homeAgentControl, "status");
          const table = status.table as { careOfAddresses: string[] }[];
          if (table.length > 0 && table[0]!.careOfAddresses[0] === careOfAddress) return;
          if (performance.now() > deadline) throw new Error(`no binding to ${careOfAddress}: ${JSON.stringify(status)}\n${logs.join("\n")}`);
          await Bun.sleep(50);
        }
      },
      async destroy() {
        await router.stop("SIGTERM", 5000).catch(() => 0);
        await homeAgent.stop("SIGTERM", 5000).catch(() => 0);
        await lab.destroy();
      },
    };
    await harness.waitForBinding(ipv6Of(t.access.lte.router));
    return harness;
  } catch (e) {
    await lab.destroy();
    throw e instanceof Error ? new Error(`${e.message}\n${logs.join("\n")}`) : e;
  }
}

async function drain(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
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
async function waitForLine(stream: ReadableStream<Uint8Array>, text: string, timeoutMs: number, context: () => string): Promise<void> {
  let found: () => void = () => {};
  const seen = new Promise<void>((resolve) => (found = resolve));
  void drain(stream, (line) => {
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
