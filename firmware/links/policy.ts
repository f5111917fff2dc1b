// The link policy (sans-IO): which care-of address is primary, which form the active set, which flows go where, and why.

import type { LinkId, LinkSample } from "../../board/api/link-metrics.ts";
import type { Counters } from "../core/counters.ts";
import { earliest, later, type Instant } from "../core/instant.ts";
import type { DataBucket, LinkConfig, LinkPolicyConfig } from "./config.ts";
import { FlapDamping } from "./damping.ts";
import type { DecisionRule, LinkDecision, LinkSnapshot, PrepareState } from "./explain.ts";
import { assignFlows, type FlowAssignment, type FlowCandidate } from "./flow-rules.ts";
import { hardDownReason, LinkHealthTracker, qualityOf } from "./link-health.ts";
import type { ProbeMode, ProbeStats } from "./probe-scheduler.ts";
import { radioMarginDb, scoreLink, slopeDbPerSecond, type ScoreBreakdown, type TrendPoint } from "./score.ts";
import { SwitchBudget } from "./switch-budget.ts";

/** Radio-predictive moves may spend this multiple of the switch budget (they anticipate a failure). */
const ANTICIPATORY_BUDGET_ALLOWANCE = 2;
/** A trend steeper than this (dB/s, down) counts as falling for the radio prediction. */
const FALLING_DB_PER_S = 0.5;
/** How much better (dB, predicted) a radio-predictive target must be when its own margin is only fair. */
const RADIO_ADVANTAGE_DB = 6;
/** The same hold (rule and target) is recorded at most this often. */
const HOLD_RECORD_INTERVAL_MS = 60_000;

/** What the policy asks the rest of the router to do. */
export type LinkAction =
  /** Register this care-of address (binding update with its BID) and make sure the SA can use it; answer with handlePrepared. */
  | { readonly kind: "prepare"; readonly link: LinkId }
  /** The standby binding is no longer needed. */
  | { readonly kind: "release"; readonly link: LinkId }
  /** Move traffic: the target is already prepared (make-before-break). */
  | { readonly kind: "set-primary"; readonly link: LinkId; readonly previous: LinkId | undefined }
  | { readonly kind: "set-active-set"; readonly links: readonly LinkId[] }
  /** Multi-CoA modes: which link carries each flow rule (the home agent learns it through flow bindings, RFC 6089). */
  | { readonly kind: "set-flow-map"; readonly flows: readonly FlowAssignment[] }
  | { readonly kind: "probe-mode"; readonly link: LinkId; readonly mode: ProbeMode };

interface LinkState {
  config: LinkConfig;
  health: LinkHealthTracker;
  damping: FlapDamping;
  sample: LinkSample | undefined;
  probe: ProbeStats | undefined;
  radioHistory: TrendPoint[];
  marginDb: number | undefined;
  /** Mean margin over the trend window: what the score uses, so shadowing noise does not move traffic. */
  smoothedMarginDb: number | undefined;
  trendDbPerS: number | undefined;
  predictedMarginDb: number | undefined;
  radioWeak: boolean;
  suppressed: boolean;
  prepare: PrepareState;
  prepareAt: Instant;
  /** Last time this link was primary, in the active set or a prepare target (for releasing standbys). */
  neededAt: Instant;
  addresses: string | undefined;
  bucket: DataBucket | undefined;
  bytesPerSecond: number;
  lastTrafficAt: Instant | undefined;
  probeMode: ProbeMode | undefined;
  score: ScoreBreakdown;
}

export class LinkPolicy {
  readonly #config: LinkPolicyConfig;
  readonly #links: LinkState[];
  readonly #counters: Counters | undefined;
  readonly #budget: SwitchBudget;
  readonly #actions: LinkAction[] = [];
  readonly #decisions: LinkDecision[] = [];
  #sequence = 0;
  #primary: LinkId | undefined;
  #primarySince: Instant;
  #activeSet: LinkId[] = [];
  #flows: FlowAssignment[] = [];
  #dueAt: Instant;
  #lastHold: string | undefined;
  #lastHoldAt: Instant | undefined;
  #allDown = false;

  constructor(config: LinkPolicyConfig, links: readonly LinkConfig[], now: Instant, counters?: Counters) {
    if (links.length === 0) throw new RangeError("link policy needs at least one link");
    if (new Set(links.map((l) => l.id)).size !== links.length) throw new RangeError("link ids must be unique");
    this.#config = config;
    this.#counters = counters;
    this.#budget = new SwitchBudget(config.switching.budget.maxSwitches, config.switching.budget.windowMs);
    this.#primarySince = now;
    this.#dueAt = now;
    this.#links = links.map((l) => {
      const damping = new FlapDamping(config.damping, now);
      return {
        config: l,
        health: new LinkHealthTracker(config, damping, now),
        damping,
        sample: undefined,
        probe: undefined,
        radioHistory: [],
        marginDb: undefined,
        smoothedMarginDb: undefined,
        trendDbPerS: undefined,
        predictedMarginDb: undefined,
        radioWeak: false,
        suppressed: false,
        prepare: "idle",
        prepareAt: now,
        neededAt: now,
        addresses: undefined,
        bucket: l.bucket,
        bytesPerSecond: 0,
        lastTrafficAt: undefined,
        probeMode: undefined,
        score: { total: 0, preference: l.preference, quality: 0, cost: 0, bucket: 0, damping: 0 },
      };
    });
  }

  get primary(): LinkId | undefined {
    return this.#primary;
  }

  get activeSet(): readonly LinkId[] {
    return this.#activeSet;
  }

  get flows(): readonly FlowAssignment[] {
    return this.#flows;
  }

  #state(link: LinkId): LinkState {
    const s = this.#links.find((l) => l.config.id === link);
    if (s === undefined) throw new RangeError(`unknown link ${link}`);
    return s;
  }

  /** A new reading of a link (radio, interface). A hard failure or an address change is acted on at the next handleTimeout, due at once. */
  handleSample(sample: LinkSample): void {
    const s = this.#state(sample.link);
    const wasHard = hardDownReason(s.sample) !== undefined;
    s.sample = sample;
    const margin = radioMarginDb(sample.radio, this.#config.radio);
    if (margin !== undefined) {
      s.radioHistory.push({ at: sample.at, marginDb: margin });
      const from = sample.at - this.#config.radio.trendWindowMs;
      while (s.radioHistory.length > 0 && s.radioHistory[0]!.at < from) s.radioHistory.shift();
    }
    // A hard failure, its end, or a new address (registration needed again) is evaluated at once.
    const readdressed = s.addresses !== undefined && sample.interface?.ipv6Addresses !== undefined && sample.interface.ipv6Addresses.join(",") !== s.addresses;
    if (hardDownReason(sample) !== undefined || wasHard || readdressed) this.#dueAt = sample.at < this.#dueAt ? sample.at : this.#dueAt;
  }

  /** The probe window of a link changed (an outcome completed). A loss makes the next evaluation due at once. */
  handleProbeStats(stats: ProbeStats, now: Instant): void {
    const s = this.#state(stats.link);
    s.probe = stats;
    const last = stats.recent[stats.recent.length - 1];
    if (last !== undefined && !last.answered) this.#dueAt = now < this.#dueAt ? now : this.#dueAt;
  }

  /** The care-of address of `link` is registered and keyed: traffic may move onto it. */
  handlePrepared(link: LinkId, now: Instant): void {
    const s = this.#state(link);
    if (s.prepare === "ready") return;
    s.prepare = "ready";
    s.prepareAt = now;
    this.#record(now, "prepared", link, `${link} registered and keyed`);
    this.#dueAt = now;
  }

  handlePrepareFailed(link: LinkId, now: Instant): void {
    const s = this.#state(link);
    s.prepare = "idle";
    this.#counters?.increment("links.prepare.failed");
    this.#record(now, "prepare-failed", link, `${link} registration or keying failed`);
    this.#dueAt = now;
  }

  /** Bytes carried on `link` since the last call: drives the data bucket and the idle probe rate. */
  handleTraffic(link: LinkId, bytes: number, intervalMs: number, now: Instant): void {
    const s = this.#state(link);
    if (bytes > 0) s.lastTrafficAt = now;
    const rate = intervalMs > 0 ? (bytes * 1000) / intervalMs : 0;
    s.bytesPerSecond = 0.9 * s.bytesPerSecond + 0.1 * rate;
    if (s.bucket) s.bucket = { ...s.bucket, remainingBytes: s.bucket.remainingBytes - bytes };
  }

  /** The operator's view of the bucket (remaining bytes, reset date), e.g. from an SMS or a usage API. */
  handleBucket(link: LinkId, bucket: DataBucket | undefined): void {
    this.#state(link).bucket = bucket;
  }

  pollTimeout(): Instant {
    let at: Instant | undefined = this.#dueAt;
    for (const s of this.#links) {
      at = earliest(at, s.health.recoveryDueAt);
      at = earliest(at, s.damping.reuseAt);
    }
    return at ?? this.#dueAt;
  }

  pollAction(): LinkAction | undefined {
    return this.#actions.shift();
  }

  pollDecision(): LinkDecision | undefined {
    return this.#decisions.shift();
  }

  /** Re-evaluates everything. Harmless when called early or twice. */
  handleTimeout(now: Instant): void {
    this.#dueAt = later(now, this.#config.evaluateIntervalMs);
    for (const s of this.#links) this.#updateLink(s, now);
    for (const s of this.#links) this.#updateScore(s, now);
    this.#selectPrimary(now);
    if (this.#config.mode === "multi") this.#updateActiveSet(now);
    this.#updatePrepares(now);
    this.#updateProbeModes(now);
  }

  #updateLink(s: LinkState, now: Instant): void {
    const id = s.config.id;
    const r = this.#config.radio;
    // Radio margin, trend and the hysteresis between weak and good.
    const last = s.radioHistory[s.radioHistory.length - 1];
    s.marginDb = last && now - last.at <= r.trendWindowMs ? last.marginDb : undefined;
    s.trendDbPerS = s.marginDb === undefined ? undefined : slopeDbPerSecond(s.radioHistory, r.minTrendSamples);
    s.smoothedMarginDb = s.marginDb === undefined ? undefined : s.radioHistory.reduce((a, p) => a + p.marginDb, 0) / s.radioHistory.length;
    s.predictedMarginDb =
      s.marginDb === undefined ? undefined : s.trendDbPerS === undefined ? s.marginDb : s.marginDb + Math.min(0, s.trendDbPerS) * (r.horizonMs / 1000);
    if (s.marginDb === undefined) s.radioWeak = false;
    else if (s.marginDb < r.failMarginDb) s.radioWeak = true;
    else if (s.marginDb > r.recoverMarginDb) s.radioWeak = false;

    // A new care-of address must be registered again before it can carry anything.
    const addresses = s.sample?.interface?.ipv6Addresses?.join(",");
    if (addresses !== undefined && s.addresses !== undefined && addresses !== s.addresses && s.prepare !== "idle") {
      s.prepare = "idle";
      this.#record(now, "address-change", id, `${id} addresses changed to ${addresses || "none"}: registration needed again`);
    }
    if (addresses !== undefined) s.addresses = addresses;

    const change = s.health.update(s.sample, s.probe, now);
    if (change) {
      this.#counters?.increment(`links.health.${change.to}`);
      if (change.to === "down" && change.rule === "hard-down") s.prepare = "idle";
      this.#record(now, change.rule, id, `${id} ${change.from} → ${change.to}: ${change.detail}`);
    }
    const suppressed = s.damping.suppressed(now);
    if (suppressed !== s.suppressed) {
      s.suppressed = suppressed;
      this.#record(
        now,
        suppressed ? "suppressed" : "reusable",
        id,
        suppressed ? `${id} flapped: penalty ${s.damping.penalty(now).toFixed(0)}, last resort only` : `${id} penalty decayed below reuse`,
      );
    }
  }

  #updateScore(s: LinkState, now: Instant): void {
    s.score = scoreLink(
      {
        link: { ...s.config, bucket: s.bucket },
        sample: s.sample,
        marginDb: s.smoothedMarginDb,
        predictedMarginDb: s.predictedMarginDb,
        probe: s.probe,
        penalty: s.damping.penalty(now),
        bytesPerSecond: s.bytesPerSecond,
        now,
      },
      this.#config,
    );
  }

  #blocked(s: LinkState): boolean {
    return s.bucket !== undefined && s.bucket.whenExhausted === "block" && s.bucket.remainingBytes <= 0;
  }

  /** Usable links; when none, the last-resort tier (degraded, suppressed or over budget, but answering). */
  #candidates(): LinkState[] {
    const usable = this.#links.filter((s) => s.health.health === "up" && !s.suppressed && !this.#blocked(s));
    if (usable.length > 0) return usable;
    return this.#links.filter((s) => s.health.health === "up" || s.health.health === "degraded");
  }

  #best(candidates: readonly LinkState[], except?: LinkId): LinkState | undefined {
    let best: LinkState | undefined;
    for (const s of candidates) if (s.config.id !== except && (best === undefined || s.score.total > best.score.total)) best = s;
    return best;
  }

  #atRisk(s: LinkState): boolean {
    const r = this.#config.radio;
    return s.radioWeak || (s.predictedMarginDb !== undefined && s.predictedMarginDb < r.failMarginDb) || s.health.health === "degraded";
  }

  #selectPrimary(now: Instant): void {
    const candidates = this.#candidates();
    const current = this.#primary === undefined ? undefined : this.#state(this.#primary);
    if (candidates.length === 0) {
      if (!this.#allDown) {
        this.#allDown = true;
        this.#record(now, "all-down", this.#primary, "no link answers: keeping the current binding and probing every link fast");
      }
      return;
    }
    this.#allDown = false;
    const best = this.#best(candidates)!;
    if (current === undefined || !candidates.includes(current)) {
      const why =
        current === undefined
          ? "first usable link"
          : `${current.config.id} is ${current.health.health}${current.suppressed ? " (suppressed)" : ""}${this.#blocked(current) ? " (bucket empty)" : ""}`;
      this.#moveTo(best, current === undefined ? "initial" : "failover", why, now);
      return;
    }
    // Make-before-break: when the primary is at risk, register the best alternative now, before probes fail.
    const alternative = this.#best(candidates, current.config.id);
    if (alternative && this.#atRisk(current)) this.#ensurePrepared(alternative, now, "at-risk", this.#riskText(current));
    // Radio prediction: preference and price do not matter when the current link is about to fail;
    // the target must have a clear radio margin that is not falling itself (no ping-pong between two weak links).
    if (alternative && this.#radioFailing(current) && this.#radioSound(alternative, current)) {
      // An anticipated failure may use twice the discretionary budget; only a real failure is never held back.
      if (!this.#budget.available(now, ANTICIPATORY_BUDGET_ALLOWANCE)) {
        return this.#hold("hold-budget", alternative, now, `radio failing on ${current.config.id} but the switch budget is spent`);
      }
      this.#moveTo(alternative, "radio-predictive", this.#riskText(current), now);
      return;
    }
    if (best === current) {
      this.#lastHold = undefined;
      return;
    }
    const sw = this.#config.switching;
    // Asymmetric hysteresis on the radio too: traffic only moves by choice onto a link whose radio is good.
    const bestRadioGood = best.marginDb === undefined || best.marginDb >= this.#config.radio.recoverMarginDb;
    if (best.score.total <= current.score.total + sw.switchMarginPoints || this.#atRisk(best) || !bestRadioGood) {
      this.#lastHold = undefined;
      return; // inside the score hysteresis: hold without a record
    }
    const gain = `${best.config.id} ${best.score.total} vs ${current.config.id} ${current.score.total}`;
    if (now - this.#primarySince < sw.minDwellMs) {
      return this.#hold("hold-dwell", best, now, `${gain}; on ${current.config.id} for ${((now - this.#primarySince) / 1000).toFixed(0)} s of ${sw.minDwellMs / 1000}`);
    }
    if (!this.#budget.available(now)) return this.#hold("hold-budget", best, now, `${gain}; ${this.#budget.used(now)} switches in the window`);
    this.#moveTo(best, "better-score", gain, now);
  }

  /**
   * The radio says the link is about to fail: weak and not improving, or (make-before-break before the
   * probes notice) below the recover margin and falling fast enough to cross the fail margin within the horizon.
   */
  #radioFailing(s: LinkState): boolean {
    const r = this.#config.radio;
    const trend = s.trendDbPerS ?? 0;
    if (s.radioWeak) return trend <= 0;
    return s.marginDb !== undefined && s.marginDb < r.recoverMarginDb && s.predictedMarginDb !== undefined && s.predictedMarginDb < r.failMarginDb && trend < -FALLING_DB_PER_S;
  }

  /**
   * A radio-predictive target: healthy, not heading below the fail margin, and either good outright
   * (above the recover margin) or clearly better than the failing link's prediction.
   */
  #radioSound(s: LinkState, failing: LinkState): boolean {
    const r = this.#config.radio;
    if (s.health.health !== "up" || s.suppressed || s.radioWeak) return false;
    if (s.marginDb === undefined) return s.config.kind === "wired";
    const predicted = s.predictedMarginDb ?? s.marginDb;
    if (predicted < r.failMarginDb) return false;
    return s.marginDb >= r.recoverMarginDb || predicted >= (failing.predictedMarginDb ?? r.failMarginDb) + RADIO_ADVANTAGE_DB;
  }

  #riskText(s: LinkState): string {
    const f = (x: number | undefined) => (x === undefined ? "?" : x.toFixed(1));
    return `${s.config.id} radio margin ${f(s.marginDb)} dB, trend ${f(s.trendDbPerS)} dB/s, predicted ${f(s.predictedMarginDb)} dB, ${s.health.health}`;
  }

  #hold(rule: DecisionRule, target: LinkState, now: Instant, summary: string): void {
    const key = `${rule}:${target.config.id}`;
    if (this.#lastHold === key && this.#lastHoldAt !== undefined && now - this.#lastHoldAt < HOLD_RECORD_INTERVAL_MS) return;
    this.#lastHold = key;
    this.#lastHoldAt = now;
    this.#record(now, rule, target.config.id, summary);
  }

  /** Moves traffic once the target is prepared; until then asks for the prepare (make-before-break). */
  #moveTo(target: LinkState, rule: DecisionRule, why: string, now: Instant): void {
    const id = target.config.id;
    if (target.prepare !== "ready") {
      this.#ensurePrepared(target, now, "prepare", `before moving traffic (${rule}: ${why})`);
      return;
    }
    const previous = this.#primary;
    this.#primary = id;
    this.#primarySince = now;
    this.#lastHold = undefined;
    target.neededAt = now;
    if (previous !== undefined) this.#budget.record(now);
    this.#counters?.increment(`links.switch.${rule}`);
    this.#actions.push({ kind: "set-primary", link: id, previous });
    this.#record(now, rule, id, `primary ${previous ?? "none"} → ${id}: ${why}`, { primaryBefore: previous });
  }

  #ensurePrepared(target: LinkState, now: Instant, rule: DecisionRule, why: string): void {
    target.neededAt = now;
    const mbb = this.#config.makeBeforeBreak;
    if (target.prepare === "ready") return;
    if (target.prepare === "preparing" && now - target.prepareAt < mbb.prepareTimeoutMs) return;
    if (target.prepare === "preparing") this.#counters?.increment("links.prepare.timeout");
    target.prepare = "preparing";
    target.prepareAt = now;
    this.#actions.push({ kind: "prepare", link: target.config.id });
    this.#record(now, rule, target.config.id, `prepare ${target.config.id} ${why}`);
  }

  #updateActiveSet(now: Instant): void {
    const usable = this.#candidates()
      .filter((s) => s.health.health === "up" || s.config.id === this.#primary)
      .sort((a, b) => b.score.total - a.score.total);
    for (const s of usable) this.#ensurePrepared(s, now, "prepare", "to join the active set");
    const ready = usable.filter((s) => s.prepare === "ready");
    const next = ready.map((s) => s.config.id);
    if (next.join() !== this.#activeSet.join()) {
      this.#activeSet = next;
      this.#actions.push({ kind: "set-active-set", links: next });
      this.#record(now, "active-set", undefined, `active set ${next.join(", ") || "empty"}`);
    }
    const candidates: FlowCandidate[] = ready.map((s) => ({
      link: s.config.id,
      kind: s.config.kind,
      score: s.score.total,
      rttMs: s.probe?.rttMs,
      jitterMs: s.probe?.jitterMs,
      costPerGb: s.config.costPerGb,
    }));
    const previous = new Map(this.#flows.map((f) => [f.rule, f.link] as const));
    const flows = assignFlows(this.#config.flowRules, candidates, previous, this.#config.switching.switchMarginPoints);
    if (flows.some((f, i) => this.#flows[i]?.rule !== f.rule || this.#flows[i]?.link !== f.link)) {
      this.#flows = flows;
      this.#actions.push({ kind: "set-flow-map", flows });
      this.#record(now, "flow-map", undefined, flows.map((f) => `${f.rule} → ${f.link ?? "held"}`).join(", "));
    }
  }

  #updatePrepares(now: Instant): void {
    const mbb = this.#config.makeBeforeBreak;
    if (mbb.keepStandbyPrepared && this.#primary !== undefined) {
      const standby = this.#best(this.#candidates(), this.#primary);
      if (standby) this.#ensurePrepared(standby, now, "prepare", "as the standby (keepStandbyPrepared)");
    }
    for (const s of this.#links) {
      const id = s.config.id;
      if (id === this.#primary || this.#activeSet.includes(id)) s.neededAt = now;
      else if (s.prepare !== "idle" && now - s.neededAt >= mbb.releaseAfterMs) {
        s.prepare = "idle";
        this.#actions.push({ kind: "release", link: id });
        this.#record(now, "release", id, `${id} unused for ${(mbb.releaseAfterMs / 1000).toFixed(0)} s`);
      }
    }
  }

  /** Fast where a decision is near (weak, verifying, recovering), active on carriers, slow on healthy standbys. */
  #updateProbeModes(now: Instant): void {
    const anyUsable = this.#links.some((s) => s.health.health === "up" && !s.suppressed);
    const idle = this.#links.every((s) => s.lastTrafficAt === undefined || now - s.lastTrafficAt >= this.#config.idleAfterMs);
    for (const s of this.#links) {
      const id = s.config.id;
      const carrying = id === this.#primary || this.#activeSet.includes(id);
      const health = s.health.health;
      let mode: ProbeMode;
      if (hardDownReason(s.sample) !== undefined) mode = "off";
      else if (!anyUsable || health === "unknown") mode = "fast";
      else if (s.prepare === "preparing" || (s.prepare === "ready" && !carrying && this.#primaryAtRisk())) mode = "fast";
      else if (carrying) mode = this.#atRisk(s) ? "fast" : idle ? "idle" : "active";
      else if (health === "down" && s.probe !== undefined && s.probe.consecutiveAnswered > 0) mode = "fast";
      else if (health === "degraded") mode = "active"; // a candidate waiting to recover needs samples
      else mode = idle ? "idle" : "standby";
      if (mode !== s.probeMode) {
        s.probeMode = mode;
        this.#actions.push({ kind: "probe-mode", link: id, mode });
      }
    }
  }

  #primaryAtRisk(): boolean {
    return this.#primary !== undefined && this.#atRisk(this.#state(this.#primary));
  }

  /** Every link's inputs and scores as the policy sees them now. */
  snapshot(now: Instant): LinkSnapshot[] {
    return this.#links.map((s) => {
      const q = s.probe ? qualityOf(s.probe.recent.slice(-this.#config.health.qualityWindow)) : undefined;
      return {
        link: s.config.id,
        kind: s.config.kind,
        health: s.health.health,
        hardDown: hardDownReason(s.sample),
        marginDb: s.marginDb,
        trendDbPerS: s.trendDbPerS === undefined ? undefined : Math.round(s.trendDbPerS * 100) / 100,
        predictedMarginDb: s.predictedMarginDb === undefined ? undefined : Math.round(s.predictedMarginDb * 10) / 10,
        radioWeak: s.radioWeak,
        lossRatio: q?.samples ? q.lossRatio : undefined,
        rttMs: q?.rttMs === undefined ? undefined : Math.round(q.rttMs),
        jitterMs: q?.jitterMs === undefined ? undefined : Math.round(q.jitterMs),
        score: s.score,
        penalty: Math.round(s.damping.penalty(now)),
        suppressed: s.suppressed,
        prepare: s.prepare,
      };
    });
  }

  #record(now: Instant, rule: DecisionRule, link: LinkId | undefined, summary: string, change?: { primaryBefore: LinkId | undefined }): void {
    const primaryBefore = change === undefined ? this.#primary : change.primaryBefore;
    this.#decisions.push({
      sequence: ++this.#sequence,
      at: now,
      rule,
      link,
      summary,
      primaryBefore,
      primaryAfter: this.#primary,
      activeSet: this.#config.mode === "multi" ? this.#activeSet.slice() : undefined,
      flows: this.#config.mode === "multi" ? this.#flows.slice() : undefined,
      links: this.snapshot(now),
    });
  }
}
