// Radio metrics per uplink: the modem or Wi-Fi tool that fits each uplink on this board (or the simulated board's trace), every read bounded.

import { readFileSync, readlinkSync } from "node:fs";
import { basename } from "node:path";
import type { BoardDefinition } from "../../board/api/board.ts";
import {
  formatMetricsError,
  linkId,
  type CommandOutput,
  type CommandRunner,
  type CellularRadio,
  type LinkId,
  type LinkKind,
  type LinkMetricsError,
  type LinkMetricsSource,
  type LinkSample,
  type MetricsSourceName,
  type WifiRadio,
} from "../../board/api/link-metrics.ts";
import { fileSystemReader, type TextFileReader } from "../../board/linux/interface-stats.ts";
import { SerialAtPort, type AtPort } from "../../board/modem/at-port.ts";
import { processRunner } from "../../board/modem/command-runner.ts";
import { MmcliPortReader } from "../../board/modem/mmcli-modem.ts";
import { AtModemReader, QmicliReader, type AtDialect } from "../../board/modem/modem-reader.ts";
import { LinkTraceReplay, parseLinkTrace } from "../../board/sim/link-trace-replay.ts";
import { WifiReader } from "../../board/wifi/wifi-reader.ts";
import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import { err, ok, type Result } from "../core/result.ts";
import type { UplinkConfig } from "../config/schema.ts";
import { monotonicNow } from "../roles/daemon.ts";
import { uplinkKind } from "../roles/link-settings.ts";

/** The external programs a radio reader may need; each is looked up on PATH once. */
export type RadioTool = "qmicli" | "mmcli" | "iw" | "stty";

/** How one uplink's radio is read (or why it is not). */
export type RadioPlan =
  | { readonly kind: "qmicli"; readonly device: string; readonly mbim: boolean }
  | { readonly kind: "mmcli"; readonly ports: readonly string[] }
  | { readonly kind: "at"; readonly device: string; readonly dialect: AtDialect }
  | { readonly kind: "iw"; readonly iface: string }
  | { readonly kind: "none"; readonly reason: string }
  | { readonly kind: "missing-tool"; readonly tools: readonly RadioTool[]; readonly reason: string };

/** How long a read may hold up the sampling loop, how long a tool may run, how long a good reading stands in for failed ones. */
export interface RadioTiming {
  /** The caller waits this long for a reading; a slower one finishes in the background and counts as skipped. */
  readonly waitMs: number;
  /** Each tool invocation (or AT command) is killed after this long. */
  readonly toolTimeoutMs: number;
  /** A good reading is reported again for this long while later reads fail or are slow; then the error shows. */
  readonly holdMs: number;
}

export const DEFAULT_RADIO_TIMING: RadioTiming = { waitMs: 400, toolTimeoutMs: 4000, holdMs: 10_000 };

export interface RadioSourcesOptions {
  readonly board: BoardDefinition;
  /** The device config's uplinks that the router's role config also has. */
  readonly uplinks: readonly UplinkConfig[];
  /** `PATH` (tool lookup), `MONAMI_SIM_LINK_TRACE` (simulated board), `MONAMI_AT_DIALECT` (quectel | sierra | 3gpp). */
  readonly env: Record<string, string | undefined>;
  readonly counters: Counters;
  readonly log: (line: string) => void;
  readonly timing?: Partial<RadioTiming>;
  /** Injected for tests; the real ones by default. */
  readonly runner?: CommandRunner;
  readonly which?: (tool: RadioTool) => string | undefined;
  readonly openAtPort?: (device: string, runner: CommandRunner) => Promise<Result<AtPort & { close(): void }, LinkMetricsError>>;
  readonly files?: TextFileReader;
  /** The kernel driver bound to a network interface (`qmi_wwan`, `cdc_mbim`), for modems the board does not describe. */
  readonly kernelDriverOf?: (iface: string) => string | undefined;
  readonly now?: () => Instant;
}

/** What `monami status` shows for one uplink's radio. */
export interface RadioLinkStatus {
  /** The command or channel read (`qmicli -d /dev/cdc-wdm0 -p`), or why there is none. */
  readonly source: string;
  readonly state: "none" | "no-tool" | "waiting" | "ok" | "held" | "failing";
  readonly radio?: CellularRadio | WifiRadio;
  /** Age of `radio`, ms. */
  readonly ageMs?: number;
  readonly lastError?: string;
  readonly reads: number;
  readonly failed: number;
  readonly slow: number;
  readonly skipped: number;
}

export interface RadioSources {
  /** Uplink id → its radio source; uplinks without one are absent. */
  readonly sources: ReadonlyMap<string, LinkMetricsSource>;
  /** Per uplink: which tool, the last reading and its age, the last error, read counts. */
  status(): Record<string, RadioLinkStatus>;
  /** Closes AT channels. */
  close(): void;
}

/**
 * Builds the radio sources of the router's uplinks. On the simulated board they replay the link trace
 * named by `MONAMI_SIM_LINK_TRACE` (none without it); elsewhere each uplink gets the reader its driver
 * and the board's modem control call for (`planRadio`). A missing tool leaves the uplink without a source,
 * logged once and counted (`router.radio.tool-missing`). Throws only for an unreadable or invalid trace file.
 */
export function radioSources(o: RadioSourcesOptions): RadioSources {
  const timing = { ...DEFAULT_RADIO_TIMING, ...o.timing };
  const now = o.now ?? monotonicNow;
  const bounded = new Map<string, BoundedRadioSource>();
  const absent = new Map<string, { source: string; state: "none" | "no-tool" }>();
  const closers: (() => void)[] = [];

  if (o.board.name === "simulated") {
    for (const [id, s] of traceSources(o, now)) bounded.set(id, new BoundedRadioSource(s.source, { ...common(o, timing), describe: s.describe, errorSource: "trace" }));
  } else {
    const tools = probeTools(o);
    const runner = pinnedRunner(o.runner ?? processRunner, tools);
    const dialect = atDialect(o.env["MONAMI_AT_DIALECT"]);
    const driverOf = o.kernelDriverOf ?? kernelDriverOf;
    for (const u of o.uplinks) {
      const plan = planRadio(o.board, u, (t) => tools.get(t) !== undefined, { atDialect: dialect, kernelDriverOf: driverOf });
      switch (plan.kind) {
        case "none":
          absent.set(u.id, { source: plan.reason, state: "none" });
          break;
        case "missing-tool":
          o.counters.increment("router.radio.tool-missing");
          o.log(`radio of ${u.id}: none: ${plan.reason}`);
          absent.set(u.id, { source: plan.reason, state: "no-tool" });
          break;
        default: {
          const { source, describe, close } = readerFor(plan, u.id, runner, o, timing);
          if (close) closers.push(close);
          bounded.set(u.id, new BoundedRadioSource(source, { ...common(o, timing), describe, errorSource: errorSourceOf(plan.kind) }));
          o.log(`radio of ${u.id}: ${describe} (${tools.get(toolOf(plan.kind)) ?? ""})`);
        }
      }
    }
  }

  return {
    sources: bounded,
    status() {
      const out: Record<string, RadioLinkStatus> = {};
      for (const u of o.uplinks) {
        const b = bounded.get(u.id);
        const a = absent.get(u.id);
        if (b) out[u.id] = b.status(now());
        else out[u.id] = { source: a?.source ?? "none", state: a?.state ?? "none", reads: 0, failed: 0, slow: 0, skipped: 0 };
      }
      return out;
    },
    close() {
      for (const c of closers) c();
    },
  };
}

/**
 * Picks the reader of one uplink, given which tools are on PATH:
 * - cellular: the board's modem control for the uplink's interface (else the config's `modemDevice`: a
 *   tty is an AT channel, a cdc-wdm device speaks what the interface's kernel driver says);
 *   `qmi` → qmicli (via qmi-proxy), else ModemManager; `mbim` → ModemManager, else qmicli with QMI over
 *   MBIM (Qualcomm-based modems only); unknown → ModemManager, else qmicli; `at` → the AT channel;
 * - wifi: `iw` on the driver's interface; ethernet and simulated drivers: no radio.
 */
export function planRadio(
  board: BoardDefinition,
  uplink: UplinkConfig,
  has: (tool: RadioTool) => boolean,
  options: { readonly atDialect: AtDialect; readonly kernelDriverOf: (iface: string) => string | undefined },
): RadioPlan {
  const d = uplink.driver;
  switch (d.kind) {
    case "ethernet":
      return { kind: "none", reason: "wired uplink: no radio" };
    case "simulated":
      return { kind: "none", reason: `simulated driver on board ${board.name}: no radio` };
    case "wifi":
      return has("iw") ? { kind: "iw", iface: d.interface } : { kind: "missing-tool", tools: ["iw"], reason: `iw is not on PATH (Wi-Fi ${d.interface}); install iw` };
    case "cellular": {
      const described = board.uplinks.find((b) => b.interface === d.interface)?.modem;
      const device = described?.device ?? d.modemDevice;
      const protocol = described?.protocol ?? (/^\/dev\/tty/.test(device) ? "at" : protocolOfKernelDriver(options.kernelDriverOf(d.interface)));
      const mmcli: RadioPlan = { kind: "mmcli", ports: [basename(device), d.interface] };
      const missing = (tools: RadioTool[], what: string): RadioPlan => ({
        kind: "missing-tool",
        tools,
        reason: `${tools.join(" and ")} ${tools.length > 1 ? "are" : "is"} not on PATH (${what} on ${device}); install ${tools.map(packageOf).join(" or ")}`,
      });
      switch (protocol) {
        case "simulated":
          return { kind: "none", reason: `simulated modem on board ${board.name}: no radio` };
        case "qmi":
          return has("qmicli") ? { kind: "qmicli", device, mbim: false } : has("mmcli") ? mmcli : missing(["qmicli", "mmcli"], "QMI modem");
        case "mbim":
          return has("mmcli") ? mmcli : has("qmicli") ? { kind: "qmicli", device, mbim: true } : missing(["mmcli", "qmicli"], "MBIM modem");
        case "unknown":
          return has("mmcli") ? mmcli : has("qmicli") ? { kind: "qmicli", device, mbim: false } : missing(["mmcli", "qmicli"], "modem");
        case "at":
          return has("stty") ? { kind: "at", device, dialect: options.atDialect } : missing(["stty"], "AT channel");
      }
    }
  }
}

function protocolOfKernelDriver(driver: string | undefined): "qmi" | "mbim" | "unknown" {
  return driver === "qmi_wwan" ? "qmi" : driver === "cdc_mbim" ? "mbim" : "unknown";
}

function packageOf(tool: RadioTool): string {
  switch (tool) {
    case "qmicli":
      return "libqmi-utils";
    case "mmcli":
      return "modemmanager";
    case "iw":
      return "iw";
    case "stty":
      return "coreutils";
  }
}

function toolOf(kind: "qmicli" | "mmcli" | "at" | "iw"): RadioTool {
  return kind === "at" ? "stty" : kind;
}

function errorSourceOf(kind: "qmicli" | "mmcli" | "at" | "iw"): MetricsSourceName {
  return kind === "at" ? "at-port" : kind === "iw" ? "iw-link" : kind;
}

function atDialect(text: string | undefined): AtDialect {
  return text === "quectel" || text === "sierra" ? text : "3gpp";
}

/** `/sys/class/net/<iface>/device/driver` → the driver's name. */
function kernelDriverOf(iface: string): string | undefined {
  try {
    return basename(readlinkSync(`/sys/class/net/${iface}/device/driver`));
  } catch {
    return undefined;
  }
}

/** Each tool's absolute path from one PATH lookup at start (undefined: not installed). */
function probeTools(o: RadioSourcesOptions): ReadonlyMap<RadioTool, string | undefined> {
  const which = o.which ?? ((tool: RadioTool) => Bun.which(tool, { PATH: o.env["PATH"] ?? "" }) ?? undefined);
  return new Map((["qmicli", "mmcli", "iw", "stty"] as const).map((t) => [t, which(t)]));
}

/** Runs the probed binary itself (so a PATH change later does not swap tools under a running reader). */
function pinnedRunner(runner: CommandRunner, tools: ReadonlyMap<RadioTool, string | undefined>): CommandRunner {
  return {
    run(argv: readonly string[], timeoutMs: number): Promise<CommandOutput> {
      const path = tools.get(argv[0] as RadioTool);
      return runner.run(path === undefined ? argv : [path, ...argv.slice(1)], timeoutMs);
    },
  };
}

function readerFor(
  plan: Extract<RadioPlan, { kind: "qmicli" | "mmcli" | "at" | "iw" }>,
  id: string,
  runner: CommandRunner,
  o: RadioSourcesOptions,
  timing: RadioTiming,
): { source: LinkMetricsSource; describe: string; close?: () => void } {
  const link = linkId(id);
  const counters = o.counters;
  const timeoutMs = timing.toolTimeoutMs;
  switch (plan.kind) {
    case "qmicli":
      return {
        source: new QmicliReader({ link, counters, device: plan.device, runner, timeoutMs, mbim: plan.mbim }),
        describe: `qmicli -d ${plan.device} -p${plan.mbim ? " --device-open-mbim" : ""} --nas-get-signal-info`,
      };
    case "mmcli":
      return { source: new MmcliPortReader({ link, counters, runner, ports: plan.ports, timeoutMs }), describe: `mmcli --signal-get on the modem with port ${plan.ports.join("/")}` };
    case "iw":
      return { source: new WifiReader({ link, iface: plan.iface, runner, counters, files: o.files ?? fileSystemReader, timeoutMs }), describe: `iw dev ${plan.iface} link + station dump, /proc/net/wireless` };
    case "at": {
      const port = new LazyAtPort(plan.device, runner, o.openAtPort ?? SerialAtPort.open);
      return { source: new AtModemReader({ link, counters, port, dialect: plan.dialect, timeoutMs }), describe: `AT (${plan.dialect}) on ${plan.device}`, close: () => port.close() };
    }
  }
}

/** Opens the AT channel at the first command, and again after an open failed. */
class LazyAtPort implements AtPort {
  readonly #device: string;
  readonly #runner: CommandRunner;
  readonly #open: NonNullable<RadioSourcesOptions["openAtPort"]>;
  #port: (AtPort & { close(): void }) | undefined;
  #closed = false;

  constructor(device: string, runner: CommandRunner, open: NonNullable<RadioSourcesOptions["openAtPort"]>) {
    this.#device = device;
    this.#runner = runner;
    this.#open = open;
  }

  async transact(command: string, timeoutMs: number): Promise<Result<string, LinkMetricsError>> {
    if (this.#port === undefined) {
      if (this.#closed) return err({ source: "at-port", kind: "io", line: 0, detail: `${this.#device}: closed` });
      const opened = await this.#open(this.#device, this.#runner);
      if (!opened.ok) return opened;
      this.#port = opened.value;
    }
    return this.#port.transact(command, timeoutMs);
  }

  close(): void {
    this.#closed = true;
    this.#port?.close();
    this.#port = undefined;
  }
}

/** The simulated board's sources: the trace's link with the uplink's id, else the first of its kind. */
function traceSources(o: RadioSourcesOptions, now: () => Instant): Map<string, { source: LinkMetricsSource; describe: string }> {
  const sources = new Map<string, { source: LinkMetricsSource; describe: string }>();
  const path = o.env["MONAMI_SIM_LINK_TRACE"];
  if (path === undefined || path === "") return sources;
  const trace = parseLinkTrace(readFileSync(path, "utf8"));
  if (!trace.ok) throw new Error(`MONAMI_SIM_LINK_TRACE ${path}: line ${trace.error.line}: ${trace.error.detail ?? trace.error.kind}`);
  const replay = new LinkTraceReplay(trace.value);
  const start = now();
  for (const u of o.uplinks) {
    const kind: LinkKind = uplinkKind(u);
    const traced = trace.value.header.links.find((l) => l.id === u.id) ?? trace.value.header.links.find((l) => l.kind === kind);
    if (traced === undefined) continue;
    // Trace time starts with the router; the sample is stamped with the router's own clock.
    const source: LinkMetricsSource = {
      link: linkId(u.id),
      kind,
      read: async (at) => ok({ ...replay.sample(traced.id, kind, (at - start) as Instant), link: linkId(u.id), at }),
    };
    sources.set(u.id, { source, describe: `trace ${trace.value.header.name}, link ${traced.id}` });
    o.log(`radio of ${u.id}: trace ${trace.value.header.name}, link ${traced.id}`);
  }
  return sources;
}

function common(o: RadioSourcesOptions, timing: RadioTiming) {
  return { counters: o.counters, log: o.log, timing };
}

interface BoundedOptions {
  readonly counters: Counters;
  readonly log: (line: string) => void;
  readonly timing: RadioTiming;
  readonly describe: string;
  /** The metrics source named in this wrapper's own errors (slow, skipped). */
  readonly errorSource: MetricsSourceName;
}

/**
 * A reader that never holds its caller longer than `waitMs` and never runs twice at once: a read still
 * running when the next is due is skipped (`router.radio.skipped`); a read slower than `waitMs` is
 * answered from the last good reading and finishes in the background (`router.radio.slow`). A failed
 * read (`router.radio.failed`, plus the parser's `board.metrics.*` counter) is answered the same way;
 * after `holdMs` without a good reading the typed error itself goes to the caller. Logs only changes
 * between working and failing.
 */
export class BoundedRadioSource implements LinkMetricsSource {
  readonly link: LinkId;
  readonly kind: LinkKind;
  readonly #inner: LinkMetricsSource;
  readonly #o: BoundedOptions;
  #inflight = false;
  #good: LinkSample | undefined;
  #lastError: LinkMetricsError | undefined;
  #failing = false;
  #reads = 0;
  #failed = 0;
  #slow = 0;
  #skipped = 0;

  constructor(inner: LinkMetricsSource, options: BoundedOptions) {
    this.link = inner.link;
    this.kind = inner.kind;
    this.#inner = inner;
    this.#o = options;
  }

  async read(now: Instant): Promise<Result<LinkSample, LinkMetricsError>> {
    if (this.#inflight) {
      this.#skipped++;
      this.#o.counters.increment("router.radio.skipped");
      return this.#fallback(now, this.#error("timeout", `previous read of ${this.#o.describe} still running`));
    }
    this.#inflight = true;
    this.#reads++;
    let result: Result<LinkSample, LinkMetricsError> | undefined;
    const run = this.#inner
      .read(now)
      .catch((e: unknown) => err(this.#error("io", e instanceof Error ? e.message : String(e))))
      .then((r) => {
        result = r;
        this.#record(r);
      })
      .finally(() => {
        this.#inflight = false;
      });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const inTime = await Promise.race([run.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.#o.timing.waitMs)))]);
    clearTimeout(timer);
    if (!inTime || result === undefined) {
      this.#slow++;
      this.#o.counters.increment("router.radio.slow");
      return this.#fallback(now, this.#error("timeout", `${this.#o.describe} took longer than ${this.#o.timing.waitMs} ms (finishing in the background)`));
    }
    return result.ok ? result : this.#fallback(now, result.error);
  }

  status(now: Instant): RadioLinkStatus {
    const held = this.#good !== undefined && now - this.#good.at <= this.#o.timing.holdMs;
    const state = this.#good === undefined && this.#lastError === undefined ? "waiting" : this.#failing ? (held ? "held" : "failing") : "ok";
    return {
      source: this.#o.describe,
      state,
      ...(this.#good?.radio !== undefined ? { radio: this.#good.radio, ageMs: Math.max(0, Math.round(now - this.#good.at)) } : {}),
      ...(this.#lastError !== undefined ? { lastError: formatMetricsError(this.#lastError) } : {}),
      reads: this.#reads,
      failed: this.#failed,
      slow: this.#slow,
      skipped: this.#skipped,
    };
  }

  #record(r: Result<LinkSample, LinkMetricsError>): void {
    if (r.ok) {
      if (r.value.radio !== undefined) this.#good = r.value;
      if (this.#failing) this.#o.log(`radio of ${this.link}: reading again (${this.#o.describe})`);
      this.#failing = false;
      return;
    }
    this.#failed++;
    this.#lastError = r.error;
    this.#o.counters.increment("router.radio.failed");
    if (!this.#failing) this.#o.log(`radio of ${this.link}: ${formatMetricsError(r.error)}`);
    this.#failing = true;
  }

  /** The last good reading while it is younger than `holdMs` (stamped with its own time), else the error. */
  #fallback(now: Instant, error: LinkMetricsError): Result<LinkSample, LinkMetricsError> {
    if (this.#good !== undefined && now - this.#good.at <= this.#o.timing.holdMs) {
      this.#o.counters.increment("router.radio.held");
      return ok(this.#good);
    }
    return err(error);
  }

  #error(kind: "timeout" | "io", detail: string): LinkMetricsError {
    return { source: this.#o.errorSource, kind, line: 0, detail };
  }
}
