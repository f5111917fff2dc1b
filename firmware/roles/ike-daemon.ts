// IKEv2 for the two daemons (RFC 4877): the router initiates from its care-of address and moves with MOBIKE; the home agent answers per mobile router.

import type { Counters } from "../core/counters.ts";
import { err, ok, type Result } from "../core/result.ts";
import type { EspSuiteId } from "../crypto/suites.ts";
import type { ChildSpec, IkeConfig } from "../ike/config.ts";
import type { IkeEvent } from "../ike/events.ts";
import { IkeEndpoint } from "../ike/ike-endpoint.ts";
import type { IkeSa } from "../ike/ike-sa.ts";
import { peerDirectory } from "../ike/peers.ts";
import type { CryptoProvider } from "../ipsec/sad.ts";
import type { BindingTableEntry } from "../dataplane/binding-table.ts";
import type { DataplaneHandle } from "../dataplane/dataplane-handle.ts";
import { monotonicNow } from "./daemon.ts";
import { type AddressUpdate, addressUpdateOf, homeAgentPeerIkeConfig, type IkeRoleConfig, routerIkeConfig, tunnelSuiteOf, wipeIkeConfig, withExtendedSequenceNumbers } from "./ike-config.ts";
import type { HomeAgentInput } from "../mobility/binding-cache.ts";
import type { MobilityTransmit } from "../mobility/types.ts";
import { KBitMoves } from "../multicoa/k-bit.ts";
import { IkeSession } from "./ike-session.ts";
import { IkeSignallingSecurity } from "./ike-signalling.ts";
import { ProbeKeyRing } from "./link-probes.ts";
import { formatIpv6, parseIpv6 } from "../wire/address.ts";
import { NAT_KEEPALIVE_INTERVAL_MS } from "../ike/constants.ts";
import { endpointText } from "../ike/endpoint.ts";

/** After the IKE SA to the home agent is lost (no answer, DELETE, AUTHENTICATION_FAILED), try again this much later. */
export const REINITIATE_DELAY_MS = 2_000;
/**
 * MOBIKE behind a NAT (RFC 4555 §3.8): how often the router asks the home agent where it sees it (NAT detection
 * in an INFORMATIONAL). A new port alone heals the ESP at once (the home agent learns it from authenticated
 * ESP) but leaves the IKE SA's peer port stale; this bounds how long. The RFC 3948 keepalive interval.
 */
export const NAT_MAPPING_CHECK_MS = NAT_KEEPALIVE_INTERVAL_MS;
/** How long shutdown waits for the answers to our DELETEs. */
const DELETE_GRACE_MS = 3_000;

const random = (length: number) => crypto.getRandomValues(new Uint8Array(length));

/** What the packet loop's setup takes from IKE mode: no static SAs, a NAT-T socket per uplink. */
export interface IkeLoopSetup {
  readonly tunnelSuite: EspSuiteId;
  readonly udpEncapsulationPort: number;
}

/** The multi-CoA settings IKE-keyed tunnel SAs take (ipsec.multiCoa, docs/modes.md). */
interface MultiCoaSaSettings {
  readonly replayWindow: number;
  readonly extendedSequenceNumbers: boolean;
}

/** The configuration with the ESP proposals the multi-CoA settings ask for (ESN offered first). */
function withMultiCoa(config: IkeConfig, multiCoa: MultiCoaSaSettings | undefined): IkeConfig {
  return multiCoa?.extendedSequenceNumbers ? withExtendedSequenceNumbers(config) : config;
}

/** With K-bit moves MOBIKE is not negotiated: the two are alternatives (RFC 5648 §9.1), never both. */
function withAddressUpdate(config: IkeConfig, update: AddressUpdate): IkeConfig {
  return update === "k-bit" ? { ...config, mobike: false } : config;
}

interface RouterView {
  readonly homeAddress: string;
  readonly homeAgent: string;
  /** The home agent's IPv4 address (RFC 5555): `per-coa` IKE SAs from IPv4 care-of addresses go there. */
  readonly homeAgentIpv4?: string | undefined;
  readonly mobileNetworkPrefixes: readonly string[];
  readonly uplinks: readonly { readonly id: string; readonly careOfAddress: string }[];
  readonly multiCoa?: MultiCoaSaSettings;
  /** ipsec.multiCoaMode: decides the default `ike.addressUpdate`. */
  readonly multiCoaMode?: string;
}

/**
 * The router's IKE: one IKE SA per home address (RFC 4877 §4.1, RFC 5648 §9.1) from the active care-of
 * address. The payload CHILD_SA comes with IKE_AUTH, the BU/BA CHILD_SA with CREATE_CHILD_SA right
 * after; `onSignallingReady` fires once that one exists (the first BU must be protected). A moved
 * uplink moves the IKE SA and its CHILD_SAs: by the BU's K bit (RFC 4877 §7.4) or MOBIKE (RFC 4555 §3.5), `ike.addressUpdate`.
 */
export class RouterIke {
  readonly signalling: IkeSignallingSecurity;
  readonly loop: IkeLoopSetup;
  /** The in-tunnel link probes' key, from the tunnel CHILD_SA's KEYMAT after IKE_AUTH and each rekey. */
  readonly probeKeys = new ProbeKeyRing();
  readonly #config: IkeConfig;
  readonly #view: RouterView;
  readonly #log: (line: string) => void;
  readonly #counters: Counters;
  readonly #ike: IkeRoleConfig;
  #session: IkeSession | undefined;
  #sa: IkeSa | undefined;
  #active = 0;
  #signallingReady = false;
  #addressUpdate: AddressUpdate = "mobike";
  /** K-bit moves: whether the home agent's last BA carried K=1 (RFC 6275 §6.1.8: it will move its end too). */
  kBitAgreed: () => boolean = () => false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #stopping = false;
  onSignallingReady: () => void = () => {};
  /** The home agent answered an UPDATE_SA_ADDRESSES: the IKE SA is on uplink `index`'s address now. */
  onMoved: (index: number) => void = () => {};
  /** Care-of addresses that changed since start (SLAAC, DHCPv6), by uplink: IKE's local address there now. */
  readonly #renumbered = new Map<number, string>();
  /** `per-coa`: the tunnel CHILD_SA of the IKE SA on uplink `index` now (its outbound SPI; undefined: none). */
  onTunnelKeyed: (index: number, outboundSpi: number | undefined) => void = () => {};
  /** `per-coa`: the IKE SAs of the other care-of addresses, by uplink (tunnel CHILD_SA only, no MOBIKE). */
  readonly #extras = new Map<number, IkeSa>();
  /** The addresses announced with the last update (RFC 4555 §3.6), for the updates a NAT mapping change needs. */
  #additional: readonly number[] = [];
  #natTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(ike: IkeRoleConfig, config: IkeConfig, view: RouterView, provider: CryptoProvider, counters: Counters, log: (line: string) => void) {
    this.#ike = ike;
    this.#config = config;
    this.#view = view;
    this.#counters = counters;
    this.#log = log;
    this.signalling = new IkeSignallingSecurity(provider, counters);
    this.loop = { tunnelSuite: tunnelSuiteOf(ike), udpEncapsulationPort: config.ports.natT };
  }

  static create(ike: IkeRoleConfig, view: RouterView, provider: CryptoProvider, counters: Counters, log: (line: string) => void): Result<RouterIke, string> {
    const config = routerIkeConfig(ike, view);
    if (!config.ok) return err(config.error);
    const update = addressUpdateOf(ike, view.multiCoaMode);
    if (!update.ok) return update;
    const routerIke = new RouterIke(ike, withAddressUpdate(withMultiCoa(config.value, view.multiCoa), update.value), view, provider, counters, log);
    routerIke.#addressUpdate = update.value;
    return ok(routerIke);
  }

  /** How the IKE SA follows a new primary care-of address: the BU's K bit (RFC 4877 §7.4) or MOBIKE. */
  get addressUpdate(): AddressUpdate {
    return this.#addressUpdate;
  }

  get signallingSpec(): ChildSpec | undefined {
    return this.#config.additionalChildren?.[0];
  }

  /**
   * Binds UDP 500 on every care-of address and initiates from the active one. `onSignallingReady` fires
   * once the BU/BA CHILD_SA exists (or, with `signalling: false`, the payload CHILD_SA).
   */
  async start(dataplane: DataplaneHandle, active: number): Promise<void> {
    this.#active = active;
    const session = new IkeSession({
      endpoint: new IkeEndpoint({ random, counters: this.#counters }),
      dataplane,
      signalling: this.signalling,
      ports: this.#config.ports,
      uplinkOf: (address) => {
        const i = this.#view.uplinks.findIndex((_, index) => this.#ikeAddress(index) === address);
        return i >= 0 ? i : this.#active;
      },
      counters: this.#counters,
      log: this.#log,
      keyExport: this.#ike.keyExport,
      ...(this.#view.multiCoa ? { replayWindowOf: () => this.#view.multiCoa!.replayWindow } : {}),
      onEvent: (e) => this.#onEvent(e),
    });
    this.#session = session;
    for (const u of this.#view.uplinks) {
      try {
        await session.bind(this.#ikeAddress(this.#view.uplinks.indexOf(u)));
      } catch (e) {
        this.#log(`IKE: cannot bind ${u.careOfAddress}: ${(e as Error).message}`);
      }
    }
    this.#initiate();
    this.#natTimer = setInterval(() => this.#checkNatMapping(), NAT_MAPPING_CHECK_MS);
  }

  /**
   * MOBIKE behind a NAT (RFC 4555 §3.8: with MOBIKE the home agent makes no dynamic updates of RFC 7296 §2.23, the
   * initiator finds the change): a NAT check every NAT_MAPPING_CHECK_MS, and at once on a suspected rebinding
   * (`checkLivenessOn`); a changed mapping (`nat-mapping-changed`) gets UPDATE_SA_ADDRESSES.
   */
  #checkNatMapping(): void {
    const sa = this.#current();
    const session = this.#session;
    if (!session || !sa || sa.state !== "established" || !sa.mobike || !sa.natLocal) return;
    session.endpoint.checkNatMapping(sa, monotonicNow());
    session.pump();
  }

  /** IKE's local address on uplink `index`: configured (`uplinkAddresses`), else its care-of address. */
  #ikeAddress(index: number): string {
    const u = this.#view.uplinks[index]!;
    return this.#ike.uplinkAddresses?.[u.id] ?? this.#renumbered.get(index) ?? u.careOfAddress;
  }

  #initiate(): void {
    const session = this.#session;
    if (!session || this.#stopping) return;
    const ports = this.#config.ports;
    const peer = this.#ike.peerAddress ?? this.#view.homeAgent;
    this.#sa = session.endpoint.initiate(this.#config, { address: this.#ikeAddress(this.#active), port: ports.ike }, { address: peer, port: ports.ike }, monotonicNow());
    this.#counters.increment("router.ike.initiated");
    session.pump();
  }

  #onEvent(e: IkeEvent): void {
    const session = this.#session!;
    this.#reportTunnel(e);
    followProbeKeys(this.probeKeys, e, "router");
    switch (e.kind) {
      case "ike-sa-established":
        if (e.sa.name !== this.#sa?.name) return;
        // RFC 4877 §4.3: BU/BA get their own transport-mode CHILD_SA.
        if (this.signallingSpec && this.#sa) session.endpoint.createChild(this.#sa, false, monotonicNow(), this.signallingSpec);
        return;
      case "ike-sa-rekeyed":
        if (e.oldName === this.#sa?.name) this.#sa = session.endpoint.ikeSas.find((sa) => sa.name === e.sa.name);
        return;
      case "endpoints-updated": {
        const index = this.#view.uplinks.findIndex((_, i) => this.#ikeAddress(i) === e.local.address);
        if (index >= 0) this.onMoved(index);
        return;
      }
      case "nat-mapping-changed": {
        // RFC 4555 §3.8: the home agent sees us at a new address or port; an update from where we are tells it.
        const sa = this.#current();
        if (!sa || sa.name !== e.ikeSaName || sa.state !== "established") return;
        this.#log(`IKE: the NAT mapping of ${endpointText(sa.local)} changed: UPDATE_SA_ADDRESSES from it`);
        this.#counters.increment("router.ike.nat-mapping-updates");
        session.endpoint.updateAddresses(sa, sa.local.address, undefined, monotonicNow(), this.#additional.map((i) => this.#ikeAddress(i)));
        session.pump();
        return;
      }
      case "child-sa-installed":
        // Without a BU/BA CHILD_SA (`signalling: false`, a peer that is no home agent) the links start with the payload SA.
        if ((e.child.mode === "transport" || !this.signallingSpec) && !this.#signallingReady) {
          this.#signallingReady = true;
          this.onSignallingReady();
        }
        return;
      case "ike-sa-closed":
        if (e.name !== this.#sa?.name || this.#stopping) return;
        this.#sa = undefined;
        this.#counters.increment("router.ike.lost");
        this.#retry = setTimeout(() => this.#initiate(), REINITIATE_DELAY_MS);
        return;
      default:
        return;
    }
  }

  /** The IKE SA to the home agent now: the one we track, or its successor after rekeys and collisions (§2.8.2). */
  #current(): IkeSa | undefined {
    if (this.#sa?.state === "established") return this.#sa;
    const next = this.#session?.endpoint.ikeSas.find((sa) => sa.state === "established");
    if (next) this.#sa = next;
    return next ?? this.#sa;
  }

  /**
   * The traffic moved to uplink `index`: the IKE SA and its CHILD_SAs follow (MOBIKE UPDATE_SA_ADDRESSES),
   * announcing the addresses of `additionalUplinks` (RFC 4555 §3.6; none: NO_ADDITIONAL_ADDRESSES).
   */
  moveTo(index: number, additionalUplinks: readonly number[] = []): void {
    this.#active = index;
    this.#additional = additionalUplinks;
    const session = this.#session;
    const sa = this.#current();
    if (!session || !sa || sa.state !== "established") return;
    // Already there (e.g. the uplink was declared none and back within a moment): nothing moves, nothing is re-established.
    const local = this.#ikeAddress(index);
    if (sa.local.address === local) return;
    let remote: string | undefined;
    if (local.includes(":") !== sa.remote.address.includes(":")) {
      remote = this.#peerOfFamily(local.includes(":"));
      if (!this.#followsAddressInUse || remote === undefined || this.#addressUpdate !== "mobike" || !sa.mobike) {
        // An IPv4 care-of address (RFC 5555) while the IKE SA runs over IPv6, or the reverse, in a design whose CHILD_SA
        // serves every CoA (ESP in UDP over the IPv4 one): the IKE SA stays where it is; a NATed address should not
        // carry address updates (RFC 7296 §2.23).
        this.#counters.increment("router.ike.move-skipped.other-family");
        return;
      }
      // `mobike` (or `primary` without BU/BA): the CoA in use is the IKE SA's, so the IKE SA goes along, to the home
      // agent's address of that family. UPDATE_SA_ADDRESSES may change the family (RFC 4555 §3.5); its NAT_DETECTION_*
      // find the NAT, and the CHILD_SA's ESP then goes in UDP on port 4500 (RFC 3948).
      this.#counters.increment("router.ike.move.other-family");
    }
    if (this.#addressUpdate === "k-bit" && this.kBitAgreed()) {
      // RFC 4877 §7.4: the BA with K=1 for the BU from the new care-of address arrived; the home agent moved its end when it accepted it.
      session.endpoint.moveAddresses(sa, this.#ikeAddress(index), undefined);
      this.#counters.increment("router.ike.k-bit-moves");
      session.pump();
      return;
    }
    if (!sa.mobike) {
      this.#log("IKE: the home agent does not support MOBIKE; re-establishing from the new care-of address");
      session.endpoint.deleteIke(sa, monotonicNow());
      session.pump();
      return;
    }
    session.endpoint.updateAddresses(sa, local, remote, monotonicNow(), additionalUplinks.map((i) => this.#ikeAddress(i)));
    session.pump();
  }

  /** The design's care-of address in use is the IKE SA's (`mobike`, `primary` without BU/BA): the IKE SA follows it across families. */
  get #followsAddressInUse(): boolean {
    return this.#view.multiCoaMode === "mobike" || (this.#view.multiCoaMode === "primary" && !this.#ike.signalling);
  }

  /** The home agent's IKE address of one family: `ike.peerAddress`, its IPv6 address, or its IPv4 address (RFC 5555). */
  #peerOfFamily(ipv6: boolean): string | undefined {
    return [this.#ike.peerAddress, this.#view.homeAgent, this.#view.homeAgentIpv4].find((a) => a !== undefined && a.includes(":") === ipv6);
  }

  /**
   * `per-coa`: an IKE SA of its own from uplink `index`'s address with one tunnel-mode CHILD_SA (no BU/BA
   * SA: that one stays with the first IKE SA; no MOBIKE: it never moves). The uplink the first IKE SA is on has one already.
   */
  openOn(index: number): void {
    const session = this.#session;
    if (!session || this.#stopping || this.#extras.has(index) || this.#uplinkOf(this.#current()) === index) return;
    const config: IkeConfig = { ...this.#config, name: `${this.#config.name}/coa${index}`, additionalChildren: [], mobike: false };
    const local = this.#ikeAddress(index);
    // An IPv4 care-of address (RFC 5555) keys its own IKE SA with the home agent's IPv4 address (NAT-T when NATed, RFC 7296 §2.23).
    const peer = this.#ike.peerAddress ?? (local.includes(":") ? this.#view.homeAgent : this.#view.homeAgentIpv4);
    if (peer === undefined) {
      this.#counters.increment("router.ike.per-coa.no-ipv4-peer");
      return;
    }
    this.#extras.set(index, session.endpoint.initiate(config, { address: local, port: this.#config.ports.ike }, { address: peer, port: this.#config.ports.ike }, monotonicNow()));
    this.#counters.increment("router.ike.initiated");
    session.pump();
  }

  /**
   * A NAT on uplink `index`'s path may have rebound (RFC 5555 rebinding watch): an authenticated request (a liveness
   * check, RFC 7296 §2.4) on the IKE SA from that address, so the home agent follows the new mapping (§2.23). A MOBIKE
   * IKE SA behind the NAT gets a NAT check instead (RFC 4555 §3.8: its peer makes no dynamic updates; a changed
   * mapping is followed by UPDATE_SA_ADDRESSES).
   */
  checkLivenessOn(index: number): void {
    const session = this.#session;
    const sa = this.#extras.get(index) ?? (this.#uplinkOf(this.#current()) === index ? this.#current() : undefined);
    if (!session || !sa || sa.state !== "established") return;
    if (sa.mobike && sa.natLocal) {
      session.endpoint.checkNatMapping(sa, monotonicNow());
      this.#counters.increment("router.ike.rebinding-nat-check");
    } else {
      session.endpoint.checkLiveness(sa, monotonicNow());
      this.#counters.increment("router.ike.rebinding-liveness");
    }
    session.pump();
  }

  /** Uplink `index`'s care-of address changed: later updates and IKE SAs from there use `address` (unless `ike.uplinkAddresses` names one). */
  setUplinkAddress(index: number, address: string): void {
    this.#renumbered.set(index, address);
  }

  /** `per-coa`: the IKE SA of uplink `index` goes (INFORMATIONAL DELETE; its CHILD_SA with it). */
  closeOn(index: number): void {
    const sa = this.#extras.get(index);
    this.#extras.delete(index);
    if (!sa || !this.#session) return;
    if (sa.state === "established") this.#session.endpoint.deleteIke(sa, monotonicNow());
    this.#session.pump();
    this.onTunnelKeyed(index, undefined);
  }

  /** The IKE SAs held (the first and, `per-coa`, the other care-of addresses'). */
  get ikeSaCount(): number {
    return this.#session?.endpoint.ikeSas.filter((sa) => sa.state === "established").length ?? 0;
  }

  #uplinkOf(sa: IkeSa | undefined): number {
    return sa === undefined ? -1 : this.#view.uplinks.findIndex((_, i) => this.#ikeAddress(i) === sa.local.address);
  }

  /** After a CHILD_SA event: the newest installed tunnel CHILD_SA of that IKE SA, reported for its uplink. */
  #reportTunnel(e: IkeEvent): void {
    if (e.kind !== "child-sa-installed" && e.kind !== "child-sa-deleted" && e.kind !== "ike-sa-closed") return;
    const name = e.kind === "child-sa-installed" ? e.child.ikeSaName : e.kind === "child-sa-deleted" ? e.ikeSaName : e.name;
    const sa = this.#session?.endpoint.ikeSas.find((s) => s.name === name);
    const index = sa ? this.#uplinkOf(sa) : [...this.#extras].find(([, x]) => x.name === name)?.[0] ?? -1;
    if (index < 0) return;
    if (!sa) {
      this.#extras.delete(index);
      this.onTunnelKeyed(index, undefined);
      return;
    }
    const tunnel = sa.state === "closed" ? undefined : sa.children.filter((c) => c.mode === "tunnel" && c.state !== "deleting").at(-1);
    this.onTunnelKeyed(index, tunnel?.outboundSpi);
    if (e.kind === "ike-sa-closed" && this.#extras.get(index) === sa) this.#extras.delete(index);
  }

  status(): Record<string, unknown> {
    const sa = this.#current();
    return sa ? { ike: sa.summary(), state: sa.state, children: sa.children.map((c) => ({ name: c.name, mode: c.mode, state: c.state, spiIn: c.inboundSpi, spiOut: c.outboundSpi })) , ikeSAs: this.ikeSaCount, perCoa: [...this.#extras].map(([i, x]) => ({ uplink: this.#view.uplinks[i]!.id, state: x.state, children: x.children.map((c) => ({ mode: c.mode, state: c.state })) })) } : { ike: null };
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    if (this.#natTimer !== undefined) clearInterval(this.#natTimer);
    await this.#session?.deleteAll(DELETE_GRACE_MS);
    this.#session?.close();
    this.signalling.clear();
    this.probeKeys.clear();
    wipeIkeConfig(this.#config);
  }
}

/** Keeps a tunnel's probe key in step with its CHILD_SAs (link-probes.ts: derived from their KEYMAT). */
function followProbeKeys(ring: ProbeKeyRing, e: IkeEvent, local: "router" | "homeagent"): void {
  if (e.kind === "child-sa-installed") ring.handleChildInstalled(e.child, local);
  else if (e.kind === "child-sa-deleted") ring.handleChildDeleted(e.inboundSpi);
  else if (e.kind === "ike-sa-rekeyed") ring.handleIkeRekeyed(e.oldName, e.sa.name);
}

interface HomeAgentView {
  readonly address: string;
  /** RFC 5555: IKE also answers here (`per-coa` IKE SAs from IPv4 care-of addresses). */
  readonly ipv4Address?: string | undefined;
  readonly mobileRouters: readonly { readonly homeAddress: string; readonly mobileNetworkPrefixes: readonly string[]; readonly ike?: IkeRoleConfig | undefined; readonly ipsec?: { readonly multiCoa: MultiCoaSaSettings; readonly multiCoaMode?: string } }[];
}

/**
 * The home agent's IKE: a responder at its address whose IKE_AUTH finds each mobile router's
 * configuration by its identity (RFC 4877 §4.1: the home address unless configured), with that
 * router's credentials, proposals and selectors.
 */
export class HomeAgentIke {
  readonly signalling: IkeSignallingSecurity;
  readonly loop: IkeLoopSetup;
  /** Each mobile router's probe key (home address, RFC 5952 text → ring), from its tunnel CHILD_SAs. */
  readonly probeKeys: ReadonlyMap<string, ProbeKeyRing>;
  readonly #peers: IkeConfig[];
  readonly #view: HomeAgentView;
  readonly #counters: Counters;
  readonly #log: (line: string) => void;
  readonly #keyExport: IkeRoleConfig["keyExport"];
  #session: IkeSession | undefined;
  /** An IKE SA came, moved or went: the bindings of routers without Mobile IPv6 signalling changed. */
  onPeersChanged: () => void = () => {};
  readonly #kBit = new KBitMoves();
  /** Per mobile router (config order): how its IKE SA follows its care-of address. */
  #updates: AddressUpdate[] = [];

  /** Whether this home agent answers BUs with K=1 (RFC 6275 §6.1.8): some router moves its IKE SA by the K bit. */
  get kBit(): boolean {
    return this.#updates.includes("k-bit");
  }

  /** A BU arrived (before the binding cache took it): a candidate K-bit move. */
  observeBindingUpdate(input: HomeAgentInput): void {
    this.#kBit.observeBindingUpdate(input);
  }

  /** A BA is going out: accepting a BU with K=1 from a new care-of address moves that router's IKE SA there (RFC 4877 §7.4). */
  observeTransmit(t: MobilityTransmit): void {
    const move = this.#kBit.observeTransmit(t);
    const session = this.#session;
    if (!move || !session) return;
    const index = this.#view.mobileRouters.findIndex((mr) => formatIpv6(parseIpv6(mr.homeAddress)!) === move.homeAddress);
    if (this.#updates[index] !== "k-bit") return;
    const name = this.#peers[index]!.name;
    for (const sa of session.endpoint.ikeSas) {
      if (sa.state !== "established" || sa.config.name !== name || sa.remote.address === move.careOfAddress) continue;
      session.endpoint.moveAddresses(sa, undefined, move.careOfAddress);
      this.#counters.increment("homeagent.ike.k-bit-moves");
    }
    session.pump();
  }

  private constructor(peers: IkeConfig[], view: HomeAgentView, provider: CryptoProvider, counters: Counters, log: (line: string) => void, first: IkeRoleConfig) {
    this.#peers = peers;
    this.#view = view;
    this.#counters = counters;
    this.#log = log;
    this.#keyExport = first.keyExport;
    this.probeKeys = new Map(view.mobileRouters.map((mr) => [formatIpv6(parseIpv6(mr.homeAddress)!), new ProbeKeyRing()]));
    this.signalling = new IkeSignallingSecurity(provider, counters);
    this.loop = { tunnelSuite: tunnelSuiteOf(first), udpEncapsulationPort: peers[0]!.ports.natT };
  }

  static create(view: HomeAgentView, provider: CryptoProvider, counters: Counters, log: (line: string) => void): Result<HomeAgentIke, string> {
    const peers: IkeConfig[] = [];
    const updates: AddressUpdate[] = [];
    for (const [i, mr] of view.mobileRouters.entries()) {
      if (!mr.ike) return err(`mobileRouters[${i}]: no ike section`);
      const c = homeAgentPeerIkeConfig(mr.ike, { homeAddress: mr.homeAddress, homeAgent: view.address, mobileNetworkPrefixes: mr.mobileNetworkPrefixes }, i);
      if (!c.ok) return c;
      const update = addressUpdateOf(mr.ike, mr.ipsec?.multiCoaMode);
      if (!update.ok) return err(`mobileRouters[${i}]: ${update.error}`);
      updates.push(update.value);
      peers.push(withAddressUpdate(withMultiCoa(c.value, mr.ipsec?.multiCoa), update.value));
    }
    try {
      peerDirectory(peers);
    } catch (e) {
      return err((e as Error).message);
    }
    const homeAgentIke = new HomeAgentIke(peers, view, provider, counters, log, view.mobileRouters[0]!.ike!);
    homeAgentIke.#updates = updates;
    return ok(homeAgentIke);
  }

  async start(dataplane: DataplaneHandle): Promise<void> {
    // The listener's proposals answer IKE_SA_INIT; IKE_AUTH then switches to the initiator's own configuration.
    const listener: IkeConfig = { ...this.#peers[0]!, name: "homeagent", exportKeys: this.#keyExport !== undefined };
    this.#session = new IkeSession({
      endpoint: new IkeEndpoint({ random, counters: this.#counters, responder: listener, peers: peerDirectory(this.#peers) }),
      dataplane,
      signalling: this.signalling,
      ports: listener.ports,
      uplinkOf: () => 0,
      counters: this.#counters,
      log: this.#log,
      keyExport: this.#keyExport,
      replayWindowOf: (child) => this.#mobileRouterOf(child.ikeSaName)?.ipsec?.multiCoa.replayWindow,
      onEvent: (e) => {
        this.#followProbeKeys(e);
        if (e.kind === "ike-sa-established" || e.kind === "ike-sa-rekeyed" || e.kind === "ike-sa-closed" || e.kind === "endpoints-updated" || e.kind === "child-sa-installed" || e.kind === "child-sa-deleted") this.onPeersChanged();
      },
    });
    for (const address of new Set([this.#view.address, ...(this.#view.ipv4Address !== undefined ? [this.#view.ipv4Address] : []), ...this.#view.mobileRouters.flatMap((mr) => (mr.ike?.localAddress ? [mr.ike.localAddress] : []))])) await this.#session.bind(address);
    this.#session.pump();
  }

  /**
   * Binding-table entries for mobile routers configured with `ike.signalling: false` (a plain IKEv2
   * peer such as a security gateway, no BU/BA): their established IKE SA's peer address stands in for
   * the care-of address, in both directions. Routers with signalling get theirs from the binding cache.
   */
  ikeOnlyBindings(): BindingTableEntry[] {
    const out: BindingTableEntry[] = [];
    for (const sa of this.#session?.endpoint.ikeSas ?? []) {
      if (sa.state !== "established") continue;
      const index = this.#peers.findIndex((p) => p.name === sa.config.name);
      const mr = this.#view.mobileRouters[index];
      if (!mr || mr.ike?.signalling !== false) continue;
      // An IPv4 peer (behind a NAT44) as the data plane's dual-stack NAT-T socket sees it: IPv4-mapped.
      const careOf = sa.remote.address.includes(":") ? sa.remote.address : `::ffff:${sa.remote.address}`;
      out.push({ homeAddress: mr.homeAddress, prefixes: [...mr.mobileNetworkPrefixes], careOfAddresses: [careOf] });
    }
    return out;
  }

  /** The mobile router an IKE SA belongs to (by the configuration its IKE_AUTH chose). */
  #mobileRouterOf(...names: string[]): HomeAgentView["mobileRouters"][number] | undefined {
    const sa = this.#session?.endpoint.ikeSas.find((s) => names.includes(s.name));
    return this.#view.mobileRouters[this.#peers.findIndex((p) => p.name === sa?.config.name)];
  }

  /** The ring of the mobile router whose IKE SA an event concerns. */
  #followProbeKeys(e: IkeEvent): void {
    const name = e.kind === "child-sa-installed" ? e.child.ikeSaName : e.kind === "child-sa-deleted" ? e.ikeSaName : e.kind === "ike-sa-rekeyed" ? e.oldName : undefined;
    if (name === undefined) return;
    const mr = this.#mobileRouterOf(name, ...(e.kind === "ike-sa-rekeyed" ? [e.sa.name] : []));
    const ring = mr ? this.probeKeys.get(formatIpv6(parseIpv6(mr.homeAddress)!)) : undefined;
    if (ring) followProbeKeys(ring, e, "homeagent");
  }

  /** Every established IKE SA with its mobile router's home address and the peer address it is on now. */
  ikePeers(): { homeAddress: string; address: string; outboundSpi?: number }[] {
    const out: { homeAddress: string; address: string; outboundSpi?: number }[] = [];
    for (const sa of this.#session?.endpoint.ikeSas ?? []) {
      const mr = this.#view.mobileRouters[this.#peers.findIndex((p) => p.name === sa.config.name)];
      const tunnel = sa.children.filter((c) => c.mode === "tunnel" && c.state !== "deleting").at(-1);
      if (sa.state === "established" && mr) out.push({ homeAddress: mr.homeAddress, address: sa.remote.address, ...(tunnel ? { outboundSpi: tunnel.outboundSpi } : {}) });
    }
    return out;
  }

  status(): Record<string, unknown>[] {
    return (this.#session?.endpoint.ikeSas ?? []).map((sa) => ({ ...sa.summary(), state: sa.state, children: sa.children.map((c) => ({ name: c.name, mode: c.mode, state: c.state })) }));
  }

  async stop(): Promise<void> {
    await this.#session?.deleteAll(DELETE_GRACE_MS);
    this.#session?.close();
    this.signalling.clear();
    for (const ring of this.probeKeys.values()) ring.clear();
    for (const p of this.#peers) wipeIkeConfig(p);
  }
}
