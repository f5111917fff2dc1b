// `auth-option` (RFC 4285, no IKEv2) and bypass flows with real router and home agent processes (root): scenarios (a)–(c) recover with
// the payload IPv6-in-IPv6 (ESP with encryptPayload); the home agent refuses a forged, a Mesg-ID-less and a replayed BU (146, 145, 144)
// and clear packets from unregistered addresses; a bypass flow crosses in clear while everything else stays in ESP.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { requireRoot } from "../../board/lab/lab.ts";
import { type LiveRun, type ModeRunOptions, type ModeRunResult, runModeScenario } from "../../board/lab/modes-lab.ts";
import { pcapField } from "../../board/lab/probes.ts";
import { type Scenario, scenario } from "../../board/lab/scenarios.ts";
import type { StreamReport } from "../../board/lab/stream-tool.ts";
import { ACCESS_LINKS, ipv6Of } from "../../board/lab/topology.ts";

const canRun = requireRoot("auth-option and bypass designs in the lab");
const TOOLS = resolve(import.meta.dir, "auth-option-tools.ts");
const STREAM_TOOL = resolve(import.meta.dir, "../../board/lab/stream-tool.ts");
const bun = /(^|\/)bun[^/]*$/.test(process.execPath) ? process.execPath : "bun";
/** The lab's Mobility SPI (board/lab/modes-lab.ts). */
const MOBILITY_SPI = 0x4d48;
const BYPASS_PORT = 5000;
const PROTECTED_PORT = 6000;

/** Both uplinks up, nothing happens: a short steady run, then the checks. */
const STEADY: Scenario = {
  name: "break",
  letter: "-",
  title: "steady",
  initiallyUp: ["lte", "wifi"],
  durationMs: 1000,
  steps: [],
  expect: { finalUplink: "wifi", registered: ["lte", "wifi"], lossless: true, detectedBy: [] },
};

async function counters(run: LiveRun, side: "router" | "homeagent"): Promise<Record<string, number>> {
  return (await (side === "router" ? run.routerCommand("counters") : run.homeAgentCommand("counters"))) as Record<string, number>;
}

const grown = (before: Record<string, number>, after: Record<string, number>, name: string) => (after[name] ?? 0) - (before[name] ?? 0);

/** Runs two labs at a time (2 cores; each run mostly waits on timed events). */
const queue: (() => Promise<void>)[] = [];
let running = 0;
function schedule<T>(job: () => Promise<T>): Promise<T> {
  const p = new Promise<T>((resolve, reject) => queue.push(() => job().then(resolve, reject)));
  pump();
  return p;
}
function pump(): void {
  while (running < 2 && queue.length > 0) {
    running++;
    void queue.shift()!().finally(() => {
      running--;
      pump();
    });
  }
}

interface AuthChecks {
  readonly refusals: Record<string, number>;
  readonly registeredAfter: readonly string[];
  readonly spoofDropped: number;
}

/** After (a): the router's last BU from the Wi-Fi capture, replayed, forged and stripped of its Mesg-ID; clear payload from a third host. */
async function authChecks(run: LiveRun): Promise<AuthChecks> {
  const t = run.lab.topology;
  const dir = run.lab.workDir;
  const bu = join(dir, "bu.pcap");
  // Not spawnSync: the link monitor reads its probes' replies on this thread meanwhile.
  const filtered = Bun.spawn(["tshark", "-r", join(dir, "wifi.pcap"), "-Y", "mip6.mhtype == 5 && mip6.options.auth", "-F", "pcap", "-w", bu], { stdout: "ignore", stderr: "pipe" });
  if ((await filtered.exited) !== 0) throw new Error(`tshark: ${await new Response(filtered.stderr).text()}`);
  const key = readFileSync(join(dir, "mn-ha.key"), "utf8").trim();
  const before = await counters(run, "homeagent");
  for (const variant of ["replay", "bad-authenticator", "no-mesg-id"]) {
    const r = await run.lab.exec("mr", [bun, TOOLS, "bu", bu, t.access.wifi.router.name, variant, key, String(MOBILITY_SPI)]);
    expect(r.stdout.trim(), r.stderr).toBe("sent");
  }
  // A third host (net) sends payload the way a router would, IPv6-in-IPv6 with the LAN host as inner source.
  const spoof = await run.lab.exec("net", [bun, TOOLS, "clear", t.coreNet.name, run.homeAgentAddress, ipv6Of(t.lanHost), ipv6Of(t.correspondent), "4000", "4001", "5"]);
  expect(spoof.stdout.trim()).toBe("5");
  await Bun.sleep(400);
  const after = await counters(run, "homeagent");
  const status = await run.homeAgentCommand("status");
  const table = status.table as { careOfAddresses: string[] }[];
  return {
    refusals: Object.fromEntries(
      ["signalling.drop.auth-status-144", "signalling.drop.auth-status-145", "signalling.drop.auth-status-146", "signalling.auth.reject-sent.144", "signalling.auth.reject-sent.145", "signalling.auth.reject-sent.146"].map((n) => [
        n,
        grown(before, after, n),
      ]),
    ),
    registeredAfter: (table[0]?.careOfAddresses ?? []).map((a) => ACCESS_LINKS.find((l) => ipv6Of(t.access[l].router) === a) ?? a),
    spoofDropped: grown(before, after, "dataplane.drop.clear-unregistered-care-of"),
  };
}

interface BypassChecks {
  readonly bypass: readonly StreamReport[];
  readonly protectedFlow: readonly StreamReport[];
  readonly clearBypass: number;
  readonly clearOther: number;
  readonly protectedInClear: number;
  readonly esp: number;
  readonly router: Record<string, number>;
  readonly homeAgent: Record<string, number>;
  readonly spoofDropped: number;
  readonly notBypassDropped: number;
}

/** After a steady run with a bypass selector: one flow on the bypass port and one on another, both ways, captured on Wi-Fi. */
async function bypassChecks(run: LiveRun): Promise<BypassChecks> {
  const t = run.lab.topology;
  const dir = run.lab.workDir;
  const pcap = join(dir, "bypass.pcap");
  const stop = await run.lab.capture("mr", t.access.wifi.router.name, pcap, "ip6");
  const beforeRouter = await counters(run, "router");
  const beforeHomeAgent = await counters(run, "homeagent");
  const lan = ipv6Of(t.lanHost);
  const cn = ipv6Of(t.correspondent);
  const startAt = String(performance.timeOrigin + performance.now() + 500);
  const flow = (node: "lan" | "cn", local: string, port: number, peer: string, peerPort: number) => {
    const p = run.lab.spawn(node, [bun, STREAM_TOOL, "--local", local, "--port", String(port), "--peer", peer, "--peer-port", String(peerPort), "--pps", "200", "--seconds", "1.5", "--drain", "0.5", "--start-at", startAt]);
    return new Response(p.process.stdout).text().then((out) => JSON.parse(out) as StreamReport);
  };
  const reports = await Promise.all([
    flow("lan", lan, BYPASS_PORT + 1, cn, BYPASS_PORT),
    flow("cn", cn, BYPASS_PORT, lan, BYPASS_PORT + 1),
    flow("lan", lan, PROTECTED_PORT + 1, cn, PROTECTED_PORT),
    flow("cn", cn, PROTECTED_PORT, lan, PROTECTED_PORT + 1),
  ]);
  await stop();
  const router = await counters(run, "router");
  const homeAgent = await counters(run, "homeagent");
  // A third host sends a packet of the bypass flow in clear; the registered Wi-Fi CoA sends one that is not of it.
  const spoof = await run.lab.exec("net", [bun, TOOLS, "clear", t.coreNet.name, run.homeAgentAddress, lan, cn, String(BYPASS_PORT + 1), String(BYPASS_PORT), "5"]);
  const other = await run.lab.exec("mr", [bun, TOOLS, "clear", t.access.wifi.router.name, run.homeAgentAddress, lan, cn, String(PROTECTED_PORT + 1), String(PROTECTED_PORT), "5"]);
  expect([spoof.stdout.trim(), other.stdout.trim()]).toEqual(["5", "5"]);
  await Bun.sleep(400);
  const last = await counters(run, "homeagent");
  const ports = (p: number) => `udp.port == ${p} || udp.port == ${p + 1}`;
  return {
    bypass: reports.slice(0, 2),
    protectedFlow: reports.slice(2),
    clearBypass: (await pcapField(pcap, "frame.number", `ipv6.nxt == 41 && (${ports(BYPASS_PORT)})`)).length,
    clearOther: (await pcapField(pcap, "frame.number", `ipv6.nxt == 41 && !(${ports(BYPASS_PORT)})`)).length,
    protectedInClear: (await pcapField(pcap, "frame.number", ports(PROTECTED_PORT))).length,
    esp: (await pcapField(pcap, "frame.number", "esp")).length,
    router: Object.fromEntries(["dataplane.bypass.tx", "dataplane.bypass.rx"].map((n) => [n, grown(beforeRouter, router, n)])),
    homeAgent: Object.fromEntries(["dataplane.bypass.tx", "dataplane.bypass.rx"].map((n) => [n, grown(beforeHomeAgent, homeAgent, n)])),
    spoofDropped: grown(homeAgent, last, "dataplane.drop.clear-unregistered-care-of"),
    notBypassDropped: grown(homeAgent, last, "dataplane.drop.clear-not-bypass"),
  };
}

function run<T>(o: Omit<ModeRunOptions, "tag" | "after">, after?: (live: LiveRun) => Promise<T>, logs?: string[]): Promise<{ result: ModeRunResult; checked: T | undefined }> {
  return schedule(async () => {
    let checked: T | undefined;
    const result = await runModeScenario({
      ...o,
      tag: "mdla",
      ...(logs ? { log: (line: string) => void logs.push(line) } : {}),
      ...(after ? { after: async (live: LiveRun) => void (checked = await after(live)) } : {}),
    });
    return { result, checked };
  });
}

/** What every run of the design must show: recovery, the end state, and the capture's verdict on what crossed in clear. */
function expectRecovered(r: ModeRunResult, s: Scenario, payload: "ipv6-in-ipv6" | "esp"): void {
  const summary = JSON.stringify({ lostUp: r.lostUp, lostDown: r.lostDown, outageMs: r.outageMs, esp: r.espPackets, tunnelled: r.tunnelledPackets, decisions: r.decisions, router: r.routerStatus.multiCoa });
  expect(r.up.highest, summary).toBeGreaterThan(r.up.sent - 100);
  expect(r.down.highest, summary).toBeGreaterThan(r.down.sent - 100);
  if (s.expect.lossless) expect(r.lostUp + r.lostDown, summary).toBe(0);
  else expect(Math.max(r.lostUp, r.lostDown), summary).toBeLessThan(1000);
  expect(r.plaintextLeaks, summary).toBe(0);
  // BU/BA in clear with the RFC 4285 authentication option; the payload as configured.
  expect(r.authenticatedSignalling, summary).toBeGreaterThan(0);
  if (payload === "ipv6-in-ipv6") {
    expect(r.tunnelledPackets, summary).toBeGreaterThan(r.up.sent);
    expect(r.espPackets, summary).toBe(0);
  } else {
    expect(r.espPackets, summary).toBeGreaterThan(r.up.sent);
    expect(r.tunnelledPackets, summary).toBe(0);
  }
  expect(r.routerStatus.activeUplink, summary).toBe(s.expect.finalUplink);
  expect([...r.registeredAtEnd].sort(), summary).toEqual([...s.expect.registered].sort());
  expect(r.homeAgentCounters["signalling.drop.auth-status-146"] ?? 0, summary).toBe(0);
}

describe.skipIf(!canRun)("auth-option (RFC 4285) and bypass flows (real daemons, lab)", () => {
  const a = scenario("make-before-break");
  const b = scenario("break");
  const c = scenario("blackhole");
  const bypassLogs: string[] = [];
  const runs = canRun
    ? {
        a: run({ mode: "auth-option", scenario: a }, authChecks),
        b: run({ mode: "auth-option", scenario: b }),
        c: run({ mode: "auth-option", scenario: c }),
        encrypted: run({ mode: "auth-option", scenario: a, authOption: { encryptPayload: true } }),
        bypass: run(
          { mode: "simultaneous", scenario: STEADY, multiCoa: { bypass: [{ name: "voice", protocol: 17, remotePorts: { from: BYPASS_PORT, to: BYPASS_PORT } }] }, clearAllowed: `udp.port == ${BYPASS_PORT}` },
          bypassChecks,
          bypassLogs,
        ),
      }
    : undefined;
  for (const p of Object.values(runs ?? {})) p.catch(() => {});

  test("auth-option × (a) make-before-break: no loss, payload IPv6-in-IPv6 from either registered CoA", async () => {
    expectRecovered((await runs!.a).result, a, "ipv6-in-ipv6");
  }, 120_000);

  test("auth-option × (b) break: traffic recovers on LTE", async () => {
    expectRecovered((await runs!.b).result, b, "ipv6-in-ipv6");
  }, 120_000);

  test("auth-option × (c) blackhole: traffic recovers on LTE", async () => {
    expectRecovered((await runs!.c).result, c, "ipv6-in-ipv6");
  }, 120_000);

  test("auth-option with encryptPayload × (a): the payload is ESP keyed from the MN-HA key, no loss", async () => {
    expectRecovered((await runs!.encrypted).result, a, "esp");
  }, 120_000);

  test("auth-option: the home agent refuses a replayed (144), Mesg-ID-less (145) and forged (146) BU, answers each, keeps its bindings; clear payload from a third host is dropped", async () => {
    const { checked } = await runs!.a;
    expect(checked).toBeDefined();
    expect(checked!.refusals).toEqual({
      "signalling.drop.auth-status-144": 1,
      "signalling.drop.auth-status-145": 1,
      "signalling.drop.auth-status-146": 1,
      "signalling.auth.reject-sent.144": 1,
      "signalling.auth.reject-sent.145": 1,
      "signalling.auth.reject-sent.146": 1,
    });
    expect([...checked!.registeredAfter].sort()).toEqual(["lte", "wifi"]);
    expect(checked!.spoofDropped).toBe(5);
  }, 120_000);

  test("bypass: a UDP flow on the bypass port crosses in clear (IPv6-in-IPv6) both ways, everything else stays ESP; logged loudly; spoofed and non-bypass clear packets dropped and counted", async () => {
    const { result, checked } = await runs!.bypass;
    const c = checked!;
    const summary = JSON.stringify({ ...c, bypass: c.bypass.map((x) => [x.sent, x.received]), protectedFlow: c.protectedFlow.map((x) => [x.sent, x.received]) });
    for (const r of [...c.bypass, ...c.protectedFlow]) expect(r.received, summary).toBeGreaterThanOrEqual(r.sent - 2);
    const bypassSent = c.bypass[0]!.sent + c.bypass[1]!.sent;
    expect(c.clearBypass, summary).toBeGreaterThanOrEqual(bypassSent - 4);
    expect(c.clearOther, summary).toBe(0);
    expect(c.protectedInClear, summary).toBe(0);
    expect(c.esp, summary).toBeGreaterThanOrEqual(c.protectedFlow[0]!.sent + c.protectedFlow[1]!.sent);
    // One count per bypassed packet, at each end and each way.
    expect(c.router["dataplane.bypass.tx"], summary).toBe(c.bypass[0]!.sent);
    expect(c.homeAgent["dataplane.bypass.rx"], summary).toBe(c.bypass[0]!.sent);
    expect(c.homeAgent["dataplane.bypass.tx"], summary).toBe(c.bypass[1]!.sent);
    expect(c.router["dataplane.bypass.rx"], summary).toBe(c.bypass[1]!.sent);
    expect(c.spoofDropped, summary).toBe(5);
    expect(c.notBypassDropped, summary).toBe(5);
    // The main stream (not a bypass flow) stayed in ESP during the run; both daemons warned at start.
    expect(result.plaintextLeaks).toBe(0);
    expect(bypassLogs.filter((l) => /^(router|homeagent): .*WARNING: 1 flow\(s\) configured to bypass IPsec: voice/.test(l)).length, bypassLogs.join("\n")).toBe(2);
  }, 120_000);
});
