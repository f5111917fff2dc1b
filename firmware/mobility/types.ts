// Shared mobility types: branded ids, care-of addresses, what a core asks the runtime to send.

import { parseIpv4, parseIpv6, type Ipv6Text } from "../wire/address.ts";
import type { BindingCareOfAddress } from "../wire/mobility-options.ts";
import type { MobilityMessage } from "../wire/mobility-header.ts";

/** RFC 5648 Binding Identifier: 1..65535, unique per home address (0 is reserved). */
export type BindingId = number & { readonly __brand: "BindingId" };
/** The local uplink a care-of address lives on (board link name or index; opaque to the core). */
export type LinkId = string & { readonly __brand: "LinkId" };

export function bindingId(n: number): BindingId {
  if (!Number.isInteger(n) || n < 1 || n > 0xffff) throw new RangeError(`Binding ID ${n} is not in 1..65535 (RFC 5648 §5.1)`);
  return n as BindingId;
}

export function linkId(name: string): LinkId {
  return name as LinkId;
}

export type CareOfAddress = BindingCareOfAddress;

/**
 * A Mobility Header message to send, with its addressing. The runtime builds the IPv6 packet:
 * a Home Address option when `homeAddressOption` is set, a Type 2 routing header when
 * `routingType2Address` is set; the checksum pseudo-header uses those addresses (RFC 6275 §6.1.1).
 */
export interface MobilityTransmit {
  readonly message: MobilityMessage;
  /** Outer IPv6 source: a care-of address, or the home address when at home. */
  readonly source: Ipv6Text;
  readonly destination: Ipv6Text;
  readonly homeAddressOption?: Ipv6Text;
  readonly routingType2Address?: Ipv6Text;
  /** The binding/uplink the router chose to send from (absent at home and on the home agent). */
  readonly bindingId?: BindingId;
  readonly linkId?: LinkId;
  /**
   * Set when the message travels UDP-encapsulated over IPv4 (RFC 5555 §4.1): the runtime wraps the IPv6
   * packet (a BU: source = home address, no Home Address option; a BA: to the home address, no Type 2
   * routing header) in IPv4/UDP. A BU goes to port 4191 of `destination` (the home agent's IPv4 address)
   * from `source` (the IPv4 CoA); a BA goes back to `destination`:`destinationPort`, where the BU came from.
   */
  readonly ipv4Encapsulation?: { readonly source?: string; readonly destination?: string; readonly destinationPort?: number };
}

/** The pseudo-header addresses of a transmit (RFC 6275 §6.1.1 with RFC 8200 §8.1). */
export function transmitPseudoHeader(t: MobilityTransmit): { source: Uint8Array; destination: Uint8Array } {
  const source = parseIpv6(t.homeAddressOption ?? t.source);
  const destination = parseIpv6(t.routingType2Address ?? t.destination);
  if (!source || !destination) throw new RangeError("transmit: addresses must be IPv6 text");
  return { source, destination };
}

/**
 * Whether a care-of address is a unicast routable address (RFC 5648 §6.2: else MCOA MALFORMED):
 * not unspecified, loopback, multicast or IPv6 link-local; not 0/8, 127/8, 224/4 or broadcast for IPv4.
 */
export function isUnicastRoutable(coa: CareOfAddress): boolean {
  if (coa.family === "ipv6") {
    const b = parseIpv6(coa.address);
    if (!b) return false;
    if (b.every((x) => x === 0)) return false;
    if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return false;
    if (b[0] === 0xff) return false;
    if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return false;
    return true;
  }
  const b = parseIpv4(coa.address);
  if (!b) return false;
  if (b[0] === 0 || b[0] === 127 || b[0]! >= 224) return false;
  return true;
}

/** Canonical text key of a care-of address (for comparisons and maps). */
export function careOfKey(coa: CareOfAddress): string {
  return `${coa.family}/${coa.address}`;
}
