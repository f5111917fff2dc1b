// Lab harness: `monami router` and `monami homeagent` keyed by IKEv2 (no static keys) in mr and ha, torn down always.

import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLab, type Lab, type LabProcess } from "../../board/lab/lab.ts";
import { ipv4Of, ipv6Of } from "../../board/lab/topology.ts";
import { dsmipAddresses, IPV4_BINDING_LOG, makeLteIpv4Only } from "../../board/lab/nat-rebinding.ts";
import { drainLines, MONAMI_FROM_SOURCES, waitForLine } from "../../board/lab/role-daemons.ts";
import { queryRoleControl } from "../../firmware/roles/role-control.ts";

export const HOME_ADDRESS = "2001:db8:10::20";
const PSK = "h12-lab-psk-never-used-outside-0123";

export interface IkeDataplaneLab {
  readonly lab: Lab;
  readonly logs: string[];
  readonly homeAgentAddress: string;
  readonly keyFiles: { readonly ikev2: string; readonly esp: string };
  /** The home agent's core interface captured from before the router started (stop it to read the file). */
  readonly capture: { readonly file: string; stop(): Promise<void> };
  routerCommand(command: string): Promise<Record<string, unknown>>;
  homeAgentCommand(command: string): Promise<Record<string, unknown>>;
  waitForBinding(careOfAddress: string, timeoutMs?: number): Promise<void>;
  waitForLog(pattern: RegExp, timeoutMs?: number, since?: number): Promise<string>;
  destroy(): Promise<void>;
}

export interface IkeDataplaneOptions {
  readonly tag: string;
  readonly childRekeySeconds?: number;
  readonly ikeRekeySeconds?: number;
  readonly espProposals?: readonly string[];
  readonly proposals?: readonly string[];
  /**
   * IKE and ESP over the LTE uplink's IPv4 path, which `net` masquerades (NAT44): ESP in UDP (RFC 3948).
   * Without Mobile IPv6 over IPv4 (RFC 5555) there is no BU: the home agent reaches the router at its IKE SA's address.
   */
  readonly natIpv4?: boolean;
  /**
   * Mobile IPv6 over IPv4 (RFC 5555): LTE is IPv4-only behind the NAT (`makeLteIpv4Only`), the router registers BID 1
   * with its IPv4 CoA in UDP to port 4191 and BID 2 (Wi-Fi) with its IPv6 CoA; the IKE SA runs over Wi-Fi, LTE's ESP
   * goes in UDP to the home agent's IPv4 port 4500. Wi-Fi is the active uplink at start.
   */
  readonly dsmip?: boolean;
  /**
   * ESN on the tunnel SAs (ipsec.multiCoa.extendedSequenceNumbers; the daemons' default is on). Off here by
   * default: tshark 4.0's esp_sa table has no ESN field, so it could not check the ICVs of the capture.
   */
  readonly extendedSequenceNumbers?: boolean;
  /** ipsec.multiCoaMode of both daemons (their default when absent). */
  readonly multiCoaMode?: string;
  /** ike.addressUpdate of both daemons: MOBIKE (default here: the MOBIKE move test) or the BU's K bit (RFC 4877 §7.4). */
  readonly addressUpdate?: "k-bit" | "mobike";
  readonly log?: (line: string) => void;
}

export async function startIkeDataplaneLab(options: IkeDataplaneOptions): Promise<IkeDataplaneLab> {
  const lab = await createLab({ tag: options.tag, profiles: { lte: "off", wifi: "off" } });
  const dsmip = options.dsmip === true;
  const logs: string[] = [];
  const processes: LabProcess[] = [];
  try {
    const t = lab.topology;
    const dir = lab.workDir;
    if (dsmip) await makeLteIpv4Only(lab);
    const v4 = dsmipAddresses(t);
    const homeAgentAddress = ipv6Of(t.homeAgentHome);
    const pskFile = join(dir, "psk");
    writeFileSync(pskFile, PSK, { mode: 0o600 });
    chmodSync(pskFile, 0o600);
    const keyFiles = { ikev2: join(dir, "ikev2_decryption_table"), esp: join(dir, "esp_sa") };
    const ike = (over: Record<string, unknown>) => ({
      auth: { method: "psk", psk: { ref: `file:${pskFile}` } },
      ...(options.proposals ? { proposals: options.proposals } : {}),
      ...(options.espProposals ? { espProposals: options.espProposals } : {}),
      childRekeySeconds: options.childRekeySeconds ?? 3600,
      ...(options.natIpv4 ? {} : { addressUpdate: options.addressUpdate ?? (dsmip ? "k-bit" : "mobike") }),
      ikeRekeySeconds: options.ikeRekeySeconds ?? 14_400,
      ...over,
    });
    const loop = { placement: "worker", batchSize: 64, offload: true };
    const routerControl = join(dir, "router.sock");
    const homeAgentControl = join(dir, "homeagent.sock");
    writeFileSync(
      join(dir, "router.json"),
      JSON.stringify({
        role: "router",
        homeAddress: HOME_ADDRESS,
        homeAgent: homeAgentAddress,
        ...(dsmip ? { homeAgentIpv4: v4.homeAgentIpv4 } : {}),
        mobileNetworkPrefixes: [t.mobileNetworkPrefix],
        lan: { interface: t.mobileRouterLan.name, address: ipv6Of(t.mobileRouterLan) },
        tunnel: { interface: "mnr0" },
        uplinks: [
          { id: "lte", interface: t.access.lte.router.name, bindingId: 1, careOfAddress: dsmip ? v4.lteCareOfAddress : ipv6Of(t.access.lte.router) },
          { id: "wifi", interface: t.access.wifi.router.name, bindingId: 2, careOfAddress: ipv6Of(t.access.wifi.router) },
        ],
        activeUplink: dsmip ? "wifi" : "lte",
        security: "ikev2",
        ike: ike({
          remoteId: homeAgentAddress,
          keyExport: keyFiles,
          ...(options.natIpv4 ? { peerAddress: ipv4Of(t.coreHomeAgent), uplinkAddresses: { lte: ipv4Of(t.access.lte.router) }, signalling: false } : {}),
        }),
        ipsec: { ...(options.multiCoaMode ? { multiCoaMode: options.multiCoaMode } : {}), multiCoa: { extendedSequenceNumbers: options.extendedSequenceNumbers ?? false } },
        controlSocket: routerControl,
        loop,
      }),
    );
    writeFileSync(
      join(dir, "homeagent.json"),
      JSON.stringify({
        role: "homeagent",
        address: homeAgentAddress,
        ...(dsmip ? { ipv4Address: v4.homeAgentIpv4 } : {}),
        uplink: { interface: t.coreHomeAgent.name },
        tunnel: { interface: "mnh0" },
        mobileRouters: [{ homeAddress: HOME_ADDRESS, mobileNetworkPrefixes: [t.mobileNetworkPrefix], ike: ike(options.natIpv4 ? { localAddress: ipv4Of(t.coreHomeAgent), signalling: false } : {}), ipsec: { ...(options.multiCoaMode ? { multiCoaMode: options.multiCoaMode } : {}), multiCoa: { extendedSequenceNumbers: options.extendedSequenceNumbers ?? false } } }],
        controlSocket: homeAgentControl,
        loop,
      }),
    );
    for (const name of dsmip ? (["wifi"] as const) : (["lte", "wifi"] as const)) {
      const a = t.access[name];
      await lab.exec("mr", ["ip", "-6", "route", "replace", "default", "via", ipv6Of(a.gateway), "dev", a.router.name, "metric", name === "lte" ? "2000" : "2001"]);
    }
    const waiters: { pattern: RegExp; since: number; resolve: (line: string) => void }[] = [];
    const record = (line: string) => {
      logs.push(line);
      options.log?.(line);
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    };
    const start = async (node: "mr" | "ha", role: "router" | "homeagent") => {
      const proc = lab.spawn(node, [...MONAMI_FROM_SOURCES, role, "run", join(dir, `${role}.json`)]);
      processes.push(proc);
      void drainLines(proc.process.stderr, (line) => record(`${role}: ${line}`));
      await waitForLine(proc.process.stdout, "ready", 20_000, () => `${role} not ready:\n${logs.join("\n")}`);
    };
    await start("ha", "homeagent");
    const captureFile = join(dir, "core.pcap");
    const stopCapture = await lab.capture("ha", t.coreHomeAgent.name, captureFile);
    let captureStopped = false;
    const capture = {
      file: captureFile,
      async stop() {
        if (captureStopped) return;
        captureStopped = true;
        await stopCapture();
      },
    };
    await start("mr", "router");
    const command = async (socket: string, text: string) => (await queryRoleControl(socket, text)) as Record<string, unknown>;
    const harness: IkeDataplaneLab = {
      lab,
      logs,
      homeAgentAddress,
      keyFiles,
      capture,
      routerCommand: (c) => command(routerControl, c),
      homeAgentCommand: (c) => command(homeAgentControl, c),
      async waitForBinding(careOfAddress, timeoutMs = 15_000) {
        const deadline = performance.now() + timeoutMs;
        for (;;) {
          const status = await command(homeAgentControl, "status");
          const table = status.table as { careOfAddresses: string[] }[];
          if (table.length > 0 && table[0]!.careOfAddresses[0] === careOfAddress) return;
          if (performance.now() > deadline) throw new Error(`no binding to ${careOfAddress}: ${JSON.stringify(status)}\n${logs.join("\n")}`);
          await Bun.sleep(100);
        }
      },
      waitForLog(pattern, timeoutMs = 15_000, since = 0) {
        const seen = logs.slice(since).find((l) => pattern.test(l));
        if (seen) return Promise.resolve(seen);
        return new Promise((resolve, reject) => {
          const w = { pattern, since, resolve };
          waiters.push(w);
          setTimeout(() => {
            if (!waiters.includes(w)) return;
            waiters.splice(waiters.indexOf(w), 1);
            reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms:\n${logs.join("\n")}`));
          }, timeoutMs);
        });
      },
      async destroy() {
        await capture.stop().catch(() => undefined);
        for (const p of processes.reverse()) await p.stop("SIGTERM", 6000).catch(() => 0);
        await lab.destroy();
      },
    };
    if (options.natIpv4) await harness.waitForLog(/homeagent: .*CHILD_SA payload tunnel .* in UDP/, 15_000);
    else if (dsmip) await harness.waitForLog(IPV4_BINDING_LOG, 20_000);
    else await harness.waitForBinding(ipv6Of(t.access.lte.router));
    return harness;
  } catch (e) {
    for (const p of processes.reverse()) await p.stop("SIGTERM", 3000).catch(() => 0);
    await lab.destroy();
    throw e;
  }
}
