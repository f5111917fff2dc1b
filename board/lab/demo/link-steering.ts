// The demo's link steering: firmware/links' LinkEngine on drive time, fed the drive's radio readings and probe fates,
// for a router that has no link engine of its own. Sans-IO: `advance(to, …)` runs it, actions and decisions come out.
//
// What the engine sees is what a router on that drive would see: the modem's and Wi-Fi driver's readings from
// the trace, and in-tunnel probes whose fate is drawn from the same trace RTT and loss the lab's emulator
// applies to real packets. A prepare (BU on the target, then SA address update) takes two round trips there.

import type { LinkId, LinkKind, LinkSample } from "../../api/link-metrics.ts";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { defaultLinkConfig, type LinkConfig, type LinkPolicyConfig } from "../../../firmware/links/config.ts";
import type { LinkDecision } from "../../../firmware/links/explain.ts";
import { LinkEngine } from "../../../firmware/links/link-engine.ts";
import type { LinkAction } from "../../../firmware/links/policy.ts";
import type { TracePoint } from "../../sim/link-trace-replay.ts";
import { type RandomSource, seededRandom } from "../seeded-random.ts";

/** How often the radio and interface are read (drive time), as a recorder would (TRACES.md). */
const SAMPLE_MS = 1000;
/** RFC 6275 INITIAL_BINDACK_TIMEOUT: a lost registration is retried after a second; four tries. */
const PREPARE_RETRY_MS = 1000;
const PREPARE_TRIES = 4;

export interface SteeredLink {
  readonly id: LinkId;
  readonly kind: LinkKind;
}

interface Pending {
  readonly at: number;
  readonly run: () => void;
}

/** The trace state of each link at a drive instant (undefined = the link does not exist there: down). */
export type PointAt = (link: LinkId, driveMs: number) => TracePoint | undefined;

export class LinkSteering {
  readonly counters = new Counters();
  readonly engine: LinkEngine;
  readonly #links: readonly SteeredLink[];
  readonly #random: RandomSource;
  readonly #pending: Pending[] = [];
  readonly #actions: LinkAction[] = [];
  readonly #decisions: LinkDecision[] = [];
  readonly #traffic = new Map<LinkId, number>();
  #t = 0;
  #nextSample = 0;
  #nextTraffic = SAMPLE_MS;

  constructor(links: readonly SteeredLink[], config: LinkPolicyConfig, seed = 1) {
    this.#links = links;
    this.#random = seededRandom(seed);
    const configs: LinkConfig[] = links.map((l) => defaultLinkConfig(l.id, l.kind));
    this.engine = new LinkEngine(config, configs, instant(0), this.counters);
  }

  /** Drive time the engine has reached. */
  get now(): number {
    return this.#t;
  }

  get primary(): LinkId | undefined {
    return this.engine.policy.primary;
  }

  /** Bytes the tunnel carried on `link` (measured), handed to the engine once per sample period. */
  addTraffic(link: LinkId, bytes: number): void {
    this.#traffic.set(link, (this.#traffic.get(link) ?? 0) + bytes);
  }

  #schedule(at: number, run: () => void): void {
    let i = this.#pending.length;
    while (i > 0 && this.#pending[i - 1]!.at > at) i--;
    this.#pending.splice(i, 0, { at, run });
  }

  /** Lost, or answered after the path's RTT (±10 %), as the emulator treats a packet at that moment. */
  #fate(point: TracePoint | undefined): { lost: true } | { lost: false; rttMs: number } {
    if (point === undefined || !point.up || this.#random.next() < point.loss) return { lost: true };
    return { lost: false, rttMs: Math.max(1, point.rttMs * (0.9 + 0.2 * this.#random.next())) };
  }

  #prepare(link: LinkId, t: number, attempt: number, pointAt: PointAt): void {
    const first = this.#fate(pointAt(link, t));
    const second = this.#fate(pointAt(link, t));
    if (!first.lost && !second.lost) {
      const done = t + first.rttMs + second.rttMs;
      this.#schedule(done, () => this.engine.handlePrepared(link, instant(done)));
    } else if (attempt + 1 < PREPARE_TRIES) {
      this.#schedule(t + PREPARE_RETRY_MS, () => this.#prepare(link, t + PREPARE_RETRY_MS, attempt + 1, pointAt));
    } else {
      this.#schedule(t + PREPARE_RETRY_MS, () => this.engine.handlePrepareFailed(link, instant(t + PREPARE_RETRY_MS)));
    }
  }

  #sample(link: SteeredLink, t: number, point: TracePoint | undefined): LinkSample {
    const now = instant(t);
    const up = point?.up ?? false;
    if (link.kind === "wifi") {
      return {
        link: link.id,
        at: now,
        interface: { carrier: up, operState: up ? "up" : "lowerlayerdown" },
        radio: up ? { kind: "wifi", associated: true, signalDbm: point?.signalDbm, signalAvgDbm: point?.signalDbm } : { kind: "wifi", associated: false },
      };
    }
    if (link.kind === "cellular") {
      return {
        link: link.id,
        at: now,
        interface: { carrier: true, operState: "up" },
        radio: up ? { kind: "cellular", access: "lte", rsrpDbm: point?.rsrpDbm, rsrqDb: point?.rsrqDb, sinrDb: point?.sinrDb, rssiDbm: point?.rssiDbm } : { kind: "cellular", access: "none" },
      };
    }
    return { link: link.id, at: now, interface: { carrier: up, operState: up ? "up" : "lowerlayerdown" } };
  }

  /** Runs the engine from where it stopped up to drive time `to`. Collect results with pollAction/pollDecision. */
  advance(to: number, pointAt: PointAt): void {
    let t = this.#t;
    while (t <= to) {
      const now = instant(t);
      while (this.#pending.length > 0 && this.#pending[0]!.at <= t) this.#pending.shift()!.run();
      if (t >= this.#nextSample) {
        for (const l of this.#links) this.engine.handleSample(this.#sample(l, t, pointAt(l.id, t)));
        this.#nextSample += SAMPLE_MS;
      }
      if (t >= this.#nextTraffic) {
        for (const l of this.#links) this.engine.handleTraffic(l.id, this.#traffic.get(l.id) ?? 0, SAMPLE_MS, now);
        this.#traffic.clear();
        this.#nextTraffic += SAMPLE_MS;
      }
      if (this.engine.pollTimeout() <= now) this.engine.handleTimeout(now);
      for (let p = this.engine.pollTransmit(); p; p = this.engine.pollTransmit()) {
        const fate = this.#fate(pointAt(p.link, t));
        if (fate.lost) continue;
        const { link, sequenceNumber } = p;
        const at = t + fate.rttMs;
        this.#schedule(at, () => this.engine.handleProbeReply(link, sequenceNumber, instant(at)));
      }
      for (let a = this.engine.pollAction(); a; a = this.engine.pollAction()) {
        if (a.kind === "prepare") this.#prepare(a.link, t, 0, pointAt);
        this.#actions.push(a);
      }
      for (let d = this.engine.pollDecision(); d; d = this.engine.pollDecision()) this.#decisions.push(d);
      const next = Math.min(this.engine.pollTimeout(), this.#nextSample, this.#nextTraffic, this.#pending[0]?.at ?? Number.POSITIVE_INFINITY);
      if (next > to) break;
      t = Math.max(t + 1, Math.ceil(next));
    }
    this.#t = Math.max(this.#t, to);
  }

  pollAction(): LinkAction | undefined {
    return this.#actions.shift();
  }

  pollDecision(): LinkDecision | undefined {
    return this.#decisions.shift();
  }
}

