// Trace-driven evaluation of uplink selection: runs monami's LinkEngine and an mwan3-like baseline on virtual time and scores both.

import type { LinkId, LinkKind } from "../board/api/link-metrics.ts";
import { LinkTraceReplay, packetFate, seededRandom, type LinkTrace } from "../board/sim/link-trace-replay.ts";
import { Counters } from "../firmware/core/counters.ts";
import { instant, type Instant } from "../firmware/core/instant.ts";
import { defaultLinkConfig, type LinkConfig, type LinkPolicyConfig } from "../firmware/links/config.ts";
import type { LinkDecision } from "../firmware/links/explain.ts";
import { LinkEngine } from "../firmware/links/link-engine.ts";
import { probeBytesPerDay } from "../firmware/links/probe-scheduler.ts";
import { MWAN3_EXAMPLE, Mwan3Tracker, type Mwan3Settings } from "./links-mwan3.ts";

/** Ground truth, from the trace (not from any policy's view). */
export const TRUTH = {
  /** Dead: no carrier/association/service, or at least half the packets lost, or RTT ≥ 2 s. */
  deadLoss: 0.5,
  deadRttMs: 2000,
  /** Badly degraded: ≥ 20 % loss or RTT ≥ 1 s. */
  degradedLoss: 0.2,
  degradedRttMs: 1000,
  /** A switch and the switch back within this long is a flap. */
  flapWindowMs: 30_000,
} as const;

const TICK_MS = 100;
const SAMPLE_MS = 1000;

export interface RunResult {
  readonly policy: "monami" | "mwan3";
  readonly trace: string;
  /** Seconds carried by a dead or badly degraded link while another link was healthy. */
  readonly deadLinkSeconds: number;
  readonly switches: number;
  readonly flaps: number;
  readonly lteMegabytes: number;
  readonly probeMegabytes: number;
  readonly hardFailures: number;
  /** Mean seconds from the link in use going dead to traffic flowing on a live link again. */
  readonly outagePerFailureS: number;
  readonly worstOutageS: number;
  readonly decisions?: readonly LinkDecision[] | undefined;
  readonly deadIntervals: readonly (readonly [number, number, string])[];
}

type PathState = "ok" | "degraded" | "dead";

function pathState(replay: LinkTraceReplay, link: LinkId, t: number): PathState {
  const p = replay.at(link, t);
  if (!p.up || p.loss >= TRUTH.deadLoss || p.rttMs >= TRUTH.deadRttMs) return "dead";
  if (p.loss >= TRUTH.degradedLoss || p.rttMs >= TRUTH.degradedRttMs) return "degraded";
  return "ok";
}

/** Accumulates the figures of one run from the primary link over time. */
class Scorer {
  readonly #replay: LinkTraceReplay;
  readonly #kinds: ReadonlyMap<LinkId, LinkKind>;
  deadMs = 0;
  cellularBytes = 0;
  switches = 0;
  flaps = 0;
  readonly outages: number[] = [];
  /** Stretches of counted dead-link time: [from ms, to ms, link]. */
  readonly deadIntervals: [number, number, string][] = [];
  #outageStart: number | undefined;
  #lastSwitch: { at: number; from: LinkId | undefined; to: LinkId } | undefined;

  constructor(replay: LinkTraceReplay) {
    this.#replay = replay;
    this.#kinds = new Map(replay.trace.header.links.map((l) => [l.id, l.kind]));
  }

  tick(t: number, primary: LinkId | undefined): number {
    const links = this.#replay.trace.header.links;
    const state = primary === undefined ? "dead" : pathState(this.#replay, primary, t);
    const alternative = links.some((l) => l.id !== primary && pathState(this.#replay, l.id, t) === "ok");
    if (state !== "ok" && alternative) {
      this.deadMs += TICK_MS;
      const last = this.deadIntervals[this.deadIntervals.length - 1];
      if (last && last[1] === t && last[2] === (primary ?? "none")) last[1] = t + TICK_MS;
      else this.deadIntervals.push([t, t + TICK_MS, primary ?? "none"]);
    }
    if (state === "dead" && this.#outageStart === undefined) this.#outageStart = t;
    if (state !== "dead" && this.#outageStart !== undefined) {
      this.outages.push(t - this.#outageStart);
      this.#outageStart = undefined;
    }
    const bytes = state === "dead" || primary === undefined ? 0 : (this.#replay.demandKbps(t) * 1000 * TICK_MS) / 8000;
    if (primary !== undefined && this.#kinds.get(primary) === "cellular") this.cellularBytes += bytes;
    return bytes;
  }

  switched(t: number, from: LinkId | undefined, to: LinkId): void {
    if (from === undefined || from === to) return;
    this.switches++;
    const last = this.#lastSwitch;
    if (last && last.from === to && last.to === from && t - last.at <= TRUTH.flapWindowMs) this.flaps++;
    this.#lastSwitch = { at: t, from, to };
  }

  isCellular(link: LinkId): boolean {
    return this.#kinds.get(link) === "cellular";
  }

  finish(t: number): void {
    if (this.#outageStart !== undefined) this.outages.push(t - this.#outageStart);
  }
}

function summary(policy: "monami" | "mwan3", trace: LinkTrace, scorer: Scorer, probeBytes: number, decisions?: LinkDecision[]): RunResult {
  const o = scorer.outages;
  return {
    policy,
    trace: trace.header.name,
    deadLinkSeconds: round1(scorer.deadMs / 1000),
    switches: scorer.switches,
    flaps: scorer.flaps,
    lteMegabytes: round1((scorer.cellularBytes + probeBytes) / 1e6),
    probeMegabytes: Math.round((probeBytes / 1e6) * 1000) / 1000,
    hardFailures: o.length,
    outagePerFailureS: o.length === 0 ? 0 : round1(o.reduce((a, b) => a + b, 0) / o.length / 1000),
    worstOutageS: o.length === 0 ? 0 : round1(Math.max(...o) / 1000),
    decisions,
    deadIntervals: scorer.deadIntervals,
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** The link configuration monami uses for a trace: the trace's hints over the per-kind defaults. */
export function linkConfigsFor(trace: LinkTrace): LinkConfig[] {
  return trace.header.links.map((l) => {
    const base = defaultLinkConfig(l.id, l.kind);
    return { ...base, preference: l.preference ?? base.preference, costPerGb: l.costPerGb ?? base.costPerGb };
  });
}

interface Pending {
  at: number;
  run: () => void;
}

/** Runs monami's engine over the trace: samples every second, probes and registrations through the trace's path. */
export function runMonami(trace: LinkTrace, config: LinkPolicyConfig, seed = 1, keepDecisions = false): RunResult {
  const replay = new LinkTraceReplay(trace);
  const random = seededRandom(seed);
  const counters = new Counters();
  const engine = new LinkEngine(config, linkConfigsFor(trace), instant(0), counters);
  const scorer = new Scorer(replay);
  const pending: Pending[] = [];
  const decisions: LinkDecision[] = [];
  const schedule = (at: number, run: () => void) => {
    let i = pending.length;
    while (i > 0 && pending[i - 1]!.at > at) i--;
    pending.splice(i, 0, { at, run });
  };
  let primary: LinkId | undefined;
  let prepareBytes = 0;
  let nextSample = 0;
  let nextTick = 0;
  let trafficAcc = new Map<LinkId, number>();
  let nextTrafficReport = SAMPLE_MS;
  const end = trace.header.durationMs;

  const prepare = (link: LinkId, t: number, attempt: number) => {
    // Binding update + ack, then the SA address update: two round trips; retransmitted after 1 s (RFC 6275 INITIAL_BINDACK_TIMEOUT).
    if (scorer.isCellular(link)) prepareBytes += 2 * 2 * 160;
    const first = packetFate(replay, link, t, random);
    const second = packetFate(replay, link, t, random);
    if (!first.lost && !second.lost) schedule(t + first.rttMs + second.rttMs, () => engine.handlePrepared(link, instant(t + first.rttMs + second.rttMs)));
    else if (attempt < 4) schedule(t + 1000, () => prepare(link, t + 1000, attempt + 1));
    else schedule(t + 1000, () => engine.handlePrepareFailed(link, instant(t + 1000)));
  };

  let t = 0;
  while (t < end) {
    const now = instant(t);
    while (pending.length > 0 && pending[0]!.at <= t) pending.shift()!.run();
    if (t >= nextSample) {
      for (const l of trace.header.links) engine.handleSample(replay.sample(l.id, l.kind, now));
      nextSample += SAMPLE_MS;
    }
    if (engine.pollTimeout() <= now) engine.handleTimeout(now);
    for (let p = engine.pollTransmit(); p; p = engine.pollTransmit()) {
      const fate = packetFate(replay, p.link, t, random);
      if (!fate.lost) {
        const { link, sequenceNumber } = p;
        const at = t + fate.rttMs;
        schedule(at, () => engine.handleProbeReply(link, sequenceNumber, instant(at)));
      }
    }
    for (let a = engine.pollAction(); a; a = engine.pollAction()) {
      if (a.kind === "set-primary") {
        scorer.switched(t, primary, a.link);
        primary = a.link;
      } else if (a.kind === "prepare") prepare(a.link, t, 0);
    }
    for (let d = engine.pollDecision(); d; d = engine.pollDecision()) if (keepDecisions) decisions.push(d);
    if (t >= nextTick) {
      const bytes = scorer.tick(t, primary);
      if (primary !== undefined) trafficAcc.set(primary, (trafficAcc.get(primary) ?? 0) + bytes);
      nextTick += TICK_MS;
    }
    if (t >= nextTrafficReport) {
      for (const l of trace.header.links) engine.handleTraffic(l.id, trafficAcc.get(l.id) ?? 0, SAMPLE_MS, now);
      trafficAcc = new Map();
      nextTrafficReport += SAMPLE_MS;
    }
    const next = Math.min(engine.pollTimeout(), nextSample, nextTick, nextTrafficReport, pending[0]?.at ?? Infinity);
    t = Math.max(t + 1, Math.ceil(next));
  }
  scorer.finish(end);
  let probeBytes = prepareBytes;
  for (const [link, s] of engine.schedulers) if (scorer.isCellular(link)) probeBytes += s.wireBytes;
  return summary("monami", trace, scorer, probeBytes, keepDecisions ? decisions : undefined);
}

/** Runs the mwan3-like baseline: ping tracking per interface, failover policy by member metric, ifdown on link loss. */
export function runMwan3(trace: LinkTrace, settings: Mwan3Settings = MWAN3_EXAMPLE, seed = 1): RunResult {
  const replay = new LinkTraceReplay(trace);
  const random = seededRandom(seed);
  const scorer = new Scorer(replay);
  // Member metric: the most preferred link gets the lowest metric (tier 1), as in a failover policy.
  const order = [...trace.header.links].sort((a, b) => (b.preference ?? defaultLinkConfig(a.id, a.kind).preference) - (a.preference ?? defaultLinkConfig(b.id, b.kind).preference));
  const trackers = order.map((l) => new Mwan3Tracker(l.id, settings, (at) => packetFate(replay, l.id, at, random)));
  let primary: LinkId | undefined;
  const end = trace.header.durationMs;
  for (let t = 0; t < end; t += TICK_MS) {
    for (const tr of trackers) tr.advance(t, replay.at(tr.link, t).up);
    const next = trackers.find((tr) => tr.online)?.link;
    if (next !== primary) {
      if (next !== undefined) scorer.switched(t, primary, next);
      primary = next;
    }
    scorer.tick(t, primary);
  }
  scorer.finish(end);
  const probeBytes = trackers.filter((tr) => scorer.isCellular(tr.link)).reduce((a, tr) => a + tr.wireBytes, 0);
  return summary("mwan3", trace, scorer, probeBytes);
}

/** Probe cost of an LTE uplink per day at the configured standby and active rates (requests and replies). */
export function lteProbeBudget(config: LinkPolicyConfig): { standbyMbPerDay: number; activeMbPerDay: number; idleMbPerDay: number } {
  const p = config.probe;
  const mb = (ms: number) => Math.round((probeBytesPerDay(ms, p.wireBytesPerProbe) / 1e6) * 10) / 10;
  return { standbyMbPerDay: mb(p.standbyIntervalMs), activeMbPerDay: mb(p.activeIntervalMs), idleMbPerDay: mb(p.idleIntervalMs) };
}

