// Health of one uplink: hard failures, N-of-M probe failures, and quality hysteresis whose band means "hold".

import type { LinkSample } from "../../board/api/link-metrics.ts";
import type { Instant } from "../core/instant.ts";
import type { LinkPolicyConfig } from "./config.ts";
import type { FlapDamping } from "./damping.ts";
import type { ProbeOutcome, ProbeStats } from "./probe-scheduler.ts";

/**
 * `unknown`: not yet measured. `up`: carries traffic. `degraded`: answers but above a fail threshold
 * (last resort only). `down`: hard failure or N-of-M lost probes.
 */
export type LinkHealth = "unknown" | "up" | "degraded" | "down";

export type HealthRule = "hard-down" | "probe-window" | "quality-fail" | "quality-recover" | "recovered" | "answering-poorly";

export interface HealthChange {
  readonly from: LinkHealth;
  readonly to: LinkHealth;
  readonly rule: HealthRule;
  readonly detail: string;
}

/** Why the sample says the link cannot carry anything, or undefined. Authoritative: no probe needed. */
export function hardDownReason(sample: LinkSample | undefined): string | undefined {
  if (sample === undefined) return undefined;
  const i = sample.interface;
  if (i?.carrier === false) return "no carrier";
  if (i?.operState === "down" || i?.operState === "lowerlayerdown" || i?.operState === "notpresent") return `operstate ${i.operState}`;
  const r = sample.radio;
  if (r?.kind === "wifi" && r.associated === false) return "not associated";
  if (r?.kind === "cellular" && r.access === "none") return "no service";
  return undefined;
}

export interface QualityFigures {
  readonly samples: number;
  readonly lossRatio: number;
  readonly rttMs?: number | undefined;
  readonly jitterMs?: number | undefined;
}

export function qualityOf(outcomes: readonly ProbeOutcome[]): QualityFigures {
  const rtts = outcomes.filter((o) => o.answered).map((o) => o.rttMs!);
  let jitter: number | undefined;
  if (rtts.length >= 2) {
    let sum = 0;
    for (let i = 1; i < rtts.length; i++) sum += Math.abs(rtts[i]! - rtts[i - 1]!);
    jitter = sum / (rtts.length - 1);
  }
  return {
    samples: outcomes.length,
    lossRatio: outcomes.length === 0 ? 0 : (outcomes.length - rtts.length) / outcomes.length,
    rttMs: rtts.length === 0 ? undefined : rtts.reduce((a, b) => a + b, 0) / rtts.length,
    jitterMs: jitter,
  };
}

function trailingAnswered(outcomes: readonly ProbeOutcome[]): number {
  let n = 0;
  for (let i = outcomes.length - 1; i >= 0 && outcomes[i]!.answered; i--) n++;
  return n;
}

export class LinkHealthTracker {
  readonly #config: LinkPolicyConfig;
  readonly #damping: FlapDamping;
  #health: LinkHealth = "unknown";
  #since: Instant;
  #everUp = false;
  #recoverSince: Instant | undefined;
  #recoverHoldMs = 0;

  constructor(config: LinkPolicyConfig, damping: FlapDamping, now: Instant) {
    this.#config = config;
    this.#damping = damping;
    this.#since = now;
  }

  get health(): LinkHealth {
    return this.#health;
  }

  /** When the health last changed. Only probe outcomes after this instant are judged. */
  get since(): Instant {
    return this.#since;
  }

  /** When an ongoing recovery hold ends (for pollTimeout). */
  get recoveryDueAt(): Instant | undefined {
    return this.#recoverSince === undefined ? undefined : ((this.#recoverSince + this.#recoverHoldMs) as Instant);
  }

  update(sample: LinkSample | undefined, stats: ProbeStats | undefined, now: Instant): HealthChange | undefined {
    const h = this.#config.health;
    const hard = hardDownReason(sample);
    if (hard !== undefined) {
      this.#recoverSince = undefined;
      return this.#health === "down" ? undefined : this.#go("down", "hard-down", hard, now);
    }
    const judged = (stats?.recent ?? []).filter((o) => o.at > this.#since);
    if (judged.length === 0) return undefined;
    const lastM = judged.slice(-h.failWindow.of);
    const lostInWindow = lastM.filter((o) => !o.answered).length;
    const q = qualityOf(judged.slice(-h.qualityWindow));
    const fmt = `loss ${(q.lossRatio * 100).toFixed(0)}% rtt ${q.rttMs?.toFixed(0) ?? "?"} ms jitter ${q.jitterMs?.toFixed(0) ?? "?"} ms over ${q.samples}`;
    const enough = q.samples >= h.minQualitySamples;
    const failQ = enough && (q.lossRatio >= h.failLossRatio || (q.rttMs ?? 0) >= h.failRttMs || (q.jitterMs ?? 0) >= h.failJitterMs);
    const goodQ = q.lossRatio <= h.recoverLossRatio && (q.rttMs ?? Infinity) <= h.recoverRttMs && (q.jitterMs ?? 0) <= h.recoverJitterMs;
    const nOfM = lostInWindow >= h.failWindow.failures;

    switch (this.#health) {
      case "up":
        if (nOfM) return this.#go("down", "probe-window", `${lostInWindow} of the last ${lastM.length} probes lost`, now);
        if (failQ) return this.#go("degraded", "quality-fail", fmt, now);
        return undefined; // inside the band, or good: hold
      case "degraded":
        if (nOfM) return this.#go("down", "probe-window", `${lostInWindow} of the last ${lastM.length} probes lost`, now);
        return enough && goodQ ? this.#holdThenUp("quality-recover", fmt, now) : this.#resetHold();
      case "down":
      case "unknown": {
        if (trailingAnswered(judged) < h.recoverProbes) return this.#resetHold();
        // Losses before the first answer are the tail of the outage; judge what came after.
        const answering = judged.slice(judged.findIndex((o) => o.answered));
        const r = qualityOf(answering.slice(-h.qualityWindow));
        const detail = `loss ${(r.lossRatio * 100).toFixed(0)}% rtt ${r.rttMs?.toFixed(0) ?? "?"} ms jitter ${r.jitterMs?.toFixed(0) ?? "?"} ms over ${r.samples}`;
        if (r.lossRatio <= h.recoverLossRatio && (r.rttMs ?? Infinity) <= h.recoverRttMs && (r.jitterMs ?? 0) <= h.recoverJitterMs) {
          return this.#holdThenUp("recovered", detail, now);
        }
        this.#resetHold();
        const poor = r.samples >= h.minQualitySamples || r.lossRatio >= h.failLossRatio || (r.rttMs ?? 0) >= h.failRttMs;
        return poor ? this.#go("degraded", "answering-poorly", detail, now) : undefined;
      }
    }
  }

  #holdThenUp(rule: HealthRule, detail: string, now: Instant): HealthChange | undefined {
    if (this.#recoverSince === undefined) {
      this.#recoverSince = now;
      // The first time a link comes up needs no hold (also when it started without carrier: it never failed);
      // after a failure the hold grows with the damping penalty.
      this.#recoverHoldMs = this.#everUp ? this.#config.health.recoverHoldMs * this.#damping.factor(now) : 0;
    }
    if (now - this.#recoverSince < this.#recoverHoldMs) return undefined;
    return this.#go("up", rule, `${detail}, held ${((now - this.#recoverSince) / 1000).toFixed(1)} s`, now);
  }

  #resetHold(): undefined {
    this.#recoverSince = undefined;
    return undefined;
  }

  #go(to: LinkHealth, rule: HealthRule, detail: string, now: Instant): HealthChange {
    const from = this.#health;
    if (from === "up" && (to === "down" || to === "degraded")) this.#damping.fail(now);
    if (to === "up") this.#everUp = true;
    this.#health = to;
    this.#since = now;
    this.#recoverSince = undefined;
    return { from, to, rule, detail };
  }
}
