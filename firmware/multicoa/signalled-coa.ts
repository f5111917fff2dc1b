// The care-of address a mobile router names by sending its BUs from it: the outer source of each accepted registration BU.
//
// RFC 5648 has no priority field; monami's routers send every BU from their preferred care-of
// address (the primary in `primary`, the default flow uplink in `simultaneous`), and the home agent
// reads that choice back here: RFC 4877 §4.3 ("after an accepted BU the HA uses the new CoA as the
// tunnel destination") and §7.4 (a BU from a new CoA moves the IKE SA with K=1).

import { later, type Instant } from "../core/instant.ts";
import { canonicalIpv6OrThrow } from "../mobility/address-text.ts";
import type { HomeAgentInput } from "../mobility/binding-cache.ts";
import type { MobilityTransmit } from "../mobility/types.ts";

interface Signalled {
  careOfAddress: string;
  /** The CoA named before, kept for a drain period after a change. */
  previous?: { careOfAddress: string; until: Instant };
}

export class SignalledCareOf {
  readonly #drainMs: number;
  readonly #log: (line: string) => void;
  readonly #current = new Map<string, Signalled>();
  /** The last registration BU of each home address: Sequence # and outer source. */
  readonly #candidates = new Map<string, { sequenceNumber: number; source: string }>();
  changes = 0;
  readonly #udpNames: boolean;

  /**
   * `udpNames`: a UDP-encapsulated BU (RFC 5555 §4.1) names its outer IPv4 source (IPv4-mapped, as the data plane
   * sees it) like an IPv6 BU names its outer source; false: such BUs name nothing (their refreshes leave from the IPv4 CoA).
   */
  constructor(drainMs: number, log: (line: string) => void, udpNames = false) {
    this.#drainMs = drainMs;
    this.#log = log;
    this.#udpNames = udpNames;
  }

  observeBindingUpdate(input: HomeAgentInput): void {
    const m = input.message;
    if (m.type !== "binding-update" || m.lifetimeUnits === 0) return;
    if (input.udpEncapsulation !== undefined && this.#udpNames) {
      this.#candidates.set(canonicalIpv6OrThrow(input.source), { sequenceNumber: m.sequenceNumber, source: `::ffff:${input.udpEncapsulation.address}` });
      return;
    }
    if (input.homeAddressOption === undefined) return;
    this.#candidates.set(canonicalIpv6OrThrow(input.homeAddressOption), { sequenceNumber: m.sequenceNumber, source: canonicalIpv6OrThrow(input.source) });
  }

  /** A BA going out: when it accepts the candidate BU, its outer source becomes the named CoA. */
  observeTransmit(t: MobilityTransmit, now: Instant): void {
    const m = t.message;
    const to = t.routingType2Address ?? (t.ipv4Encapsulation !== undefined ? t.destination : undefined);
    if (m.type !== "binding-acknowledgement" || to === undefined) return;
    const home = canonicalIpv6OrThrow(to);
    const c = this.#candidates.get(home);
    if (c === undefined || c.sequenceNumber !== m.sequenceNumber) return;
    this.#candidates.delete(home);
    if (m.status >= 128) return;
    const current = this.#current.get(home);
    if (current?.careOfAddress === c.source) return;
    this.#current.set(home, { careOfAddress: c.source, ...(current ? { previous: { careOfAddress: current.careOfAddress, until: later(now, this.#drainMs) } } : {}) });
    this.changes++;
    this.#log(`${home}: care-of address ${current?.careOfAddress ?? "none"} → ${c.source}`);
  }

  /** The named CoA of a home address if it is still registered, else the first registered one. */
  named(homeAddress: string, registered: readonly string[]): string | undefined {
    const s = this.#current.get(canonicalIpv6OrThrow(homeAddress));
    return s !== undefined && registered.includes(s.careOfAddress) ? s.careOfAddress : registered[0];
  }

  /** The previously named CoA while its drain period lasts and it is still registered. */
  draining(homeAddress: string, registered: readonly string[], now: Instant): string | undefined {
    const p = this.#current.get(canonicalIpv6OrThrow(homeAddress))?.previous;
    return p !== undefined && now < p.until && registered.includes(p.careOfAddress) ? p.careOfAddress : undefined;
  }

  pollTimeout(): Instant | undefined {
    let next: Instant | undefined;
    for (const s of this.#current.values()) if (s.previous && (next === undefined || s.previous.until < next)) next = s.previous.until;
    return next;
  }

  handleTimeout(now: Instant): void {
    for (const s of this.#current.values()) if (s.previous && now >= s.previous.until) delete s.previous;
  }

  snapshot(): Record<string, string> {
    return Object.fromEntries([...this.#current].map(([h, s]) => [h, s.careOfAddress]));
  }
}
