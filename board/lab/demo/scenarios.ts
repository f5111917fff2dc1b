// Drive scenarios: scenes cut from the shipped link traces (bench/traces) and what each lab uplink plays in them.
//
// A scene takes a window of one or two traces and lays a trace link onto each of the lab's uplinks (`lte`, `wifi`).
// Scenes play back to back; the drive's trace time runs `speed` times faster than the wall clock so any
// --duration fits. The lab's second uplink is Wi-Fi hardware-wise, but a scene may let it play a second
// cellular carrier (the motorway and tunnel traces have two): its label and kind say so.

import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { err, ok, type Result } from "../../../firmware/core/result.ts";
import { type LinkKind, linkId } from "../../api/link-metrics.ts";
import { type LinkTrace, LinkTraceReplay, parseLinkTrace, type TracePoint } from "../../sim/link-trace-replay.ts";
import { type AccessLinkName, ACCESS_LINKS } from "../topology.ts";

const TRACE_DIR = resolve(import.meta.dir, "../../../bench/traces");

/** The shipped traces (bench/traces/TRACES.md). */
export const SHIPPED_TRACES = ["urban-hotspots", "motorway-cell-edges", "tunnel-outage", "depot-arrival-departure", "traffic-light-flap"] as const;
export type ShippedTrace = (typeof SHIPPED_TRACES)[number];

/** What one lab uplink plays during a scene: a trace link from `fromMs` on, or nothing (no coverage at all). */
export type SceneSource = { readonly trace: string; readonly link: string; readonly fromMs: number } | { readonly absent: true };

export interface Scene {
  readonly title: string;
  /** One line: what happens, for the live view and the report. */
  readonly caption: string;
  /** Trace time the scene lasts. */
  readonly durationMs: number;
  readonly sources: Readonly<Record<AccessLinkName, SceneSource>>;
}

export interface UplinkRole {
  /** Shown in the live view and the report, e.g. `Wi-Fi (wifi0)` or `LTE carrier B (lte-b)`. */
  readonly label: string;
  readonly kind: LinkKind;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly uplinks: Readonly<Record<AccessLinkName, UplinkRole>>;
  readonly scenes: readonly Scene[];
}

const LTE_WIFI: Record<AccessLinkName, UplinkRole> = {
  lte: { label: "LTE", kind: "cellular" },
  wifi: { label: "Wi-Fi", kind: "wifi" },
};
const TWO_CARRIERS: Record<AccessLinkName, UplinkRole> = {
  lte: { label: "LTE carrier A", kind: "cellular" },
  wifi: { label: "LTE carrier B (on the 2nd uplink)", kind: "cellular" },
};

const s = (seconds: number) => seconds * 1000;

/** Both uplinks from one trace's window. */
function window(trace: string, links: readonly [string, string], fromS: number, toS: number, title: string, caption: string): Scene {
  return {
    title,
    caption,
    durationMs: s(toS - fromS),
    sources: { lte: { trace, link: links[0], fromMs: s(fromS) }, wifi: { trace, link: links[1], fromMs: s(fromS) } },
  };
}

const URBAN: readonly [string, string] = ["lte0", "wifi0"];
const CARRIERS: readonly [string, string] = ["lte-a", "lte-b"];

/** The default: one drive through the four situations the router must handle. */
const DRIVE: Scenario = {
  name: "drive",
  description: "A bus across town: a Wi-Fi hotspot appears and fades, LTE degrades at a cell edge, a tunnel blacks out every uplink, a Wi-Fi flaps at a traffic light.",
  uplinks: LTE_WIFI,
  scenes: [
    window("urban-hotspots", URBAN, 84, 168, "Hotspot at a bus stop", "Wi-Fi associates at the stop (−60 dBm), then fades as the bus pulls away"),
    {
      title: "LTE cell edge",
      caption: "LTE sinks to −120 dBm with 50 % loss and drops out; a depot-side hotspot is in range",
      durationMs: s(60),
      sources: { lte: { trace: "motorway-cell-edges", link: "lte-a", fromMs: s(676) }, wifi: { trace: "urban-hotspots", link: "wifi0", fromMs: s(926) } },
    },
    {
      title: "Tunnel blackout",
      caption: "An underpass cuts the LTE carrier for 12 s, no Wi-Fi anywhere: nothing can carry traffic",
      durationMs: s(34),
      sources: { lte: { trace: "tunnel-outage", link: "lte-a", fromMs: s(694) }, wifi: { absent: true } },
    },
    window("traffic-light-flap", URBAN, 206, 266, "Flapping Wi-Fi at a light", "A shop hotspot at −80 dBm comes and goes every few seconds"),
  ],
};

const TRACE_SCENARIOS: Record<ShippedTrace, Scenario> = {
  "urban-hotspots": {
    name: "urban-hotspots",
    description: "City bus: stop-side hotspots (one with a dead backhaul, one overloaded) and LTE building dips.",
    uplinks: LTE_WIFI,
    scenes: [
      window("urban-hotspots", URBAN, 84, 176, "Good hotspot", "Wi-Fi at a stop, −60 dBm, 30 ms"),
      window("urban-hotspots", URBAN, 476, 596, "Dead backhaul", "Wi-Fi associates at −60 dBm but nothing passes its backhaul"),
      window("urban-hotspots", URBAN, 726, 812, "Overloaded hotspot", "Wi-Fi up, 900 ms and 25 % loss upstream"),
      window("urban-hotspots", URBAN, 1184, 1214, "Building dip", "LTE dips 24 dB behind buildings"),
    ],
  },
  "motorway-cell-edges": {
    name: "motorway-cell-edges",
    description: "Motorway, two LTE carriers on offset site grids, deep cell edges with radio-link failures.",
    uplinks: TWO_CARRIERS,
    scenes: [
      window("motorway-cell-edges", CARRIERS, 40, 160, "Alternating edges", "Each carrier's cell edge in turn"),
      window("motorway-cell-edges", CARRIERS, 640, 760, "Deep edge", "Carrier A at −121 dBm with 60 % loss, then no service"),
    ],
  },
  "tunnel-outage": {
    name: "tunnel-outage",
    description: "Road tunnel where carrier A has no coverage and carrier B a leaky feeder; an underpass cuts both.",
    uplinks: TWO_CARRIERS,
    scenes: [
      window("tunnel-outage", CARRIERS, 290, 430, "Road tunnel", "Carrier A fades to no service; carrier B on a leaky feeder"),
      window("tunnel-outage", CARRIERS, 690, 732, "Underpass", "Both carriers gone for 12 s"),
    ],
  },
  "depot-arrival-departure": {
    name: "depot-arrival-departure",
    description: "Bus returns to its depot: the depot Wi-Fi joins at the gate, its backhaul fails for 20 s, sticky Wi-Fi on departure.",
    uplinks: LTE_WIFI,
    scenes: [
      window("depot-arrival-departure", URBAN, 250, 330, "Arrival", "Depot Wi-Fi joins at the gate; LTE weak inside the hall"),
      window("depot-arrival-departure", URBAN, 690, 740, "Backhaul failure", "The depot backhaul drops everything for 20 s"),
      window("depot-arrival-departure", URBAN, 1140, 1200, "Departure", "Wi-Fi sticky down to −88 dBm, then gone"),
    ],
  },
  "traffic-light-flap": {
    name: "traffic-light-flap",
    description: "Stop-and-go at a traffic light beside a shop hotspot at −80 dBm: the association comes and goes.",
    uplinks: LTE_WIFI,
    scenes: [
      window("traffic-light-flap", URBAN, 64, 144, "First stop", "Hotspot at the edge of range"),
      window("traffic-light-flap", URBAN, 206, 276, "Second stop", "Loss swings between 7 % and 66 %"),
      window("traffic-light-flap", URBAN, 336, 420, "Third stop", "Association comes and goes"),
    ],
  },
};

export const SCENARIO_NAMES: readonly string[] = ["drive", ...SHIPPED_TRACES];

/** A whole trace file (any `.jsonl` in the trace format) as one scene; its first two links go onto lte and wifi. */
function fileScenario(path: string, trace: LinkTrace): Result<Scenario, string> {
  const links = trace.header.links;
  if (links.length < 1) return err(`${path}: no links`);
  const first = links.find((l) => l.kind === "cellular") ?? links[0]!;
  const second = links.find((l) => l !== first);
  const role = (l: { id: string; kind: LinkKind }): UplinkRole => ({ label: `${l.kind === "wifi" ? "Wi-Fi" : l.kind === "cellular" ? "LTE" : "wired"} (${l.id})`, kind: l.kind });
  return ok({
    name: trace.header.name,
    description: trace.header.description ?? `trace ${basename(path)}`,
    uplinks: { lte: role(first), wifi: second ? role(second) : { label: "absent", kind: "wifi" } },
    scenes: [
      {
        title: trace.header.name,
        caption: "the whole trace",
        durationMs: trace.header.durationMs,
        sources: { lte: { trace: path, link: first.id, fromMs: 0 }, wifi: second ? { trace: path, link: second.id, fromMs: 0 } : { absent: true } },
      },
    ],
  });
}

/** `drive`, a shipped trace's name, or a path to a trace file. */
export function findScenario(name: string): Result<{ scenario: Scenario; traces: TraceLibrary }, string> {
  const traces = new TraceLibrary();
  if (name === "drive") return ok({ scenario: DRIVE, traces });
  if ((SHIPPED_TRACES as readonly string[]).includes(name)) return ok({ scenario: TRACE_SCENARIOS[name as ShippedTrace], traces });
  if (name.endsWith(".jsonl")) {
    const trace = traces.load(name);
    if (!trace.ok) return trace;
    const scenario = fileScenario(name, trace.value.trace);
    return scenario.ok ? ok({ scenario: scenario.value, traces }) : scenario;
  }
  return err(`unknown scenario '${name}'; one of ${SCENARIO_NAMES.join(", ")}, or a trace file (.jsonl)`);
}

/** Loads each trace once: a shipped name from bench/traces, anything else as a path. */
export class TraceLibrary {
  readonly #replays = new Map<string, LinkTraceReplay>();

  load(name: string): Result<LinkTraceReplay, string> {
    const known = this.#replays.get(name);
    if (known) return ok(known);
    const path = name.endsWith(".jsonl") ? name : resolve(TRACE_DIR, `${name}.jsonl`);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      return err(`${path}: ${(e as Error).message}`);
    }
    const parsed = parseLinkTrace(text);
    if (!parsed.ok) return err(`${path}: line ${parsed.error.line}: ${parsed.error.detail ?? parsed.error.kind}`);
    const replay = new LinkTraceReplay(parsed.value);
    this.#replays.set(name, replay);
    return ok(replay);
  }
}

/** What one uplink is doing at one instant of the drive. */
export interface UplinkState {
  /** Undefined when the scene gives this uplink no link at all (treated as down). */
  readonly point: TracePoint | undefined;
  /** Where it comes from: `urban-hotspots/wifi0 @ 132.0 s`, or `absent`. */
  readonly source: string;
}

export interface DriveMoment {
  readonly driveMs: number;
  readonly sceneIndex: number;
  readonly scene: Scene;
  readonly uplinks: Readonly<Record<AccessLinkName, UplinkState>>;
}

/** The scenario laid out on one drive-time axis; `at(t)` says what every uplink does at drive time `t`. */
export class DriveScript {
  readonly scenario: Scenario;
  readonly durationMs: number;
  /** Drive time at which each scene starts. */
  readonly sceneStarts: readonly number[];
  readonly #replays: Map<string, LinkTraceReplay>;

  private constructor(scenario: Scenario, replays: Map<string, LinkTraceReplay>) {
    this.scenario = scenario;
    this.#replays = replays;
    const starts: number[] = [];
    let t = 0;
    for (const scene of scenario.scenes) {
      starts.push(t);
      t += scene.durationMs;
    }
    this.sceneStarts = starts;
    this.durationMs = t;
  }

  /** Checks every trace and link the scenario names; the first problem is the error. */
  static create(scenario: Scenario, traces: TraceLibrary): Result<DriveScript, string> {
    const replays = new Map<string, LinkTraceReplay>();
    for (const scene of scenario.scenes) {
      for (const name of ACCESS_LINKS) {
        const source = scene.sources[name];
        if ("absent" in source) continue;
        const replay = traces.load(source.trace);
        if (!replay.ok) return replay;
        if (!replay.value.trace.points.has(linkId(source.link))) return err(`scene '${scene.title}': trace ${source.trace} has no link ${source.link}`);
        replays.set(source.trace, replay.value);
      }
    }
    if (scenario.scenes.length === 0) return err(`scenario ${scenario.name} has no scenes`);
    return ok(new DriveScript(scenario, replays));
  }

  sceneIndexAt(driveMs: number): number {
    let i = 0;
    while (i + 1 < this.sceneStarts.length && this.sceneStarts[i + 1]! <= driveMs) i++;
    return i;
  }

  at(driveMs: number): DriveMoment {
    const t = Math.max(0, Math.min(driveMs, this.durationMs - 1));
    const sceneIndex = this.sceneIndexAt(t);
    const scene = this.scenario.scenes[sceneIndex]!;
    const offset = t - this.sceneStarts[sceneIndex]!;
    const state = (name: AccessLinkName): UplinkState => {
      const source = scene.sources[name];
      if ("absent" in source) return { point: undefined, source: "absent" };
      const traceMs = source.fromMs + offset;
      const replay = this.#replays.get(source.trace)!;
      return { point: replay.at(linkId(source.link), traceMs), source: `${basename(source.trace, ".jsonl")}/${source.link} @ ${(traceMs / 1000).toFixed(1)} s` };
    };
    return { driveMs: t, sceneIndex, scene, uplinks: { lte: state("lte"), wifi: state("wifi") } };
  }
}
