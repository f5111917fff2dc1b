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
// `primaryDrainMs` after a switch, so packets already in flight on it are not lost.

import { later, type Instant } from "../core/instant.ts";
import { bindingTableFromCache, type BindingTableEntry } from "../dataplane/binding-table.ts";
import type { BindingCache, HomeAgentInput } from "../mobility/binding-cache.ts";
import { canonicalIpv6OrThrow } from "../mobility/address-text.ts";
import { linkId, type MobilityTransmit } from "../mobility/types.ts";
import type { MobilityMessage } from "../wire/mobility-header.ts";
import type { SteeringSpec } from "./flow-steering.ts";
import { type HomeAgentMode, type ModeUplink, RouterModeBase, type RouterModeOptions } from "./mode.ts";

export class PrimaryRouter extends RouterModeBase {
  readonly name: string = "primary";
  /** The uplink carrying protected traffic (−1: none yet). */
  protected primary = -1;
  /** A switch under way: the new primary and the Sequence # of the BU that names it. */
  protected pending: { index: number; sequenceNumber?: number } | undefined;
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
    if (wanted < 0 || wanted === this.primary || wanted === this.pending?.index) return;
    this.pending = { index: wanted };
    // Re-registering the BID queues a BU that carries it; routeSignalling sends it from this CoA.
    this.register(this.uplinks[wanted]!, now);
    this.log(`primary: switching to ${this.uplinks[wanted]!.id}`);
  }

  /** Every BU leaves from the primary CoA (the one being switched to, during a switch). */
  override routeSignalling(t: MobilityTransmit): MobilityTransmit {
    const index = this.pending?.index ?? this.primary;
    const u = this.uplinks[index];
    if (u === undefined || t.message.type !== "binding-update" || t.homeAddressOption === undefined) return t;
    const m = t.message;
    if (this.pending !== undefined && m.lifetimeUnits > 0 && m.options.some((o) => o.type === "binding-identifier" && o.bindingId === u.bindingId)) {
      this.pending.sequenceNumber = m.sequenceNumber;
    }
    return { ...t, source: u.careOfAddress, bindingId: u.bindingId, linkId: linkId(u.id) };
  }

  override observeReceived(message: MobilityMessage, now: Instant): void {
    const p = this.pending;
    if (message.type !== "binding-acknowledgement" || p?.sequenceNumber !== message.sequenceNumber) return;
    const u = this.uplinks[p.index]!;
    const perBid = message.options.find((o) => o.type === "binding-identifier" && o.bindingId === u.bindingId);
    const status = perBid?.type === "binding-identifier" && perBid.status !== 0 ? perBid.status : message.status;
    this.pending = undefined;
    if (status >= 128) {
      this.log(`primary: the home agent refused ${u.id} (status ${status})`);
      return;
    }
    const previous = this.primary;
    this.primary = p.index;
    this.switches++;
    this.log(`primary: ${previous < 0 ? "none" : this.uplinks[previous]!.id} → ${u.id}`);
    for (const i of this.#retire) this.bul.removeCareOfAddress(now, this.uplinks[i]!.bindingId);
    this.#retire.clear();
    this.changed();
  }

  protected steering(): SteeringSpec {
    // All protected traffic on the primary; flow rules do not apply (one CoA at a time).
    return { defaultUplink: this.primary, rules: [], bypass: this.config.bypass };
  }

  override status(): Record<string, unknown> {
    return { ...super.status(), primary: this.uplinks[this.primary]?.id ?? null, pending: this.pending ? this.uplinks[this.pending.index]!.id : null, switches: this.switches };
  }
}

interface HomePrimary {
  careOfAddress: string;
  previous?: { careOfAddress: string; until: Instant };
}

export class PrimaryHomeAgent implements HomeAgentMode {
  readonly name: string = "primary";
  readonly learnReturnPaths: boolean = false;
  readonly #drainMs: number;
  readonly #log: (line: string) => void;
  readonly #primary = new Map<string, HomePrimary>();
  /** Registration BUs seen, by home address: Sequence # and outer source. */
  readonly #candidates = new Map<string, { sequenceNumber: number; source: string }>();

  constructor(drainMs: number, log: (line: string) => void) {
    this.#drainMs = drainMs;
    this.#log = log;
  }

  observeBindingUpdate(input: HomeAgentInput, _now: Instant): void {
    const m = input.message;
    if (m.type !== "binding-update" || m.lifetimeUnits === 0 || input.homeAddressOption === undefined) return;
    this.#candidates.set(canonicalIpv6OrThrow(input.homeAddressOption), { sequenceNumber: m.sequenceNumber, source: canonicalIpv6OrThrow(input.source) });
  }

  observeTransmit(t: MobilityTransmit, now: Instant): void {
    const m = t.message;
    if (m.type !== "binding-acknowledgement" || t.routingType2Address === undefined) return;
    const home = canonicalIpv6OrThrow(t.routingType2Address);
    const c = this.#candidates.get(home);
    if (c === undefined || c.sequenceNumber !== m.sequenceNumber) return;
    this.#candidates.delete(home);
    if (m.status >= 128) return;
    const current = this.#primary.get(home);
    if (current?.careOfAddress === c.source) return;
    this.#primary.set(home, { careOfAddress: c.source, ...(current ? { previous: { careOfAddress: current.careOfAddress, until: later(now, this.#drainMs) } } : {}) });
    this.#log(`primary of ${home}: ${current?.careOfAddress ?? "none"} → ${c.source}`);
  }

  table(cache: BindingCache, homeAddresses: readonly string[], now: Instant): BindingTableEntry[] {
    return bindingTableFromCache(cache, homeAddresses).map((e) => {
      const state = this.#primary.get(canonicalIpv6OrThrow(e.homeAddress));
      const registered = e.careOfAddresses;
      const primary = state !== undefined && registered.includes(state.careOfAddress) ? state.careOfAddress : registered[0]!;
      const draining = state?.previous !== undefined && now < state.previous.until && registered.includes(state.previous.careOfAddress) ? [state.previous.careOfAddress] : [];
      const accepted = [primary, ...draining.filter((a) => a !== primary)];
      return { ...e, careOfAddresses: accepted, idleCareOfAddresses: registered.filter((a) => !accepted.includes(a)) };
    });
  }

  pollTimeout(): Instant | undefined {
    let next: Instant | undefined;
    for (const p of this.#primary.values()) if (p.previous && (next === undefined || p.previous.until < next)) next = p.previous.until;
    return next;
  }

  /** Forgets drains that ended. */
  handleTimeout(now: Instant): void {
    for (const p of this.#primary.values()) if (p.previous && now >= p.previous.until) delete p.previous;
  }

  status(): Record<string, unknown> {
    return { mode: this.name, primary: Object.fromEntries([...this.#primary].map(([h, p]) => [h, p.careOfAddress])) };
  }
}
