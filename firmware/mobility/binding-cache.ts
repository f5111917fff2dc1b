// The home agent's binding cache (RFC 6275 §10, RFC 3963 §6, RFC 5648 §6): validates BUs, answers BAs, sans-IO.

import type { Counters } from "../core/counters.ts";
import { earliest, later, type Duration, type Instant } from "../core/instant.ts";
import { parseIpv6, prefixMatches, type Ipv4Text, type Ipv6Text, type Prefix } from "../wire/address.ts";
import { baFlags, type MobilityMessage } from "../wire/mobility-header.ts";
import { NAT_REFRESH_NOT_NEEDED, type MobilityOption } from "../wire/mobility-options.ts";
import { canonicalIpv6OrThrow } from "./address-text.ts";
import { DEFAULT_HA_MAX_BINDING_LIFETIME_SECONDS, DEFAULT_NAT_KEEPALIVE_SECONDS, LIFETIME_UNIT_MS, lifetimeUnitsFromSeconds } from "./constants.ts";
import { sequenceAfter, type SequenceNumber } from "./sequence.ts";
import { BaStatus, BeStatus } from "./status.ts";
import { careOfKey, isUnicastRoutable, type BindingId, type CareOfAddress, type MobilityTransmit } from "./types.ts";

/** What one mobile router (or host) may register: its home address and the prefixes it may claim. */
export interface MobileNodeAuthorization {
  readonly homeAddress: Ipv6Text;
  /** Mobile Network Prefixes this router is authorised for (RFC 3963 §6.1: 142 otherwise). */
  readonly prefixes: readonly Prefix[];
  /** Whether it may act as a mobile router (R flag); false gives 140. Default true. */
  readonly mobileRouter?: boolean;
}

export interface HomeAgentConfig {
  readonly homeAgentAddress: Ipv6Text;
  readonly mobileNodes: readonly MobileNodeAuthorization[];
  /** Cap on granted lifetimes (seconds). */
  readonly maxLifetimeSeconds?: number;
  /** RFC 5648: several bindings per home address (else 166). Default true. */
  readonly multipleCareOfAddresses?: boolean;
  /** RFC 5648 §5.3: several BIDs in one BU (else 168). Default true. */
  readonly bulkRegistration?: boolean;
  /** RFC 5648 §5.6: home binding next to foreign ones (else 169). Default true. */
  readonly simultaneousHomeAndForeign?: boolean;
  /** RFC 5648 §6.3: whether the MN may run NDP for its home address on the home link (else status 5). */
  readonly homeLinkNeighborDiscovery?: boolean;
  /** Answer K when the BU has K (RFC 4877 §7.4). */
  readonly keyManagementCapability: boolean;
  /** Put a Binding Refresh Advice of this share of the granted lifetime in BAs (RFC 6275 §6.2.4). */
  readonly refreshAdviceRatio?: number;
  /** Send a Binding Refresh Request this long before a binding expires (RFC 6275 §10.4.5); off when absent. */
  readonly refreshRequestLeadMs?: Duration;
  /** RFC 5555 §4.1: the Refresh time put in the NAT Detection option when a NAT is detected (default 110 s). */
  readonly natKeepaliveSeconds?: number;
  /** The home agent's IPv4 address (RFC 5555): the outer source of BAs sent UDP-encapsulated; absent: the socket's. */
  readonly homeAgentIpv4Address?: Ipv4Text;
}

/** Where a UDP-encapsulated (RFC 5555 §4.1) message came from: the outer IPv4 source and UDP source port. */
export interface UdpEncapsulationSource {
  readonly address: Ipv4Text;
  readonly port: number;
}

/** A received Mobility Header message with the addressing it came with. */
export interface HomeAgentInput {
  readonly message: MobilityMessage;
  /** Outer IPv6 source (the care-of address, or the home address from home). */
  readonly source: Ipv6Text;
  readonly destination: Ipv6Text;
  /** The Home Address option, when present. */
  readonly homeAddressOption?: Ipv6Text;
  /** Whether the message arrived under ESP (RFC 4877): BID options must then carry their CoA. */
  readonly protectedByEsp: boolean;
  /**
   * Set when the packet came IPv4/UDP-encapsulated to port 4191 (RFC 5555 §4.1): the outer source as
   * received. `source` is then the home address and there is no Home Address option.
   */
  readonly udpEncapsulation?: UdpEncapsulationSource;
}

export type HomeAgentEvent =
  | { readonly type: "binding-created" | "binding-updated"; readonly homeAddress: Ipv6Text; readonly bindingId: number; readonly careOfAddress: CareOfAddress; readonly lifetimeSeconds: number; readonly observed?: UdpEncapsulationSource; readonly behindNat?: boolean }
  | { readonly type: "binding-deleted" | "binding-expired"; readonly homeAddress: Ipv6Text; readonly bindingId: number }
  | { readonly type: "update-rejected"; readonly homeAddress: Ipv6Text; readonly status: number };

/** One binding of a home address. BID 0 stands for an RFC 6275 binding without a BID option. */
export interface CacheBinding {
  readonly bindingId: number;
  readonly careOfAddress: CareOfAddress;
  /** RFC 5648 §5.6.3 home binding: the MN sits on the home link; `careOfAddress` is the home address. */
  readonly homeBinding: boolean;
  readonly expiresAt: Instant;
  /**
   * IPv4 care-of address: where its last UDP-encapsulated BU came from (RFC 5555 §4.1), the public
   * address and port when a NAT is on the path. The data plane checks outer sources against this address.
   */
  readonly observed?: UdpEncapsulationSource;
  /** RFC 5555 §4.1: the claimed IPv4 CoA differed from the observed source (a NAT rewrote it). */
  readonly behindNat?: boolean;
}

interface Registration {
  readonly homeAddress: Ipv6Text;
  readonly authorization: MobileNodeAuthorization;
  lastSequence: SequenceNumber;
  mobileRouter: boolean;
  /** Prefixes routed to the router: explicit ones from the last BU, or the configured ones (implicit). */
  prefixes: readonly Prefix[];
  readonly bindings: Map<number, CacheBinding>;
  readonly refreshRequested: Map<number, Instant>;
}

type BindingUpdate = Extract<MobilityMessage, { type: "binding-update" }>;

interface Verdict {
  readonly status: number;
  readonly perBid: ReadonlyMap<number, number>;
}

/** A care-of address for a flow: which binding carries it (`careOfAddressFor`). */
export interface CareOfChoice {
  readonly homeAddress: Ipv6Text;
  readonly bindingId: number;
  readonly careOfAddress: CareOfAddress;
  readonly homeBinding: boolean;
}

/**
 * The home agent core. Configured with which home addresses and prefixes each mobile router may
 * claim; keeps per-(home address, BID) bindings; answers each BU with a BA carrying per-BID status;
 * expires bindings on `handleTimeout`. Never reads a clock.
 */
export class BindingCache {
  readonly #config: HomeAgentConfig;
  readonly #counters: Counters;
  readonly #authorizations = new Map<Ipv6Text, MobileNodeAuthorization>();
  readonly #registrations = new Map<Ipv6Text, Registration>();
  readonly #transmits: MobilityTransmit[] = [];
  readonly #events: HomeAgentEvent[] = [];

  constructor(config: HomeAgentConfig, counters: Counters) {
    this.#config = { ...config, homeAgentAddress: canonicalIpv6OrThrow(config.homeAgentAddress) };
    this.#counters = counters;
    for (const a of config.mobileNodes) {
      const home = canonicalIpv6OrThrow(a.homeAddress);
      this.#authorizations.set(home, { ...a, homeAddress: home });
    }
  }

  // ---- sans-IO interface -------------------------------------------------------------------

  handleMessage(input: HomeAgentInput, now: Instant): void {
    const m = input.message;
    switch (m.type) {
      case "binding-update":
        this.#handleBindingUpdate(m, input, now);
        return;
      case "unrecognized":
        // RFC 6275 §9.2: unknown MH Type → Binding Error status 2 to the sender.
        this.#counters.increment("mobility.ha.drop.unrecognized-mh-type");
        this.#transmits.push({
          message: { type: "binding-error", status: BeStatus.unrecognizedMhType, homeAddress: input.homeAddressOption ?? "::", options: [] },
          source: this.#config.homeAgentAddress,
          destination: input.source,
        });
        return;
      case "binding-acknowledgement":
      case "binding-refresh-request":
      case "binding-error":
      case "home-test-init":
      case "care-of-test-init":
      case "home-test":
      case "care-of-test":
        this.#counters.increment(`mobility.ha.drop.unexpected-${m.type}`);
        return;
    }
  }

  pollTransmit(now: Instant): MobilityTransmit | undefined {
    this.#requestRefreshes(now);
    return this.#transmits.shift();
  }

  pollEvent(): HomeAgentEvent | undefined {
    return this.#events.shift();
  }

  pollTimeout(): Instant | undefined {
    let next: Instant | undefined;
    const lead = this.#config.refreshRequestLeadMs;
    for (const r of this.#registrations.values()) {
      for (const b of r.bindings.values()) {
        next = earliest(next, b.expiresAt);
        if (lead !== undefined && r.refreshRequested.get(b.bindingId) !== b.expiresAt) next = earliest(next, later(b.expiresAt, -lead));
      }
    }
    return next;
  }

  /** Expires bindings whose lifetime ran out (RFC 6275 §10.3.1); early calls are harmless. */
  handleTimeout(now: Instant): void {
    for (const [home, r] of [...this.#registrations]) {
      for (const [id, b] of [...r.bindings]) {
        if (now < b.expiresAt) continue;
        r.bindings.delete(id);
        r.refreshRequested.delete(id);
        this.#counters.increment("mobility.ha.binding.expired");
        this.#events.push({ type: "binding-expired", homeAddress: home, bindingId: id });
      }
      if (r.bindings.size === 0) this.#registrations.delete(home);
    }
    this.#requestRefreshes(now);
  }

  // ---- the data plane's questions ------------------------------------------------------------

  /**
   * Whether `outerSource` is a registered care-of address of the mobile router that owns
   * `address` (its home address or an address inside one of its registered prefixes). This is
   * the check RFC 5648 §6.5 asks for on packets from the MN, and the one the MONAMI6 designs
   * move from IPsec to mobility.
   */
  isRegisteredCareOfAddress(address: Ipv6Text, outerSource: string): boolean {
    const r = this.#owner(address);
    if (!r) return false;
    const family = outerSource.includes(":") ? "ipv6" : "ipv4";
    const key = family === "ipv6" ? careOfKey({ family, address: canonicalIpv6OrThrow(outerSource) }) : careOfKey({ family, address: outerSource });
    for (const b of r.bindings.values()) {
      if (b.homeBinding) continue;
      if (careOfKey(b.careOfAddress) === key) return true;
      if (family === "ipv4" && b.observed?.address === outerSource) return true;
    }
    return false;
  }

  /**
   * Which binding should carry a packet for `destination` (a home address or an address in a
   * registered prefix): for now the lowest BID; `flowHint` is reserved for RFC 6089 flow bindings.
   */
  careOfAddressFor(destination: Ipv6Text, flowHint?: unknown): CareOfChoice | undefined {
    void flowHint;
    const r = this.#owner(destination);
    if (!r) return undefined;
    const ids = [...r.bindings.keys()].sort((a, b) => a - b);
    const id = ids[0];
    if (id === undefined) return undefined;
    const b = r.bindings.get(id)!;
    return { homeAddress: r.homeAddress, bindingId: b.bindingId, careOfAddress: b.careOfAddress, homeBinding: b.homeBinding };
  }

  /** The bindings of one home address, in BID order. */
  bindingsOf(homeAddress: Ipv6Text): CacheBinding[] {
    const r = this.#registrations.get(canonicalIpv6OrThrow(homeAddress));
    return r ? [...r.bindings.values()].sort((a, b) => a.bindingId - b.bindingId) : [];
  }

  /** The registered prefixes of one home address (explicit or implicit). */
  prefixesOf(homeAddress: Ipv6Text): readonly Prefix[] {
    return this.#registrations.get(canonicalIpv6OrThrow(homeAddress))?.prefixes ?? [];
  }

  lastSequenceOf(homeAddress: Ipv6Text): SequenceNumber | undefined {
    return this.#registrations.get(canonicalIpv6OrThrow(homeAddress))?.lastSequence;
  }

  /**
   * Queues a Binding Error status 1 (RFC 6275 §9.3.3): a packet with a Home Address option came
   * from an address that is no registered care-of address of that home address.
   */
  reportUnknownBinding(homeAddress: Ipv6Text, source: Ipv6Text): void {
    this.#counters.increment("mobility.ha.be.sent.unknown-binding");
    this.#transmits.push({
      message: { type: "binding-error", status: BeStatus.unknownBindingForHomeAddressOption, homeAddress: canonicalIpv6OrThrow(homeAddress), options: [] },
      source: this.#config.homeAgentAddress,
      destination: source,
    });
  }

  // ---- internals ---------------------------------------------------------------------------

  #owner(address: Ipv6Text): Registration | undefined {
    const bytes = parseIpv6(address);
    if (!bytes) return undefined;
    const direct = this.#registrations.get(canonicalIpv6OrThrow(address));
    if (direct) return direct;
    for (const r of this.#registrations.values()) {
      if (!r.mobileRouter) continue;
      for (const p of r.prefixes) if (prefixMatches(bytes, parseIpv6(p.address)!, p.length)) return r;
    }
    return undefined;
  }

  #handleBindingUpdate(bu: BindingUpdate, input: HomeAgentInput, now: Instant): void {
    const source = canonicalIpv6OrThrow(input.source);
    const homeAddress = canonicalIpv6OrThrow(input.homeAddressOption ?? input.source);
    const udp = input.udpEncapsulation;
    // RFC 5555 §4.1: a UDP-encapsulated BU has the home address as its IPv6 source and no HAO, but is not from home.
    const fromHome = input.homeAddressOption === undefined && udp === undefined;
    const bids = bu.options.filter((o) => o.type === "binding-identifier");
    const malformedBid = bu.options.some((o) => o.type === "malformed-binding-identifier");
    const verdict = this.#process(bu, input, homeAddress, fromHome, malformedBid, now);
    if (!verdict) return; // silently discarded
    const reg = this.#registrations.get(homeAddress);
    const accepted = verdict.status < 128 || verdict.status === BaStatus.mcoaNotComplete;
    if (!accepted) {
      this.#counters.increment(`mobility.ha.reject.${verdict.status}`);
      this.#events.push({ type: "update-rejected", homeAddress, status: verdict.status });
    }
    if (!bu.flags.acknowledge && accepted) return;
    // RFC 5648 §6.2: copy every BID option back, without its CoA, with its own status.
    const options: MobilityOption[] = bids.map((b) => ({
      type: "binding-identifier",
      bindingId: b.bindingId,
      status: verdict.perBid.get(b.bindingId) ?? 0,
      simultaneousHomeAndForeign: b.simultaneousHomeAndForeign,
    }));
    const granted = accepted && bu.lifetimeUnits > 0 ? this.#grantedUnits(bu.lifetimeUnits) : 0;
    const ratio = this.#config.refreshAdviceRatio;
    if (ratio !== undefined && granted > 0) options.unshift({ type: "binding-refresh-advice", refreshIntervalUnits: Math.max(1, Math.floor(granted * ratio)) });
    const nat = udp === undefined ? undefined : natDetection(bu, udp, this.#config.natKeepaliveSeconds ?? DEFAULT_NAT_KEEPALIVE_SECONDS);
    if (nat !== undefined) {
      options.push(nat);
      this.#counters.increment(nat.refreshTimeSeconds === NAT_REFRESH_NOT_NEEDED ? "mobility.ha.nat.forced-udp" : "mobility.ha.nat.detected");
    }
    const message: MobilityMessage = {
      type: "binding-acknowledgement",
      status: verdict.status,
      flags: baFlags({
        keyManagementCapability: this.#config.keyManagementCapability && bu.flags.keyManagementCapability,
        mobileRouter: accepted && bu.flags.mobileRouter && (reg?.mobileRouter ?? false),
      }),
      // RFC 6275 §9.5.1: on 135 the BA carries the last accepted Sequence #.
      sequenceNumber: verdict.status === BaStatus.sequenceNumberOutOfWindow && reg ? reg.lastSequence : bu.sequenceNumber,
      lifetimeUnits: granted,
      options,
    };
    if (udp !== undefined) {
      // RFC 5555 §4.1: the BA goes back the way the BU came, to the home address (no Type 2 routing header), in UDP to the observed source.
      const v4 = this.#config.homeAgentIpv4Address;
      this.#transmits.push({ message, source: this.#config.homeAgentAddress, destination: homeAddress, ipv4Encapsulation: { ...(v4 !== undefined ? { source: v4 } : {}), destination: udp.address, destinationPort: udp.port } });
      return;
    }
    // RFC 6275 §9.5.4 / RFC 4877 §4.2: to the care-of address with a Type 2 routing header.
    this.#transmits.push(
      fromHome
        ? { message, source: this.#config.homeAgentAddress, destination: homeAddress }
        : { message, source: this.#config.homeAgentAddress, destination: source, routingType2Address: homeAddress },
    );
  }

  #grantedUnits(requested: number): number {
    return Math.min(requested, lifetimeUnitsFromSeconds(this.#config.maxLifetimeSeconds ?? DEFAULT_HA_MAX_BINDING_LIFETIME_SECONDS));
  }

  /** Validates and applies one BU; returns the BA status (and per-BID ones), or undefined to drop. */
  #process(bu: BindingUpdate, input: HomeAgentInput, homeAddress: Ipv6Text, fromHome: boolean, malformedBid: boolean, now: Instant): Verdict | undefined {
    const none = new Map<number, number>();
    const reject = (status: number): Verdict => ({ status, perBid: none });
    if (!bu.flags.homeRegistration) {
      // We are not a correspondent node: no route optimisation here.
      this.#counters.increment("mobility.ha.drop.not-home-registration");
      return reject(BaStatus.homeRegistrationNotSupported);
    }
    const authorization = this.#authorizations.get(homeAddress);
    if (!authorization) return reject(BaStatus.notHomeAgentForThisMobileNode);
    let reg = this.#registrations.get(homeAddress);
    // RFC 6275 §9.5.1: with a cache entry, the Sequence # must move forward (else 135).
    if (reg && !sequenceAfter(bu.sequenceNumber, reg.lastSequence)) return reject(BaStatus.sequenceNumberOutOfWindow);
    if (malformedBid) return reject(BaStatus.mcoaMalformed);
    const mobileRouter = bu.flags.mobileRouter;
    if (mobileRouter && authorization.mobileRouter === false) return reject(BaStatus.mobileRouterOperationNotPermitted);
    const bids = bu.options.filter((o) => o.type === "binding-identifier");
    const registering = bu.lifetimeUnits > 0;

    // RFC 3963 §6.1-6.2: explicit prefixes must be valid and authorised; implicit ones come from config.
    let prefixes: readonly Prefix[] = [];
    if (mobileRouter && registering) {
      const claimed = bu.options.filter((o) => o.type === "mobile-network-prefix");
      if (claimed.length > 0) {
        const out: Prefix[] = [];
        for (const c of claimed) {
          const bytes = parseIpv6(c.prefix)!;
          if (c.prefixLength === 0 || bytes[0] === 0xff || (bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80)) return reject(BaStatus.invalidPrefix);
          const allowed = authorization.prefixes.some((p) => c.prefixLength >= p.length && prefixMatches(bytes, parseIpv6(p.address)!, p.length));
          if (!allowed) return reject(BaStatus.notAuthorizedForPrefix);
          out.push({ address: c.prefix, length: c.prefixLength });
        }
        prefixes = out;
      } else {
        if (authorization.prefixes.length === 0) return reject(BaStatus.forwardingSetupFailed);
        prefixes = authorization.prefixes;
      }
    }

    const perBid = new Map<number, number>();
    if (bids.length === 0) {
      // RFC 5648 §6.2: a BU without BID is plain RFC 6275 and replaces every binding.
      const coa = this.#plainCareOf(bu, input, source(input));
      if (registering && (!coa || !isUnicastRoutable(coa))) return reject(BaStatus.invalidCareOfAddress);
      const previous = reg?.bindings.get(0);
      reg = this.#touch(reg, authorization, bu.sequenceNumber, mobileRouter, prefixes, registering);
      for (const id of [...reg.bindings.keys()]) this.#delete(reg, id, "binding-deleted");
      if (registering && coa) this.#store(reg, 0, coa, false, bu.lifetimeUnits, now, observation(bu, coa, input.udpEncapsulation, previous));
      return { status: BaStatus.accepted, perBid };
    }

    if (this.#config.multipleCareOfAddresses === false) return reject(BaStatus.mcoaProhibited);
    if (bids.length > 1 && this.#config.bulkRegistration === false) return reject(BaStatus.mcoaBulkRegistrationProhibited);
    // RFC 5648 §6.2 / §4.4 (164): under ESP every BID option must carry its care-of address.
    if (input.protectedByEsp && bids.some((b) => b.careOfAddress === undefined) && registering) return reject(BaStatus.mcoaMalformed);
    // RFC 5648 §6.2: an existing BID-less binding blocks MCoA (the 'O' flag that would override it was never assigned).
    if (registering && reg?.bindings.has(0)) return reject(BaStatus.mcoaNonMcoaBindingExists);

    if (!registering) {
      // RFC 5648 §5.4, §6.2: delete the listed BIDs; an unknown one rejects the BU with 133.
      if (!reg || bids.some((b) => !reg!.bindings.has(b.bindingId))) return reject(BaStatus.notHomeAgentForThisMobileNode);
      reg = this.#touch(reg, authorization, bu.sequenceNumber, reg.mobileRouter, reg.prefixes, false);
      for (const b of bids) this.#delete(reg, b.bindingId, "binding-deleted");
      if (reg.bindings.size === 0) this.#registrations.delete(homeAddress);
      return { status: BaStatus.accepted, perBid };
    }

    let anyAccepted = false;
    const accepted: { id: number; coa: CareOfAddress; home: boolean }[] = [];
    for (const b of bids) {
      if (b.bindingId === 0) {
        perBid.set(b.bindingId, BaStatus.mcoaMalformed);
        continue;
      }
      if (b.simultaneousHomeAndForeign) {
        if (this.#config.simultaneousHomeAndForeign === false) {
          perBid.set(b.bindingId, BaStatus.mcoaSimultaneousHomeAndForeignProhibited);
          continue;
        }
        // RFC 5648 §5.6.3: the home binding's CoA field is the home address.
        if (b.careOfAddress && careOfKey(b.careOfAddress) !== careOfKey({ family: "ipv6", address: homeAddress })) {
          perBid.set(b.bindingId, BaStatus.mcoaMalformed);
          continue;
        }
        accepted.push({ id: b.bindingId, coa: { family: "ipv6", address: homeAddress }, home: true });
        perBid.set(b.bindingId, this.#config.homeLinkNeighborDiscovery === true ? 0 : BaStatus.mcoaReturnHomeWithoutNdp);
        anyAccepted = true;
        continue;
      }
      const coa = b.careOfAddress ?? reg?.bindings.get(b.bindingId)?.careOfAddress;
      if (!coa) {
        perBid.set(b.bindingId, BaStatus.mcoaUnknownCoa);
        continue;
      }
      if (!isUnicastRoutable(coa)) {
        perBid.set(b.bindingId, BaStatus.mcoaMalformed);
        continue;
      }
      accepted.push({ id: b.bindingId, coa, home: false });
      perBid.set(b.bindingId, 0);
      anyAccepted = true;
    }
    if (anyAccepted) {
      const before = reg;
      reg = this.#touch(reg, authorization, bu.sequenceNumber, mobileRouter, prefixes, true);
      for (const a of accepted) this.#store(reg, a.id, a.coa, a.home, bu.lifetimeUnits, now, observation(bu, a.coa, input.udpEncapsulation, before?.bindings.get(a.id)));
    }
    const statuses = [...perBid.values()];
    const first = statuses[0]!;
    if (statuses.every((s) => s === first)) return { status: first, perBid: new Map([...perBid.keys()].map((k) => [k, 0])) };
    if (statuses.some((s) => s >= 128)) return { status: BaStatus.mcoaNotComplete, perBid };
    return { status: BaStatus.accepted, perBid };
  }

  /** RFC 6275 §10.3.1 / RFC 5555: the CoA of a BID-less BU (Alternate CoA, IPv4 CoA, else the source). */
  #plainCareOf(bu: BindingUpdate, input: HomeAgentInput, src: Ipv6Text): CareOfAddress | undefined {
    const v4 = bu.options.find((o) => o.type === "ipv4-care-of-address");
    if (v4) return { family: "ipv4", address: v4.careOfAddress };
    const alt = bu.options.find((o) => o.type === "alternate-care-of-address");
    if (alt) return { family: "ipv6", address: alt.careOfAddress };
    if (input.homeAddressOption === undefined) return undefined; // from home: no CoA
    return { family: "ipv6", address: src };
  }

  #touch(reg: Registration | undefined, authorization: MobileNodeAuthorization, sequence: SequenceNumber, mobileRouter: boolean, prefixes: readonly Prefix[], registering: boolean): Registration {
    const r: Registration = reg ?? {
      homeAddress: authorization.homeAddress,
      authorization,
      lastSequence: sequence,
      mobileRouter,
      prefixes,
      bindings: new Map(),
      refreshRequested: new Map(),
    };
    r.lastSequence = sequence;
    if (registering) {
      r.mobileRouter = mobileRouter;
      r.prefixes = prefixes;
    }
    this.#registrations.set(r.homeAddress, r);
    return r;
  }

  #store(reg: Registration, id: number, coa: CareOfAddress, home: boolean, lifetimeUnits: number, now: Instant, observed?: Observation): void {
    const granted = this.#grantedUnits(lifetimeUnits);
    const existed = reg.bindings.has(id);
    reg.bindings.set(id, { bindingId: id, careOfAddress: coa, homeBinding: home, expiresAt: later(now, granted * LIFETIME_UNIT_MS), ...(observed ?? {}) });
    if (observed !== undefined && observed.behindNat) this.#counters.increment("mobility.ha.binding.behind-nat");
    reg.refreshRequested.delete(id);
    this.#counters.increment(existed ? "mobility.ha.binding.updated" : "mobility.ha.binding.created");
    this.#events.push({
      type: existed ? "binding-updated" : "binding-created",
      homeAddress: reg.homeAddress,
      bindingId: id,
      careOfAddress: coa,
      lifetimeSeconds: (granted * LIFETIME_UNIT_MS) / 1000,
      ...(observed ?? {}),
    });
  }

  #delete(reg: Registration, id: number, why: "binding-deleted" | "binding-expired"): void {
    if (!reg.bindings.delete(id)) return;
    reg.refreshRequested.delete(id);
    this.#counters.increment(`mobility.ha.${why.replace("-", ".")}`);
    this.#events.push({ type: why, homeAddress: reg.homeAddress, bindingId: id });
  }

  /** RFC 6275 §10.4.5, RFC 5648 §6.4: ask for a refresh of bindings about to expire, listing their BIDs. */
  #requestRefreshes(now: Instant): void {
    const lead = this.#config.refreshRequestLeadMs;
    if (lead === undefined) return;
    for (const r of this.#registrations.values()) {
      const due = [...r.bindings.values()].filter((b) => now >= later(b.expiresAt, -lead) && r.refreshRequested.get(b.bindingId) !== b.expiresAt);
      if (due.length === 0) continue;
      for (const b of due) r.refreshRequested.set(b.bindingId, b.expiresAt);
      this.#counters.increment("mobility.ha.brr.sent");
      this.#transmits.push({
        message: {
          type: "binding-refresh-request",
          options: due.filter((b) => b.bindingId !== 0).map((b) => ({ type: "binding-identifier", bindingId: b.bindingId as BindingId, status: 0, simultaneousHomeAndForeign: b.homeBinding })),
        },
        // RFC 6275 §6.1: no Type 2 routing header on anything but a BA; the tunnel carries it to a CoA.
        source: this.#config.homeAgentAddress,
        destination: r.homeAddress,
      });
    }
  }
}

interface Observation {
  readonly observed: UdpEncapsulationSource;
  readonly behindNat: boolean;
}

/** The IPv4 CoA a UDP-encapsulated BU claims (RFC 5555 §3.1.2: the IPv4 Care-of Address option). */
function claimedIpv4CareOf(bu: BindingUpdate): Ipv4Text | undefined {
  return bu.options.find((o) => o.type === "ipv4-care-of-address")?.careOfAddress;
}

/**
 * RFC 5555 §4.1 NAT detection, per BU: the IPv4 CoA it claims against the outer IPv4 source it came
 * from. A NAT (they differ, or no claim) gives F=1 with the keepalive time; no NAT but the BU's F flag
 * gives F=1 with "no keepalives needed"; no NAT and no F: no option.
 */
export function natDetection(bu: BindingUpdate, udp: UdpEncapsulationSource, keepaliveSeconds: number): Extract<MobilityOption, { type: "nat-detection" }> | undefined {
  const behindNat = claimedIpv4CareOf(bu) !== udp.address;
  if (behindNat) return { type: "nat-detection", udpEncapsulationRequired: true, refreshTimeSeconds: keepaliveSeconds };
  if (bu.flags.forceUdpEncapsulation) return { type: "nat-detection", udpEncapsulationRequired: true, refreshTimeSeconds: NAT_REFRESH_NOT_NEEDED };
  return undefined;
}

/**
 * What the cache keeps about where an IPv4 binding is reached: from this BU when it came UDP-encapsulated
 * from that CoA (the one its IPv4 Care-of Address option names), else what the previous binding with the
 * same CoA knew (a refresh sent over another CoA does not forget the NAT's mapping). IPv6 bindings: none.
 */
function observation(bu: BindingUpdate, coa: CareOfAddress, udp: UdpEncapsulationSource | undefined, previous: CacheBinding | undefined): Observation | undefined {
  if (coa.family !== "ipv4") return undefined;
  if (udp !== undefined && claimedIpv4CareOf(bu) === coa.address) return { observed: udp, behindNat: udp.address !== coa.address };
  if (previous?.observed !== undefined && careOfKey(previous.careOfAddress) === careOfKey(coa)) return { observed: previous.observed, behindNat: previous.behindNat ?? false };
  return undefined;
}

function source(input: HomeAgentInput): Ipv6Text {
  return canonicalIpv6OrThrow(input.source);
}
