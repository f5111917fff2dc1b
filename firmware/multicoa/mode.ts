// What the roles call: one router-side and one home-agent-side object per MONAMI6 design, and the state they share.

import type { Instant } from "../core/instant.ts";
import type { BindingTableEntry } from "../dataplane/binding-table.ts";
import type { BindingCache, HomeAgentInput } from "../mobility/binding-cache.ts";
import type { BindingUpdateList, MobileRouterEvent } from "../mobility/binding-update-list.ts";
import { bindingId, linkId, type BindingId, type MobilityTransmit } from "../mobility/types.ts";
import type { MobilityMessage } from "../wire/mobility-header.ts";
import type { SteeringSpec } from "./flow-steering.ts";
import type { FlowRuleConfig, MultiCoaConfig } from "./mode-config.ts";

export type { MultiCoaMode } from "../config/schema.ts";

/** One uplink of the router as the designs see it. */
export interface ModeUplink {
  readonly id: string;
  readonly index: number;
  readonly bindingId: BindingId;
  careOfAddress: string;
  readonly kind: "cellular" | "wifi" | "wired";
}

/** What the router's data plane should do; replaces the previous directive as a whole. */
export interface RouterDirective {
  readonly steering: SteeringSpec;
  /** Outer source (care-of address) of each uplink, by index. */
  readonly careOfAddresses: readonly string[];
}

/** A design's request to move the IKE SA (MOBIKE UPDATE_SA_ADDRESSES) to an uplink's address, announcing the others. */
export interface IkeMove {
  readonly uplink: number;
  /** Uplinks whose addresses go in ADDITIONAL_*_ADDRESS (RFC 4555 §3.6). */
  readonly additionalUplinks: readonly number[];
}

/** An established IKE SA at the home agent: whose it is and the peer address it is on now. */
export interface IkePeer {
  readonly homeAddress: string;
  readonly address: string;
  /** Its newest tunnel-mode CHILD_SA's outbound SPI (`per-coa`: the SA towards that address). */
  readonly outboundSpi?: number;
}

/** `per-coa`: an IKE SA of its own to open from, or close on, an uplink's care-of address. */
export interface IkeRequest {
  readonly kind: "open" | "close";
  readonly uplink: number;
}

/**
 * The router side of a design. Inputs: link events (from the link monitor or the control socket),
 * mobility events and received BAs; outputs: BUL commands (made directly on the BUL it was given),
 * BU routing (`routeSignalling`) and data-plane directives (`pollDirective`). Sans-IO.
 */
export interface RouterMode {
  readonly name: string;
  linkUp(id: string, now: Instant): void;
  linkDown(id: string, now: Instant): void;
  /** The link policy prefers this uplink now (the primary in `primary`, the default flow link otherwise). */
  prefer(id: string, now: Instant): void;
  /** The uplink's care-of address changed (new SLAAC or DHCP lease): re-register its BID (RFC 5648 §6.2). */
  addressChanged(id: string, careOfAddress: string, now: Instant): void;
  handleBindingEvent(event: MobileRouterEvent, now: Instant): void;
  /** Whether the uplink's care-of address is registered at the home agent (its BA came back) and usable. */
  isRegistered(id: string): boolean;
  /** The uplink carrying traffic no flow rule claims (undefined: none). */
  readonly defaultUplink: string | undefined;
  /** Every received Mobility message, before the BUL sees it. */
  observeReceived(message: MobilityMessage, now: Instant): void;
  /** Chooses (or keeps) the care-of address a BU leaves from. */
  routeSignalling(transmit: MobilityTransmit): MobilityTransmit;
  pollDirective(): RouterDirective | undefined;
  /** The design moves the IKE SA itself (`pollIkeMove`); otherwise the role moves it with the default uplink. */
  readonly movesIkeSa: boolean;
  pollIkeMove(): IkeMove | undefined;
  pollIkeRequest(): IkeRequest | undefined;
  /** The IKE SA on `uplink`'s address has this tunnel CHILD_SA now (outbound SPI; undefined: none). */
  tunnelKeyed(uplink: number, outboundSpi: number | undefined, now: Instant): void;
  /** The IKE SA is on `uplink`'s address now (the peer answered the update). */
  ikeMoved(uplink: number, now: Instant): void;
  status(): Record<string, unknown>;
}

/** The home agent side: watches BUs and BAs, says what the data plane's binding table holds. */
export interface HomeAgentMode {
  readonly name: string;
  observeBindingUpdate(input: HomeAgentInput, now: Instant): void;
  observeTransmit(transmit: MobilityTransmit, now: Instant): void;
  /** The binding table for the data plane, derived from the cache (and the design's own state). */
  table(cache: BindingCache, homeAddresses: readonly string[], now: Instant): BindingTableEntry[];
  /** Learn each flow's return care-of address from authenticated packets (RFC 5648 §9.3.2 outbound choice). */
  readonly learnReturnPaths: boolean;
  /** All payload goes tunnelled by mobility alone, without IPsec (`auth-option` without ESP); absent: false. */
  readonly clearPayload?: boolean;
  /** The home agent's established IKE SAs (before each `table`); designs that follow the IKE SA's address use it. */
  observeIkePeers?(peers: readonly IkePeer[], now: Instant): void;
  /** When `handleTimeout` is due (then rebuild the table). */
  pollTimeout(): Instant | undefined;
  handleTimeout(now: Instant): void;
  status(): Record<string, unknown>;
}

export interface RouterModeOptions {
  readonly bul: BindingUpdateList;
  readonly uplinks: readonly ModeUplink[];
  readonly config: MultiCoaConfig;
  /** Uplink index preferred at start. */
  readonly preferred: number;
  readonly log: (line: string) => void;
  /**
   * Whether BU/BA run (absent: true). Without them (`ike.signalling: false`: IKEv2 and ESP only, against a plain
   * IKEv2 gateway such as strongSwan) no BA ever comes: a usable uplink counts as registered at once, and nothing
   * goes to the BUL.
   */
  readonly signalling?: boolean;
}

/**
 * State every router-side design keeps: which uplinks are usable (link monitor), which are
 * registered at the home agent (BAs), the link policy's preference order, and the directive.
 */
export abstract class RouterModeBase implements RouterMode {
  abstract readonly name: string;
  protected readonly bul: BindingUpdateList;
  protected readonly uplinks: readonly ModeUplink[];
  protected readonly config: MultiCoaConfig;
  protected readonly log: (line: string) => void;
  /** BU/BA run (RouterModeOptions.signalling). */
  protected readonly signalling: boolean;
  /** Uplinks the link monitor reports usable. */
  protected readonly usable = new Set<number>();
  /** Uplinks whose current care-of address the home agent accepted (BA) and that are usable. */
  protected readonly registered = new Set<number>();
  /** Uplink indexes, most preferred first. */
  protected preference: number[];
  #dirty = true;

  constructor(o: RouterModeOptions) {
    this.bul = o.bul;
    this.uplinks = o.uplinks;
    this.config = o.config;
    this.log = o.log;
    this.signalling = o.signalling ?? true;
    this.preference = [o.preferred, ...o.uplinks.map((u) => u.index).filter((i) => i !== o.preferred)];
  }

  protected byId(id: string): ModeUplink {
    const u = this.uplinks.find((x) => x.id === id);
    if (u === undefined) throw new RangeError(`no uplink '${id}'`);
    return u;
  }

  protected byBinding(id: BindingId): ModeUplink | undefined {
    return this.uplinks.find((u) => u.bindingId === id);
  }

  protected changed(): void {
    this.#dirty = true;
  }

  protected register(u: ModeUplink, now: Instant): void {
    if (!this.signalling) {
      // No BU/BA: the usable uplink is as registered as it will ever be.
      if (this.usable.has(u.index) && !this.registered.has(u.index)) {
        this.registered.add(u.index);
        this.changed();
      }
      return;
    }
    // An IPv4-only uplink's CoA is IPv4 (RFC 5555 / RFC 5648 §8.1): the BUL registers it UDP-encapsulated from that uplink.
    const careOfAddress = isIpv4CareOf(u) ? { family: "ipv4" as const, address: u.careOfAddress } : { family: "ipv6" as const, address: u.careOfAddress };
    this.bul.addCareOfAddress(now, { bindingId: u.bindingId, linkId: linkId(u.id), careOfAddress });
  }

  linkUp(id: string, now: Instant): void {
    const u = this.byId(id);
    if (this.usable.has(u.index)) return;
    this.usable.add(u.index);
    this.onLinkUp(u, now);
    this.changed();
  }

  linkDown(id: string, now: Instant): void {
    const u = this.byId(id);
    if (!this.usable.delete(u.index)) return;
    this.registered.delete(u.index);
    this.onLinkDown(u, now);
    this.changed();
  }

  prefer(id: string, now: Instant): void {
    const u = this.byId(id);
    this.preference = [u.index, ...this.preference.filter((i) => i !== u.index)];
    this.onPreferenceChanged(now);
    this.changed();
  }

  addressChanged(id: string, careOfAddress: string, now: Instant): void {
    const u = this.byId(id);
    if (u.careOfAddress === careOfAddress) return;
    u.careOfAddress = careOfAddress;
    // The old address is gone: nothing leaves from it; the BID is registered again with the new one.
    this.registered.delete(u.index);
    if (this.usable.has(u.index)) this.register(u, now);
    this.changed();
  }

  handleBindingEvent(event: MobileRouterEvent, now: Instant): void {
    switch (event.type) {
      case "binding-registered": {
        const u = this.byBinding(event.bindingId);
        if (u && this.usable.has(u.index) && event.careOfAddress.address === u.careOfAddress && !this.registered.has(u.index)) {
          this.registered.add(u.index);
          this.changed();
        }
        break;
      }
      case "binding-failed":
      case "binding-expired":
      case "binding-deregistered": {
        const u = this.byBinding(event.bindingId);
        if (u && this.registered.delete(u.index)) this.changed();
        break;
      }
      default:
        break;
    }
    this.onBindingEvent(event, now);
  }

  observeReceived(_message: MobilityMessage, _now: Instant): void {}

  isRegistered(id: string): boolean {
    return this.registered.has(this.byId(id).index);
  }

  get defaultUplink(): string | undefined {
    return this.uplinks[this.steering().defaultUplink]?.id;
  }

  routeSignalling(transmit: MobilityTransmit): MobilityTransmit {
    return transmit;
  }

  readonly movesIkeSa: boolean = false;

  pollIkeMove(): IkeMove | undefined {
    return undefined;
  }

  ikeMoved(_uplink: number, _now: Instant): void {}

  pollIkeRequest(): IkeRequest | undefined {
    return undefined;
  }

  tunnelKeyed(_uplink: number, _outboundSpi: number | undefined, _now: Instant): void {}

  pollDirective(): RouterDirective | undefined {
    if (!this.#dirty) return undefined;
    this.#dirty = false;
    return { steering: this.steering(), careOfAddresses: this.uplinks.map((u) => u.careOfAddress) };
  }

  /** The first uplink in preference order that is in `set`, or −1. */
  protected firstPreferred(set: ReadonlySet<number>): number {
    return this.preference.find((i) => set.has(i)) ?? -1;
  }

  /**
   * Flow rules → uplinks among `carrying` (RFC 5648 per-flow choice): the most preferred uplink whose
   * kind the rule allows; a rule no carrying uplink may serve waits on the default.
   */
  protected ruleUplinks(rules: readonly FlowRuleConfig[], carrying: ReadonlySet<number>): number[] {
    return rules.map((r) => this.preference.find((i) => carrying.has(i) && (r.kinds === undefined || r.kinds.includes(this.uplinks[i]!.kind))) ?? -1);
  }

  status(): Record<string, unknown> {
    const names = (s: Iterable<number>) => [...s].map((i) => this.uplinks[i]!.id);
    return { mode: this.name, usable: names(this.usable), registered: names(this.registered), preference: names(this.preference), steering: this.steering() };
  }

  protected abstract steering(): SteeringSpec;
  protected abstract onLinkUp(u: ModeUplink, now: Instant): void;
  protected abstract onLinkDown(u: ModeUplink, now: Instant): void;
  protected onPreferenceChanged(_now: Instant): void {}
  protected onBindingEvent(_event: MobileRouterEvent, _now: Instant): void {}
}

/** Whether an uplink's care-of address is IPv4 (an IPv4-only uplink, RFC 5555). */
export function isIpv4CareOf(u: ModeUplink): boolean {
  return !u.careOfAddress.includes(":");
}

/** The uplinks of a router config as the designs see them. */
export function modeUplinks(uplinks: readonly { id: string; bindingId: number; careOfAddress: string; kind?: "cellular" | "wifi" | "wired" }[]): ModeUplink[] {
  return uplinks.map((u, index) => ({ id: u.id, index, bindingId: bindingId(u.bindingId), careOfAddress: u.careOfAddress, kind: u.kind ?? "cellular" }));
}
