// `primary` (the MONAMI6 slides' first solution; RFC 4877 §4.3, §7.4 with RFC 5648 §9.1): one care-of address carries all protected traffic.
//
// How the primary is signalled, within RFC 5648 (no priority field there): every BU of this router
// leaves from the primary care-of address, and the home agent takes the outer source of each accepted
// registration BU (a registered CoA of that home address) as the primary: RFC 4877 §4.3's "after an
// accepted BU the HA uses the new CoA as the tunnel destination, and expects it as the outer source",
// which is also when RFC 4877 §7.4 moves the IKE SA (K bit). Switching = re-registering the new
// primary's BID in a BU sent from it (K=1 with IKEv2; K=0 with manual keys, RFC 6275 §6.1.7); the
// router moves its traffic when that BU's BA arrives (RFC 4877 §7.4 "or receives the BA"), the home
// agent when it accepts the BU. Other CoAs stay registered and carry nothing protected: the home agent
// refuses ESP from them (`dataplane.drop.not-primary-care-of`), except from the previous primary for
// `primaryDrainMs` after a switch, so packets already in flight on it are not lost. An IPv4 primary (RFC 5555)
// sends every BU UDP-encapsulated from itself, those of IPv6 CoAs too, so refreshes never name another CoA.

import type { Instant } from "../core/instant.ts";
import { bindingTableFromCache, type BindingTableEntry } from "../dataplane/binding-table.ts";
import type { BindingCache, HomeAgentInput } from "../mobility/binding-cache.ts";
import type { MobileRouterEvent } from "../mobility/binding-update-list.ts";
import { linkId, type MobilityTransmit } from "../mobility/types.ts";
import type { MobilityMessage } from "../wire/mobility-header.ts";
import type { MobilityOption } from "../wire/mobility-options.ts";
import type { SteeringSpec } from "./flow-steering.ts";
import { type HomeAgentMode, isIpv4CareOf, type ModeUplink, RouterModeBase, type RouterModeOptions } from "./mode.ts";
import { SignalledCareOf } from "./signalled-coa.ts";

export class PrimaryRouter extends RouterModeBase {
  readonly name: string = "primary";
  /** The uplink carrying protected traffic (−1: none yet): the one the home agent last accepted a registration BU from. */
  protected primary = -1;
  /** A switch under way: the uplink that should become primary. */
  protected pending: { index: number } | undefined;
  /** Registration BUs in flight: Sequence # → the uplink they left from. */
  readonly #sentFrom = new Map<number, number>();
  /** Dead uplinks to de-register once the switch away from them is done (so the switch BU goes first). */
  readonly #retire = new Set<number>();
  switches = 0;

  constructor(o: RouterModeOptions) {
    super(o);
  }

  protected onLinkUp(u: ModeUplink, now: Instant): void {
    this.#retire.delete(u.index);
    this.register(u, now);
    this.#choose(now);
  }

  protected onLinkDown(u: ModeUplink, now: Instant): void {
    const carrying = u.index === this.primary || u.index === this.pending?.index;
    if (carrying) this.#retire.add(u.index);
    else this.bul.removeCareOfAddress(now, u.bindingId);
    if (this.pending?.index === u.index) this.pending = undefined;
    this.#choose(now);
  }

  protected override onPreferenceChanged(now: Instant): void {
    this.#choose(now);
  }

  /** Starts a switch when the most preferred usable uplink is not the primary. */
  #choose(now: Instant): void {
    const wanted = this.firstPreferred(this.usable);
    if (wanted >= 0 && wanted === this.primary && this.pending !== undefined) {
      // The primary is wanted again before the switch away from it completed (a link disabled and re-enabled):
      // the switch is called off; BUs leave from the primary again, so the home agent keeps it.
      this.log(`primary: switch to ${this.uplinks[this.pending.index]!.id} called off, ${this.uplinks[wanted]!.id} stays`);
      this.pending = undefined;
      return;
    }
    if (wanted < 0 || wanted === this.primary || wanted === this.pending?.index) return;
    this.pending = { index: wanted };
    // Re-registering the BID queues a BU; routeSignalling sends it from this CoA.
    this.register(this.uplinks[wanted]!, now);
    this.log(`primary: switching to ${this.uplinks[wanted]!.id}`);
  }

  /** Every BU leaves from the primary CoA (the one being switched to, during a switch). */
  override routeSignalling(t: MobilityTransmit): MobilityTransmit {
    const index = this.pending?.index ?? this.primary;
    const u = this.uplinks[index];
    if (u === undefined || t.message.type !== "binding-update") return t;
    if (t.ipv4Encapsulation !== undefined) return this.#routeIpv4(t, u, index);
    if (t.homeAddressOption === undefined) return t;
    if (isIpv4CareOf(u)) return this.#viaIpv4Primary(t, u, index);
    if (t.message.lifetimeUnits > 0) {
      this.#sentFrom.set(t.message.sequenceNumber, index);
      if (this.#sentFrom.size > 16) this.#sentFrom.delete(this.#sentFrom.keys().next().value!);
    }
    return { ...t, source: u.careOfAddress, bindingId: u.bindingId, linkId: linkId(u.id) };
  }

  /**
   * A UDP-encapsulated BU of an IPv4 CoA (RFC 5555 §4.1). From the primary (or the one switched to) it leaves as is and
   * names that CoA at the home agent like any BU; from another CoA it would name it too, so it goes from the (IPv6)
   * primary instead, with a Home Address option: the home agent keeps the NAT mapping it observed before.
   */
  #routeIpv4(t: MobilityTransmit, u: ModeUplink, index: number): MobilityTransmit {
    const from = this.uplinks.find((x) => x.id === t.linkId);
    if (from?.index === index || isIpv4CareOf(u)) {
      if (t.message.type === "binding-update" && t.message.lifetimeUnits > 0 && from !== undefined) this.#remember(t.message.sequenceNumber, from.index);
      return t;
    }
    const { ipv4Encapsulation: _, ...rest } = t;
    if (t.message.type === "binding-update" && t.message.lifetimeUnits > 0) this.#remember(t.message.sequenceNumber, index);
    return { ...rest, source: u.careOfAddress, homeAddressOption: t.source, bindingId: u.bindingId, linkId: linkId(u.id) };
  }

  /**
   * An IPv6 CoA's BU while an IPv4 CoA is the primary: it leaves UDP-encapsulated from the primary (RFC 5555 §4.1:
   * the home address as IPv6 source, no Home Address option, the IPv4 CoA option of the address it leaves from),
   * so the home agent reads the primary from it, never the IPv6 CoA it registers or refreshes.
   */
  #viaIpv4Primary(t: MobilityTransmit, u: ModeUplink, index: number): MobilityTransmit {
    const m = t.message;
    if (m.type !== "binding-update" || t.homeAddressOption === undefined) return t;
    const { homeAddressOption, ...rest } = t;
    const options: MobilityOption[] = m.options.some((o) => o.type === "ipv4-care-of-address") ? [...m.options] : [...m.options, { type: "ipv4-care-of-address", careOfAddress: u.careOfAddress }];
    if (m.lifetimeUnits > 0) this.#remember(m.sequenceNumber, index);
    return { ...rest, message: { ...m, options }, source: homeAddressOption, bindingId: u.bindingId, linkId: linkId(u.id), ipv4Encapsulation: { source: u.careOfAddress } };
  }

  #remember(sequenceNumber: number, index: number): void {
    this.#sentFrom.set(sequenceNumber, index);
    if (this.#sentFrom.size > 16) this.#sentFrom.delete(this.#sentFrom.keys().next().value!);
  }

  /** An accepted registration BU made its source the primary at the home agent: mirror that (RFC 4877 §7.4 "receives the BA"). */
  override observeReceived(message: MobilityMessage, now: Instant): void {
    if (message.type !== "binding-acknowledgement") return;
    const index = this.#sentFrom.get(message.sequenceNumber);
    this.#sentFrom.delete(message.sequenceNumber);
    if (index === undefined || message.status >= 128) return;
    if (this.pending?.index === index) this.pending = undefined;
    if (index === this.primary) return;
    const previous = this.primary;
    this.primary = index;
    this.switches++;
    this.log(`primary: ${previous < 0 ? "none" : this.uplinks[previous]!.id} → ${this.uplinks[index]!.id}`);
    for (const i of this.#retire) if (i !== index) this.bul.removeCareOfAddress(now, this.uplinks[i]!.bindingId);
    this.#retire.clear();
    this.changed();
    // A BA for a switch already called off (its BU was in flight) still made it the primary at the home agent:
    // go back towards the preferred uplink.
    this.#choose(now);
  }

  /** After the BUL took a BA: a switch still wanted and no BU queued for it (the BA cleared it) gets one. */
  protected override onBindingEvent(_event: MobileRouterEvent, now: Instant): void {
    if (this.pending !== undefined && !this.bul.updatePending) this.register(this.uplinks[this.pending.index]!, now);
  }

  protected steering(): SteeringSpec {
    // All protected traffic on the primary; flow rules do not apply (one CoA at a time).
    return { defaultUplink: this.primary, rules: [], bypass: this.config.bypass };
  }

  override status(): Record<string, unknown> {
    return { ...super.status(), primary: this.uplinks[this.primary]?.id ?? null, pending: this.pending ? this.uplinks[this.pending.index]!.id : null, switches: this.switches };
  }
}

export class PrimaryHomeAgent implements HomeAgentMode {
  readonly name: string = "primary";
  readonly learnReturnPaths: boolean = false;
  readonly #signalled: SignalledCareOf;

  constructor(drainMs: number, log: (line: string) => void) {
    // UDP-encapsulated BUs name their (observed) IPv4 CoA too: a `primary` router sends them only from its primary.
    this.#signalled = new SignalledCareOf(drainMs, (line) => log(`primary: ${line}`), true);
  }

  observeBindingUpdate(input: HomeAgentInput, _now: Instant): void {
    this.#signalled.observeBindingUpdate(input);
  }

  observeTransmit(t: MobilityTransmit, now: Instant): void {
    this.#signalled.observeTransmit(t, now);
  }

  /** Only the primary (and the previous one while it drains) may source ESP; the other registered CoAs are idle. */
  table(cache: BindingCache, homeAddresses: readonly string[], now: Instant): BindingTableEntry[] {
    return bindingTableFromCache(cache, homeAddresses).map((e) => {
      const registered = e.careOfAddresses;
      const primary = this.#signalled.named(e.homeAddress, registered)!;
      const draining = this.#signalled.draining(e.homeAddress, registered, now);
      const accepted = draining === undefined || draining === primary ? [primary] : [primary, draining];
      return { ...e, careOfAddresses: accepted, idleCareOfAddresses: registered.filter((a) => !accepted.includes(a)) };
    });
  }

  pollTimeout(): Instant | undefined {
    return this.#signalled.pollTimeout();
  }

  handleTimeout(now: Instant): void {
    this.#signalled.handleTimeout(now);
  }

  status(): Record<string, unknown> {
    return { mode: this.name, primary: this.#signalled.snapshot(), switches: this.#signalled.changes };
  }
}
