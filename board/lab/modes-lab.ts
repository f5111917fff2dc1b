// Runs one multi-CoA design through one scenario with the real `monami router` and `monami homeagent`, and measures it.
//
// The lab (namespaces tagged with `tag` and the pid, always deleted) gets lossless LTE/Wi-Fi profiles;
// both daemons run with `ipsec.multiCoaMode`; the router runs as a device (MODES_DEVICE_SETTINGS): its own
// link engine sees carrier and address changes from netlink and silence from its in-tunnel probes, and
// drives the design; a 1000 packets/s UDP stream runs each way (lan ↔ cn, one flow); mr's uplinks are
// captured to check that nothing protected leaves in clear. Scenario (f) runs with LTE IPv4-only behind the
// lab NAT (RFC 5555, `Scenario.lteIpv4Only`). Used by test/lab/modes-*.test.ts and bench/modes.ts.

import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { toHex } from "../../firmware/core/hex.ts";
import type { MultiCoaMode } from "../../firmware/config/schema.ts";
import { queryRoleControl } from "../../firmware/roles/role-control.ts";
import { createLab, type Lab, type LabProcess } from "./lab.ts";
import { DSMIP_DECODE_AS, dsmipAddresses, IPV4_BINDING_LOG, makeLteIpv4Only } from "./nat-rebinding.ts";
import { pcapField } from "./probes.ts";
import { type Scenario, SCENARIO_PROFILES } from "./scenarios.ts";
import type { StreamReport } from "./stream-tool.ts";
import { type AccessLinkName, ACCESS_LINKS, ipv6Of } from "./topology.ts";

const MAIN = resolve(import.meta.dir, "../../firmware/main.ts");
const STREAM_TOOL = resolve(import.meta.dir, "stream-tool.ts");
const HOME_ADDRESS = "2001:db8:10::20";
const PPS = 1000;
const LAN_PORT = 4000;
const CN_PORT = 4001;

/**
 * The router's link settings in the lab (device config `uplinks[]` and `selection`), what a vehicle router
 * would ship for fast failover: each uplink probed through the tunnel every 25 ms while it carries traffic
 * (125 ms as a standby), the reply timeout adaptive (SRTT + 4·RTTVAR) between 300 and 400 ms (a floor above
 * the stalls of a loaded 2-core host: a lower one gave false verdicts under load), down after 3 of the last 5
 * probes lost, up again after 3 answers in a row with at most 20 % loss since the first (probes sent while a
 * CoA is still being keyed are lost), then held 500 ms × the flap-damping factor (a link that never failed
 * is not held); traffic moves by choice at most once a second.
 * Carrier loss and address changes need no probe: netlink events reach the engine at once.
 */
export const MODES_DEVICE_SETTINGS = {
  probeIntervalMs: 25,
  probeTimeoutMs: 300,
  selection: { downCount: 3, upCount: 3, recoveryLossPercent: 20, recoveryHoldMs: 500, minimumDwellMs: 1000, maxSwitchesPerWindow: 20, switchWindowSeconds: 60 },
} as const;

/** A decision of the router's link engine (its `status`), with the wall-clock time it was taken. */
export interface EngineDecision {
  readonly at: number;
  readonly kind: string;
  readonly rule: string;
  readonly to: string;
  readonly reason: string;
  readonly sequence: number;
}

/** Rules that report a change of a link's state (what the scenario events cause). */
const DETECTION_RULES = new Set(["hard-down", "probe-window", "quality-fail", "recovered", "quality-recover", "answering-poorly", "address-change"]);

export interface ModeRunOptions {
  readonly mode: MultiCoaMode;
  readonly scenario: Scenario;
  /** Namespace tag (lowercase alphanumerics); the pid is added by the lab. */
  readonly tag: string;
  /** Extra `ipsec.multiCoa` settings (same on both daemons). */
  readonly multiCoa?: Record<string, unknown>;
  /** `auth-option`: settings over the lab's MN-HA association (Mobility SPI, key), e.g. `{ encryptPayload: true }`. */
  readonly authOption?: Record<string, unknown>;
  /** A tshark display filter of packets the run expects in clear on mr's uplinks (a bypass flow): not counted as leaks. */
  readonly clearAllowed?: string;
  /**
   * A second flow beside the measured one (same rate, both ways): lan port `lanPort` ↔ cn port `cnPort`,
   * e.g. the flow a bypass selector matches. Its reports are `second`.
   */
  readonly secondFlow?: { readonly lanPort: number; readonly cnPort: number };
  readonly log?: (line: string) => void;
  /** Keep the pcaps and logs (the lab's work folder is deleted otherwise). */
  readonly keepFiles?: string;
  /**
   * How the daemons are keyed: `static` SAs (the default of the designs measured first), or IKEv2 with a
   * PSK (the daemons' default; required by `mobike` and `per-coa`, which follow IKE SAs).
   */
  readonly keying?: "static" | "ikev2";
  /** Runs after the scenario, with the lab still up (security checks in tests). */
  readonly after?: (run: LiveRun) => Promise<void>;
}

/** The lab while a run is live (for extra checks). */
export interface LiveRun {
  readonly lab: Lab;
  readonly homeAgentAddress: string;
  routerCommand(command: string): Promise<Record<string, unknown>>;
  homeAgentCommand(command: string): Promise<Record<string, unknown>>;
}

export interface ModeRunResult {
  readonly mode: MultiCoaMode;
  readonly scenario: string;
  readonly up: StreamReport;
  readonly down: StreamReport;
  /** The second flow's reports (`secondFlow`), uplink direction (lan → cn) first. */
  readonly second?: { readonly up: StreamReport; readonly down: StreamReport };
  readonly lostUp: number;
  readonly lostDown: number;
  /** The longest time either direction received nothing (ms). */
  readonly outageMs: number;
  /**
   * The router's link engine: its first decision on a link's state after the first scenario event − that event (ms);
   * with a scenario's `reactionLog` (NAT rebinding): from the end of the event's step (the mapping flush) to that log
   * line or an engine decision, whichever comes first.
   */
  readonly detectionMs: number | undefined;
  readonly signallingMessages: number;
  readonly signallingBytes: number;
  /** IKE messages on mr's uplinks during the stream (included in `signallingMessages`/`signallingBytes`). */
  readonly ikeMessages: number;
  readonly ikeSAs: number;
  readonly childSAs: number;
  readonly routerCpuPct: number;
  /** Packets on mr's uplinks that show an inner address (lan, cn, home address) or a Mobility Header in clear. */
  readonly plaintextLeaks: number;
  readonly espPackets: number;
  /** Packets on mr's uplinks that are IPv6-in-IPv6 (outer Next Header 41), or IPv6 in UDP 4191 without ESP or MH (RFC 5555): payload tunnelled by mobility without IPsec. */
  readonly tunnelledPackets: number;
  /** Mobility Header packets in clear carrying the RFC 4285 authentication option (`auth-option` signalling). */
  readonly authenticatedSignalling: number;
  readonly routerStatus: Record<string, unknown>;
  readonly homeAgentStatus: Record<string, unknown>;
  readonly routerCounters: Record<string, number>;
  readonly homeAgentCounters: Record<string, number>;
  /** The home agent's binding table at the end: care-of addresses (uplink names) it accepts. */
  readonly registeredAtEnd: readonly string[];
  /** The router's link-engine decisions during the stream, `atMs` from the stream's start. */
  readonly decisions: readonly (EngineDecision & { readonly atMs: number })[];
  /** Round-trip time to the home agent over each uplink up at start: the router's in-tunnel probes (mean over its window, ms). */
  readonly rttMs: Partial<Record<AccessLinkName, number>>;
  /** The same over the bare network (ICMPv6 echo from the uplink to the home agent's core address, median of 5, ms). */
  readonly pingRttMs: Partial<Record<AccessLinkName, number>>;
}

type IkeStatus = { ike?: unknown; children?: unknown[] };

/** The router's IKE SAs from its status (`ike`: one SA's summary, or a list with `per-coa`). */
function ikeStatuses(status: Record<string, unknown>): IkeStatus[] {
  const ike = status.ike as IkeStatus | IkeStatus[] | undefined;
  if (ike === undefined) return [];
  return (Array.isArray(ike) ? ike : [ike]).filter((s) => s.ike !== null && s.ike !== undefined);
}

/** Established IKE SAs (the router's `ikeSAs` when it reports it: `per-coa` holds one per care-of address). */
function ikeSaCount(status: Record<string, unknown>): number {
  const reported = (status.ike as { ikeSAs?: number } | undefined)?.ikeSAs;
  return reported ?? ikeStatuses(status).length;
}

/** CHILD_SAs held (tunnel and the BU/BA transport one), counted once per pair, with `per-coa`'s other IKE SAs' ones. */
function childSaCount(status: Record<string, unknown>): number {
  const perCoa = ((status.ike as { perCoa?: { state: string; children: unknown[] }[] } | undefined)?.perCoa ?? []).filter((x) => x.state === "established");
  return ikeStatuses(status).reduce((n, s) => n + (s.children?.length ?? 0), 0) + perCoa.reduce((n, x) => n + x.children.length, 0);
}

function keymat(seed: number): Uint8Array {
  return Uint8Array.from({ length: 20 }, (_, i) => (seed + i * 7) & 0xff);
}

function bun(): string {
  return /(^|\/)bun[^/]*$/.test(process.execPath) ? process.execPath : "bun";
}

function cpuTicks(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime, clock ticks
  } catch {
    return 0;
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
  if (rest.trim() !== "") onLine(rest);
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** One design through one scenario; the lab is always torn down. */
export async function runModeScenario(o: ModeRunOptions): Promise<ModeRunResult> {
  const log = o.log ?? (() => {});
  const lab = await createLab({ tag: o.tag, profiles: SCENARIO_PROFILES, log: (l) => log(`lab: ${l}`) });
  const logs: string[] = [];
  /** The daemons' log lines with their wall-clock arrival (a scenario's `reactionLog`). */
  const stamped: { readonly at: number; readonly line: string }[] = [];
  const processes: LabProcess[] = [];
  try {
    const t = lab.topology;
    const dir = lab.workDir;
    const homeAgentAddress = ipv6Of(t.homeAgentHome);
    // RFC 5555 (scenario (f)): LTE's only care-of address is its IPv4 one behind the NAT.
    const dsmip = o.scenario.lteIpv4Only === true;
    if (dsmip) await makeLteIpv4Only(lab);
    const v4 = dsmipAddresses(t);
    const careOfAddress = (name: AccessLinkName) => (dsmip && name === "lte" ? v4.lteCareOfAddress : ipv6Of(t.access[name].router));
    const key = (name: string, bytes: Uint8Array) => {
      const path = join(dir, `${name}.key`);
      writeFileSync(path, `${toHex(bytes)}\n`, { mode: 0o600 });
      chmodSync(path, 0o600);
      return { ref: `file:${path}` };
    };
    const pair = (outSpi: number, outSeed: number, inSpi: number, inSeed: number, names: [string, string]) => ({
      suite: "aes128gcm16",
      outbound: { spi: outSpi, key: key(names[0], keymat(outSeed)) },
      inbound: { spi: inSpi, key: key(names[1], keymat(inSeed)) },
    });
    // `auth-option` (RFC 4285): one MN-HA key file for both ends, no IKE and no static SAs.
    const authOption = o.mode === "auth-option" ? { mobilitySpi: 0x4d48, mnHaKey: key("mn-ha", Uint8Array.from({ length: 32 }, (_, i) => (0x55 + i * 11) & 0xff)), ...o.authOption } : undefined;
    const multiCoa = { ...o.multiCoa, ...(authOption ? { authOption } : {}) };
    // Static keys have no NAT-T socket: over an IPv4 CoA the designs are keyed by IKEv2 (auth-option by its MN-HA key).
    const ikeKeyed = o.keying === "ikev2" || o.mode === "mobike" || o.mode === "per-coa" || (dsmip && authOption === undefined);
    const keyed = (sas: () => Record<string, unknown>) => (authOption || ikeKeyed ? {} : sas());
    const psk = ikeKeyed ? key("ike-psk", Uint8Array.from({ length: 32 }, (_, i) => (0x21 + i * 13) & 0xff)) : undefined;
    const ike = (over: Record<string, unknown>) => (psk ? { security: "ikev2", ike: { auth: { method: "psk", psk }, ...over } } : {});
    // The IKE SA is initiated from the preferred uplink that is up at start (Wi-Fi is preferred once it comes, `uplink wifi`);
    // with an IPv4 LTE from Wi-Fi's IPv6 CoA (the designs keep it there; `mobike` moves it to LTE when the engine does).
    const firstUplink = o.scenario.initiallyUp.includes("wifi") ? "wifi" : "lte";
    const preferred = o.scenario.preferred ?? firstUplink;
    const loop = { placement: "worker", batchSize: 64, offload: true };
    const routerConfig = {
      role: "router",
      homeAddress: HOME_ADDRESS,
      homeAgent: homeAgentAddress,
      ...(dsmip ? { homeAgentIpv4: v4.homeAgentIpv4 } : {}),
      mobileNetworkPrefixes: [t.mobileNetworkPrefix],
      lan: { interface: t.mobileRouterLan.name, address: ipv6Of(t.mobileRouterLan) },
      tunnel: { interface: "mnr0" },
      uplinks: ACCESS_LINKS.map((name, i) => ({ id: name, interface: t.access[name].router.name, bindingId: i + 1, careOfAddress: careOfAddress(name), kind: name === "lte" ? "cellular" : "wifi" })),
      activeUplink: ikeKeyed ? firstUplink : "wifi",
      ...ike({ remoteId: homeAgentAddress }),
      ipsec: {
        ...keyed(() => ({
          tunnel: pair(0x1001, 0x11, 0x2001, 0x22, ["mr-tunnel-out", "mr-tunnel-in"]),
          signalling: pair(0x1002, 0x33, 0x2002, 0x44, ["mr-mh-out", "mr-mh-in"]),
        })),
        multiCoaMode: o.mode,
        multiCoa,
      },
      controlSocket: join(dir, "router.sock"),
      loop,
      // Only a scenario that names its preferred uplink changes the selection tiers; the others keep Wi-Fi preferred by kind.
      device: writeDeviceConfig(lab, dir, o.mode, HOME_ADDRESS, homeAgentAddress, authOption, o.scenario.preferred),
    };
    const homeAgentConfig = {
      role: "homeagent",
      address: homeAgentAddress,
      ...(dsmip ? { ipv4Address: v4.homeAgentIpv4 } : {}),
      uplink: { interface: t.coreHomeAgent.name },
      tunnel: { interface: "mnh0" },
      mobileRouters: [
        {
          homeAddress: HOME_ADDRESS,
          mobileNetworkPrefixes: [t.mobileNetworkPrefix],
          ...ike({}),
          ipsec: {
            ...keyed(() => ({
              tunnel: pair(0x2001, 0x22, 0x1001, 0x11, ["ha-tunnel-out", "ha-tunnel-in"]),
              signalling: pair(0x2002, 0x44, 0x1002, 0x33, ["ha-mh-out", "ha-mh-in"]),
            })),
            multiCoaMode: o.mode,
            multiCoa,
          },
        },
      ],
      controlSocket: join(dir, "homeagent.sock"),
      loop,
    };
    writeFileSync(join(dir, "router.json"), JSON.stringify(routerConfig, null, 2));
    writeFileSync(join(dir, "homeagent.json"), JSON.stringify(homeAgentConfig, null, 2));
    for (const name of ACCESS_LINKS) {
      const a = t.access[name];
      if (careOfAddress(name) !== ipv6Of(a.router)) continue; // IPv4-only: the lab's IPv4 default route is LTE's already
      await lab.exec("mr", ["ip", "-6", "route", "replace", "default", "via", ipv6Of(a.gateway), "dev", a.router.name, "metric", name === "lte" ? "2000" : "2001"]);
    }
    for (const name of ACCESS_LINKS) if (!o.scenario.initiallyUp.includes(name)) await lab.cut(name, "carrier");

    const start = async (node: "mr" | "ha", role: string, config: string): Promise<LabProcess> => {
      // The router runs as a device on the simulated board (no OTA key, no broker: neither matters here).
      const env = node === "mr" ? ["env", "MONAMI_BOARD=simulated", `MONAMI_SIM_ROOT=${join(dir, "sim")}`] : [];
      const proc = lab.spawn(node, [...env, bun(), MAIN, role, "run", join(dir, config)]);
      processes.push(proc);
      void drain(proc.process.stderr, (line) => {
        logs.push(`${role}: ${line}`);
        stamped.push({ at: Date.now(), line: `${role}: ${line}` });
        log(`${role}: ${line}`);
      });
      let ready = false;
      void drain(proc.process.stdout, (line) => {
        if (line.trim() === "ready") ready = true;
      });
      await waitFor(`${role} ready\n${logs.join("\n")}`, 20_000, async () => ready || proc.process.exitCode !== null);
      if (!ready) throw new Error(`${role} exited:\n${logs.join("\n")}`);
      return proc;
    };
    const homeAgent = await start("ha", "homeagent", "homeagent.json");
    const router = await start("mr", "router", "router.json");
    const routerCommand = async (c: string) => (await queryRoleControl(routerConfig.controlSocket, c)) as Record<string, unknown>;
    const homeAgentCommand = async (c: string) => (await queryRoleControl(homeAgentConfig.controlSocket, c)) as Record<string, unknown>;
    const live: LiveRun = { lab, homeAgentAddress, routerCommand, homeAgentCommand };

    // The router's link engine decides; its decisions (wall-clock stamped) are gathered from its status.
    /** The scenario's steps: when each started and when its last command returned (wall clock). */
    const events: { at: number; doneAt: number }[] = [];
    const decisions = new Map<number, EngineDecision>();
    const gather = async () => {
      const status = await routerCommand("status");
      for (const d of (status.decisions as { at: number; kind: string; rule: string; to: string; reason: string; inputs: { sequence: number } }[] | undefined) ?? []) {
        decisions.set(d.inputs.sequence, { at: d.at, kind: d.kind, rule: d.rule, to: d.to, reason: d.reason, sequence: d.inputs.sequence });
      }
      return status;
    };
    let gathering = true;
    const gatherer = (async () => {
      while (gathering) {
        await gather().catch(() => undefined);
        await Bun.sleep(250);
      }
    })();
    try {
      // Ready when the engine has judged the links up at start, made the preferred one primary, and the home agent follows
      // (an IPv4 CoA appears there as the NAT's address, IPv4-mapped: what the data plane checks and sends to).
      const atHomeAgent = (name: AccessLinkName) => (careOfAddress(name) === ipv6Of(t.access[name].router) ? careOfAddress(name) : `::ffff:${t.natAddress4}`);
      type LinkStatus = { id: string; up: boolean; primary: boolean; rttMs?: number };
      let links: LinkStatus[] = [];
      await waitFor(`the engine's primary ${preferred} and the home agent's binding of it\n${logs.join("\n")}`, 20_000, async () => {
        const status = await gather();
        links = (status.links as LinkStatus[] | undefined) ?? [];
        const table = (await homeAgentCommand("status")).table as { careOfAddresses: string[] }[];
        return (
          table.length > 0 &&
          // A BU in UDP (RFC 5555) does not make its CoA the home agent's first (`simultaneous` keeps Wi-Fi there): the flow's
          // return path follows the router's choice (its first authenticated packets from LTE) instead.
          (dsmip ? table[0]!.careOfAddresses.includes(atHomeAgent(preferred)) : table[0]!.careOfAddresses[0] === atHomeAgent(preferred)) &&
          (!dsmip || logs.some((l) => IPV4_BINDING_LOG.test(l))) &&
          status.activeUplink === preferred &&
          o.scenario.initiallyUp.every((l) => links.find((x) => x.id === l)?.up === true && links.find((x) => x.id === l)?.rttMs !== undefined) &&
          links.find((x) => x.primary)?.id === preferred
        );
      }).catch(async (e: unknown) => {
        // What the data planes counted (probes, ESP in UDP, drops) says why a link never came up.
        const [r, h, table, active] = await Promise.all([routerCommand("counters"), homeAgentCommand("counters"), homeAgentCommand("status").then((x) => x.table), routerCommand("status").then((x) => x.activeUplink)]).catch(() => []);
        throw new Error(`${e instanceof Error ? e.message : String(e)}\nrouter counters: ${JSON.stringify(r)}\nhome agent counters: ${JSON.stringify(h)}\nlinks: ${JSON.stringify(links)}\nactive uplink ${String(active)}, home agent table: ${JSON.stringify(table)}`);
      });
      const rttMs: Partial<Record<AccessLinkName, number>> = {};
      for (const l of o.scenario.initiallyUp) rttMs[l] = links.find((x) => x.id === l)!.rttMs!;
      const pingRttMs: Partial<Record<AccessLinkName, number>> = {};
      for (const l of o.scenario.initiallyUp) {
        const ipv6 = careOfAddress(l) === ipv6Of(t.access[l].router);
        const rtt = await lab.exec("mr", ["ping", ipv6 ? "-6" : "-4", "-n", "-c", "5", "-i", "0.05", "-I", t.access[l].router.name, ipv6 ? ipv6Of(t.coreHomeAgent) : v4.homeAgentIpv4]);
        const rtts = [...rtt.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
        if (rtts.length > 0) pingRttMs[l] = rtts[rtts.length >> 1]!;
      }

      const files = ACCESS_LINKS.map((l) => join(dir, `${l}.pcap`));
      const stops = [];
      // An IPv4-only uplink: everything (BU/BA in UDP 4191, ESP in UDP 4500, IKE); otherwise IPv6.
      for (const [i, l] of ACCESS_LINKS.entries()) stops.push(await lab.capture("mr", t.access[l].router.name, files[i]!, careOfAddress(l) === ipv6Of(t.access[l].router) ? "ip6" : "ip"));

      const before = { router: await routerCommand("counters"), homeAgent: await homeAgentCommand("counters"), cpu: cpuTicks(router.pid), at: performance.now() };
      const seconds = o.scenario.durationMs / 1000;
      const startAt = performance.timeOrigin + performance.now() + 500;
      const stream = (node: "lan" | "cn", local: string, port: number, peer: string, peerPort: number) => {
        const p = lab.spawn(node, [bun(), STREAM_TOOL, "--local", local, "--port", String(port), "--peer", peer, "--peer-port", String(peerPort), "--pps", String(PPS), "--seconds", String(seconds), "--start-at", String(startAt)]);
        processes.push(p);
        return p;
      };
      const lan = ipv6Of(t.lanHost);
      const cn = ipv6Of(t.correspondent);
      const cnStream = stream("cn", cn, CN_PORT, lan, LAN_PORT);
      const lanStream = stream("lan", lan, LAN_PORT, cn, CN_PORT);
      const report = async (p: LabProcess) => {
        let out = "";
        await drain(p.process.stdout, (line) => (out += line));
        return JSON.parse(out) as StreamReport;
      };
      const reports = [lanStream, cnStream].map(report);
      const f = o.secondFlow;
      const secondReports = f ? [stream("cn", cn, f.cnPort, lan, f.lanPort), stream("lan", lan, f.lanPort, cn, f.cnPort)].map(report) : [];
      const streamStart = startAt - performance.timeOrigin;
      for (const step of o.scenario.steps) {
        const wait = streamStart + step.atMs - performance.now();
        if (wait > 0) await Bun.sleep(wait);
        const at = Date.now();
        log(`scenario: ${step.what}`);
        await step.run(lab);
        events.push({ at, doneAt: Date.now() });
      }
      const [lanReport, cnReport] = await Promise.all(reports);
      // cn received the second flow's uplink direction, lan its downlink.
      const [secondUp, secondDown] = await Promise.all(secondReports);
      const after = { router: await routerCommand("counters"), homeAgent: await homeAgentCommand("counters"), cpu: cpuTicks(router.pid), at: performance.now() };
      for (const stop of stops) await stop();
      // Let the designs settle (a last BU/BA) before the end state is read.
      await Bun.sleep(300);
      const routerStatus = await routerCommand("status");
      const homeAgentStatus = await homeAgentCommand("status");
      if (o.after) await o.after(live);

      const inner = [lan, cn, HOME_ADDRESS];
      // What the design sends in clear on purpose: RFC 4285 signalling (auth-option), its payload without ESP (IPv6 in
      // IPv6, or in UDP 4191 over an IPv4 CoA), a bypass flow. Over an IPv4 CoA the BU/BA under ESP ride in UDP 4191 as
      // an IPv6 packet whose header names the home address (RFC 5555 §4.1: no Home Address option): not a leak.
      const clearPayload = authOption !== undefined && o.authOption?.encryptPayload !== true;
      const allowed = [
        ...(authOption ? ["(mipv6 && mip6.options.auth)", ...(clearPayload ? ["ipv6.nxt == 41", "(udp.port == 4191 && !mipv6)"] : [])] : []),
        ...(dsmip ? ["(udp.port == 4191 && ipv6.nxt == 50)"] : []),
        ...(o.clearAllowed ? [`(${o.clearAllowed})`] : []),
      ];
      /** One field of a capture's frames matching a display filter, UDP 4191 dissected as IPv6; a filter tshark refuses throws. */
      const field = (file: string, name: string, filter: string) => pcapField(file, name, filter, DSMIP_DECODE_AS);
      const exposed = `${inner.map((a) => `ipv6.addr == ${a}`).join(" || ")} || mipv6 || udp.port == ${LAN_PORT} || udp.port == ${CN_PORT}`;
      let plaintextLeaks = 0;
      let espPackets = 0;
      let tunnelledPackets = 0;
      let authenticatedSignalling = 0;
      // IKE messages on mr's uplinks during the stream (both directions; UDP 500 and 4500), and their octets (IKE header Length).
      let ikeMessages = 0;
      let ikeBytes = 0;
      for (const f of files) {
        plaintextLeaks += (await field(f, "frame.number", allowed.length === 0 ? exposed : `(${exposed}) && !(${allowed.join(" || ")})`)).length;
        espPackets += (await field(f, "frame.number", "esp")).length;
        tunnelledPackets += (await field(f, "frame.number", "ipv6.nxt == 41 || (udp.port == 4191 && ipv6 && !mipv6 && !esp)")).length;
        authenticatedSignalling += (await field(f, "frame.number", "mipv6 && mip6.options.auth")).length;
        if (ikeKeyed) {
          const lengths = await field(f, "isakmp.length", "isakmp");
          ikeMessages += lengths.length;
          ikeBytes += lengths.reduce((sum, l) => sum + (Number.parseInt(l.split(",")[0]!, 10) || 0), 0);
        }
      }
      gathering = false;
      await gatherer;
      await gather().catch(() => undefined);
      const firstEvent = events[0]?.at;
      const ordered = [...decisions.values()].sort((a, b) => a.sequence - b.sequence);
      // With a `reactionLog` (a NAT rebinding, which takes effect when its step's last command, the mapping flush,
      // returns): whichever comes first, that log line or a link-engine verdict (its probes may time out first).
      const reaction = o.scenario.reactionLog;
      const from = reaction ? events[0]?.doneAt : firstEvent;
      const firstDecision = ordered.find((d) => from !== undefined && d.at >= from && DETECTION_RULES.has(d.rule));
      const firstReaction = reaction && from !== undefined ? stamped.find((l) => l.at >= from && reaction.test(l.line)) : undefined;
      const detectedAt = Math.min(firstDecision?.at ?? Infinity, firstReaction?.at ?? Infinity);
      const detectedMs = from !== undefined && detectedAt !== Infinity ? detectedAt - from : undefined;
      const streamEpoch = startAt;
      const delta = (name: string, side: "router" | "homeAgent") => Number(after[side][name] ?? 0) - Number(before[side][name] ?? 0);
      const bindings = Object.values(homeAgentStatus.bindings as Record<string, { careOfAddress: { address: string } }[]>)[0] ?? [];
      const nameOf = (address: string) => ACCESS_LINKS.find((l) => careOfAddress(l) === address) ?? (address === "2001:db8:2::3" ? "wifi" : address);
      const ticksPerSecond = 100;
      // The uplink direction (lan → cn) is what cn received; the downlink what lan received.
      const up = cnReport!;
      const down = lanReport!;
      return {
        mode: o.mode,
        scenario: o.scenario.name,
        up,
        down,
        ...(secondUp && secondDown ? { second: { up: secondUp, down: secondDown } } : {}),
        lostUp: lanReport!.sent - cnReport!.received,
        lostDown: cnReport!.sent - lanReport!.received,
        outageMs: Math.round(Math.max(0, ...up.gaps.map((g) => g.ms), ...down.gaps.map((g) => g.ms))),
        detectionMs: detectedMs === undefined ? undefined : Math.round(detectedMs),
        signallingMessages: delta("router.bu.sent", "router") + delta("homeagent.ba.sent", "homeAgent") + ikeMessages,
        signallingBytes: delta("router.signalling.bytes", "router") + delta("homeagent.signalling.bytes", "homeAgent") + ikeBytes,
        ikeMessages,
        ikeSAs: ikeSaCount(routerStatus),
        // Static keys: one tunnel SA pair; auth-option without ESP: none.
        childSAs: ikeKeyed ? childSaCount(routerStatus) : Number(routerStatus.childSAs ?? (authOption && o.authOption?.encryptPayload !== true ? 0 : 1)),
        routerCpuPct: Math.round((((after.cpu - before.cpu) / ticksPerSecond) * 1000 * 100) / (after.at - before.at)),
        plaintextLeaks,
        espPackets,
        tunnelledPackets,
        authenticatedSignalling,
        routerStatus,
        homeAgentStatus,
        routerCounters: after.router as Record<string, number>,
        homeAgentCounters: after.homeAgent as Record<string, number>,
        registeredAtEnd: bindings.map((b) => nameOf(b.careOfAddress.address)),
        decisions: ordered.filter((d) => d.at >= streamEpoch).map((d) => ({ ...d, atMs: Math.round(d.at - streamEpoch) })),
        rttMs,
        pingRttMs,
      };
    } finally {
      gathering = false;
      await gatherer;
    }
  } catch (e) {
    throw e instanceof Error ? new Error(`${o.mode}/${o.scenario.name}: ${e.message}\n${logs.slice(-60).join("\n")}`) : e;
  } finally {
    for (const p of processes.reverse()) await p.stop("SIGTERM", 3000).catch(() => 0);
    await lab.destroy();
  }
}

/**
 * The device config the router runs with (`device` in its role config): both uplinks with the lab's link
 * settings (MODES_DEVICE_SETTINGS), the design, the mobility addresses; MQTT towards a closed local port
 * (the fleet link keeps retrying, which link selection does not depend on); no OTA key (agent off).
 * Wi-Fi is preferred by its kind (LTE costs); `preferred` LTE puts LTE in the first selection tier and Wi-Fi
 * three below (`priority` 0 and 30: 45 preference points apart, against LTE's price of ~10).
 */
function writeDeviceConfig(lab: Lab, dir: string, mode: MultiCoaMode, homeAddress: string, homeAgent: string, authOption: { mobilitySpi: number; mnHaKey: { ref: string } } | undefined, preferred: AccessLinkName | undefined): string {
  const t = lab.topology;
  mkdirSync(join(dir, "sim"), { recursive: true });
  mkdirSync(join(dir, "state"), { recursive: true });
  const s = MODES_DEVICE_SETTINGS;
  const probe = { probeIntervalMs: s.probeIntervalMs, probeTimeoutMs: s.probeTimeoutMs };
  const device = {
    device: { id: "modes-lab-mr" },
    uplinks: [
      { id: "lte", driver: { kind: "cellular", interface: t.access.lte.router.name, apn: "lab" }, costPerMegabyte: 0.01, ...probe, ...(preferred === "lte" ? { priority: 0 } : {}) },
      { id: "wifi", driver: { kind: "wifi", interface: t.access.wifi.router.name, ssid: "lab" }, ...probe, ...(preferred === "lte" ? { priority: 30 } : {}) },
    ],
    selection: s.selection,
    ipsec: { multiCoaMode: mode, auth: { method: "psk", psk: { ref: "env:MONAMI_UNUSED_PSK" } } },
    mobility: { homeAddress, homeAgent, mobileNetworkPrefixes: [t.mobileNetworkPrefix], ...(authOption ? { authOption: { mobilitySpi: authOption.mobilitySpi, mnHaKey: authOption.mnHaKey } } : {}) },
    mqtt: { url: "mqtt://127.0.0.1:9", keepaliveSeconds: 60, reconnect: { initialDelayMs: 5000, maxDelayMs: 30000 } },
    telemetry: { intervalSeconds: 3600, metricsIntervalMs: 0, outbox: { path: join(dir, "state", "outbox.db") } },
    ota: { image: { publicKeyFile: join(dir, "no-ota-key.pub") } },
  };
  const path = join(dir, "device.json");
  writeFileSync(path, JSON.stringify(device, null, 2));
  return path;
}
