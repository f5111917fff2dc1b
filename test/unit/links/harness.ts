// Test harness for the link policy: a VirtualClock, hand-fed samples and probe outcomes, recorded actions and decisions.

import { linkId, type LinkId, type LinkKind, type LinkSample } from "../../../board/api/link-metrics.ts";
import { VirtualClock, type Instant } from "../../../firmware/core/instant.ts";
import { DEFAULT_LINK_POLICY_CONFIG, defaultLinkConfig, type LinkConfig, type LinkPolicyConfig } from "../../../firmware/links/config.ts";
import type { LinkDecision } from "../../../firmware/links/explain.ts";
import { LinkPolicy, type LinkAction } from "../../../firmware/links/policy.ts";
import type { ProbeOutcome, ProbeStats } from "../../../firmware/links/probe-scheduler.ts";

export const LTE = linkId("lte0");
export const WIFI = linkId("wifi0");
export const LTE_B = linkId("lte1");

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export function configWith(overrides: DeepPartial<LinkPolicyConfig> = {}): LinkPolicyConfig {
  const merge = (base: any, over: any): any => {
    if (over === undefined) return base;
    if (typeof base !== "object" || base === null || Array.isArray(base)) return over;
    const out: any = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
    return out;
  };
  return merge(DEFAULT_LINK_POLICY_CONFIG, overrides);
}

export class Harness {
  readonly clock = new VirtualClock(0);
  readonly policy: LinkPolicy;
  readonly actions: { at: Instant; action: LinkAction }[] = [];
  readonly decisions: LinkDecision[] = [];
  readonly #outcomes = new Map<LinkId, ProbeOutcome[]>();
  readonly #kinds = new Map<LinkId, LinkKind>();
  #sequence = 1;
  /** Answer every prepare at once (set false to control registrations by hand). */
  autoPrepare = true;

  constructor(config: LinkPolicyConfig = configWith(), links: LinkConfig[] = [defaultLinkConfig(LTE, "cellular"), defaultLinkConfig(WIFI, "wifi")]) {
    this.policy = new LinkPolicy(config, links, this.clock.now());
    for (const l of links) {
      this.#outcomes.set(l.id, []);
      this.#kinds.set(l.id, l.kind);
    }
  }

  get now(): Instant {
    return this.clock.now();
  }

  /** A radio sample: `margin` in dB above the policy's floor (RSRP for cellular, signal for Wi-Fi). */
  sample(link: LinkId, options: { up?: boolean; margin?: number } = {}): void {
    const up = options.up ?? true;
    const kind = this.#kinds.get(link)!;
    const margin = options.margin;
    const r = DEFAULT_LINK_POLICY_CONFIG.radio;
    let sample: LinkSample;
    if (kind === "wifi") {
      sample = {
        link,
        at: this.now,
        interface: { carrier: up, operState: up ? "up" : "down" },
        radio: up ? { kind: "wifi", associated: true, signalAvgDbm: margin === undefined ? undefined : r.wifiSignalFloorDbm + margin } : { kind: "wifi", associated: false },
      };
    } else {
      sample = {
        link,
        at: this.now,
        interface: { carrier: true, operState: "up" },
        radio: up
          ? { kind: "cellular", access: "lte", rsrpDbm: margin === undefined ? undefined : r.rsrpFloorDbm + margin, sinrDb: margin === undefined ? undefined : 30 }
          : { kind: "cellular", access: "none" },
      };
    }
    this.policy.handleSample(sample);
  }

  /** Completed probe outcomes: `A` answered (rtt ms), `L` lost; appended at the current instant. */
  probes(link: LinkId, pattern: string, rttMs = 40): void {
    const list = this.#outcomes.get(link)!;
    for (const c of pattern) {
      list.push({ sequenceNumber: this.#sequence++, sentAt: this.now, at: this.now, answered: c === "A", rttMs: c === "A" ? rttMs : undefined });
      if (list.length > 20) list.shift();
    }
    this.policy.handleProbeStats(this.stats(link), this.now);
  }

  stats(link: LinkId): ProbeStats {
    const recent = this.#outcomes.get(link)!.slice();
    const answered = recent.filter((o) => o.answered);
    let trailing = 0;
    for (let i = recent.length - 1; i >= 0 && recent[i]!.answered; i--) trailing++;
    let lost = 0;
    for (let i = recent.length - 1; i >= 0 && !recent[i]!.answered; i--) lost++;
    return {
      link,
      recent,
      lossRatio: recent.length ? (recent.length - answered.length) / recent.length : undefined,
      rttMs: answered.length ? answered.reduce((a, o) => a + o.rttMs!, 0) / answered.length : undefined,
      jitterMs:
        answered.length > 1 ? answered.slice(1).reduce((a, o, i) => a + Math.abs(o.rttMs! - answered[i]!.rttMs!), 0) / (answered.length - 1) : undefined,
      consecutiveLost: lost,
      consecutiveAnswered: trailing,
      lastAnsweredAt: undefined,
      intervalMs: 1000,
    };
  }

  /** Advances virtual time by `ms` and evaluates (answering prepares when autoPrepare is on). */
  step(ms = 500): void {
    this.clock.advance(ms);
    this.evaluate();
  }

  evaluate(): void {
    this.policy.handleTimeout(this.now);
    this.drain();
  }

  drain(): void {
    for (let a = this.policy.pollAction(); a; a = this.policy.pollAction()) {
      this.actions.push({ at: this.now, action: a });
      if (a.kind === "prepare" && this.autoPrepare) {
        this.policy.handlePrepared(a.link, this.now);
        this.policy.handleTimeout(this.now);
      }
    }
    for (let d = this.policy.pollDecision(); d; d = this.policy.pollDecision()) this.decisions.push(d);
    if (this.policy.pollAction() !== undefined || this.policy.pollDecision() !== undefined) this.drain();
  }

  /** Keeps a link healthy for `ms`: a good sample and an answered probe every 500 ms. */
  healthy(link: LinkId | LinkId[], ms: number, margin = 20, rttMs = 40): void {
    const links = Array.isArray(link) ? link : [link];
    for (let t = 0; t < ms; t += 500) {
      for (const l of links) {
        this.sample(l, { margin });
        this.probes(l, "A", rttMs);
      }
      this.step(500);
    }
  }

  rules(): string[] {
    return this.decisions.map((d) => d.rule);
  }

  primaryChanges(): LinkAction[] {
    return this.actions.map((a) => a.action).filter((a) => a.kind === "set-primary");
  }
}
