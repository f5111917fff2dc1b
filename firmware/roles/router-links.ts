// The router's link selection at run time: interface samples and in-tunnel probes into the link engine, its actions into the mobility core.

import { linkId, type InterfaceState, type LinkKind, type LinkMetricsSource, type LinkSample } from "../../board/api/link-metrics.ts";
import { InterfaceStatsReader } from "../../board/linux/interface-stats.ts";
import { interfaceIndex } from "../../board/linux/ffi/libc.ts";
import { IFA_F_DADFAILED, IFA_F_DEPRECATED, IFA_F_TENTATIVE, type RouteEvent, type RouteWatch, watchRouteEvents } from "../../board/linux/netlink-route.ts";
import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import type { SecretBytes } from "../core/secret.ts";
import type { OtaLinkSet } from "../fleet/ota-policy.ts";
import { chooseCareOfAddress, type InterfaceAddress } from "../links/care-of-address.ts";
import type { LinkConfig, LinkPolicyConfig } from "../links/config.ts";
import { formatDecision, type LinkDecision } from "../links/explain.ts";
import type { HealthRule } from "../links/link-health.ts";
import { LinkEngine } from "../links/link-engine.ts";
import { probeBytesPerDay } from "../links/probe-scheduler.ts";
import { CoreTimer, monotonicNow } from "./daemon.ts";
import { encodeProbePacket, ProbeKeyRing } from "./link-probes.ts";

/** One uplink of the router as the link engine sees it. */
export interface RouterUplinkView {
  readonly id: string;
  /** Index in the data plane's uplinks. */
  readonly index: number;
  readonly interfaceName: string;
  readonly bindingId: number;
  readonly careOfAddress: string;
}

/** What the link engine's actions do to the rest of the router. */
export interface RouterLinkActions {
  /**
   * Make the uplink ready to carry traffic: `ready` at once, or `pending` after sending a binding update with
   * its BID (then it counts as prepared once `isRegistered` turns true on the BA).
   */
  prepare(id: string): "ready" | "pending";
  release(id: string): void;
  /** Move traffic (and the preferred binding) to `id`; it is registered (make-before-break). */
  setPrimary(id: string, previous: string | undefined): void;
  isRegistered(id: string): boolean;
  /**
   * The engine's verdict on a link changed: `false` when it went down (carrier or operstate lost, or its
   * probes failed N-of-M), `true` when a link that was down answers again (up, or degraded: last resort).
   * Called before the turn's `setPrimary`, so the design leaves a dead uplink at once.
   */
  linkUsable?(id: string, usable: boolean): void;
  /** The uplink's care-of address changed (its address was removed or deprecated; a new one is in use). */
  addressChanged?(id: string, careOfAddress: string): void;
}

export interface RouterLinksOptions {
  readonly uplinks: readonly RouterUplinkView[];
  readonly homeAddress: string;
  readonly homeAgent: string;
  /** Static keys: the key; IKE: the ring the role re-keys after IKE_AUTH and every CHILD_SA rekey. */
  readonly probeKey: SecretBytes | ProbeKeyRing;
  readonly sendProbe: (uplinkIndex: number, packet: Uint8Array) => void;
  readonly actions: RouterLinkActions;
  readonly onDecision: (decision: LinkDecision) => void;
  readonly counters: Counters;
  readonly log: (line: string) => void;
  /** How often interface state (and radio, where a source exists) is sampled. */
  readonly sampleIntervalMs?: number;
  /** Radio metrics per uplink id (modem/Wi-Fi readers, or a trace replay on the simulated board). */
  readonly radio?: ReadonlyMap<string, LinkMetricsSource>;
  /**
   * Carrier, operstate and address changes as the kernel announces them (rtnetlink), between the
   * periodic samples: default on; without it they are seen at the next sample.
   */
  readonly netlink?: boolean;
}

/** Per-link counters the telemetry reports (bytes from the interface, probe cost). */
interface Traffic {
  rxBytes: number;
  txBytes: number;
  lastTotal: number | undefined;
  lastAnsweredAt: Instant | undefined;
  /** Last radio reading: RSRP (or RSSI) on cellular, the averaged signal on Wi-Fi. */
  signalDbm: number | undefined;
}

export interface RouterLinkMetrics {
  readonly id: string;
  readonly kind: LinkKind | undefined;
  readonly enabled: boolean;
  readonly health: string;
  readonly up: boolean;
  readonly primary: boolean;
  readonly careOfAddress: string;
  readonly rttMs?: number;
  readonly lossPercent?: number;
  readonly jitterMs?: number;
  readonly signalDbm?: number;
  readonly radioMarginDb?: number;
  readonly score?: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly probe?: { readonly intervalMs: number; readonly sent: number; readonly wireBytes: number; readonly bytesPerDay: number };
}

const DEFAULT_SAMPLE_MS = 1000;
/**
 * A timer this late means this thread was stalled (a loaded host): probe replies that arrived meanwhile
 * may still wait in the queue behind the timer. The turn (which expires unanswered probes) then runs once
 * after them instead of counting them lost.
 */
const LATE_TURN_MS = 20;

/** Rules after which the link's health may have crossed between usable and down. */
const HEALTH_RULES: ReadonlySet<string> = new Set<HealthRule>(["hard-down", "probe-window", "quality-fail", "quality-recover", "recovered", "answering-poorly"]);

/**
 * Owns one `LinkEngine` over the enabled uplinks (rebuilt by `reconfigure`). Probes go out through the
 * tunnel on their own uplink; replies come back through `handleProbePacket`. `prepare` answers come from
 * the binding update list (`bindingsChanged`, or a poll on every engine turn).
 */
export class RouterLinks {
  readonly #o: RouterLinksOptions;
  readonly #keys: ProbeKeyRing;
  readonly #byId: ReadonlyMap<string, RouterUplinkView>;
  readonly #byBindingId: ReadonlyMap<number, RouterUplinkView>;
  readonly #readers: ReadonlyMap<string, InterfaceStatsReader>;
  readonly #traffic = new Map<string, Traffic>();
  readonly #preparing = new Set<string>();
  #engine: LinkEngine | undefined;
  #links: readonly LinkConfig[] = [];
  #wireBytesPerProbe = 0;
  #timer: CoreTimer;
  #sampler: ReturnType<typeof setInterval> | undefined;
  #sampling = false;
  #stopped = false;
  #watch: RouteWatch | undefined;
  /** Per uplink id: the last sysfs sample, the kernel's carrier/operstate from netlink, its addresses, its care-of address. */
  readonly #sampled = new Map<string, LinkSample>();
  readonly #kernel = new Map<string, Pick<InterfaceState, "carrier" | "operState">>();
  readonly #addresses = new Map<string, InterfaceAddress[]>();
  readonly #careOf = new Map<string, string>();
  /** The last verdict given to `linkUsable` (absent: none yet; links with carrier at start are usable). */
  readonly #usable = new Map<string, boolean>();
  /** The engine's latest health verdict per link: usable, down by probes, or down hard (carrier, operstate). */
  readonly #verdicts = new Map<string, "usable" | "silent" | "hard-down" | "carrier">();

  constructor(options: RouterLinksOptions, policy: LinkPolicyConfig, links: readonly LinkConfig[]) {
    this.#o = options;
    this.#keys = options.probeKey instanceof ProbeKeyRing ? options.probeKey : new ProbeKeyRing(options.probeKey);
    this.#byId = new Map(options.uplinks.map((u) => [u.id, u]));
    this.#byBindingId = new Map(options.uplinks.map((u) => [u.bindingId, u]));
    this.#readers = new Map(options.uplinks.map((u) => [u.id, new InterfaceStatsReader(u.interfaceName, { counters: options.counters })]));
    for (const u of options.uplinks) this.#traffic.set(u.id, { rxBytes: 0, txBytes: 0, lastTotal: undefined, lastAnsweredAt: undefined, signalDbm: undefined });
    for (const u of options.uplinks) this.#careOf.set(u.id, u.careOfAddress);
    this.#timer = new CoreTimer(
      () => this.#engine?.pollTimeout(),
      (now) => this.#timerTurn(now),
    );
    this.reconfigure(policy, links);
  }

  start(): void {
    if (this.#o.netlink !== false) {
      const watch = watchRouteEvents(
        this.#o.uplinks.map((u) => u.interfaceName),
        (e) => this.handleRouteEvent(e),
        this.#o.counters,
      );
      if (watch.ok) this.#watch = watch.value;
      else this.#o.log(`link: no netlink events (${watch.error}): carrier and addresses every ${this.#o.sampleIntervalMs ?? DEFAULT_SAMPLE_MS} ms`);
    }
    this.#sampler = setInterval(() => void this.#sample(), this.#o.sampleIntervalMs ?? DEFAULT_SAMPLE_MS);
    void this.#sample();
  }

  /** The care-of address the uplink has now (it follows renumbering). */
  careOfAddress(id: string): string | undefined {
    return this.#careOf.get(id);
  }

  /**
   * New settings (a desired config): a fresh engine over the enabled links. The links already registered
   * count as prepared at once; the engine then picks its primary from fresh probes.
   */
  reconfigure(policy: LinkPolicyConfig, links: readonly LinkConfig[]): void {
    const now = monotonicNow();
    const known = links.filter((l) => this.#byId.has(l.id));
    this.#links = known;
    this.#wireBytesPerProbe = policy.probe.wireBytesPerProbe;
    this.#preparing.clear();
    this.#engine = known.length === 0 ? undefined : new LinkEngine(policy, known, now, this.#o.counters);
    for (const l of known) if (this.#o.actions.isRegistered(l.id)) this.#engine!.handlePrepared(l.id, now);
    this.#timer.rearm();
  }

  /** The engine's primary (undefined until a link answered, or with no enabled link). */
  get primary(): string | undefined {
    return this.#engine?.policy.primary;
  }

  enabled(id: string): boolean {
    return this.#links.some((l) => l.id === id);
  }

  /** An inner packet to the probe port arrived on `uplinkIndex` (the loop already opened its ESP). */
  handleProbePacket(uplinkIndex: number, packet: Uint8Array): void {
    const received = this.#keys.decode(packet, this.#o.counters);
    if (!received.ok) return;
    const p = received.value.probe;
    const uplink = this.#byBindingId.get(p.bindingId);
    if (p.type !== "echo-reply" || uplink === undefined || received.value.source !== this.#o.homeAgent) {
      this.#o.counters.increment("router.probe.drop.unexpected");
      return;
    }
    if (uplink.index !== uplinkIndex) this.#o.counters.increment("router.probe.reply-on-other-uplink");
    const now = monotonicNow();
    this.#traffic.get(uplink.id)!.lastAnsweredAt = now;
    if (!this.enabled(uplink.id) || this.#engine === undefined) return;
    this.#o.counters.increment("router.probe.replies");
    this.#engine.handleProbeReply(linkId(uplink.id), p.sequenceNumber, now, p.responderDelayUs / 1000);
    this.#turn(now);
    this.#timer.rearm();
  }

  /** The binding update list changed: links waiting for their registration may now count as prepared. */
  bindingsChanged(): void {
    if (this.#preparing.size === 0) return;
    this.#turn(monotonicNow());
    this.#timer.rearm();
  }

  /**
   * The home agent is reachable: some enabled link is up in the policy's view (its probes pass the N-of-M
   * window) and had a probe answered within `ms`.
   */
  homeAgentReachable(ms: number): boolean {
    const now = monotonicNow();
    const up = new Set((this.#engine?.policy.snapshot(now) ?? []).filter((s) => s.health === "up").map((s) => s.link as string));
    return this.#links.some((l) => {
      const at = this.#traffic.get(l.id)?.lastAnsweredAt;
      return up.has(l.id) && at !== undefined && now - at <= ms;
    });
  }

  metrics(): RouterLinkMetrics[] {
    const now = monotonicNow();
    const engine = this.#engine;
    const snapshot = new Map((engine?.policy.snapshot(now) ?? []).map((s) => [s.link as string, s]));
    return this.#o.uplinks.map((u) => {
      const s = snapshot.get(u.id);
      const t = this.#traffic.get(u.id)!;
      const scheduler = engine?.schedulers.get(linkId(u.id));
      const config = this.#links.find((l) => l.id === u.id);
      return {
        id: u.id,
        kind: config?.kind,
        enabled: config !== undefined,
        health: s?.health ?? "disabled",
        up: s?.health === "up",
        primary: engine?.policy.primary === u.id,
        careOfAddress: this.#careOf.get(u.id) ?? u.careOfAddress,
        ...(s?.rttMs !== undefined ? { rttMs: s.rttMs } : {}),
        ...(s?.lossRatio !== undefined ? { lossPercent: Math.round(s.lossRatio * 1000) / 10 } : {}),
        ...(s?.jitterMs !== undefined ? { jitterMs: s.jitterMs } : {}),
        ...(s?.score !== undefined ? { score: s.score.total } : {}),
        ...(t.signalDbm !== undefined ? { signalDbm: t.signalDbm } : {}),
        ...(s?.marginDb !== undefined ? { radioMarginDb: Math.round(s.marginDb * 10) / 10 } : {}),
        rxBytes: t.rxBytes,
        txBytes: t.txBytes,
        ...(scheduler
          ? {
              probe: {
                intervalMs: Number.isFinite(scheduler.intervalMs) ? scheduler.intervalMs : 0,
                sent: scheduler.sent,
                wireBytes: scheduler.wireBytes,
                bytesPerDay: Math.round(probeBytesPerDay(scheduler.intervalMs, this.#wireBytesPerProbe)),
              },
            }
          : {}),
      };
    });
  }

  /** The link set the OTA agent decides on (primary, kinds, prices, up/down). */
  otaLinkSet(): OtaLinkSet {
    const metrics = this.metrics();
    return {
      primary: this.primary === undefined ? undefined : linkId(this.primary),
      links: this.#links.map((l) => ({ link: l.id, kind: l.kind, up: metrics.find((m) => m.id === l.id)?.up ?? false, costPerGb: l.costPerGb, bucket: l.bucket })),
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#watch?.close();
    this.#timer.stop();
    if (this.#sampler) clearInterval(this.#sampler);
  }

  #deferredDue: Instant | undefined;
  #deferring = false;

  #timerTurn(now: Instant): void {
    // (The timer re-arms at once while a deferred turn waits: those firings only wait with it.)
    if (this.#deferring) return;
    const due = this.#engine?.pollTimeout();
    if (due !== undefined && now - due > LATE_TURN_MS && this.#deferredDue !== due) {
      this.#deferredDue = due;
      this.#deferring = true;
      this.#o.counters.increment("router.link.late-turn");
      setImmediate(() => {
        this.#deferring = false;
        this.#turn(monotonicNow());
        this.#timer.rearm();
      });
      return;
    }
    this.#turn(now);
  }

  /** One engine turn: timeouts, then probes out, actions, decisions. */
  #turn(now: Instant): void {
    const engine = this.#engine;
    if (engine === undefined || this.#stopped) return;
    for (const id of [...this.#preparing]) {
      if (this.#o.actions.isRegistered(id)) {
        this.#preparing.delete(id);
        engine.handlePrepared(linkId(id), now);
      }
    }
    if (engine.pollTimeout() <= now) engine.handleTimeout(now);
    for (let t = engine.pollTransmit(); t !== undefined; t = engine.pollTransmit()) {
      const u = this.#byId.get(t.link)!;
      // IKE: no key before the first tunnel CHILD_SA (nor a tunnel to carry the probe); it counts as unanswered.
      const key = this.#keys.key;
      if (key === undefined) {
        this.#o.counters.increment("router.probe.no-key");
        continue;
      }
      const packet = encodeProbePacket({ type: "echo-request", bindingId: u.bindingId, sequenceNumber: t.sequenceNumber, originTimestampMs: Math.floor(t.sentAt), responderDelayUs: 0 }, key, this.#o.homeAddress, this.#o.homeAgent);
      this.#o.sendProbe(u.index, packet);
      this.#o.counters.increment("router.probe.sent");
    }
    const decisions: LinkDecision[] = [];
    for (let d = engine.pollDecision(); d !== undefined; d = engine.pollDecision()) decisions.push(d);
    for (const d of decisions) this.#verdict(d);
    if (decisions.length > 0) this.#tellUsable();
    for (let a = engine.pollAction(); a !== undefined; a = engine.pollAction()) {
      switch (a.kind) {
        case "prepare":
          if (this.#o.actions.isRegistered(a.link) || this.#o.actions.prepare(a.link) === "ready") engine.handlePrepared(a.link, now);
          else this.#preparing.add(a.link);
          break;
        case "release":
          this.#preparing.delete(a.link);
          if (a.link !== engine.policy.primary) this.#o.actions.release(a.link);
          break;
        case "set-primary":
          this.#o.actions.setPrimary(a.link, a.previous);
          break;
        case "probe-mode":
        case "set-active-set":
        case "set-flow-map":
          // probe modes are the engine's own; the multi-CoA active set and flow map are the modes' business.
          break;
      }
    }
    for (let d = engine.pollDecision(); d !== undefined; d = engine.pollDecision()) decisions.push(d);
    for (const d of decisions) {
      this.#o.log(`link: ${formatDecision(d)}`);
      this.#o.onDecision(d);
    }
    // Actions may have produced more work at once (a prepared link, a probe brought forward).
    if (engine.pollTimeout() <= now && !this.#stopped) queueMicrotask(() => this.#turn(monotonicNow()));
  }

  async #sample(): Promise<void> {
    if (this.#sampling || this.#stopped) return;
    this.#sampling = true;
    try {
      for (const u of this.#o.uplinks) {
        const read = await this.#readers.get(u.id)!.read();
        const now = monotonicNow();
        const radio = this.#o.radio?.get(u.id);
        const radioSample = radio ? await radio.read(now) : undefined;
        if (!read.ok) continue;
        const t = this.#traffic.get(u.id)!;
        const r = radioSample?.ok ? radioSample.value.radio : undefined;
        t.signalDbm = r === undefined ? undefined : r.kind === "cellular" ? (r.rsrpDbm ?? r.rssiDbm) : (r.signalAvgDbm ?? r.signalDbm);
        const total = (read.value.rxBytes ?? 0) + (read.value.txBytes ?? 0);
        const moved = t.lastTotal === undefined ? 0 : Math.max(0, total - t.lastTotal);
        t.lastTotal = total;
        t.rxBytes = read.value.rxBytes ?? t.rxBytes;
        t.txBytes = read.value.txBytes ?? t.txBytes;
        // Without netlink the sampled addresses are the only news of a renumbering.
        if (this.#watch === undefined || !this.#addresses.has(u.id)) this.#addressesFromSample(u, read.value.ipv6Addresses ?? []);
        this.#sampled.set(u.id, { link: linkId(u.id), at: now, interface: read.value, ...(radioSample?.ok ? { radio: radioSample.value.radio } : {}) });
        const engine = this.#engine;
        if (engine === undefined || !this.enabled(u.id)) continue;
        engine.handleSample(this.#compose(u, now));
        engine.handleTraffic(linkId(u.id), moved, this.#o.sampleIntervalMs ?? DEFAULT_SAMPLE_MS, now);
      }
      this.#turn(monotonicNow());
      this.#timer.rearm();
    } finally {
      this.#sampling = false;
    }
  }

  /**
   * The link as the policy sees it: the last sample, carrier and operstate from netlink when it spoke since
   * (it is news, the sample may be older), and the care-of address as the one address that counts (the
   * policy asks for a new registration exactly when it changes).
   */
  #compose(u: RouterUplinkView, now: Instant): LinkSample {
    const sampled = this.#sampled.get(u.id);
    const careOf = this.#careOf.get(u.id);
    return {
      ...sampled,
      link: linkId(u.id),
      at: now,
      interface: { ...sampled?.interface, ...this.#kernel.get(u.id), ipv6Addresses: careOf === undefined ? [] : [careOf] },
    };
  }

  /**
   * The kernel's news of an interface (rtnetlink, `start` subscribes): an uplink's carrier, operstate or
   * addresses go into the engine at once (carrier loss is a hard failure, RFC 2863 operstate); a
   * renumbered uplink's new care-of address goes to `addressChanged` first.
   */
  handleRouteEvent(e: RouteEvent): void {
    const indexOf = (name: string) => this.#watch?.indexOf(name) ?? this.#ifindex(name);
    const u = this.#o.uplinks.find((x) => (e.kind === "link" && e.name !== undefined ? e.name === x.interfaceName : indexOf(x.interfaceName) === e.index));
    if (u === undefined || this.#stopped) return;
    if (e.kind === "link") {
      const before = this.#kernel.get(u.id);
      if (before?.carrier === e.carrier && before.operState === e.operState) return;
      this.#kernel.set(u.id, { carrier: e.carrier, ...(e.operState !== undefined ? { operState: e.operState } : {}) });
      this.#o.counters.increment("router.link.netlink-link");
      // Carrier back on a link that was down hard: usable as at start-up (the design may need to register or
      // key it before in-tunnel probes can pass, `per-coa`); the probes then judge it.
      if (e.carrier && (e.operState === undefined || e.operState === "up") && this.#verdicts.get(u.id) === "hard-down") {
        this.#verdicts.set(u.id, "carrier");
        this.#tellUsable();
      }
    } else {
      // Before the first sample, the configured care-of address stands for what the interface has.
      const seed = [{ address: this.#careOf.get(u.id) ?? u.careOfAddress, global: true, deprecated: false, tentative: false }];
      const list = (this.#addresses.get(u.id) ?? seed).filter((a) => a.address !== e.address);
      if (!e.deleted) list.push({ address: e.address, global: e.scope === 0, deprecated: (e.flags & IFA_F_DEPRECATED) !== 0, tentative: (e.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) !== 0 });
      this.#addresses.set(u.id, list);
      this.#o.counters.increment("router.link.netlink-address");
      if (!this.#followAddress(u)) return;
    }
    const engine = this.#engine;
    if (engine === undefined || !this.enabled(u.id)) return;
    const now = monotonicNow();
    engine.handleSample(this.#compose(u, now));
    this.#turn(now);
    this.#timer.rearm();
  }

  /** Sampled addresses (no flags): the order of appearance is kept for the ones already known. */
  #addressesFromSample(u: RouterUplinkView, addresses: readonly string[]): void {
    const known = (this.#addresses.get(u.id) ?? []).filter((a) => addresses.includes(a.address));
    // No scope in the sample: link-local (fe80::/10) and loopback are not global.
    const added = addresses.filter((a) => !known.some((k) => k.address === a)).map((address) => ({ address, global: !/^(fe[89ab][0-9a-f]?:|::1$)/i.test(address), deprecated: false, tentative: false }));
    this.#addresses.set(u.id, [...known, ...added]);
    this.#followAddress(u);
  }

  readonly #ifindexes = new Map<string, number | undefined>();

  #ifindex(name: string): number | undefined {
    if (!this.#ifindexes.has(name)) {
      const i = interfaceIndex(name);
      this.#ifindexes.set(name, i.ok ? i.value : undefined);
    }
    return this.#ifindexes.get(name);
  }

  /** Applies `chooseCareOfAddress`; true when the care-of address changed (the router was told). */
  #followAddress(u: RouterUplinkView): boolean {
    const current = this.#careOf.get(u.id);
    const next = chooseCareOfAddress(current, this.#addresses.get(u.id) ?? []);
    if (next === undefined || next === current) return false;
    this.#careOf.set(u.id, next);
    this.#o.log(`link: ${u.id} care-of address ${current ?? "none"} → ${next}`);
    this.#o.counters.increment("router.link.address-changes");
    this.#o.actions.addressChanged?.(u.id, next);
    return true;
  }

  /** A health decision: the link's verdict (passed on by `#tellUsable`). */
  #verdict(d: LinkDecision): void {
    if (d.link === undefined || !HEALTH_RULES.has(d.rule)) return;
    const health = d.links.find((l) => l.link === d.link)?.health;
    if (health === "up" || health === "degraded") this.#verdicts.set(d.link, "usable");
    else if (health === "down") this.#verdicts.set(d.link, d.rule === "hard-down" ? "hard-down" : "silent");
  }

  /**
   * Tells the router which links changed between usable and down, before the turn's actions. A link
   * silenced by its probes alone is left only while another link is usable: with nowhere to go, leaving it
   * gains nothing, and a false verdict (a stalled peer, a loaded host) would stop all traffic. It is left
   * as soon as another link answers. Carrier or operstate loss is left at once.
   */
  #tellUsable(): void {
    const anotherUsable = (id: string) => [...this.#verdicts].some(([other, v]) => other !== id && v === "usable");
    for (const [id, v] of this.#verdicts) {
      const usable = v === "usable" || v === "carrier" || (v === "silent" && !anotherUsable(id));
      if (v === "silent" && usable && this.#usable.get(id) !== usable) this.#o.counters.increment("router.link.kept-last");
      const told = this.#usable.get(id);
      if (told === usable) continue;
      this.#usable.set(id, usable);
      // The first verdict on a link that came up at start is no news (the router counted it usable already).
      if (told === undefined && usable) continue;
      this.#o.actions.linkUsable?.(id, usable);
    }
  }

}
