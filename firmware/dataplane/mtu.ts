// Tunnel MTU arithmetic (RFC 4303 §2, RFC 3948 §2.1, RFC 8200 §5): the largest inner packet one uplink carries unfragmented.

import type { EspSuite } from "../crypto/suites.ts";
import { ESP_HEADER_LEN, ESP_TRAILER_LEN } from "../wire/esp.ts";
import { IPV6_HEADER_LEN, IPV6_MIN_MTU } from "../wire/ipv6.ts";

/** How ESP leaves an uplink: directly over IPv6 or IPv4 (protocol 50), or in UDP to port 4500 (RFC 3948). */
export type OuterEncapsulation = "esp6" | "esp4" | "udp6" | "udp4";

const IPV4_HEADER_LEN = 20;
const UDP_HEADER_LEN = 8;

/** Octets of outer IP (and UDP) header an encapsulation adds before the ESP header. */
export function outerHeaderLength(outer: OuterEncapsulation): number {
  const ip = outer === "esp6" || outer === "udp6" ? IPV6_HEADER_LEN : IPV4_HEADER_LEN;
  return outer === "udp6" || outer === "udp4" ? ip + UDP_HEADER_LEN : ip;
}

/**
 * The largest inner packet whose ESP packet fits in `linkMtu`: link MTU minus outer header, ESP header,
 * IV and ICV, then the encrypted text (inner ‖ padding ‖ Pad Length ‖ Next Header) rounded down to the
 * suite's alignment, minus the 2-octet trailer (RFC 4303 §2.4). Padding fills the rest.
 */
export function innerMtu(linkMtu: number, suite: EspSuite, outer: OuterEncapsulation): number {
  const room = linkMtu - outerHeaderLength(outer) - ESP_HEADER_LEN - suite.ivLength - suite.icvLength;
  const alignment = suite.alignment;
  return Math.floor(room / alignment) * alignment - ESP_TRAILER_LEN;
}

/** The ESP packet length (from the SPI to the end of the ICV) for an inner packet of `innerLength` octets. */
export function espPacketLength(innerLength: number, suite: EspSuite): number {
  const text = innerLength + ESP_TRAILER_LEN;
  const padded = Math.ceil(text / suite.alignment) * suite.alignment;
  return ESP_HEADER_LEN + suite.ivLength + padded + suite.icvLength;
}

/**
 * The MTU of the tunnel interface: the largest inner MTU over the usable uplinks (packets too big for
 * the uplink a flow is on get a Packet Too Big with that uplink's inner MTU). Never below the IPv6
 * minimum (RFC 8200 §5): an uplink that cannot carry 1280 inner octets unfragmented is unusable
 * for IPv6 without fragmentation, which monami never does to ESP (returns undefined then).
 */
export function tunnelInterfaceMtu(innerMtus: readonly number[]): number | undefined {
  const usable = innerMtus.filter((m) => m >= IPV6_MIN_MTU);
  return usable.length === 0 ? undefined : Math.max(...usable);
}
