// `per-coa` (the MONAMI6 slides' "one SA per CoA"): one IKE SA and one tunnel-mode CHILD_SA pair per care-of address, unmodified IPsec semantics.
//
// Router: each usable uplink's CoA is registered under its BID (RFC 5648) and gets an IKE SA of its own,
// initiated from that CoA, with one tunnel-mode CHILD_SA (the first IKE SA also carries the BU/BA
// transport SA, RFC 4877 §4.3). An uplink carries traffic once it is registered *and* keyed; a flow's
// packets leave with the SA of the uplink carrying it (`outboundSpiByUplink`). A lost uplink stops
// carrying at once (it leaves `registered`) but keeps its IKE SA, so a flap or a false silence costs no
// new IKE exchange; a CoA that stays dead loses it by liveness checks (RFC 7296 §2.4). Home agent: one SA set per CoA; towards a CoA it sends with that CoA's SA (the SA's tunnel
// endpoint is the CoA: RFC 4301 semantics, nothing relaxed), the CoA chosen per flow as in
// `simultaneous` (the CoA the flow last came from while it stays registered, else the router's preferred
// one). The cost is an IKE exchange set and SA state per CoA: bench:modes measures it. An IPv4 CoA behind a
// NAT (RFC 5555) keys its IKE SA with the home agent's IPv4 address (NAT-T, ESP in UDP); the home agent finds
// that SA at the binding's observed address and keeps it for the CoA across a NAT rebinding.

import type { Instant } from "../core/instant.ts";
import { type BindingTableEntry, dataPlaneAddress } from "../dataplane/binding-table.ts";
import type { BindingCache } from "../mobility/binding-cache.ts";
import { formatIpv6, parseIpv6 } from "../wire/address.ts";
import type { SteeringSpec } from "./flow-steering.ts";
import type { IkePeer, IkeRequest, ModeUplink } from "./mode.ts";
import { SimultaneousHomeAgent, SimultaneousRouter } from "./simultaneous.ts";

export class PerCoaRouter extends SimultaneousRouter {
  override readonly name: string = "per-coa";
  /** The IKE SAs never move: each stays on its CoA. */
  override readonly movesIkeSa = true;
  /** Outbound SPI of each uplink's own tunnel SA (undefined: not keyed yet). */
  readonly #spis = new Map<number, number>();
  readonly #requests: IkeRequest[] = [];

  protected override onLinkUp(u: ModeUplink, now: Instant): void {
    super.onLinkUp(u, now);
    this.#requests.push({ kind: "open", uplink: u.index });
  }


  override pollIkeRequest(): IkeRequest | undefined {
    return this.#requests.shift();
  }

  override tunnelKeyed(uplink: number, outboundSpi: number | undefined, _now: Instant): void {
    if (this.#spis.get(uplink) === outboundSpi) return;
    if (outboundSpi === undefined) this.#spis.delete(uplink);
    else this.#spis.set(uplink, outboundSpi);
    this.log(`per-coa: ${this.uplinks[uplink]?.id ?? uplink} ${outboundSpi === undefined ? "has no SA" : `SA ${outboundSpi.toString(16).padStart(8, "0")}`}`);
    this.changed();
  }

  /** Registered and keyed uplinks; before the first BA, the usable keyed ones. */
  protected override carrying(): ReadonlySet<number> {
    const keyed = (s: ReadonlySet<number>) => new Set([...s].filter((i) => this.#spis.has(i)));
    const registered = keyed(this.registered);
    return registered.size > 0 ? registered : keyed(this.usable);
  }

  protected override steering(): SteeringSpec {
    // An uplink without its own SA carries nothing (carrying()); its entry is never used.
    return { ...super.steering(), outboundSpiByUplink: this.uplinks.map((u) => this.#spis.get(u.index) ?? 0) };
  }

  override status(): Record<string, unknown> {
    return { ...super.status(), keyed: [...this.#spis.keys()].map((i) => this.uplinks[i]!.id) };
  }
}

export class PerCoaHomeAgent extends SimultaneousHomeAgent {
  override readonly name: string = "per-coa";
  /** Home address → care-of address (as the data plane sees it) → outbound SPI of the SA whose IKE SA is on that address. */
  readonly #sas = new Map<string, Map<string, number>>();
  /** Home address → claimed IPv4 care-of address → the SPI of its IKE SA's tunnel SA, found at the NAT's observed address. */
  readonly #ipv4Sas = new Map<string, Map<string, number>>();

  observeIkePeers(peers: readonly IkePeer[], _now: Instant): void {
    this.#sas.clear();
    for (const p of peers) {
      if (p.outboundSpi === undefined) continue;
      const home = canonical(p.homeAddress);
      const byCareOf = this.#sas.get(home) ?? new Map<string, number>();
      byCareOf.set(outerAddress(p.address), p.outboundSpi);
      this.#sas.set(home, byCareOf);
    }
  }

  /** Keyed CoAs first (the router's preferred one leading), each with its own SA's SPI. */
  override table(cache: BindingCache, homeAddresses: readonly string[], now: Instant): BindingTableEntry[] {
    return super.table(cache, homeAddresses, now).map((e) => {
      const sas = this.#ipv4Follow(cache, e.homeAddress);
      const ordered = [...e.careOfAddresses.filter((a) => sas?.has(a)), ...e.careOfAddresses.filter((a) => !sas?.has(a))];
      return { ...e, careOfAddresses: ordered, outboundSpis: ordered.map((a) => sas?.get(a) ?? 0) };
    });
  }

  /**
   * An IPv4 care-of address's IKE SA (RFC 5555, behind a NAT) is the one at its binding's observed address. When the
   * NAT rebinds, the BU from the new mapping moves the binding before IKE hears from there (RFC 7296 §2.23: the IKE SA
   * follows the next authenticated request): the claimed CoA keeps its SA while that SA is still held.
   */
  #ipv4Follow(cache: BindingCache, homeAddress: string): ReadonlyMap<string, number> {
    const home = canonical(homeAddress);
    const sas = new Map(this.#sas.get(home));
    const held = new Set(sas.values());
    const known = this.#ipv4Sas.get(home) ?? new Map<string, number>();
    for (const b of cache.bindingsOf(homeAddress)) {
      if (b.homeBinding || b.careOfAddress.family !== "ipv4") continue;
      const at = dataPlaneAddress(b);
      const before = known.get(b.careOfAddress.address);
      const spi = sas.get(at) ?? (before !== undefined && held.has(before) ? before : undefined);
      if (spi === undefined) continue;
      sas.set(at, spi);
      known.set(b.careOfAddress.address, spi);
    }
    this.#ipv4Sas.set(home, known);
    return sas;
  }

  override status(): Record<string, unknown> {
    const sas = Object.fromEntries([...this.#sas].map(([home, m]) => [home, Object.fromEntries([...m].map(([a, spi]) => [a, spi.toString(16).padStart(8, "0")]))]));
    return { ...super.status(), mode: this.name, sas, outerDestination: "per flow; each CoA with its own SA" };
  }
}

/** An IKE peer's address as the data plane's binding table writes it: IPv4 (a NAT's public address) IPv4-mapped. */
function outerAddress(address: string): string {
  return address.includes(":") ? canonical(address) : `::ffff:${address}`;
}

function canonical(address: string): string {
  const bytes = parseIpv6(address);
  return bytes ? formatIpv6(bytes) : address;
}
