// The addresses of an upper-layer checksum pseudo-header (RFC 8200 §8.1 for IPv6, RFC 768 for IPv4).

import { ipv4UpperLayerChecksum, ipv6UpperLayerChecksum } from "./checksum.ts";

/**
 * Source and destination as they enter an upper-layer checksum. The address length picks the
 * pseudo-header: 16 bytes for IPv6, 4 for IPv4. For IPv6 these are not always the header's
 * addresses: see `ipv6UpperChecksumAddresses` (Home Address option, Type 2 routing header).
 */
export interface PseudoHeaderAddresses {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
}

export type PseudoHeaderFamily = "ipv6" | "ipv4";

/** The family of a pseudo-header; throws RangeError (a programmer error) for mixed or odd lengths. */
export function pseudoHeaderFamily(addresses: PseudoHeaderAddresses): PseudoHeaderFamily {
  const { source, destination } = addresses;
  if (source.length === 16 && destination.length === 16) return "ipv6";
  if (source.length === 4 && destination.length === 4) return "ipv4";
  throw new RangeError(`pseudo-header: addresses of ${source.length} and ${destination.length} bytes`);
}

/**
 * Checksum of `message` (an upper-layer header plus its data) over the pseudo-header for `protocol`.
 * With the checksum field zeroed it is the value to write; over a received message it is 0 when valid.
 */
export function upperLayerChecksum(addresses: PseudoHeaderAddresses, protocol: number, message: Uint8Array): number {
  return pseudoHeaderFamily(addresses) === "ipv6"
    ? ipv6UpperLayerChecksum(addresses.source, addresses.destination, protocol, message)
    : ipv4UpperLayerChecksum(addresses.source, addresses.destination, protocol, message);
}
