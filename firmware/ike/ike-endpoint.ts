// The sans-IO IKE endpoint: datagrams and timer ticks in, datagrams and SA events out; routes by SPI to each IKE SA's task manager.

import { Counters } from "../core/counters.ts";
import { assertNever } from "../core/result.ts";
import { later, type Instant } from "../core/instant.ts";
import { wireErrorCounter } from "../wire/error.ts";
import { ikeSpi, type IkeSpi } from "../wire/ikev2/header.ts";
import { encodeMessage, parseMessage } from "../wire/ikev2/message.ts";
import type { Payload } from "../wire/ikev2/payloads.ts";
import type { ChildSa, EspSpi } from "./child-sa.ts";
import type { ChildSpec, IkeConfig } from "./config.ts";
import { ExchangeType, NAT_KEEPALIVE_INTERVAL_MS } from "./constants.ts";
import type { RandomSource } from "./dh.ts";
import type { Datagram, Endpoint } from "./endpoint.ts";
import { errorAction } from "./error-policy.ts";
import type { IkeEvent } from "./events.ts";
import { identityEquals } from "./identity.ts";
import { IkeSa } from "./ike-sa.ts";
import type { PeerDirectory } from "./peers.ts";
import { InitResponder, type ResponderLimits } from "./responder.ts";
import { SaScheduler, type ScheduledWork } from "./sa-scheduler.ts";
import type { InitiatorTask } from "./task.ts";
import { TaskManager } from "./task-manager.ts";
import { ChildCreateInitiator } from "./tasks/child-create.ts";
import { ChildRekeyInitiator } from "./tasks/child-rekey.ts";
import { ChildDeleteInitiator, IkeDeleteInitiator } from "./tasks/delete.ts";
import { IkeAuthInitiator } from "./tasks/ike-auth.ts";
import { IkeInitInitiator } from "./tasks/ike-init.ts";
import { freshIkeSpi, IkeRekeyInitiator } from "./tasks/ike-rekey.ts";
import { LivenessInitiator } from "./tasks/liveness.ts";
import { MobikeNatCheckInitiator, MobikeUpdateInitiator } from "./tasks/mobike.ts";
import { responderFor } from "./tasks/responders.ts";

export interface IkeEndpointOptions {
  readonly random: RandomSource;
  readonly counters?: Counters;
  /** When set, this endpoint answers IKE_SA_INIT requests with this configuration. */
  readonly responder?: IkeConfig;
  /**
   * Per-peer policy for a responder serving many initiators (a home agent, RFC 4877): IKE_AUTH
   * takes credentials, selectors, ESP proposals and timers from the configuration for the
   * initiator's IDi; the IKE suite `responder` negotiated must be one the peer's configuration
   * allows. An unknown identity gets AUTHENTICATION_FAILED and leaves no state.
   */
  readonly peers?: PeerDirectory;
  readonly responderLimits?: ResponderLimits;
}

export class IkeEndpoint {
  readonly counters: Counters;
  readonly #random: RandomSource;
  readonly #managers = new Map<IkeSpi, TaskManager>();
  readonly #outbox: Datagram[] = [];
  readonly #events: IkeEvent[] = [];
  readonly #responder: InitResponder | undefined;
  readonly #peers: PeerDirectory | undefined;
  readonly #keepaliveAt = new Map<IkeSa, Instant>();
  readonly #scheduler: SaScheduler;
  #initiated = 0;

  constructor(options: IkeEndpointOptions) {
    this.#random = options.random;
    this.#scheduler = new SaScheduler(options.random);
    this.#peers = options.peers;
    this.counters = options.counters ?? new Counters();
    this.#responder = options.responder ? new InitResponder(options.responder, options.random, this.counters, options.responderLimits) : undefined;
  }

  /** IKE SAs this endpoint holds (half-open ones included). */
  get ikeSas(): IkeSa[] {
    return [...this.#managers.values()].map((m) => m.sa);
  }
  get halfOpenCount(): number {
    return this.#responder?.halfOpenCount ?? 0;
  }
  get cookiesEngaged(): boolean {
    return this.#responder?.cookiesEngaged ?? false;
  }

  find(name: string): IkeSa | undefined {
    return this.ikeSas.find((sa) => sa.name === name && sa.state !== "closed" && sa.state !== "rekeyed");
  }

  #env() {
    return {
      random: this.#random,
      counters: this.counters,
      transmit: (d: Datagram) => this.#outbox.push(d),
      emit: (e: IkeEvent) => this.#events.push(e),
      adopt: (sa: IkeSa) => this.#register(sa),
      queueOn: (sa: IkeSa, task: InitiatorTask, now: Instant) => this.#queue(sa, task, now),
      heard: (sa: IkeSa, now: Instant) => this.#scheduler.heard(sa, now),
      responderFor: (sa: IkeSa, exchange: number, payloads: readonly Payload[]) => responderFor(sa, exchange, payloads, this.#peers),
    };
  }

  #register(sa: IkeSa): TaskManager {
    const tm = new TaskManager(sa, this.#env());
    this.#managers.set(sa.localSpi, tm);
    return tm;
  }

  #manager(sa: IkeSa): TaskManager {
    const tm = this.#managers.get(sa.localSpi);
    if (!tm || tm.sa !== sa) throw new Error(`IKE SA ${sa.name} is not held by this endpoint`);
    return tm;
  }

  /**
   * Starts an IKE SA with its first CHILD_SA: IKE_SA_INIT then IKE_AUTH (§1.2). Its IKE_AUTH carries
   * INITIAL_CONTACT only when this endpoint holds no other live IKE SA with that peer (§2.4: "the only
   * IKE SA currently active between the authenticated identities"): never for a second IKE SA beside
   * the first (`per-coa`'s one per care-of address) nor for a re-established one while others remain.
   */
  initiate(config: IkeConfig, local: Endpoint, remote: Endpoint, now: Instant): IkeSa {
    const initialContact = !this.#hasContact(config, remote);
    const sa = new IkeSa(config, true, `${config.name}[${++this.#initiated}]`, local, remote, freshIkeSpi(this.#random), ikeSpi(0n));
    const tm = this.#register(sa);
    tm.queue(new IkeInitInitiator(config), now);
    tm.queue(new IkeAuthInitiator(initialContact), now);
    return sa;
  }

  /**
   * Whether an IKE SA being set up or established is held with the peer `config` names: the same local
   * identity and the same peer identity (authenticated, or the one configured) — or, with no peer
   * identity configured, the same peer address. Rekeyed, deleting and closed SAs do not count.
   */
  #hasContact(config: IkeConfig, remote: Endpoint): boolean {
    return this.ikeSas.some((sa) => {
      if (sa.state !== "connecting" && sa.state !== "authenticating" && sa.state !== "established") return false;
      if (!identityEquals(sa.config.localId, config.localId)) return false;
      const theirs = sa.peerId ?? sa.config.remoteId;
      return config.remoteId !== undefined && theirs !== undefined ? identityEquals(theirs, config.remoteId) : sa.remote.address === remote.address;
    });
  }

  #queue(sa: IkeSa, task: InitiatorTask, now: Instant): void {
    this.#manager(sa).queue(task, now);
  }
  /** A further CHILD_SA (CREATE_CHILD_SA): the configuration's selectors, or those of `spec` (one of its `additionalChildren`). */
  createChild(sa: IkeSa, pfs: boolean, now: Instant, spec?: ChildSpec): void {
    this.#queue(sa, new ChildCreateInitiator(pfs, spec), now);
  }
  rekeyChild(sa: IkeSa, child: ChildSa, pfs: boolean, now: Instant): void {
    this.#queue(sa, new ChildRekeyInitiator(child, pfs), now);
  }
  rekeyIke(sa: IkeSa, now: Instant): void {
    this.#queue(sa, new IkeRekeyInitiator(), now);
  }
  deleteChild(sa: IkeSa, child: ChildSa, now: Instant): void {
    this.#queue(sa, new ChildDeleteInitiator(child), now);
  }
  deleteIke(sa: IkeSa, now: Instant): void {
    this.#queue(sa, new IkeDeleteInitiator(), now);
  }
  checkLiveness(sa: IkeSa, now: Instant): void {
    this.#queue(sa, new LivenessInitiator(), now);
  }
  /** MOBIKE: move the IKE SA and its CHILD_SAs to a new local (and optionally remote) address (RFC 4555 §3.5). */
  updateAddresses(sa: IkeSa, localAddress: string, remoteAddress: string | undefined, now: Instant, additional: readonly string[] = []): void {
    this.#queue(sa, new MobikeUpdateInitiator(localAddress, remoteAddress, additional), now);
  }
  /** MOBIKE behind a NAT: ask the peer where it sees us (NAT_DETECTION_* with COOKIE2, RFC 4555 §3.8); a change emits `nat-mapping-changed`. */
  checkNatMapping(sa: IkeSa, now: Instant): void {
    this.#queue(sa, new MobikeNatCheckInitiator(), now);
  }
  /**
   * RFC 4877 §7.4 (the K bit, the alternative to MOBIKE): a Binding Update with K=1 from a new care-of
   * address, once accepted, moves the IKE SA and its CHILD_SAs there at both ends at once, with no IKE
   * exchange. `local`/`remote`: the new addresses (undefined: unchanged); the ports stay.
   */
  moveAddresses(sa: IkeSa, local: string | undefined, remote: string | undefined): void {
    this.#manager(sa);
    const next = { local: local ?? sa.local.address, remote: remote ?? sa.remote.address };
    if (next.local === sa.local.address && next.remote === sa.remote.address) return;
    sa.local = { address: next.local, port: sa.local.port };
    sa.remote = { address: next.remote, port: sa.remote.port };
    this.#events.push({ kind: "endpoints-updated", ikeSaName: sa.name, local: sa.local, remote: sa.remote, udpEncapsulation: sa.espInUdp });
  }
  childBySpi(sa: IkeSa, inboundSpi: EspSpi): ChildSa | undefined {
    return sa.childByInbound(inboundSpi);
  }

  #owner(spi: EspSpi, direction: "inbound" | "outbound"): { tm: TaskManager; child: ChildSa } | undefined {
    for (const tm of this.#managers.values()) {
      if (tm.closed) continue;
      const child = direction === "inbound" ? tm.sa.childByInbound(spi) : tm.sa.childByOutbound(spi);
      if (child) return { tm, child };
    }
    return undefined;
  }

  /**
   * The data plane received authentic ESP on the CHILD_SA with this inbound SPI: the peer is
   * alive, so no liveness check is due (RFC 7296 §2.4). Unknown SPIs are ignored.
   */
  noteEspActivity(inboundSpi: EspSpi, now: Instant): void {
    const owner = this.#owner(inboundSpi, "inbound");
    if (owner) this.#scheduler.heard(owner.tm.sa, now);
  }

  /**
   * An ESP lifetime of the SAD ran out (RFC 4301 §4.4.2.1: bytes, packets, time or sequence
   * numbers) for the SA with this SPI in this direction: a soft expiry rekeys the CHILD_SA as
   * initiator now, a hard one deletes it. False when no CHILD_SA has the SPI (already replaced).
   */
  childLifetimeExpired(spi: EspSpi, direction: "inbound" | "outbound", hard: boolean, now: Instant): boolean {
    const owner = this.#owner(spi, direction);
    if (!owner) return false;
    this.#scheduler.track(owner.tm.sa, now);
    if (hard) this.#scheduler.expireChildNow(owner.child, now);
    else this.#scheduler.rekeyChildNow(owner.child, now);
    this.#runScheduled(owner.tm, now);
    return true;
  }

  #perform(tm: TaskManager, work: ScheduledWork, now: Instant): void {
    const sa = tm.sa;
    switch (work.kind) {
      case "rekey-ike":
        this.counters.increment("ike.sa.rekey-due");
        tm.queue(new IkeRekeyInitiator(), now);
        return;
      case "expire-ike":
        this.counters.increment("ike.sa.expired");
        tm.queue(new IkeDeleteInitiator(), now);
        return;
      case "rekey-child":
        this.counters.increment("ike.child.rekey-due");
        tm.queue(new ChildRekeyInitiator(work.child, sa.config.espProposals.some((p) => p.dh.length > 0)), now);
        return;
      case "expire-child":
        this.counters.increment("ike.child.expired");
        tm.queue(new ChildDeleteInitiator(work.child), now);
        return;
      case "liveness":
        this.counters.increment("ike.liveness.due");
        tm.queue(new LivenessInitiator(), now);
        return;
      default:
        assertNever(work);
    }
  }

  #runScheduled(tm: TaskManager, now: Instant): void {
    if (tm.closed) return;
    for (const work of this.#scheduler.due(tm.sa, now, !tm.busy)) this.#perform(tm, work, now);
  }

  #track(now: Instant): void {
    for (const tm of this.#managers.values()) if (!tm.closed) this.#scheduler.track(tm.sa, now);
  }

  /** Feeds one received IKE datagram (non-ESP marker already removed; NAT keepalives are not IKE). */
  handleDatagram(d: Datagram, now: Instant): void {
    const parsed = parseMessage(d.bytes);
    if (!parsed.ok) {
      this.counters.increment(wireErrorCounter(parsed.error));
      errorAction(parsed.error.kind === "bad-version" ? "bad-major-version" : "malformed-header", "request", "*", this.counters);
      return;
    }
    const message = parsed.value;
    const h = message.header;
    if (h.exchangeType === ExchangeType.ikeSaInit && !h.response && h.responderSpi === 0n) {
      if (!this.#responder || !h.initiator) {
        errorAction("unknown-spi", "request", "half-open", this.counters);
        return;
      }
      const received = { message, payloads: message.payloads, from: d.remote, to: d.local };
      const decision = this.#responder.handle(received, now);
      switch (decision.kind) {
        case "drop":
          return;
        case "resend":
          this.#outbox.push(decision.response);
          return;
        case "stateless-reply": {
          const bytes = encodeMessage({ initiatorSpi: h.initiatorSpi, responderSpi: ikeSpi(0n), exchangeType: h.exchangeType, response: true, initiator: false, messageId: h.messageId }, decision.payloads);
          this.#outbox.push({ local: d.local, remote: d.remote, bytes, nonEspMarker: d.nonEspMarker });
          return;
        }
        case "accept": {
          const sa = decision.sa;
          const bytes = encodeMessage({ initiatorSpi: sa.initiatorSpi, responderSpi: sa.responderSpi, exchangeType: h.exchangeType, response: true, initiator: false, messageId: h.messageId }, decision.reply);
          sa.initResponse = bytes;
          const response: Datagram = { local: d.local, remote: d.remote, bytes, nonEspMarker: d.nonEspMarker };
          const tm = this.#register(sa);
          tm.answeredInit(response);
          this.#responder.track(received, sa, response, now);
          if (sa.config.exportKeys && sa.keys) {
            const s = sa.summary();
            this.#events.push({ kind: "ike-sa-keys", keys: { initiatorSpi: s.initiatorSpi, responderSpi: s.responderSpi, negotiated: sa.negotiated!, skEi: sa.keys.skEi, skEr: sa.keys.skEr, skAi: sa.keys.skAi, skAr: sa.keys.skAr } });
          }
          this.#outbox.push(response);
          return;
        }
      }
    }
    // The I flag says who sent it: from the original initiator we are the responder (our SPI is SPIr).
    const ourSpi = h.initiator ? h.responderSpi : h.initiatorSpi;
    const tm = this.#managers.get(ourSpi);
    if (!tm) {
      // Our own SPI in the other slot means a message of ours came back (reflection).
      const ours = this.#managers.has(h.initiator ? h.initiatorSpi : h.responderSpi);
      errorAction(ours ? "reflected" : "unknown-spi", h.response ? "response" : "request", "*", this.counters);
      return;
    }
    if (tm.sa.isInitiator === h.initiator) {
      errorAction("reflected", h.response ? "response" : "request", "*", this.counters);
      return;
    }
    if (!tm.sa.isInitiator && h.initiatorSpi !== tm.sa.initiatorSpi) {
      errorAction("unknown-spi", h.response ? "response" : "request", "*", this.counters);
      return;
    }
    tm.handle(message, d.remote, d.local, now);
    this.#track(now);
    this.#reap(now);
  }

  /** Forgets closed SAs, and half-open ones that settled or waited too long for IKE_AUTH (§2.6). */
  #reap(now: Instant): void {
    if (this.#responder) for (const sa of this.#responder.sweep(now)) this.#managers.get(sa.localSpi)?.close("half-open timeout");
    for (const [spi, tm] of this.#managers) {
      if (tm.closed) {
        this.#managers.delete(spi);
        this.#keepaliveAt.delete(tm.sa);
      }
    }
  }

  handleTimeout(now: Instant): void {
    for (const tm of [...this.#managers.values()]) tm.handleTimeout(now);
    this.#reap(now);
    this.#track(now);
    for (const tm of [...this.#managers.values()]) this.#runScheduled(tm, now);
    // NAT keepalives (RFC 3948 §2.3) from the side behind the NAT, on the NAT-T socket.
    for (const tm of this.#managers.values()) {
      const sa = tm.sa;
      if (sa.state !== "established" || !sa.natLocal || !sa.udpEncapsulation) continue;
      const due = this.#keepaliveAt.get(sa);
      if (due === undefined) this.#keepaliveAt.set(sa, later(now, NAT_KEEPALIVE_INTERVAL_MS));
      else if (now >= due) {
        this.#outbox.push({ local: sa.local, remote: sa.remote, bytes: Uint8Array.of(0xff), nonEspMarker: false });
        this.counters.increment("ike.nat.keepalive");
        this.#keepaliveAt.set(sa, later(now, NAT_KEEPALIVE_INTERVAL_MS));
      }
    }
    this.#reap(now);
  }

  pollTransmit(): Datagram | undefined {
    return this.#outbox.shift();
  }

  pollEvent(): IkeEvent | undefined {
    return this.#events.shift();
  }

  pollTimeout(): Instant | undefined {
    let next: Instant | undefined;
    const consider = (t: Instant | undefined) => {
      if (t !== undefined && (next === undefined || t < next)) next = t;
    };
    for (const tm of this.#managers.values()) {
      consider(tm.pollTimeout());
      if (!tm.closed) consider(this.#scheduler.next(tm.sa, !tm.busy));
    }
    consider(this.#responder?.nextExpiry());
    for (const t of this.#keepaliveAt.values()) consider(t);
    return next;
  }
}
