// The mobile router's Binding Update List and home registration (RFC 6275 §11.7, RFC 3963 §5, RFC 5648 §5): sans-IO.

import type { Counters } from "../core/counters.ts";
import { earliest, later, type Duration, type Instant } from "../core/instant.ts";
import { canonicalIpv4, canonicalIpv6OrThrow } from "./address-text.ts";
import type { Ipv4Text, Ipv6Text, Prefix } from "../wire/address.ts";
import { buFlags, type MobilityMessage } from "../wire/mobility-header.ts";
import { NAT_REFRESH_NOT_NEEDED, type MobilityOption } from "../wire/mobility-options.ts";
import {
  DEFAULT_INITIAL_BINDACK_TIMEOUT_FIRST_REG,
  DEFAULT_REFRESH_RATIO,
  DEFAULT_REQUESTED_LIFETIME_SECONDS,
  INITIAL_BINDACK_TIMEOUT,
  LIFETIME_UNIT_MS,
  lifetimeUnitsFromSeconds,
  MAX_BINDACK_TIMEOUT,
  MAX_UPDATE_RATE,
} from "./constants.ts";
import { assertSequence, nextSequence, type SequenceNumber } from "./sequence.ts";
import { BaStatus, baStatusText, beStatusText, BeStatus, isAccepted } from "./status.ts";
import { careOfKey, type BindingId, type CareOfAddress, type LinkId, type MobilityTransmit } from "./types.ts";

export interface MobileRouterConfig {
  readonly homeAddress: Ipv6Text;
  readonly homeAgentAddress: Ipv6Text;
  /** The home agent's IPv4 address, for BUs sent over an IPv4-only uplink (RFC 5555 §4.1). */
  readonly homeAgentIpv4Address?: Ipv4Text;
  /** Mobile Network Prefixes (RFC 3963); sent as options only in explicit mode. */
  readonly mobileNetworkPrefixes: readonly Prefix[];
  readonly prefixMode: "explicit" | "implicit";
  /** Sets the R flag (RFC 3963 §4.1). Default true: monami is a mobile router. */
  readonly mobileRouter?: boolean;
  /** The K flag (RFC 6275 §6.1.7): true when IKEv2 keys the BU/BA SAs and may follow CoA changes. */
  readonly keyManagementCapability: boolean;
  /** BU/BA are ESP-protected: every BID option then carries its care-of address (RFC 5648 §5.2, else 164). */
  readonly espProtected: boolean;
  /** Several BIDs per BU (RFC 5648 §5.3). Default true; switched off for good by status 168. */
  readonly bulkRegistration?: boolean;
  readonly requestedLifetimeSeconds?: number;
  /** RFC 6275 §13 InitialBindackTimeoutFirstReg (default 1.5 s). */
  readonly initialBindackTimeoutFirstRegMs?: Duration;
  readonly initialBindackTimeoutMs?: Duration;
  readonly maxBindackTimeoutMs?: Duration;
  /** Refresh after this share of the granted lifetime (0 < r < 1), unless a Binding Refresh Advice says sooner. */
  readonly refreshRatio?: number;
  /** The first Sequence # to use (the runtime picks it at random; the core stays deterministic). */
  readonly initialSequenceNumber: number;
}

/** What the application learns from the core (`pollEvent`). */
export type MobileRouterEvent =
  | { readonly type: "binding-registered"; readonly bindingId: BindingId; readonly careOfAddress: CareOfAddress; readonly lifetimeSeconds: number; readonly status: number; readonly refresh: boolean }
  | { readonly type: "binding-failed"; readonly bindingId: BindingId; readonly status: number; readonly statusText: string }
  | { readonly type: "binding-deregistered"; readonly bindingId: BindingId }
  | { readonly type: "binding-expired"; readonly bindingId: BindingId }
  | { readonly type: "all-deregistered" }
  | { readonly type: "returned-home"; readonly neighborDiscoveryAllowed: boolean }
  | { readonly type: "sequence-resync"; readonly lastAcceptedSequence: SequenceNumber }
  | { readonly type: "registration-rejected"; readonly status: number; readonly statusText: string }
  | { readonly type: "mcoa-unsupported"; readonly status?: number }
  | { readonly type: "bulk-registration-prohibited" }
  | { readonly type: "mobile-router-unsupported" }
  | { readonly type: "key-management-capability"; readonly enabled: boolean }
  | { readonly type: "binding-error"; readonly status: number; readonly statusText: string }
  | { readonly type: "refresh-requested"; readonly bindingIds: readonly BindingId[] };

/** A received Mobility Header message with the addresses it came with. */
export interface MobilityInput {
  readonly message: MobilityMessage;
  readonly source: Ipv6Text;
  readonly destination: Ipv6Text;
}

/** One binding as the router sees it (`bindings()`). */
export interface BindingUpdateListEntry {
  readonly bindingId: BindingId;
  readonly linkId: LinkId;
  readonly careOfAddress: CareOfAddress;
  /** RFC 5648 §5.6.3 home binding (H flag): the CoA field carries the home address. */
  readonly homeBinding: boolean;
  readonly state: "pending" | "registered" | "failed" | "deregistering";
  readonly lastStatus?: number;
  readonly expiresAt?: Instant;
  readonly refreshAt?: Instant;
  /** IPv4 care-of address: the home agent's last NAT Detection option said a NAT is on the path (RFC 5555 §4.1). */
  readonly behindNat?: boolean;
  /** IPv4 care-of address behind a NAT: the Refresh time the home agent asked for (seconds). */
  readonly natRefreshSeconds?: number;
}

interface Entry {
  readonly bindingId: BindingId;
  linkId: LinkId;
  careOfAddress: CareOfAddress;
  homeBinding: boolean;
  wanted: "registered" | "deregistered";
  /** The home agent holds this BID with `confirmedCareOf` (last BA accepted, not expired). */
  confirmedCareOf?: CareOfAddress;
  expiresAt?: Instant;
  refreshAt?: Instant;
  lastStatus?: number;
  failed: boolean;
  needsSend: boolean;
  /** A registration BU carried this BID: the HA may hold it even without a BA (lost BA). */
  mayBeKnown: boolean;
  /** De-register this BID in a BU of its own (a bulk de-registration came back 133). */
  deregisterAlone: boolean;
  /** RFC 5555 §4.1: the last BA for a BU sent from this IPv4 CoA carried a NAT Detection option with a keepalive time. */
  natRefreshMs?: Duration;
}

type Kind = "register" | "deregister" | "deregister-all";

interface Plan {
  readonly kind: Kind;
  readonly entries: readonly Entry[];
}

interface Outstanding {
  readonly sequenceNumber: SequenceNumber;
  readonly kind: Kind;
  readonly bindingIds: readonly BindingId[];
  readonly mcoa: boolean;
  readonly lifetimeUnits: number;
  readonly sentAt: Instant;
  readonly timeoutMs: Duration;
  readonly deadline: Instant;
  readonly mobileRouterRequested: boolean;
  readonly fromHome: boolean;
  /** The care-of address each BID carried in this BU (the application may move it meanwhile). */
  readonly sentCareOf: ReadonlyMap<BindingId, CareOfAddress>;
  /** The BID whose IPv4 CoA this BU left from, UDP-encapsulated (RFC 5555 §4.1): its BA's NAT Detection option is about it. */
  readonly ipv4Source?: BindingId;
}

const BID_ORDER = (a: Entry, b: Entry) => a.bindingId - b.bindingId;

/**
 * The mobile router's side of the home registration: one Binding Update List keyed by BID, one
 * shared Sequence # (RFC 5648 §4.1), at most one BU in flight. Feed it received MH messages and
 * timeouts; take BUs from `pollTransmit` and events from `pollEvent`. Never reads a clock.
 */
export class BindingUpdateList {
  readonly #config: MobileRouterConfig;
  readonly #counters: Counters;
  readonly #entries = new Map<BindingId, Entry>();
  readonly #transmits: MobilityTransmit[] = [];
  readonly #events: MobileRouterEvent[] = [];
  readonly #recentSends: Instant[] = [];
  #sequence: SequenceNumber;
  #outstanding: Outstanding | undefined;
  /** Timeout to use for the next BU after an unanswered one (RFC 6275 §11.8 back-off). */
  #backoffMs: Duration | undefined;
  #attempt = 0;
  #nextSendAt: Instant | undefined;
  #flushAll = false;
  #atHome = false;
  #mcoa = true;
  #bulk: boolean;
  #preferredBindingId: BindingId | undefined;
  #keyManagement: boolean | undefined;

  constructor(config: MobileRouterConfig, counters: Counters) {
    const ratio = config.refreshRatio ?? DEFAULT_REFRESH_RATIO;
    if (!(ratio > 0 && ratio < 1)) throw new RangeError(`refreshRatio ${ratio} must be in (0, 1)`);
    this.#config = {
      ...config,
      homeAddress: canonicalIpv6OrThrow(config.homeAddress),
      homeAgentAddress: canonicalIpv6OrThrow(config.homeAgentAddress),
    };
    this.#counters = counters;
    this.#sequence = (assertSequence(config.initialSequenceNumber) - 1) & 0xffff;
    this.#bulk = config.bulkRegistration ?? true;
  }

  // ---- application commands ----------------------------------------------------------------

  /**
   * Registers (or moves) a binding for an uplink. Calling it again for the same BID with a new
   * care-of address re-registers that BID (RFC 5648 §6.2: same BID, different CoA = update).
   */
  addCareOfAddress(now: Instant, binding: { bindingId: BindingId; linkId: LinkId; careOfAddress: CareOfAddress }): void {
    this.#setEntry(now, binding.bindingId, binding.linkId, normalizeCareOf(binding.careOfAddress), false);
  }

  /** RFC 5648 §5.6.3: a home binding while one interface sits on the home link (H flag, CoA = home address). */
  addHomeBinding(now: Instant, binding: { bindingId: BindingId; linkId: LinkId }): void {
    for (const e of this.#entries.values()) {
      if (e.homeBinding && e.bindingId !== binding.bindingId) throw new RangeError("only one home binding at a time (RFC 5648 §5.6.3)");
    }
    this.#setEntry(now, binding.bindingId, binding.linkId, { family: "ipv6", address: this.#config.homeAddress }, true);
  }

  /** De-registers one BID (RFC 5648 §5.4), e.g. when its uplink goes down. */
  removeCareOfAddress(now: Instant, id: BindingId): void {
    const e = this.#entries.get(id);
    if (!e) return;
    if (!e.mayBeKnown) {
      this.#entries.delete(id);
      return;
    }
    e.wanted = "deregistered";
    e.failed = false;
    e.needsSend = true;
    void now;
  }

  /**
   * RFC 5555 §4.1: re-register an IPv4 care-of address from its own uplink now, so the home agent
   * learns a NAT's new mapping from an authenticated BU (call it when the uplink's traffic from the
   * home agent stopped while the link is up: suspected NAT rebinding). Ignored for other bindings.
   */
  refreshNatBinding(now: Instant, id: BindingId): void {
    const e = this.#entries.get(id);
    if (!e || e.careOfAddress.family !== "ipv4" || e.wanted !== "registered" || e.failed || e.confirmedCareOf === undefined) return;
    if (e.needsSend) return;
    e.needsSend = true;
    this.#counters.increment("mobility.mr.nat.rebinding-refresh");
    void now;
  }

  /** De-registers every binding with one lifetime-0 BU without BID options (RFC 5648 §5.4). */
  deregisterAll(now: Instant): void {
    for (const e of this.#entries.values()) e.wanted = "deregistered";
    this.#flushAll = true;
    void now;
  }

  /**
   * RFC 5648 §5.5.1 / RFC 6275 §11.5.4: back on the home link with one interface: de-register
   * everything with a BU sent from the home address (no Home Address option, no Alternate CoA).
   */
  returnHome(now: Instant): void {
    this.#atHome = true;
    this.deregisterAll(now);
  }

  /** The BID whose care-of address should source BUs when it can (link selection decides). */
  setPreferredBindingId(id: BindingId | undefined): void {
    this.#preferredBindingId = id;
  }

  // ---- sans-IO interface -------------------------------------------------------------------

  /** Processes one received Mobility Header message addressed to the router. */
  handleMessage(input: MobilityInput, now: Instant): void {
    if (canonicalIpv6OrThrow(input.source) !== this.#config.homeAgentAddress) {
      this.#counters.increment("mobility.mr.drop.not-from-home-agent");
      return;
    }
    const m = input.message;
    switch (m.type) {
      case "binding-acknowledgement":
        this.#handleAck(m, now);
        break;
      case "binding-refresh-request":
        this.#handleRefreshRequest(m.options, now);
        break;
      case "binding-error":
        this.#handleBindingError(m.status, m.homeAddress, now);
        break;
      case "binding-update":
      case "home-test-init":
      case "care-of-test-init":
      case "home-test":
      case "care-of-test":
      case "unrecognized":
        this.#counters.increment(`mobility.mr.drop.unexpected-${m.type}`);
        break;
    }
    this.#drive(now);
  }

  /** The next message to send, if any; call until undefined. */
  pollTransmit(now: Instant): MobilityTransmit | undefined {
    this.#drive(now);
    return this.#transmits.shift();
  }

  pollEvent(): MobileRouterEvent | undefined {
    return this.#events.shift();
  }

  /** When `handleTimeout` must next be called (undefined: nothing scheduled). */
  pollTimeout(): Instant | undefined {
    let next: Instant | undefined = this.#outstanding?.deadline;
    next = earliest(next, this.#nextSendAt);
    for (const e of this.#entries.values()) {
      if (e.confirmedCareOf === undefined) continue;
      next = earliest(next, e.refreshAt);
      next = earliest(next, e.expiresAt);
    }
    return next;
  }

  /** Advances timers: retransmission, refresh and local expiry. Calling it early is harmless. */
  handleTimeout(now: Instant): void {
    const o = this.#outstanding;
    if (o && now >= o.deadline) {
      this.#counters.increment("mobility.mr.bu.timeout");
      this.#outstanding = undefined;
      this.#backoffMs = Math.min(o.timeoutMs * 2, this.#config.maxBindackTimeoutMs ?? MAX_BINDACK_TIMEOUT);
      this.#attempt++;
    }
    for (const e of this.#entries.values()) {
      if (e.confirmedCareOf === undefined) continue;
      if (e.expiresAt !== undefined && now >= e.expiresAt) {
        delete e.confirmedCareOf;
        delete e.expiresAt;
        delete e.refreshAt;
        this.#counters.increment("mobility.mr.binding.expired");
        this.#events.push({ type: "binding-expired", bindingId: e.bindingId });
        if (e.wanted === "registered") e.needsSend = true;
        else this.#entries.delete(e.bindingId);
      } else if (e.refreshAt !== undefined && now >= e.refreshAt) {
        delete e.refreshAt;
        if (e.wanted === "registered" && !e.failed) e.needsSend = true;
      }
    }
    this.#drive(now);
  }

  // ---- queries -----------------------------------------------------------------------------

  bindings(): BindingUpdateListEntry[] {
    return [...this.#entries.values()].sort(BID_ORDER).map((e) => ({
      bindingId: e.bindingId,
      linkId: e.linkId,
      careOfAddress: e.careOfAddress,
      homeBinding: e.homeBinding,
      state: e.wanted === "deregistered" ? "deregistering" : e.failed ? "failed" : e.confirmedCareOf ? "registered" : "pending",
      ...(e.lastStatus !== undefined ? { lastStatus: e.lastStatus } : {}),
      ...(e.expiresAt !== undefined ? { expiresAt: e.expiresAt } : {}),
      ...(e.refreshAt !== undefined ? { refreshAt: e.refreshAt } : {}),
      ...(e.careOfAddress.family === "ipv4" && e.confirmedCareOf !== undefined ? { behindNat: e.natRefreshMs !== undefined } : {}),
      ...(e.natRefreshMs !== undefined ? { natRefreshSeconds: e.natRefreshMs / 1000 } : {}),
    }));
  }

  /** The BIDs the home agent currently holds for us, as far as the router knows. */
  registeredBindingIds(): BindingId[] {
    return [...this.#entries.values()].filter((e) => e.confirmedCareOf !== undefined).map((e) => e.bindingId).sort((a, b) => a - b);
  }

  /** Whether a BU is in flight or waiting to be sent (false: the router is quiescent). */
  get updatePending(): boolean {
    return this.#outstanding !== undefined || this.#plan() !== undefined;
  }

  get sequenceNumber(): SequenceNumber {
    return this.#sequence;
  }

  /** Whether both ends signalled K (RFC 4877 §7.4); undefined before the first accepted BA. */
  get keyManagementCapability(): boolean | undefined {
    return this.#keyManagement;
  }

  get multipleCareOfAddresses(): boolean {
    return this.#mcoa;
  }

  get bulkRegistration(): boolean {
    return this.#bulk;
  }

  // ---- internals ---------------------------------------------------------------------------

  #setEntry(now: Instant, id: BindingId, link: LinkId, coa: CareOfAddress, homeBinding: boolean): void {
    const existing = this.#entries.get(id);
    if (existing) {
      existing.linkId = link;
      existing.careOfAddress = coa;
      existing.homeBinding = homeBinding;
      existing.wanted = "registered";
      existing.failed = false;
      existing.needsSend = true;
    } else {
      this.#entries.set(id, { bindingId: id, linkId: link, careOfAddress: coa, homeBinding, wanted: "registered", failed: false, needsSend: true, mayBeKnown: false, deregisterAlone: false });
    }
    if (!homeBinding) this.#atHome = false;
    void now;
  }

  /** What the next BU should carry, from the wanted state alone (RFC 5648 §5.2 to §5.4). */
  #plan(): Plan | undefined {
    if (this.#flushAll) return { kind: "deregister-all", entries: [] };
    const all = [...this.#entries.values()].sort(BID_ORDER);
    if (!this.#mcoa) {
      // RFC 6275 single binding: the primary care-of address only (lowest BID, IPv6 preferred).
      const primary = this.#primary();
      const stale = all.filter((e) => e.wanted === "deregistered" && e.needsSend);
      if (!primary && stale.length > 0) return { kind: "deregister-all", entries: [] };
      if (primary && (primary.needsSend || stale.length > 0)) return { kind: "register", entries: [primary] };
      return undefined;
    }
    const deregister = all.filter((e) => e.wanted === "deregistered" && e.needsSend);
    const alone = deregister.find((e) => e.deregisterAlone);
    if (alone) return { kind: "deregister", entries: [alone] };
    if (deregister.length > 0) return { kind: "deregister", entries: this.#bulk ? deregister : deregister.slice(0, 1) };
    const register = all.filter((e) => e.wanted === "registered" && e.needsSend && !e.failed);
    // RFC 5555 §4.1: an IPv4 CoA is registered by a BU of its own, sent from it (UDP-encapsulated), so the home
    // agent sees the address a NAT gives it; IPv6 CoAs go together first.
    const ipv6 = register.filter((e) => e.careOfAddress.family === "ipv6");
    if (ipv6.length > 0) return { kind: "register", entries: this.#bulk ? ipv6 : ipv6.slice(0, 1) };
    if (register.length > 0) return { kind: "register", entries: register.slice(0, 1) };
    return undefined;
  }

  #primary(): Entry | undefined {
    const live = [...this.#entries.values()].filter((e) => e.wanted === "registered" && !e.failed && !e.homeBinding).sort(BID_ORDER);
    return live.find((e) => e.careOfAddress.family === "ipv6") ?? live[0];
  }

  #drive(now: Instant): void {
    if (this.#outstanding) {
      this.#nextSendAt = undefined;
      return;
    }
    const plan = this.#plan();
    if (!plan) {
      this.#nextSendAt = undefined;
      return;
    }
    // RFC 6275 §11.8: no more than MAX_UPDATE_RATE BUs per second to the home agent.
    while (this.#recentSends.length > 0 && now - this.#recentSends[0]! >= 1000) this.#recentSends.shift();
    if (this.#recentSends.length >= MAX_UPDATE_RATE) {
      this.#nextSendAt = later(this.#recentSends[0]!, 1000);
      this.#counters.increment("mobility.mr.bu.rate-limited");
      return;
    }
    this.#nextSendAt = undefined;
    this.#send(plan, now);
  }

  #send(plan: Plan, now: Instant): void {
    const c = this.#config;
    this.#sequence = nextSequence(this.#sequence);
    const registering = plan.kind === "register";
    const lifetimeUnits = registering ? lifetimeUnitsFromSeconds(c.requestedLifetimeSeconds ?? DEFAULT_REQUESTED_LIFETIME_SECONDS) : 0;
    const firstRegistration = registering && ![...this.#entries.values()].some((e) => e.confirmedCareOf !== undefined);
    const timeoutMs =
      this.#backoffMs ??
      (firstRegistration ? (c.initialBindackTimeoutFirstRegMs ?? DEFAULT_INITIAL_BINDACK_TIMEOUT_FIRST_REG) : (c.initialBindackTimeoutMs ?? INITIAL_BINDACK_TIMEOUT));
    const source = this.#atHome && plan.kind === "deregister-all" ? undefined : this.#chooseSource(plan);
    const options: MobilityOption[] = [];
    if (this.#mcoa && plan.kind !== "deregister-all") {
      for (const e of plan.entries) {
        const withCoa = c.espProtected || (registering && careOfKey(e.confirmedCareOf ?? noAddress) !== careOfKey(e.careOfAddress));
        options.push({
          type: "binding-identifier",
          bindingId: e.bindingId,
          status: 0,
          simultaneousHomeAndForeign: e.homeBinding,
          ...(withCoa ? { careOfAddress: e.careOfAddress } : {}),
        });
      }
    }
    if (source?.careOfAddress.family === "ipv4") {
      options.push({ type: "ipv4-care-of-address", careOfAddress: source.careOfAddress.address }); // RFC 5555 §3.1.2 MUST
    } else if (!this.#mcoa && source) {
      options.push({ type: "alternate-care-of-address", careOfAddress: source.careOfAddress.address }); // RFC 4877 §4.3 MUST
    }
    const mobileRouter = c.mobileRouter ?? true;
    if (registering && mobileRouter && c.prefixMode === "explicit") {
      for (const p of c.mobileNetworkPrefixes) options.push({ type: "mobile-network-prefix", prefix: p.address, prefixLength: p.length });
    }
    const message: MobilityMessage = {
      type: "binding-update",
      sequenceNumber: this.#sequence,
      flags: buFlags({ acknowledge: true, homeRegistration: true, keyManagementCapability: c.keyManagementCapability, mobileRouter }),
      lifetimeUnits,
      options,
    };
    const transmit: MobilityTransmit =
      source === undefined || source.careOfAddress.family === "ipv4"
        ? {
            message,
            source: c.homeAddress,
            destination: c.homeAgentAddress,
            ...(source ? { bindingId: source.bindingId, linkId: source.linkId, ipv4Encapsulation: ipv4Encap(source.careOfAddress.address, c.homeAgentIpv4Address) } : {}),
          }
        : {
            message,
            source: source.careOfAddress.address,
            destination: c.homeAgentAddress,
            homeAddressOption: c.homeAddress,
            bindingId: source.bindingId,
            linkId: source.linkId,
          };
    this.#outstanding = {
      sequenceNumber: this.#sequence,
      kind: plan.kind,
      bindingIds: plan.entries.map((e) => e.bindingId),
      mcoa: this.#mcoa,
      lifetimeUnits,
      sentAt: now,
      timeoutMs,
      deadline: later(now, timeoutMs),
      mobileRouterRequested: mobileRouter,
      fromHome: this.#atHome && plan.kind === "deregister-all",
      sentCareOf: new Map(plan.entries.map((e) => [e.bindingId, e.careOfAddress])),
      ...(source?.careOfAddress.family === "ipv4" ? { ipv4Source: source.bindingId } : {}),
    };
    if (registering) for (const e of plan.entries) e.mayBeKnown = true;
    this.#recentSends.push(now);
    this.#transmits.push(transmit);
    this.#counters.increment(`mobility.mr.bu.sent.${plan.kind}`);
  }

  /**
   * The care-of address a BU leaves from (RFC 5648 §9.2: any registered CoA will do). Preference:
   * the BU's own BID when it carries one, then the preferred BID, then BID order; IPv6 before
   * IPv4; each retransmission moves to the next candidate so one dead uplink cannot stall us.
   */
  #chooseSource(plan: Plan): Entry | undefined {
    const live = [...this.#entries.values()].filter((e) => e.wanted === "registered" && !e.failed && !e.homeBinding).sort(BID_ORDER);
    const own = plan.kind === "register" && plan.entries.length === 1 ? plan.entries[0]! : undefined;
    // RFC 5555 §4.1: an IPv4 CoA's registration leaves from that CoA (NAT detection needs its outer source).
    if (own !== undefined && own.careOfAddress.family === "ipv4" && this.#mcoa) return own;
    const rank = (e: Entry) =>
      (e.careOfAddress.family === "ipv6" ? 0 : 4) +
      (plan.entries.length === 1 && plan.entries[0] === e ? 0 : e.bindingId === this.#preferredBindingId ? 1 : 2);
    const candidates = [...live].sort((a, b) => rank(a) - rank(b) || a.bindingId - b.bindingId);
    if (candidates.length === 0) {
      // Nothing up: a de-registration leaves from whatever address the entries still name.
      return plan.entries.find((e) => !e.homeBinding) ?? [...this.#entries.values()].sort(BID_ORDER).find((e) => !e.homeBinding);
    }
    const ipv6 = candidates.filter((e) => e.careOfAddress.family === "ipv6");
    const pool = ipv6.length > 0 ? ipv6 : candidates;
    return pool[this.#attempt % pool.length];
  }

  #handleAck(ba: Extract<MobilityMessage, { type: "binding-acknowledgement" }>, now: Instant): void {
    const o = this.#outstanding;
    if (!o) {
      this.#counters.increment("mobility.mr.drop.ba-unexpected");
      return;
    }
    if (ba.status === BaStatus.sequenceNumberOutOfWindow) {
      // RFC 6275 §11.7.3: the BA carries the last accepted Sequence #; continue after it.
      this.#counters.increment("mobility.mr.ba.sequence-resync");
      this.#sequence = ba.sequenceNumber;
      this.#outstanding = undefined;
      this.#events.push({ type: "sequence-resync", lastAcceptedSequence: ba.sequenceNumber });
      return;
    }
    if (ba.sequenceNumber !== o.sequenceNumber) {
      this.#counters.increment("mobility.mr.drop.ba-sequence-mismatch");
      return;
    }
    this.#outstanding = undefined;
    this.#backoffMs = undefined;
    this.#attempt = 0;
    const bidOptions = new Map<number, number>();
    for (const opt of ba.options) if (opt.type === "binding-identifier") bidOptions.set(opt.bindingId, opt.status);
    const refreshAdvice = ba.options.find((x) => x.type === "binding-refresh-advice");
    const natDetection = ba.options.find((x) => x.type === "nat-detection");

    if (isAccepted(ba.status) || ba.status === BaStatus.mcoaNotComplete) {
      if (o.mobileRouterRequested && !ba.flags.mobileRouter && o.kind === "register") {
        // RFC 3963 §5.3: a BA without R means the HA does not support mobile router operation.
        this.#counters.increment("mobility.mr.ba.no-r-flag");
        this.#events.push({ type: "mobile-router-unsupported" });
      }
      if (o.kind === "register") {
        const k = this.#config.keyManagementCapability && ba.flags.keyManagementCapability;
        if (k !== this.#keyManagement) this.#events.push({ type: "key-management-capability", enabled: k });
        this.#keyManagement = k;
      }
    }
    if (o.mcoa && o.kind !== "deregister-all" && bidOptions.size === 0 && ba.status !== BaStatus.mcoaProhibited) {
      // RFC 5648 §5.7: no BID option back means the HA ignored MCoA; fall back to one binding.
      // The HA made (at most) one plain binding from that BU: register the primary CoA again, RFC 6275 style.
      this.#fallBackToSingle(now, undefined);
      return;
    }
    switch (ba.status) {
      case BaStatus.mcoaProhibited:
        this.#fallBackToSingle(now, ba.status);
        return;
      case BaStatus.mcoaBulkRegistrationProhibited:
        // RFC 5648 §5.7: assume none of the bulk registrations succeeded; go one BID per BU.
        this.#bulk = false;
        this.#counters.increment("mobility.mr.ba.bulk-prohibited");
        this.#events.push({ type: "bulk-registration-prohibited" });
        return;
      case BaStatus.mcoaNonMcoaBindingExists:
        // RFC 5648 §5.9 wants the 'O' flag, which IANA never assigned: clear everything first instead.
        this.#counters.increment("mobility.mr.ba.non-mcoa-binding-exists");
        this.#flushAll = true;
        return;
    }
    if (o.kind === "deregister-all") {
      if (!isAccepted(ba.status)) {
        this.#rejectAll(ba.status);
        return;
      }
      this.#flushAll = false;
      for (const e of [...this.#entries.values()]) {
        if (e.wanted === "registered") {
          // Still wanted (a 165 flush, or added meanwhile): register it again from scratch.
          delete e.confirmedCareOf;
          delete e.expiresAt;
          delete e.refreshAt;
          e.needsSend = !e.failed;
          continue;
        }
        this.#entries.delete(e.bindingId);
        this.#events.push({ type: "binding-deregistered", bindingId: e.bindingId });
      }
      this.#counters.increment("mobility.mr.deregistered-all");
      this.#events.push({ type: "all-deregistered" });
      if (o.fromHome) this.#events.push({ type: "returned-home", neighborDiscoveryAllowed: ba.status !== BaStatus.mcoaReturnHomeWithoutNdp });
      return;
    }
    if (!isAccepted(ba.status) && ba.status !== BaStatus.mcoaNotComplete) {
      this.#counters.increment(`mobility.mr.ba.rejected.${ba.status}`);
      this.#events.push({ type: "registration-rejected", status: ba.status, statusText: baStatusText(ba.status) });
    }
    const grantedMs = ba.lifetimeUnits * LIFETIME_UNIT_MS;
    const ratio = this.#config.refreshRatio ?? DEFAULT_REFRESH_RATIO;
    const refreshMs = Math.min(grantedMs * ratio, refreshAdvice ? refreshAdvice.refreshIntervalUnits * LIFETIME_UNIT_MS : Infinity);
    if (o.kind === "deregister" && ba.status === BaStatus.notHomeAgentForThisMobileNode && o.bindingIds.length > 1) {
      // RFC 5648 §6.2: one unknown BID rejects the whole de-registration; retry each BID alone.
      for (const id of o.bindingIds) {
        const e = this.#entries.get(id);
        if (e) e.deregisterAlone = true;
      }
      return;
    }
    const ids = o.mcoa ? o.bindingIds : o.bindingIds.slice(0, 1);
    for (const id of ids) {
      const e = this.#entries.get(id);
      if (!e) continue;
      const bidStatus = bidOptions.get(id) ?? 0;
      const status = bidStatus !== 0 ? bidStatus : ba.status === BaStatus.mcoaNotComplete ? BaStatus.accepted : ba.status;
      e.lastStatus = status;
      if (o.kind === "deregister") {
        // Accepted, or 133/167 (the HA no longer knew it): either way the binding is gone.
        if (e.wanted === "registered") {
          // Added again while its de-registration was in flight (an uplink that flapped): register it afresh.
          delete e.confirmedCareOf;
          delete e.expiresAt;
          delete e.refreshAt;
          e.needsSend = !e.failed;
          this.#counters.increment("mobility.mr.binding.deregistered");
          this.#events.push({ type: "binding-deregistered", bindingId: id });
          continue;
        }
        this.#entries.delete(id);
        this.#counters.increment("mobility.mr.binding.deregistered");
        this.#events.push({ type: "binding-deregistered", bindingId: id });
        continue;
      }
      if (!isAccepted(status)) {
        this.#counters.increment(`mobility.mr.binding.rejected.${status}`);
        if (status === BaStatus.mcoaUnknownCoa) {
          // RFC 5648 §5.7: refresh again, this time with the Care-of Address field.
          delete e.confirmedCareOf;
          e.needsSend = e.wanted === "registered";
          continue;
        }
        delete e.confirmedCareOf;
        delete e.expiresAt;
        delete e.refreshAt;
        e.failed = true;
        e.needsSend = false;
        this.#events.push({ type: "binding-failed", bindingId: id, status, statusText: baStatusText(status) });
        continue;
      }
      if (e.wanted !== "registered") continue;
      if (grantedMs === 0) {
        this.#counters.increment("mobility.mr.ba.zero-lifetime");
        continue;
      }
      const refresh = e.confirmedCareOf !== undefined;
      const sent = o.sentCareOf.get(id) ?? e.careOfAddress;
      const coaChangedSince = careOfKey(e.careOfAddress) !== careOfKey(sent);
      e.confirmedCareOf = sent;
      if (o.ipv4Source === id) {
        // RFC 5555 §4.1: behind a NAT (F=1 with a Refresh time), refresh at least that often so the mapping stays.
        const t = natDetection?.udpEncapsulationRequired ? natDetection.refreshTimeSeconds : 0;
        if (t > 0 && t !== NAT_REFRESH_NOT_NEEDED) e.natRefreshMs = t * 1000;
        else delete e.natRefreshMs;
        this.#counters.increment(e.natRefreshMs !== undefined ? "mobility.mr.nat.detected" : "mobility.mr.nat.none");
      }
      // RFC 6275 §11.7.3: the granted lifetime counts from when the BU was sent.
      e.expiresAt = later(o.sentAt, grantedMs);
      e.refreshAt = later(o.sentAt, Math.min(refreshMs, e.natRefreshMs ?? Infinity));
      e.needsSend = coaChangedSince;
      this.#events.push({ type: "binding-registered", bindingId: id, careOfAddress: sent, lifetimeSeconds: grantedMs / 1000, status, refresh });
    }
    if (!o.mcoa) {
      // One RFC 6275 binding replaced whatever the HA had: removed uplinks are gone with it.
      for (const e of [...this.#entries.values()]) {
        if (e.wanted !== "deregistered") continue;
        this.#entries.delete(e.bindingId);
        this.#events.push({ type: "binding-deregistered", bindingId: e.bindingId });
      }
    }
  }

  /** A rejected de-register-all: the HA keeps nothing we can name, so forget what we were removing. */
  #rejectAll(status: number): void {
    this.#counters.increment(`mobility.mr.ba.rejected.${status}`);
    this.#events.push({ type: "registration-rejected", status, statusText: baStatusText(status) });
    this.#flushAll = false;
    for (const e of [...this.#entries.values()]) {
      if (e.wanted !== "deregistered") continue;
      this.#entries.delete(e.bindingId);
      this.#events.push({ type: "binding-deregistered", bindingId: e.bindingId });
    }
  }

  #fallBackToSingle(now: Instant, status: number | undefined): void {
    if (!this.#mcoa) return;
    this.#mcoa = false;
    this.#counters.increment("mobility.mr.mcoa.fallback");
    this.#events.push(status === undefined ? { type: "mcoa-unsupported" } : { type: "mcoa-unsupported", status });
    const primary = this.#primary();
    for (const e of this.#entries.values()) {
      delete e.confirmedCareOf;
      delete e.expiresAt;
      delete e.refreshAt;
      e.needsSend = e === primary;
    }
    void now;
  }

  #handleRefreshRequest(options: readonly MobilityOption[], now: Instant): void {
    // RFC 6275 §11.7.4, RFC 5648 §5.8: refresh the listed BIDs, or all when none is listed.
    const listed = options.filter((o) => o.type === "binding-identifier").map((o) => o.bindingId);
    const targets = [...this.#entries.values()].filter((e) => e.wanted === "registered" && !e.failed && (listed.length === 0 || listed.includes(e.bindingId)));
    this.#counters.increment("mobility.mr.brr.received");
    for (const e of targets) e.needsSend = true;
    this.#events.push({ type: "refresh-requested", bindingIds: targets.map((e) => e.bindingId) });
    void now;
  }

  #handleBindingError(status: number, homeAddress: Ipv6Text, now: Instant): void {
    this.#counters.increment(`mobility.mr.be.received.${status}`);
    this.#events.push({ type: "binding-error", status, statusText: beStatusText(status) });
    if (status === BeStatus.unknownBindingForHomeAddressOption && canonicalIpv6OrThrow(homeAddress) === this.#config.homeAddress) {
      // RFC 6275 §11.3.6: the HA lost our binding; register everything again, with CoAs.
      for (const e of this.#entries.values()) {
        if (e.wanted !== "registered" || e.failed) continue;
        delete e.confirmedCareOf;
        e.needsSend = true;
      }
    }
    void now;
  }
}

const noAddress: CareOfAddress = { family: "ipv6", address: "::" };

function normalizeCareOf(coa: CareOfAddress): CareOfAddress {
  return coa.family === "ipv6" ? { family: "ipv6", address: canonicalIpv6OrThrow(coa.address) } : { family: "ipv4", address: canonicalIpv4(coa.address) };
}

function ipv4Encap(source: Ipv4Text, destination: Ipv4Text | undefined): { source: Ipv4Text; destination?: Ipv4Text } {
  return destination === undefined ? { source } : { source, destination };
}
