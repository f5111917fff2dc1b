// Link engine (sans-IO): the policy plus one probe scheduler per uplink, wired together; the runtime and the bench drive it.

import type { LinkId, LinkSample } from "../../board/api/link-metrics.ts";
import type { Counters } from "../core/counters.ts";
import { earliest, type Instant } from "../core/instant.ts";
import type { LinkConfig, LinkPolicyConfig } from "./config.ts";
import type { LinkDecision } from "./explain.ts";
import { LinkPolicy, type LinkAction } from "./policy.ts";
import { ProbeScheduler, type ProbeTransmit } from "./probe-scheduler.ts";

/**
 * Inputs: samples, probe replies (already authenticated by the link-probe codec), prepare results, traffic.
 * Outputs: probes to send (`pollTransmit`; the runtime encodes them with `emitLinkProbe` and sends them on
 * that uplink), actions for the mobility/IPsec layers (`pollAction`) and decision records (`pollDecision`).
 */
export class LinkEngine {
  readonly policy: LinkPolicy;
  readonly schedulers: ReadonlyMap<LinkId, ProbeScheduler>;
  readonly #actions: LinkAction[] = [];

  constructor(config: LinkPolicyConfig, links: readonly LinkConfig[], now: Instant, counters?: Counters) {
    this.policy = new LinkPolicy(config, links, now, counters);
    this.schedulers = new Map(links.map((l) => [l.id, new ProbeScheduler(l.id, config.probe, now, counters)] as const));
  }

  #scheduler(link: LinkId): ProbeScheduler {
    const s = this.schedulers.get(link);
    if (s === undefined) throw new RangeError(`unknown link ${link}`);
    return s;
  }

  handleSample(sample: LinkSample): void {
    this.policy.handleSample(sample);
  }

  handleProbeReply(link: LinkId, sequenceNumber: number, now: Instant, responderDelayMs = 0): void {
    const scheduler = this.#scheduler(link);
    if (scheduler.handleReply(sequenceNumber, now, responderDelayMs)) this.#drainOutcomes(scheduler, now);
  }

  handlePrepared(link: LinkId, now: Instant): void {
    this.policy.handlePrepared(link, now);
  }

  handlePrepareFailed(link: LinkId, now: Instant): void {
    this.policy.handlePrepareFailed(link, now);
  }

  handleTraffic(link: LinkId, bytes: number, intervalMs: number, now: Instant): void {
    this.policy.handleTraffic(link, bytes, intervalMs, now);
  }

  pollTimeout(): Instant {
    let at: Instant | undefined = this.policy.pollTimeout();
    for (const s of this.schedulers.values()) at = earliest(at, s.pollTimeout());
    return at!;
  }

  handleTimeout(now: Instant): void {
    for (const s of this.schedulers.values()) {
      s.handleTimeout(now);
      this.#drainOutcomes(s, now);
    }
    if (this.policy.pollTimeout() <= now) this.policy.handleTimeout(now);
    for (let a = this.policy.pollAction(); a !== undefined; a = this.policy.pollAction()) {
      if (a.kind === "probe-mode") this.#scheduler(a.link).setMode(a.mode, now);
      this.#actions.push(a);
    }
  }

  pollTransmit(): ProbeTransmit | undefined {
    for (const s of this.schedulers.values()) {
      const t = s.pollTransmit();
      if (t) return t;
    }
    return undefined;
  }

  pollAction(): LinkAction | undefined {
    return this.#actions.shift();
  }

  pollDecision(): LinkDecision | undefined {
    return this.policy.pollDecision();
  }

  #drainOutcomes(s: ProbeScheduler, now: Instant): void {
    let any = false;
    while (s.pollOutcome()) any = true;
    if (any) this.policy.handleProbeStats(s.stats(now), now);
  }
}
