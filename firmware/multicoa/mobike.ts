// `mobike` (the MONAMI6 slides' MOBIKE option, RFC 4555): one IKE SA, one care-of address in use at a time, moved by UPDATE_SA_ADDRESSES.
//
// Router: every usable uplink's CoA is registered under its BID (RFC 5648, K=0: mobility never moves the
// IKE SA in this design; without BU/BA, `ike.signalling: false`, every usable uplink counts as registered);
// the IKE SA and its CHILD_SAs sit on one CoA, the one in use, which carries all protected traffic. The other usable CoAs are announced in each UPDATE_SA_ADDRESSES as
// ADDITIONAL_IP6_ADDRESS / ADDITIONAL_IP4_ADDRESS (RFC 4555 §3.6). A better uplink (make-before-break):
// the update leaves from it and traffic moves when its response, with the COOKIE2 echo, proves the path
// (§3.5, §3.8); a lost in-use uplink: traffic moves at once to the next registered one, behind the update.
// Home agent: the address in use is the IKE SA's peer address after the last authenticated update (§3.5);
// only that CoA may source ESP (the previous one for `primaryDrainMs`, packets in flight), the other
// registered CoAs are idle; it is also the tunnel's outer destination.

import { earliest, type Instant } from "../core/instant.ts";
import { bindingTableFromCache, type BindingTableEntry } from "../dataplane/binding-table.ts";
import type { BindingCache, HomeAgentInput } from "../mobility/binding-cache.ts";
import type { MobileRouterEvent } from "../mobility/binding-update-list.ts";
import { linkId, type MobilityTransmit } from "../mobility/types.ts";
import { formatIpv6, parseIpv4, parseIpv6 } from "../wire/address.ts";
import type { SteeringSpec } from "./flow-steering.ts";
import { type HomeAgentMode, type IkeMove, type IkePeer, type ModeUplink, RouterModeBase, type RouterModeOptions, isIpv4CareOf } from "./mode.ts";

export class MobikeRouter extends RouterModeBase {
  readonly name: string = "mobike";
  override readonly movesIkeSa = true;
  /** The uplink whose CoA the IKE SA (and all protected traffic) is on. */
  #inUse: number;
  /** An UPDATE_SA_ADDRESSES towards this uplink is under way. */
  #moving = -1;
  readonly #moves: IkeMove[] = [];
  switches = 0;

  constructor(o: RouterModeOptions) {
    super(o);
    // The IKE SA is initiated from the preferred uplink at start.
    this.#inUse = o.preferred;
  }

  protected onLinkUp(u: ModeUplink, now: Instant): void {
    this.register(u, now);
    // Without BU/BA the uplink is registered now (mode.ts): a more preferred one takes the IKE SA at once.
    this.#choose();
  }

  protected onLinkDown(u: ModeUplink, now: Instant): void {
    this.bul.removeCareOfAddress(now, u.bindingId);
    if (this.#moving === u.index) this.#moving = -1;
    if (u.index === this.#inUse) {
      // Break: nothing more can be lost by moving at once; the update goes first on the new path.
      const next = this.firstPreferred(this.registered.size > 0 ? this.registered : this.usable);
      if (next >= 0) this.#move(next, true);
    }
  }

  /** The CoA in use was renumbered: the IKE SA follows to the new address (its BU goes out at the same time). */
  override addressChanged(id: string, careOfAddress: string, now: Instant): void {
    super.addressChanged(id, careOfAddress, now);
    const u = this.byId(id);
    if (u.index === this.#inUse && this.usable.has(u.index)) this.#move(u.index, false);
  }

  protected override onPreferenceChanged(_now: Instant): void {
    this.#choose();
  }

  protected override onBindingEvent(_event: MobileRouterEvent, _now: Instant): void {
    this.#choose();
  }

  /** Make-before-break: a more preferred registered CoA gets the IKE SA; traffic follows its confirmation. */
  #choose(): void {
    const wanted = this.firstPreferred(this.registered);
    if (wanted < 0 || wanted === this.#inUse || wanted === this.#moving) return;
    // While the CoA in use works, only a more preferred one takes over (the IKE SA never moves down).
    const working = this.usable.has(this.#inUse);
    if (working && this.preference.indexOf(wanted) > this.preference.indexOf(this.#inUse)) return;
    this.#move(wanted, !working);
  }

  #move(index: number, now: boolean): void {
    this.#moving = index;
    const additional = [...this.usable].filter((i) => i !== index);
    this.#moves.push({ uplink: index, additionalUplinks: additional });
    this.log(`${this.name}: UPDATE_SA_ADDRESSES from ${this.uplinks[index]!.id}${now ? " (traffic moves now)" : ""}`);
    if (now) this.#use(index);
  }

  #use(index: number): void {
    if (index === this.#inUse) return;
    this.log(`${this.name}: in use ${this.uplinks[this.#inUse]?.id ?? "none"} → ${this.uplinks[index]!.id}`);
    this.#inUse = index;
    this.switches++;
    this.changed();
  }

  override pollIkeMove(): IkeMove | undefined {
    return this.#moves.shift();
  }

  /** The peer answered an update (COOKIE2 echoed): the IKE SA is now on `uplink`. */
  override ikeMoved(uplink: number, _now: Instant): void {
    if (this.#moving === uplink) this.#moving = -1;
    this.#use(uplink);
    this.#choose();
  }

  /** BUs leave from the CoA in use while it is usable (else the BUL's choice, another registered CoA). */
  override routeSignalling(t: MobilityTransmit): MobilityTransmit {
    const u = this.uplinks[this.#inUse];
    if (u === undefined || !this.usable.has(u.index) || t.message.type !== "binding-update" || t.homeAddressOption === undefined) return t;
    // An IPv4 care-of address in use carries no IPv6 BU with a Home Address option (RFC 5555 §4.1): the BUL's IPv6 source stands.
    if (isIpv4CareOf(u)) return t;
    return { ...t, source: u.careOfAddress, bindingId: u.bindingId, linkId: linkId(u.id) };
  }

  protected steering(): SteeringSpec {
    // One address in use at a time: flow rules do not apply.
    return { defaultUplink: this.#inUse, rules: [], bypass: this.config.bypass };
  }

  override status(): Record<string, unknown> {
    return { ...super.status(), inUse: this.uplinks[this.#inUse]?.id ?? null, moving: this.uplinks[this.#moving]?.id ?? null, switches: this.switches };
  }
}

export class MobikeHomeAgent implements HomeAgentMode {
  readonly name: string = "mobike";
  readonly learnReturnPaths: boolean = false;
  readonly #drainMs: number;
  readonly #log: (line: string) => void;
  /** Home address → the IKE SA's peer address (the CoA in use). */
  readonly #inUse = new Map<string, string>();
  /** Home address → the previous CoA in use and until when it stays accepted. */
  readonly #draining = new Map<string, { address: string; until: Instant }>();
  changes = 0;

  constructor(drainMs: number, log: (line: string) => void) {
    this.#drainMs = drainMs;
    this.#log = log;
  }

  observeBindingUpdate(_input: HomeAgentInput, _now: Instant): void {}

  observeTransmit(_t: MobilityTransmit, _now: Instant): void {}

  /** The established IKE SAs' peer addresses (RFC 4555 §3.5: where the last authenticated update came from). */
  observeIkePeers(peers: readonly IkePeer[], now: Instant): void {
    for (const p of peers) {
      const home = canonical(p.homeAddress);
      const address = canonical(p.address);
      const previous = this.#inUse.get(home);
      if (previous === address) continue;
      this.#inUse.set(home, address);
      if (previous !== undefined) {
        this.#draining.set(home, { address: previous, until: (now + this.#drainMs) as Instant });
        this.changes++;
        this.#log(`mobike: ${home} in use ${previous} → ${address}`);
      }
    }
  }

  table(cache: BindingCache, homeAddresses: readonly string[], now: Instant): BindingTableEntry[] {
    return bindingTableFromCache(cache, homeAddresses).map((e) => {
      const registered = e.careOfAddresses;
      const home = canonical(e.homeAddress);
      const ike = this.#inUse.get(home);
      const inUse = ike !== undefined && registered.includes(ike) ? ike : registered[0]!;
      const d = this.#draining.get(home);
      const accepted = d !== undefined && d.until > now && d.address !== inUse && registered.includes(d.address) ? [inUse, d.address] : [inUse];
      return { ...e, careOfAddresses: accepted, idleCareOfAddresses: registered.filter((a) => !accepted.includes(a)) };
    });
  }

  pollTimeout(): Instant | undefined {
    let at: Instant | undefined;
    for (const d of this.#draining.values()) at = earliest(at, d.until);
    return at;
  }

  handleTimeout(now: Instant): void {
    for (const [home, d] of this.#draining) if (d.until <= now) this.#draining.delete(home);
  }

  status(): Record<string, unknown> {
    return { mode: this.name, inUse: Object.fromEntries(this.#inUse), changes: this.changes, outerSourceCheck: "the IKE SA's address (MOBIKE)" };
  }
}

/** RFC 5952 text; an IPv4 peer (an IKE SA behind a NAT44, RFC 5555) as the binding table writes it: IPv4-mapped. */
function canonical(address: string): string {
  const bytes = parseIpv6(address) ?? (parseIpv4(address) ? parseIpv6(`::ffff:${address}`) : undefined);
  return bytes ? formatIpv6(bytes) : address;
}
