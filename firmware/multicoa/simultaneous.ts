// `simultaneous` (RFC 5648 §9.3, the default): every registered care-of address carries traffic at once over one SA set.
//
// Router: each usable uplink's CoA is registered under its BID; a flow goes to the uplink its flow rule
// picks among the registered ones (else the preferred one); traffic moves to a new CoA only after its BA
// (make-before-break), and leaves a lost uplink at once while a de-registration BU goes out over another.
// Home agent: ESP is opened without looking at the outer source (§9.3.2: irrelevant to IPsec), then the
// outer source must be a registered CoA of the inner source's owner (the binding table); towards the
// router mobility picks the outer destination per flow: the CoA the flow last arrived from while that
// CoA stays registered, else the binding cache's choice (§9.3.2: "implementation specific").
// One SA spread over paths of different delay reorders sequence numbers: the tunnel SAs use ESN and
// a replay window sized from the measured reordering depth (docs/modes.md).

import type { Instant } from "../core/instant.ts";
import { bindingTableFromCache, type BindingTableEntry } from "../dataplane/binding-table.ts";
import type { BindingCache, HomeAgentInput } from "../mobility/binding-cache.ts";
import type { MobileRouterEvent } from "../mobility/binding-update-list.ts";
import { linkId, type MobilityTransmit } from "../mobility/types.ts";
import type { SteeringSpec } from "./flow-steering.ts";
import { type HomeAgentMode, isIpv4CareOf, type ModeUplink, RouterModeBase } from "./mode.ts";
import { SignalledCareOf } from "./signalled-coa.ts";

export class SimultaneousRouter extends RouterModeBase {
  readonly name: string = "simultaneous";
  /** The uplink whose CoA the home agent was last told is preferred (BUs leave from it). */
  #announced = -1;

  protected onLinkUp(u: ModeUplink, now: Instant): void {
    this.register(u, now);
  }

  protected onLinkDown(u: ModeUplink, now: Instant): void {
    this.bul.removeCareOfAddress(now, u.bindingId);
    if (this.#announced === u.index) this.#announced = -1;
    this.#announce(now);
  }

  protected override onPreferenceChanged(now: Instant): void {
    this.#announce(now);
  }

  protected override onBindingEvent(_event: MobileRouterEvent, now: Instant): void {
    this.#announce(now);
  }

  /**
   * When the default uplink changed, its BID is registered again from its own CoA: the home agent then
   * sends flows it has no return path for there (signalled-coa.ts).
   */
  #announce(now: Instant): void {
    const preferred = this.firstPreferred(this.registered);
    if (preferred < 0 || preferred === this.#announced) return;
    this.#announced = preferred;
    this.register(this.uplinks[preferred]!, now);
  }

  /** BUs leave from the announced (default) uplink while it is registered; else the BUL's choice stands. */
  override routeSignalling(t: MobilityTransmit): MobilityTransmit {
    const u = this.uplinks[this.#announced];
    if (u === undefined || !this.registered.has(u.index) || t.message.type !== "binding-update" || t.homeAddressOption === undefined) return t;
    // An IPv4 CoA carries no IPv6 BU with a Home Address option (RFC 5555 §4.1): the BUL's IPv6 source stands.
    if (isIpv4CareOf(u)) return t;
    return { ...t, source: u.careOfAddress, bindingId: u.bindingId, linkId: linkId(u.id) };
  }

  /** The uplinks that may carry traffic: the registered ones; before the first BA, the usable ones. */
  protected carrying(): ReadonlySet<number> {
    return this.registered.size > 0 ? this.registered : this.usable;
  }

  protected steering(): SteeringSpec {
    const carrying = this.carrying();
    const uplinks = this.ruleUplinks(this.config.flowRules, carrying);
    return {
      defaultUplink: this.firstPreferred(carrying),
      rules: this.config.flowRules.map((r, i) => ({ match: r.match, uplink: uplinks[i]! })),
      bypass: this.config.bypass,
    };
  }
}

export class SimultaneousHomeAgent implements HomeAgentMode {
  readonly name: string = "simultaneous";
  readonly learnReturnPaths: boolean = true;
  readonly #signalled: SignalledCareOf;

  constructor(log: (line: string) => void) {
    this.#signalled = new SignalledCareOf(0, (line) => log(`preferred: ${line}`));
  }

  observeBindingUpdate(input: HomeAgentInput, _now: Instant): void {
    this.#signalled.observeBindingUpdate(input);
  }

  observeTransmit(t: MobilityTransmit, now: Instant): void {
    this.#signalled.observeTransmit(t, now);
  }

  /** Every registered CoA may source ESP; the router's preferred one comes first (flows without a return path). */
  table(cache: BindingCache, homeAddresses: readonly string[], _now: Instant): BindingTableEntry[] {
    return bindingTableFromCache(cache, homeAddresses).map((e) => {
      const first = this.#signalled.named(e.homeAddress, e.careOfAddresses)!;
      return { ...e, careOfAddresses: [first, ...e.careOfAddresses.filter((a) => a !== first)] };
    });
  }

  pollTimeout(): Instant | undefined {
    return undefined;
  }

  handleTimeout(_now: Instant): void {}

  status(): Record<string, unknown> {
    return { mode: this.name, preferred: this.#signalled.snapshot(), outerSourceCheck: "any registered CoA (binding cache)", returnPath: "per flow, learned" };
  }
}
