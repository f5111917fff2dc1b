// The demo: lab + fleet broker + real router and home agent + traffic, a scripted drive over the uplinks, live view, report.

import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Glob } from "bun";
import * as v from "valibot";
import { linkId, type LinkId } from "../../api/link-metrics.ts";
import type { MultiCoaMode } from "../../../firmware/config/schema.ts";
import { DEFAULT_LINK_POLICY_CONFIG } from "../../../firmware/links/config.ts";
import type { LinkDecision } from "../../../firmware/links/explain.ts";
import { HomeAgentConfigSchema, RouterConfigSchema } from "../../../firmware/roles/role-config.ts";
import { createLab, type Lab } from "../lab.ts";
import { installUplinkRoutes, LAB_KEYS, MONAMI_FROM_SOURCES, type MonamiCommand, type RoleDaemons, startRoleDaemons } from "../role-daemons.ts";
import { type AccessLinkName, ACCESS_LINKS, ipv6Of } from "../topology.ts";
import { type DemoDevice, routeFleetThroughTunnel, writeDemoDevice } from "./device-config.ts";
import { type FleetBroker, fleetToolsAvailable, startFleetBroker } from "./fleet-broker.ts";
import { summarizeFleetMessage } from "./fleet-summary.ts";
import { LinkShaper, shapeFor } from "./link-shaping.ts";
import { LinkSteering } from "./link-steering.ts";
import { type LiveFrame, type LiveHeader, LiveView, type ViewMode } from "./live-view.ts";
import { buildReport } from "./report/build-report.ts";
import { writeReportFiles } from "./report/write-report.ts";
import { DriveScript, findScenario } from "./scenarios.ts";
import type { DecisionEntry, DemoEvent, DemoReport, EventKind, Handover, Sample, UplinkSample } from "./timeline.ts";
import { startTraffic, type Traffic } from "./traffic.ts";
import { type CaptureMode, startUplinkCapture, type UplinkCapture } from "./uplink-check.ts";

const ROOT = resolve(import.meta.dir, "../../..");
const TICK_MS = 250;
const SAMPLE_MS = 500;
/** Rules of decisions that move traffic or say why it did not move: shown; the rest (prepares, probe modes) only in the report. */
const SHOWN_RULES = new Set(["initial", "failover", "radio-predictive", "better-score", "hold-dwell", "hold-budget", "all-down", "suppressed", "reusable", "hard-down", "probe-down", "recovered"]);

export interface DemoOptions {
  /** `drive`, a shipped trace name, or a trace file. */
  readonly scenario: string;
  readonly mode: MultiCoaMode;
  /** How the daemons key their SAs: IKEv2 with a lab PSK (the default) or the fixed lab keys. */
  readonly security?: "ikev2" | "static";
  readonly durationSeconds: number;
  /** Where the HTML report goes; the JSON report goes beside it (`.json`). */
  readonly reportPath: string;
  readonly capture: CaptureMode;
  /** `auto` (the compiled binary when it is current, else Bun), `bun`, or a path to a monami binary. */
  readonly daemons: string;
  /** Who picks the uplink: the router itself (device config), the demo's link engine, or the router when it can. */
  readonly steering: "auto" | "router" | "demo";
  readonly view: ViewMode;
  /** The download's pace (bit/s). */
  readonly downloadRateBps: number;
  /** Namespace tag (lowercase alphanumerics). */
  readonly tag: string;
  readonly seed: number;
  readonly write: (text: string) => void;
  /** Diagnostics (daemon logs and lab progress); silent by default. */
  readonly debug?: (line: string) => void;
}

export interface DemoResult {
  readonly report: DemoReport;
  readonly htmlPath: string;
  readonly jsonPath: string;
}

/** Picks how to start the daemons: a compiled binary only when it is newer than every source file and has the roles. */
export function daemonCommand(choice: string): { command: MonamiCommand; why: string } {
  if (choice === "bun") return { command: MONAMI_FROM_SOURCES, why: "Bun with the sources (--daemons bun)" };
  const binary = choice === "auto" ? resolve(ROOT, `dist/monami-linux-${process.arch === "arm64" ? "arm64" : "x64"}`) : resolve(choice);
  if (!existsSync(binary)) return { command: MONAMI_FROM_SOURCES, why: `Bun with the sources (no ${binary}; \`bun run build\` makes it)` };
  if (choice === "auto") {
    const built = statSync(binary).mtimeMs;
    let newest = 0;
    for (const f of new Glob("{firmware,board,ota}/**/*.ts").scanSync({ cwd: ROOT })) newest = Math.max(newest, statSync(resolve(ROOT, f)).mtimeMs);
    if (newest > built) return { command: MONAMI_FROM_SOURCES, why: `Bun with the sources (${binary} is older than the sources; \`bun run build\` refreshes it)` };
  }
  const probe = Bun.spawnSync([binary, "router", "--help"], { stdout: "pipe", stderr: "pipe" });
  if (probe.exitCode !== 0) return { command: MONAMI_FROM_SOURCES, why: `Bun with the sources (${binary} has no router role)` };
  return { command: [binary], why: `the compiled binary ${binary}` };
}

/** Sets `ipsec.multiCoaMode` (and each uplink's kind) when this build's daemon configs know them; says what ran. */
export function applyMode(
  configs: { router: Record<string, unknown>; homeAgent: Record<string, unknown> },
  mode: MultiCoaMode,
  kinds: Readonly<Record<AccessLinkName, string>>,
): { router: Record<string, unknown>; homeAgent: Record<string, unknown>; mode: string; note?: string } {
  const withMode = structuredClone(configs);
  (withMode.router.ipsec as Record<string, unknown>).multiCoaMode = mode;
  for (const mr of withMode.homeAgent.mobileRouters as Record<string, unknown>[]) (mr.ipsec as Record<string, unknown>).multiCoaMode = mode;
  withMode.router.uplinks = (withMode.router.uplinks as Record<string, unknown>[]).map((u) => ({ ...u, kind: kinds[u.id as AccessLinkName] }));
  const r = v.safeParse(RouterConfigSchema, withMode.router);
  const h = v.safeParse(HomeAgentConfigSchema, withMode.homeAgent);
  if (r.success && h.success) return { ...withMode, mode };
  const issues = [...(r.issues ?? []), ...(h.issues ?? [])].map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.message}`);
  const plain = v.safeParse(RouterConfigSchema, configs.router);
  if (!plain.success) throw new Error(`the lab's router config is invalid: ${plain.issues.map((i) => i.message).join("; ")}`);
  return { ...configs, mode: "primary", note: `mode ${mode} is not available in this build (${issues.slice(0, 2).join("; ")}): the daemons ran their single care-of address behaviour` };
}

class Recorder {
  readonly samples: Sample[] = [];
  readonly events: DemoEvent[] = [];
  readonly handovers: Handover[] = [];
  readonly decisions: LinkDecision[] = [];
  /** Decisions the router reported itself (when it steers). */
  readonly routerDecisions: DecisionEntry[] = [];
  driveMs = 0;
  #start: number;

  constructor(start: number) {
    this.#start = start;
  }

  /** Time zero of every axis: the drive's start. */
  restart(at: number): void {
    this.#start = at;
  }

  elapsed(): number {
    return performance.now() - this.#start;
  }

  event(kind: EventKind, text: string): void {
    this.events.push({ tMs: Math.round(this.elapsed()), driveMs: Math.round(this.driveMs), kind, text });
  }
}

/** Runs the whole demo; the lab is always torn down (also on errors, Ctrl-C and SIGTERM: the lab's handlers). */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const found = findScenario(options.scenario);
  if (!found.ok) throw new Error(found.error);
  const scriptResult = DriveScript.create(found.value.scenario, found.value.traces);
  if (!scriptResult.ok) throw new Error(scriptResult.error);
  const script = scriptResult.value;
  const scenario = script.scenario;
  const durationMs = options.durationSeconds * 1000;
  const speed = script.durationMs / durationMs;
  const debug = options.debug ?? (() => {});
  const htmlPath = resolve(options.reportPath);
  mkdirSync(dirname(htmlPath), { recursive: true });

  const view = new LiveView(options.view, options.write);
  const restoreTerminal = () => view.close();
  process.on("exit", restoreTerminal);
  const say = (line: string) => {
    if (options.view !== "tty") options.write(`${line}\n`);
  };

  say(`[demo] scenario ${scenario.name}: ${scenario.description}`);
  say(`[demo] ${(script.durationMs / 1000).toFixed(0)} s of drive in ${options.durationSeconds} s (×${speed.toFixed(1)}), mode ${options.mode}`);
  let lab: Lab | undefined;
  let daemons: RoleDaemons | undefined;
  let broker: FleetBroker | undefined;
  let traffic: Traffic | undefined;
  let capture: UplinkCapture | undefined;
  try {
    say("[demo] building the lab (namespaces mr, lan, net, ha, cn; link emulator)");
    lab = await createLab({ tag: options.tag, seed: options.seed, log: debug });
    const t = lab.topology;
    const rec = new Recorder(performance.now());
    let hrStart = process.hrtime.bigint();

    if (fleetToolsAvailable()) {
      broker = await startFleetBroker(lab, () => Math.round(rec.elapsed()), (m) => {
        const line = summarizeFleetMessage(m);
        if (line !== undefined) rec.event("fleet", line);
      });
      say(`[demo] fleet broker: Mosquitto at ${broker.url} in the correspondent network; watching monami/#`);
    } else {
      say("[demo] no mosquitto here: the fleet view is off (scripts/setup.sh installs it)");
    }

    // The uplinks as the drive starts, before the router registers.
    const shaper = new LinkShaper(lab, async (name) => installUplinkRoutes(lab!, name));
    const first = script.at(0);
    for (const name of ACCESS_LINKS) await shaper.apply(name, shapeFor(scenario.uplinks[name].kind, first.uplinks[name].point));

    // Captured from before the first registration, so every packet the daemons ever send is checked.
    if (options.capture !== "off") capture = await startUplinkCapture(lab, options.capture);

    let { command, why } = daemonCommand(options.daemons);
    const kinds = { lte: scenario.uplinks.lte.kind, wifi: scenario.uplinks.wifi.kind };
    const { roleDaemonConfigs } = await import("../role-daemons.ts");
    const security = options.security ?? "ikev2";
    const applied = applyMode(roleDaemonConfigs(lab, { security }), options.mode, kinds);
    const modeRun = applied.mode;
    const modeNote = applied.note;
    if (modeNote) say(`[demo] ${modeNote}`);
    // The router steers itself (device config: link engine with in-tunnel probes, fleet link) when this build can.
    let device: DemoDevice | undefined;
    let deviceNote: string | undefined;
    if (options.steering !== "demo") {
      const accepts = v.safeParse(RouterConfigSchema, { ...applied.router, device: "/x" }).success;
      const written = broker && accepts ? writeDemoDevice(lab, scenario, modeRun as MultiCoaMode, speed, broker.url) : undefined;
      if (written?.ok) device = written.value;
      else deviceNote = !broker ? "no fleet broker" : !accepts ? "this build's router config has no `device`" : `device config refused: ${written && !written.ok ? written.error : "?"}`;
      if (!device && options.steering === "router") throw new Error(`--steering router: ${deviceNote}`);
    }
    // When the home agent's binding cache took each care-of address (its `binding:` log lines, timed as they arrive).
    const homeAgentBindings: { tMs: number; careOf: string }[] = [];
    const noteHomeAgentBinding = (line: string) => {
      const m = /^homeagent: .*binding: .*"type":"binding-(created|updated|refreshed)".*"careOfAddress":\{"family":"ipv6","address":"([^"]+)"/.exec(line);
      if (m) homeAgentBindings.push({ tMs: Math.round(rec.elapsed()), careOf: m[2]! });
    };
    const start = async (cmd: MonamiCommand, withDevice: boolean) => {
      if (withDevice) await routeFleetThroughTunnel(lab!, "before-router");
      const started = await startRoleDaemons(lab!, {
        command: cmd,
        routerConfig: () => (withDevice && device ? { ...applied.router, device: device.path } : applied.router),
        homeAgentConfig: () => applied.homeAgent,
        ...(withDevice && device ? { routerEnv: device.env } : {}),
        log: (line) => {
          debug(line);
          noteHomeAgentBinding(line);
        },
      });
      if (withDevice) await routeFleetThroughTunnel(lab!, "tunnel-up");
      return started;
    };
    say(`[demo] starting monami homeagent (ha) and monami router (mr) with ${why}${device ? "; the router selects its uplink itself and reports to the fleet broker" : ""}`);
    const attempts: [MonamiCommand, boolean, string][] = [[command, device !== undefined, why]];
    if (device) attempts.push([command, false, why]);
    if (command !== MONAMI_FROM_SOURCES) attempts.push([MONAMI_FROM_SOURCES, false, "Bun with the sources (the binary failed to start)"]);
    let routerSteers = false;
    for (const [i, [cmd, withDevice, text]] of attempts.entries()) {
      try {
        daemons = await start(cmd, withDevice);
        command = cmd;
        why = text;
        routerSteers = withDevice;
        break;
      } catch (e) {
        const first = (e as Error).message.split("\n")[0];
        if (i === attempts.length - 1 || options.steering === "router") throw e;
        say(`[demo] ${withDevice ? "the router with its device config" : "the daemons"} did not start (${first}); trying without`);
        deviceNote = `the router did not start with its device config: ${first}`;
      }
    }
    const d = daemons!;
    say(`[demo] router registered on LTE (BU/BA under ESP); home agent ${d.homeAgentAddress}, home address ${d.homeAddress}`);
    if (!routerSteers) say(`[demo] link selection: the demo's link engine steers the router${deviceNote ? ` (${deviceNote})` : ""}`);

    traffic = await startTraffic(lab, { downloadRateBps: options.downloadRateBps }, debug);
    say(`[demo] traffic: voice call lan ↔ cn (50 pps × 160 B each way), download cn → lan (${(options.downloadRateBps / 1e6).toFixed(0)} Mbit/s offered)`);

    const steering = new LinkSteering(
      ACCESS_LINKS.map((name) => ({ id: linkId(name), kind: scenario.uplinks[name].kind })),
      DEFAULT_LINK_POLICY_CONFIG,
      options.seed,
    );
    const pointAt = (link: LinkId, driveMs: number) => script.at(driveMs).uplinks[link as AccessLinkName].point;
    const careOf: Record<AccessLinkName, string> = { lte: ipv6Of(t.access.lte.router), wifi: ipv6Of(t.access.wifi.router) };
    const header: LiveHeader = {
      scenario: scenario.name,
      mode: modeRun,
      durationMs,
      speed,
      scenes: scenario.scenes,
      uplinks: { lte: { label: scenario.uplinks.lte.label, careOfAddress: careOf.lte }, wifi: { label: scenario.uplinks.wifi.label, careOfAddress: careOf.wifi } },
      reportPath: htmlPath,
    };
    const spis = security === "ikev2" ? await ikeTunnelSpis(d) : { outbound: spiText(LAB_KEYS.tunnelToHomeAgent.spi), inbound: spiText(LAB_KEYS.tunnelToRouter.spi) };
    rec.event("note", security === "ikev2" ? `SAs keyed by IKEv2: tunnel CHILD_SA ${spis.outbound}_o ${spis.inbound}_i` : "SAs keyed by the fixed lab keys (--security static)");

    let routerActive: AccessLinkName | undefined = "lte";
    /** Date.now() at the drive's start: maps the router's wall-clock decision times onto the report's axis. */
    let wallEpoch = Date.now();
    let lastEmulator: Record<string, number> | undefined;
    let lastDownload: { bytes: number; t: number } | undefined;
    let lastSampleAt = -Infinity;
    let routerCounters: Record<string, unknown> = {};
    let homeAgentCounters: Record<string, unknown> = {};
    let sceneShown = -1;
    let frame: LiveFrame | undefined;
    rec.event("note", `router on ${careOf.lte} (lte), home agent ${d.homeAgentAddress}; ${why}`);

    const switchTo = async (to: AccessLinkName, rule: string, reason: string) => {
      const from = routerActive;
      const reply = await d.routerCommand(`uplink ${to}`);
      if (typeof reply.error === "string") {
        rec.event("note", `router refused uplink ${to}: ${reply.error}`);
        return;
      }
      routerActive = to;
      rec.handovers.push({ tMs: Math.round(rec.elapsed()), driveMs: Math.round(rec.driveMs), from, to, rule, reason });
      rec.event("handover", `${from ?? "none"} → ${to} (${rule}): ${reason}`);
      void watchHomeAgent(rec.handovers.length - 1, to);
    };

    /**
     * When the home agent took the new care-of address: its binding log line at or after the decision, else
     * (the binding was already there, e.g. with several care-of addresses) the first poll that sees it.
     */
    const watchHomeAgent = async (index: number, to: AccessLinkName) => {
      const deadline = performance.now() + 5000;
      while (performance.now() < deadline && daemons !== undefined) {
        const decidedAt = rec.handovers[index]!.tMs;
        const logged = homeAgentBindings.find((b) => b.careOf === careOf[to] && b.tMs >= decidedAt - 20);
        if (logged) {
          rec.handovers[index] = { ...rec.handovers[index]!, homeAgentMs: Math.max(decidedAt, logged.tMs) };
          return;
        }
        const status = await d.homeAgentCommand("status").catch(() => ({}) as Record<string, unknown>);
        const table = (status.table ?? []) as { careOfAddresses?: string[] }[];
        if (table.some((b) => b.careOfAddresses?.includes(careOf[to]))) {
          const h = rec.handovers[index]!;
          rec.handovers[index] = { ...h, homeAgentMs: Math.round(rec.elapsed()) };
          return;
        }
        await Bun.sleep(20);
      }
    };

    /** The router's decision records (fleet telemetry's `decisions`): at (wall ms), kind, from, to, rule, reason. */
    const routerDecisions = (status: Record<string, unknown>) =>
      (Array.isArray(status.decisions) ? status.decisions : []) as { at?: number; kind?: string; from?: string; to?: string; rule?: string; reason?: string }[];
    const seenDecisions = new Set<string>();
    const takeRouterDecisions = (status: Record<string, unknown>) => {
      for (const x of routerDecisions(status)) {
        const key = `${x.at}|${x.rule}|${x.to}|${x.reason}`;
        if (seenDecisions.has(key)) continue;
        seenDecisions.add(key);
        rec.event("decision", `${x.rule ?? x.kind ?? "decision"}${x.to ? ` ${x.to}` : ""}: ${x.reason ?? ""}`);
        rec.routerDecisions.push({ tMs: Math.round(rec.elapsed()), driveMs: Math.round(rec.driveMs), rule: x.rule ?? x.kind ?? "decision", link: x.to, summary: x.reason ?? "" });
      }
    };

    const sample = async () => {
      const [status, haStatus, rc, hc, emu] = await Promise.all([
        d.routerCommand("status"),
        d.homeAgentCommand("status"),
        d.routerCommand("counters"),
        d.homeAgentCommand("counters"),
        lab!.emulatorCounters(),
      ]);
      routerCounters = rc;
      homeAgentCounters = hc;
      const now = rec.elapsed();
      const seconds = lastSampleAt === -Infinity ? SAMPLE_MS / 1000 : (now - lastSampleAt) / 1000;
      lastSampleAt = now;
      const moment = script.at(rec.driveMs);
      const active = typeof status.activeUplink === "string" ? (status.activeUplink as AccessLinkName) : undefined;
      const why = [...routerDecisions(status)].reverse().find((x) => x.to === active);
      // From no primary at all (the router's first turn) to one is no handover unless a decision says so.
      if (active !== routerActive && active !== undefined && (routerActive !== undefined || why !== undefined)) {
        // The router moved on its own (its link engine): the newest decision towards `active` says why.
        const rule = why?.rule ?? "router";
        const reason = why?.reason ?? "the router's own link selection";
        const at = why?.at !== undefined ? Math.min(now, why.at - wallEpoch) : now;
        rec.handovers.push({ tMs: Math.round(at), driveMs: Math.round(at * speed), from: routerActive, to: active, rule, reason });
        rec.event("handover", `${routerActive ?? "none"} → ${active} (${rule}): ${reason}`);
        void watchHomeAgent(rec.handovers.length - 1, active);
      }
      routerActive = active;
      if (routerSteers) takeRouterDecisions(status);
      const bindings = (status.bindings ?? []) as { linkId?: string; state?: string }[];
      const table = (haStatus.table ?? []) as { careOfAddresses?: string[] }[];
      const atHa = new Set(table.flatMap((b) => b.careOfAddresses ?? []));
      const c = emu.counters;
      const delta = (key: string) => (c[key] ?? 0) - (lastEmulator?.[key] ?? 0);
      const mbps = (bytes: number) => (bytes * 8) / 1e6 / seconds;
      const uplinks = {} as Record<AccessLinkName, UplinkSample>;
      for (const name of ACCESS_LINKS) {
        const p = moment.uplinks[name].point;
        const shape = shaper.current(name);
        const up = delta(`${name}.uplink.tx.bytes`);
        const down = delta(`${name}.downlink.tx.bytes`);
        steering.addTraffic(linkId(name), up + down);
        uplinks[name] = {
          up: p?.up ?? false,
          rttMs: shape?.kind === "shaped" ? shape.rttMs : undefined,
          lossPercent: shape?.kind === "shaped" ? shape.loss * 100 : undefined,
          rateMbps: shape?.kind === "shaped" ? shape.rateBps / 1e6 : undefined,
          rsrpDbm: p?.up ? p.rsrpDbm : undefined,
          sinrDb: p?.up ? p.sinrDb : undefined,
          signalDbm: p?.up ? p.signalDbm : undefined,
          emulator: shape?.kind === "cut" ? `cut:${shape.mode}` : "ok",
          upMbps: mbps(up),
          downMbps: mbps(down),
          binding: bindings.find((b) => b.linkId === name)?.state,
          ...probeOf(status, name),
          atHomeAgent: atHa.has(careOf[name]),
        };
      }
      lastEmulator = c;
      const voice: Sample["voice"] = {};
      for (const dir of ["up", "down"] as const) {
        const r = traffic!.state.voice[dir];
        if (r) voice[dir] = { lossPercent: r.expected > 0 ? (r.lost / r.expected) * 100 : r.received === 0 ? 100 : 0, jitterMs: r.jitterMs, delayMs: r.delayMs, maxGapMs: r.maxGapMs };
      }
      const dl = traffic!.state.download;
      const downloadMbps = dl && lastDownload && dl.t > lastDownload.t ? ((dl.bytes - lastDownload.bytes) * 8) / 1e3 / (dl.t - lastDownload.t) : 0;
      if (dl) lastDownload = { bytes: dl.bytes, t: dl.t };
      const num = (x: unknown) => (typeof x === "number" ? x : 0);
      const s: Sample = {
        tMs: Math.round(now),
        driveMs: Math.round(rec.driveMs),
        scene: moment.sceneIndex,
        active,
        uplinks,
        voice,
        downloadMbps,
        esp: { txPackets: num(rc["esp.tx.packets"]), rxPackets: num(rc["esp.rx.packets"]), txBytes: num(rc["esp.tx.bytes"]), rxBytes: num(rc["esp.rx.bytes"]) },
      };
      rec.samples.push(s);
      frame = {
        header,
        sample: s,
        events: rec.events,
        signalling: { bindingUpdates: num(rc["router.bu.sent"]), bindingAcks: num(hc["homeagent.ba.sent"]), mqtt: broker?.messages.length ?? 0 },
        handovers: rec.handovers.length,
        downloadBytes: dl?.bytes ?? 0,
        spis,
      };
      view.update(frame);
    };

    // The drive.
    const wallStart = performance.now();
    wallEpoch = Date.now();
    rec.restart(wallStart);
    hrStart = process.hrtime.bigint();
    let nextSampleAt = wallStart;
    rec.event("note", `drive starts: ${scenario.scenes.length} scenes, ${(script.durationMs / 1000).toFixed(0)} s of trace ×${speed.toFixed(1)}`);
    for (;;) {
      const elapsed = performance.now() - wallStart;
      if (elapsed >= durationMs) break;
      rec.driveMs = Math.min(script.durationMs, elapsed * speed);
      const moment = script.at(rec.driveMs);
      if (moment.sceneIndex !== sceneShown) {
        sceneShown = moment.sceneIndex;
        rec.event("scene", `scene ${moment.sceneIndex + 1}: ${moment.scene.title} — ${moment.scene.caption}`);
      }
      for (const name of ACCESS_LINKS) {
        const shape = shapeFor(scenario.uplinks[name].kind, moment.uplinks[name].point);
        const before = shaper.current(name);
        if (await shaper.apply(name, shape)) {
          if (shape.kind === "cut" && before?.kind !== "cut") rec.event("link", `${name}: ${shape.why} (${shape.mode === "carrier" ? "carrier lost" : "nothing passes"})`);
          else if (shape.kind === "shaped" && before?.kind === "cut") rec.event("link", `${name}: back (${shape.rttMs} ms, ${(shape.loss * 100).toFixed(1)} % loss)`);
        }
      }
      if (!routerSteers) steering.advance(rec.driveMs, pointAt);
      const batch: LinkDecision[] = [];
      for (let dec = steering.pollDecision(); dec; dec = steering.pollDecision()) {
        batch.push(dec);
        rec.decisions.push(dec);
        if (SHOWN_RULES.has(dec.rule)) rec.event("decision", `${dec.rule}${dec.link ? ` ${dec.link}` : ""}: ${dec.summary}`);
      }
      for (let a = steering.pollAction(); a; a = steering.pollAction()) {
        if (a.kind !== "set-primary") continue;
        const why = batch.find((dec) => dec.primaryAfter === a.link && dec.primaryBefore === a.previous);
        if ((a.link as string) !== routerActive) await switchTo(a.link as AccessLinkName, why?.rule ?? "policy", why?.summary ?? "link policy");
      }
      if (performance.now() >= nextSampleAt) {
        nextSampleAt += SAMPLE_MS;
        await sample();
      }
      await Bun.sleep(Math.max(10, TICK_MS - ((performance.now() - wallStart) % TICK_MS)));
    }
    rec.event("note", "drive over: hanging up, stopping the download");

    const totals = await traffic.stop();
    traffic = undefined;
    const finalRouter = await d.routerCommand("counters");
    const finalHomeAgent = await d.homeAgentCommand("counters");
    const emulatorFinal = await lab.emulatorCounters();
    // Shutdown order: the router deregisters (and says offline to the fleet) while the home agent still answers;
    // the broker goes before the home agent, whose tunnel routes go with it (anything the broker still sent to
    // the router afterwards would take the lab's plain route); the capture ends before the home agent stops.
    await d.router.stop("SIGTERM", 5000).catch(() => 0);
    const fleetMessages = broker ? [...broker.messages] : [];
    await broker?.stop();
    broker = undefined;
    const check = capture ? await capture.finish({ homeAgent: d.homeAgentAddress, homeAddress: d.homeAddress }) : undefined;
    capture = undefined;
    await d.stop();
    daemons = undefined;
    if (check) rec.event("note", check.ok ? `uplinks: ${check.packets} packets checked, nothing in clear` : `uplinks: PLAINTEXT seen: ${check.offenders.join("; ")}`);
    const report = buildReport({
      scenario,
      script,
      requestedMode: options.mode,
      mode: modeRun,
      modeNote,
      durationSeconds: options.durationSeconds,
      speed,
      daemons: why,
      steering: routerSteers
        ? "the router's own link engine (firmware/links): interface state and in-tunnel probes over the emulated uplinks, decisions reported to the fleet"
        : `the demo's link engine (firmware/links on the drive's radio readings and probe fates); the router registers and moves traffic on \`uplink\`${deviceNote ? ` (${deviceNote})` : ""}`,
      routerDecisions: rec.routerDecisions,
      careOf,
      homeAgent: d.homeAgentAddress,
      homeAddress: d.homeAddress,
      mobileNetworkPrefix: t.mobileNetworkPrefix,
      samples: rec.samples,
      events: rec.events,
      handovers: rec.handovers,
      decisions: rec.decisions,
      fleetMessages,
      fleetUrl: fleetMessages.length > 0 || fleetToolsAvailable() ? `mosquitto_sub -t 'monami/#' on ${t.correspondent.ipv6?.address}` : undefined,
      voice: totals.voice,
      hrStartMs: Number(hrStart) / 1e6,
      downloadBytes: totals.downloadBytes,
      counters: { router: numbers(finalRouter), homeAgent: numbers(finalHomeAgent), emulator: emulatorFinal.counters },
      uplinkCheck: check,
      spis,
    });
    const paths = writeReportFiles(report, htmlPath);
    view.close();
    process.off("exit", restoreTerminal);
    return { report, htmlPath: paths.html, jsonPath: paths.json };
  } finally {
    view.close();
    await traffic?.stop().catch(() => undefined);
    await daemons?.stop().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
    await lab?.destroy();
  }
}

/** The router's own view of an uplink (its link engine's in-tunnel probes), when it reports links in its status. */
function probeOf(status: Record<string, unknown>, id: string): Pick<UplinkSample, "probeRttMs" | "probeLossPercent" | "health"> {
  const links = Array.isArray(status.links) ? (status.links as Record<string, unknown>[]) : [];
  const l = links.find((x) => x.id === id);
  if (l === undefined) return {};
  return {
    ...(typeof l.rttMs === "number" ? { probeRttMs: l.rttMs } : {}),
    ...(typeof l.lossPercent === "number" ? { probeLossPercent: l.lossPercent } : {}),
    ...(typeof l.health === "string" ? { health: l.health } : {}),
  };
}

function numbers(o: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, number] => typeof e[1] === "number"));
}

const spiText = (spi: number) => `0x${spi.toString(16).padStart(8, "0")}`;

/** The router's tunnel CHILD_SA SPIs (its `status`), as the report shows them; "?" when IKE has none yet. */
async function ikeTunnelSpis(d: RoleDaemons): Promise<{ outbound: string; inbound: string }> {
  const status = await d.routerCommand("status");
  const children = ((status.ike as { children?: { mode: string; state: string; spiIn: number; spiOut: number }[] } | undefined)?.children ?? []).filter((c) => c.mode === "tunnel");
  const child = children.find((c) => c.state === "installed") ?? children[0];
  return child ? { outbound: spiText(child.spiOut), inbound: spiText(child.spiIn) } : { outbound: "?", inbound: "?" };
}

