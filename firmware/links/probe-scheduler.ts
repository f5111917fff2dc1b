// Probe scheduler for one uplink (sans-IO): adaptive interval, reply timeouts, RTT/loss/jitter over a sliding window.

import type { LinkId } from "../../board/api/link-metrics.ts";
import type { Counters } from "../core/counters.ts";
import { earliest, later, type Duration, type Instant } from "../core/instant.ts";
import type { ProbeConfig } from "./config.ts";

/**
 * What the policy asks of a link. `off`: do not probe (no carrier, no association).
 * The scheduler adds its own fast rate after a loss, until `fastExitAnswers` answers in a row
 * or `fastMaxConsecutiveLosses` losses (a dead link is then polled at its base rate).
 */
export type ProbeMode = "active" | "standby" | "idle" | "fast" | "off";

export interface ProbeOutcome {
  readonly sequenceNumber: number;
  readonly sentAt: Instant;
  /** When the reply arrived or the timeout fired. */
  readonly at: Instant;
  readonly answered: boolean;
  /** Round-trip time without the responder's hold time; only when answered. */
  readonly rttMs?: number | undefined;
}

/** Window statistics. Every figure is undefined until there is something to compute it from. */
export interface ProbeStats {
  readonly link: LinkId;
  /** Completed outcomes in the window, oldest first (at most `windowSize`, none older than `windowMs`). */
  readonly recent: readonly ProbeOutcome[];
  readonly lossRatio?: number | undefined;
  readonly rttMs?: number | undefined;
  /** Mean absolute difference of consecutive RTTs (the RFC 3550 §6.4.1 quantity, unsmoothed). */
  readonly jitterMs?: number | undefined;
  readonly consecutiveLost: number;
  readonly consecutiveAnswered: number;
  readonly lastAnsweredAt?: Instant | undefined;
  readonly intervalMs: Duration;
}

export interface ProbeTransmit {
  readonly link: LinkId;
  readonly sequenceNumber: number;
  readonly sentAt: Instant;
}

export class ProbeScheduler {
  readonly link: LinkId;
  readonly #config: ProbeConfig;
  readonly #counters: Counters | undefined;
  #mode: ProbeMode = "standby";
  #nextSendAt: Instant | undefined;
  #nextSequence = 1;
  readonly #outstanding = new Map<number, { sentAt: Instant; deadline: Instant }>();
  readonly #transmits: ProbeTransmit[] = [];
  readonly #outcomes: ProbeOutcome[] = [];
  #window: ProbeOutcome[] = [];
  #consecutiveLost = 0;
  #consecutiveAnswered = 0;
  #lossFast = false;
  #lastAnsweredAt: Instant | undefined;
  #srtt: number | undefined;
  #rttvar = 0;
  /** RFC 6298 §5.5: each timeout doubles the timeout (up to the maximum) until a probe is answered. */
  #backoff = 1;
  /** Probes already counted lost whose late replies still teach the RTT estimator. */
  readonly #expired = new Map<number, Instant>();
  /** Octets put on the wire by this link's probes (requests and the replies they asked for). */
  wireBytes = 0;
  sent = 0;

  constructor(link: LinkId, config: ProbeConfig, now: Instant, counters?: Counters) {
    this.link = link;
    this.#config = config;
    this.#counters = counters;
    this.#nextSendAt = now;
  }

  get mode(): ProbeMode {
    return this.#mode;
  }

  /** The interval in force now (policy mode, raised to fast after a recent loss). */
  get intervalMs(): Duration {
    const c = this.#config;
    switch (this.#mode) {
      case "off":
        return Infinity;
      case "fast":
        return c.fastIntervalMs;
      case "active":
        return this.#lossFast ? c.fastIntervalMs : c.activeIntervalMs;
      case "standby":
        return this.#lossFast ? c.fastIntervalMs : c.standbyIntervalMs;
      case "idle":
        return this.#lossFast ? c.fastIntervalMs : c.idleIntervalMs;
    }
  }

  /** Changes the base rate. A faster rate takes effect at once (the next probe is brought forward). */
  setMode(mode: ProbeMode, now: Instant): void {
    if (mode === this.#mode) return;
    this.#mode = mode;
    if (mode === "off") {
      this.#nextSendAt = undefined;
      this.#lossFast = false;
      return;
    }
    const due = later(now, this.intervalMs);
    this.#nextSendAt = this.#nextSendAt === undefined ? now : this.#nextSendAt < due ? this.#nextSendAt : due;
  }

  /** Reply timeout from the smoothed RTT (RFC 6298 §2: SRTT + 4·RTTVAR), clamped. */
  get timeoutMs(): Duration {
    const c = this.#config;
    const rto = this.#srtt === undefined ? c.maxTimeoutMs / 2 : this.#srtt + 4 * this.#rttvar;
    return Math.min(c.maxTimeoutMs, Math.max(c.minTimeoutMs, rto) * this.#backoff);
  }

  pollTimeout(): Instant | undefined {
    let at = this.#nextSendAt;
    for (const o of this.#outstanding.values()) at = earliest(at, o.deadline);
    return at;
  }

  /** Expires unanswered probes and emits the next probe when due. Harmless when called early. */
  handleTimeout(now: Instant): void {
    for (const [sequenceNumber, o] of this.#outstanding) {
      if (o.deadline <= now) {
        this.#outstanding.delete(sequenceNumber);
        this.#expired.set(sequenceNumber, o.sentAt);
        if (this.#expired.size > 16) this.#expired.delete(this.#expired.keys().next().value!);
        this.#backoff = Math.min(this.#backoff * 2, 8);
        this.#record({ sequenceNumber, sentAt: o.sentAt, at: o.deadline, answered: false });
      }
    }
    if (this.#nextSendAt !== undefined && this.#nextSendAt <= now) {
      const sequenceNumber = this.#nextSequence;
      this.#nextSequence = (this.#nextSequence + 1) >>> 0 || 1;
      this.#outstanding.set(sequenceNumber, { sentAt: now, deadline: later(now, this.timeoutMs) });
      this.#transmits.push({ link: this.link, sequenceNumber, sentAt: now });
      this.sent++;
      this.wireBytes += this.#config.wireBytesPerProbe;
      this.#nextSendAt = this.#mode === "off" ? undefined : later(now, this.intervalMs);
    }
  }

  pollTransmit(): ProbeTransmit | undefined {
    return this.#transmits.shift();
  }

  /**
   * An authenticated echo reply for `sequenceNumber` arrived. Replies to unknown, expired or already
   * answered probes are counted and ignored (a late reply does not undo a loss).
   */
  handleReply(sequenceNumber: number, now: Instant, responderDelayMs = 0): ProbeOutcome | undefined {
    const o = this.#outstanding.get(sequenceNumber);
    if (o === undefined) {
      const sentAt = this.#expired.get(sequenceNumber);
      if (sentAt !== undefined) {
        // Too late to count as answered, but a valid RTT sample: the timeout must learn a slower path.
        this.#expired.delete(sequenceNumber);
        this.#counters?.increment("links.probe.late-reply");
        this.#learnRtt(Math.max(0, now - sentAt - responderDelayMs));
        return undefined;
      }
      this.#counters?.increment("links.probe.unexpected-reply");
      return undefined;
    }
    this.#outstanding.delete(sequenceNumber);
    this.wireBytes += this.#config.wireBytesPerProbe;
    const rttMs = Math.max(0, now - o.sentAt - responderDelayMs);
    const outcome: ProbeOutcome = { sequenceNumber, sentAt: o.sentAt, at: now, answered: true, rttMs };
    this.#record(outcome);
    return outcome;
  }

  /** Outcomes in completion order, for the policy. */
  pollOutcome(): ProbeOutcome | undefined {
    return this.#outcomes.shift();
  }

  stats(now: Instant): ProbeStats {
    this.#prune(now);
    const w = this.#window;
    const answered = w.filter((o) => o.answered);
    const rtts = answered.map((o) => o.rttMs!);
    let jitter: number | undefined;
    if (rtts.length >= 2) {
      let sum = 0;
      for (let i = 1; i < rtts.length; i++) sum += Math.abs(rtts[i]! - rtts[i - 1]!);
      jitter = sum / (rtts.length - 1);
    }
    return {
      link: this.link,
      recent: w.slice(),
      lossRatio: w.length === 0 ? undefined : (w.length - answered.length) / w.length,
      rttMs: rtts.length === 0 ? undefined : rtts.reduce((a, b) => a + b, 0) / rtts.length,
      jitterMs: jitter,
      consecutiveLost: this.#consecutiveLost,
      consecutiveAnswered: this.#consecutiveAnswered,
      lastAnsweredAt: this.#lastAnsweredAt,
      intervalMs: this.intervalMs,
    };
  }

  #record(outcome: ProbeOutcome): void {
    this.#window.push(outcome);
    this.#prune(outcome.at);
    this.#outcomes.push(outcome);
    const c = this.#config;
    if (outcome.answered) {
      this.#consecutiveAnswered++;
      this.#consecutiveLost = 0;
      this.#lastAnsweredAt = outcome.at;
      this.#learnRtt(outcome.rttMs!);
      this.#backoff = 1;
      if (this.#lossFast && this.#consecutiveAnswered >= c.fastExitAnswers) this.#lossFast = false;
    } else {
      this.#consecutiveLost++;
      this.#consecutiveAnswered = 0;
      this.#counters?.increment("links.probe.lost");
      const wasFast = this.#lossFast;
      this.#lossFast = this.#mode !== "off" && this.#consecutiveLost < c.fastMaxConsecutiveLosses;
      // A first loss brings the next probe forward, so N-of-M completes within a few fast intervals.
      if (this.#lossFast && !wasFast && this.#nextSendAt !== undefined) {
        const soon = later(outcome.at, c.fastIntervalMs);
        if (soon < this.#nextSendAt) this.#nextSendAt = soon;
      }
    }
  }

  /** RFC 6298 §2.2/2.3 with alpha 1/8, beta 1/4. */
  #learnRtt(r: number): void {
    if (this.#srtt === undefined) {
      this.#srtt = r;
      this.#rttvar = r / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - r);
      this.#srtt = 0.875 * this.#srtt + 0.125 * r;
    }
  }

  #prune(now: Instant): void {
    const c = this.#config;
    const oldest = now - c.windowMs;
    let drop = Math.max(0, this.#window.length - c.windowSize);
    while (drop < this.#window.length && this.#window[drop]!.at < oldest) drop++;
    if (drop > 0) this.#window = this.#window.slice(drop);
  }
}

/** Probe octets per day at `intervalMs` (requests and replies), e.g. for a standby LTE link's data budget. */
export function probeBytesPerDay(intervalMs: Duration, wireBytesPerProbe: number): number {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) return 0;
  return (86_400_000 / intervalMs) * wireBytesPerProbe * 2;
}
