// The network-namespace lab: builds mr/lan/net/ha/cn, runs the link emulator, controls the links, always tears down.

import type { Subprocess } from "bun";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EmulatorClient, withTimeout } from "./emulator-client.ts";
import type { EmulatorConfig, EmulatorCounters } from "./emulator-protocol.ts";
import {
  type CommandResult,
  deleteNamespacesSync,
  inNamespace,
  ipBatch,
  makeRunId,
  mustRun,
  run,
  setSysctls,
  signalAll,
  sweepStaleLabs,
  waitGoneSync,
} from "./netns.ts";
import { LINK_PROFILES, type LinkProfile, type ProfileName } from "./profiles.ts";
import {
  addressPlan,
  type BatchPlan,
  emulatedSetCommand,
  emulationRules,
  mobileNetworkRoute,
  mobileNetworkRule,
  netRuleset,
  routerIpv4Default,
  sysctlsFor,
  vethPlan,
} from "./setup-plan.ts";
import { type AccessLinkName, ACCESS_LINKS, LAB_NODES, type LabNode, type LabTopology, labTopology } from "./topology.ts";

export type CutMode = "carrier" | "blackhole";

export interface LabOptions {
  /** Namespace name prefix; also what `sweepStaleLabs` looks for. Default `mnm`. */
  readonly prefix?: string;
  /** Tells runs apart (e.g. `test`, `demo`); default `$MONAMI_LAB_TAG` or `lab`. Lowercase alphanumerics. */
  readonly tag?: string;
  readonly profiles?: Partial<Record<AccessLinkName, ProfileName | LinkProfile>>;
  /** The uplink the mobile network's plain route uses at start. Default `lte`. */
  readonly uplink?: AccessLinkName;
  /** Seed of the emulator's random draws (loss, jitter, reorder). */
  readonly seed?: number;
  /** Progress and emulator diagnostics; silent by default. */
  readonly log?: (line: string) => void;
}

export const DEFAULT_PREFIX = "mnm";
/** How long a capture keeps running after its stop is requested, so the kernel's last packet block is read. */
const CAPTURE_DRAIN_MS = 600;

/** A long-running process started in a lab namespace; the lab stops it at teardown if the caller did not. */
export interface LabProcess {
  readonly node: LabNode;
  readonly pid: number;
  readonly process: Subprocess<"pipe", "pipe", "pipe">;
  /** Sends `signal`, then SIGKILL after `graceMs`; resolves to the exit code (or signal number + 128). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number>;
}

interface LinkState {
  profile: ProfileName | LinkProfile;
  cut: CutMode | undefined;
  /** Whether the routing currently steers this link through the emulator. */
  emulated: boolean;
}

const liveLabs = new Set<Lab>();
let handlersInstalled = false;

/**
 * Teardown on every way out: normal exit and uncaught errors (both end in `exit`), Ctrl-C, SIGTERM, SIGHUP.
 * No uncaughtException handler: the host (a test runner, the CLI) keeps its own error semantics.
 */
function installTeardownHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const destroyAll = () => {
    for (const lab of [...liveLabs]) lab.destroySync();
  };
  process.on("exit", destroyAll);
  const signals: [NodeJS.Signals, number][] = [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ];
  for (const [signal, code] of signals) {
    process.on(signal, () => {
      destroyAll();
      process.exit(code);
    });
  }
}

/** Whether the lab can run here; otherwise the reason (for a clear skip message). */
export function labUnavailableReason(): string | undefined {
  if (process.platform !== "linux") return "the lab needs Linux network namespaces";
  if (process.getuid?.() !== 0) return "the lab needs root (network namespaces, TUN, nftables)";
  for (const tool of ["ip", "nft", "sysctl"]) {
    if (Bun.which(tool) === null) return `the lab needs '${tool}' (run scripts/setup.sh)`;
  }
  return undefined;
}

/**
 * For tests: true when the lab can run; otherwise prints why once and returns false, so the caller skips
 * (`describe.skipIf(!requireRoot("lab smoke"))`).
 */
export function requireRoot(what: string): boolean {
  const reason = labUnavailableReason();
  if (reason !== undefined) console.warn(`[skip] ${what}: ${reason}`);
  return reason === undefined;
}

function emulatorScript(): string {
  return resolve(import.meta.dir, "link-emulator.ts");
}

function bunExecutable(): string {
  return /(^|\/)bun[^/]*$/.test(process.execPath) ? process.execPath : "bun";
}

function resolveProfile(profile: ProfileName | LinkProfile): LinkProfile | undefined {
  if (typeof profile !== "string") return profile;
  return profile === "off" ? undefined : LINK_PROFILES[profile];
}

/** Creates the whole lab; on any failure everything made so far is torn down before the error propagates. */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  const reason = labUnavailableReason();
  if (reason !== undefined) throw new Error(reason);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const tag = options.tag ?? process.env.MONAMI_LAB_TAG ?? "lab";
  sweepStaleLabs(prefix);
  const random = Math.floor(Math.random() * 36 ** 4)
    .toString(36)
    .padStart(4, "0");
  const lab = new Lab(labTopology(makeRunId(prefix, tag, process.pid, random)), options);
  try {
    await lab.build(options);
    return lab;
  } catch (error) {
    lab.destroySync();
    throw error;
  }
}

export class Lab {
  readonly topology: LabTopology;
  /** Scratch folder of this run (emulator config); deleted at teardown. */
  readonly workDir: string;
  readonly #log: (line: string) => void;
  readonly #processes = new Set<LabProcess>();
  readonly #links: Record<AccessLinkName, LinkState>;
  #uplink: AccessLinkName = "lte";
  #emulator: EmulatorClient | undefined;
  #destroyed = false;

  constructor(topology: LabTopology, options: LabOptions) {
    this.topology = topology;
    this.workDir = join(tmpdir(), topology.runId);
    this.#log = options.log ?? (() => {});
    this.#links = {
      lte: { profile: options.profiles?.lte ?? "lte", cut: undefined, emulated: false },
      wifi: { profile: options.profiles?.wifi ?? "wifi", cut: undefined, emulated: false },
    };
    liveLabs.add(this);
    installTeardownHandlers();
  }

  get uplink(): AccessLinkName {
    return this.#uplink;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Namespace name of a node. */
  ns(node: LabNode): string {
    return this.topology.namespaces[node];
  }

  /** @internal called once by createLab. */
  async build(options: LabOptions): Promise<void> {
    const t = this.topology;
    mkdirSync(this.workDir, { recursive: true });
    this.#log(`creating namespaces ${t.runId}-{${LAB_NODES.join(",")}}`);
    for (const node of LAB_NODES) await mustRun(["ip", "netns", "add", this.ns(node)]);
    await Promise.all(LAB_NODES.map((node) => setSysctls(this.ns(node), sysctlsFor(node))));
    for (const [node, lines] of Object.entries(vethPlan(t)) as [LabNode, string[]][]) await ipBatch(this.ns(node), lines);
    const plan = addressPlan(t);
    await Promise.all(LAB_NODES.map((node) => this.#applyBatch(node, plan[node])));
    await mustRun(inNamespace(this.ns("net"), ["nft", "-f", "-"]), netRuleset(t));
    await this.#startEmulator(options.seed ?? 1);
    for (const name of ACCESS_LINKS) await this.#applyLink(name);
    await this.useUplink(options.uplink ?? "lte");
    this.#log(`lab ${t.runId} is up`);
  }

  async #applyBatch(node: LabNode, plan: BatchPlan): Promise<void> {
    await ipBatch(this.ns(node), plan.any);
    await ipBatch(this.ns(node), plan.v4, 4);
    await ipBatch(this.ns(node), plan.v6, 6);
  }

  async #startEmulator(seed: number): Promise<void> {
    const t = this.topology;
    const config: EmulatorConfig = {
      links: ACCESS_LINKS.map((name) => ({
        name,
        uplinkTun: t.access[name].tun.uplink,
        downlinkTun: t.access[name].tun.downlink,
        profile: resolveProfile(this.#links[name].profile) ?? LINK_PROFILES.ideal,
      })),
      seed,
      slots: 8192,
      slotBytes: 2048,
    };
    const file = join(this.workDir, "emulator.json");
    writeFileSync(file, JSON.stringify(config, null, 2));
    const emulator = this.spawn("net", [bunExecutable(), emulatorScript(), "--config", file]);
    void this.#forwardStderr(emulator.process.stderr, "link emulator");
    this.#emulator = new EmulatorClient(emulator.process, this.#log);
    const pid = await this.#emulator.ready();
    this.#log(`link emulator running in ${this.ns("net")} (pid ${pid})`);
  }

  async #forwardStderr(stream: ReadableStream<Uint8Array>, who: string): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      for (const line of decoder.decode(chunk).split("\n")) if (line.trim() !== "") this.#log(`${who}: ${line}`);
    }
  }

  #requireEmulator(): EmulatorClient {
    if (this.#destroyed || this.#emulator === undefined) throw new Error("the lab is not running");
    return this.#emulator;
  }

  /** Runs a command in a namespace to completion. */
  async exec(node: LabNode, argv: readonly string[], input?: string): Promise<CommandResult> {
    if (this.#destroyed) throw new Error("the lab is destroyed");
    return run(inNamespace(this.ns(node), argv), input);
  }

  /** Starts a long-running process in a namespace; read or cancel its stdout/stderr, or it may block on a full pipe. */
  spawn(node: LabNode, argv: readonly string[]): LabProcess {
    if (this.#destroyed) throw new Error("the lab is destroyed");
    const proc = Bun.spawn(inNamespace(this.ns(node), argv), { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const processes = this.#processes;
    const handle: LabProcess = {
      node,
      pid: proc.pid,
      process: proc,
      async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 2000): Promise<number> {
        proc.kill(signal);
        const code = await withTimeout(proc.exited, graceMs, "process did not stop").catch(() => {
          proc.kill("SIGKILL");
          return proc.exited;
        });
        processes.delete(handle);
        return code;
      },
    };
    processes.add(handle);
    void proc.exited.then(() => processes.delete(handle));
    return handle;
  }

  /** Changes a link's impairments live (`off` routes it around the emulator). */
  async setProfile(name: AccessLinkName, profile: ProfileName | LinkProfile): Promise<void> {
    const emulator = this.#requireEmulator();
    this.#links[name].profile = profile;
    const resolved = resolveProfile(profile);
    if (resolved !== undefined) await emulator.command({ op: "set-profile", link: name, profile: resolved });
    await this.#applyLink(name);
  }

  /**
   * Cuts a link. `carrier`: the access router's end of the veth goes down, so the mobile router sees
   * NO-CARRIER on its interface; `blackhole`: the link stays up and the emulator silently drops everything.
   */
  async cut(name: AccessLinkName, mode: CutMode): Promise<void> {
    const emulator = this.#requireEmulator();
    if (this.#links[name].cut !== undefined) await this.restore(name);
    this.#links[name].cut = mode;
    await emulator.command({ op: "cut", link: name });
    if (mode === "carrier") await ipBatch(this.ns("net"), [`link set ${this.topology.access[name].gateway.name} down`]);
    await this.#applyLink(name);
  }

  /** Undoes a cut: carrier back up, routes the carrier loss flushed put back, emulator forwarding again. */
  async restore(name: AccessLinkName): Promise<void> {
    const emulator = this.#requireEmulator();
    const state = this.#links[name];
    if (state.cut === "carrier") {
      await ipBatch(this.ns("net"), [`link set ${this.topology.access[name].gateway.name} up`]);
    }
    state.cut = undefined;
    await emulator.command({ op: "restore", link: name });
    await this.#applyLink(name);
    await ipBatch(this.ns("mr"), [routerIpv4Default(this.topology)]);
    await this.useUplink(this.#uplink);
  }

  /**
   * Routes the mobile network over `name`: mr's IPv6 default route and net's route back to the mobile
   * network prefix. A stand-in for what the NEMO binding does once the router runs.
   */
  async useUplink(name: AccessLinkName): Promise<void> {
    const t = this.topology;
    const previous = this.#uplink;
    const routes = mobileNetworkRoute(t, name);
    await ipBatch(this.ns("mr"), [routes.mr]);
    await ipBatch(this.ns("net"), [routes.net]);
    await this.#setMobileNetworkRule(previous, false);
    this.#uplink = name;
    await this.#setMobileNetworkRule(name, this.#links[name].emulated);
  }

  async #setMobileNetworkRule(name: AccessLinkName, present: boolean): Promise<void> {
    const net = this.ns("net");
    await run(["ip", "-6", "-n", net, ...mobileNetworkRule(this.topology, name, "del").split(" ")]);
    if (present) await ipBatch(net, [mobileNetworkRule(this.topology, name, "add")], 6);
  }

  /** Steers the link through the emulator or around it, as its profile and cut state require. */
  async #applyLink(name: AccessLinkName): Promise<void> {
    const state = this.#links[name];
    const wanted = state.profile !== "off" || state.cut === "blackhole";
    if (wanted === state.emulated) return;
    const t = this.topology;
    const net = this.ns("net");
    const rules = emulationRules(t, name, wanted ? "add" : "del");
    await ipBatch(net, rules.v4, 4);
    await ipBatch(net, rules.v6, 6);
    await mustRun(inNamespace(net, ["nft", emulatedSetCommand(t, name, wanted ? "add" : "delete")]));
    state.emulated = wanted;
    if (this.#uplink === name) await this.#setMobileNetworkRule(name, wanted);
  }

  /** The emulator's counters (`<link>.<uplink|downlink>.<rx|tx|drop…>`) and its CPU time. */
  async emulatorCounters(): Promise<EmulatorCounters> {
    return this.#requireEmulator().counters();
  }

  /**
   * Captures on `iface` in a namespace into a pcap file (tshark, optional capture filter), from when this
   * resolves until the returned function is called.
   */
  async capture(node: LabNode, iface: string, file: string, filter?: string): Promise<() => Promise<void>> {
    const argv = ["tshark", "-n", "-q", "-i", iface, "-w", file, ...(filter === undefined ? [] : ["-f", filter])];
    const proc = this.spawn(node, argv);
    const decoder = new TextDecoder();
    let seen = "";
    const started = (async () => {
      for await (const chunk of proc.process.stderr) {
        seen += decoder.decode(chunk);
        if (seen.includes("Capturing on")) return;
      }
      throw new Error(`tshark exited before capturing: ${seen.trim()}`);
    })();
    try {
      await withTimeout(started, 15_000, "tshark did not start capturing");
    } catch (error) {
      await proc.stop("SIGKILL");
      throw error;
    }
    return async () => {
      // libpcap hands packets to dumpcap in blocks retired every ~250 ms; stopping earlier loses the last ones.
      await Bun.sleep(CAPTURE_DRAIN_MS);
      await proc.stop("SIGINT", 5000);
    };
  }

  /** Stops every process the lab started and deletes every namespace it made. Idempotent. */
  async destroy(): Promise<void> {
    this.destroySync();
  }

  /** The synchronous teardown, usable from exit and signal handlers. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    liveLabs.delete(this);
    const pids = [...this.#processes].map((p) => p.pid);
    signalAll(pids, "SIGTERM");
    deleteNamespacesSync(LAB_NODES.map((node) => this.ns(node)));
    signalAll(waitGoneSync(pids, 500), "SIGKILL");
    this.#processes.clear();
    rmSync(this.workDir, { recursive: true, force: true });
    this.#log(`lab ${this.topology.runId} is down`);
  }
}
