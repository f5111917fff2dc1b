// Outbound SPD lookup on raw packet bytes (RFC 4301 §5.1): address-only policies match without parsing; others take the slow path.

import type { SecurityPolicy, SecurityPolicyDatabase } from "../ipsec/spd.ts";
import { packetSelectorOf, prefixMatchesAt, selectorMatches, selectorNeedsUpperLayer } from "../ipsec/traffic-selector.ts";
import { readU16 } from "../wire/bytes.ts";

/**
 * The first outbound policy that matches the IPv6 or IPv4 packet at `packet[at, at+length)`, or undefined
 * (then RFC 4301 §4.4.1: DISCARD). Policies with only address selectors (the data path's usual case)
 * compare prefixes in place; one that names a protocol, ports or types parses the packet (allocates).
 */
export function matchOutboundPolicy(spd: SecurityPolicyDatabase, packet: Uint8Array, at: number, length: number): SecurityPolicy | undefined {
  if (length < 1) return undefined;
  const version = packet[at]! >>> 4;
  let addressLength: number;
  let sourceAt: number;
  let destinationAt: number;
  if (version === 6) {
    if (length < 40) return undefined;
    addressLength = 16;
    sourceAt = at + 8;
    destinationAt = at + 24;
  } else if (version === 4) {
    if (length < 20) return undefined;
    addressLength = 4;
    sourceAt = at + 12;
    destinationAt = at + 16;
  } else {
    return undefined;
  }
  const policies = spd.entries("outbound");
  for (let i = 0; i < policies.length; i++) {
    const policy = policies[i]!;
    const selector = policy.selector;
    if (selector.source !== undefined && !prefixMatchesAt(selector.source, packet, sourceAt, addressLength)) continue;
    if (selector.destination !== undefined && !prefixMatchesAt(selector.destination, packet, destinationAt, addressLength)) continue;
    if (!selectorNeedsUpperLayer(selector)) return policy;
    const parsed = packetSelectorOf(packet.subarray(at, at + length));
    if (parsed.ok && selectorMatches(selector, parsed.value)) return policy;
  }
  return undefined;
}

/** The length an IPv6 or IPv4 header says its packet has (0 when the header is too short to say). */
export function declaredPacketLength(packet: Uint8Array, at: number, length: number): number {
  if (length >= 40 && packet[at]! >>> 4 === 6) return 40 + readU16(packet, at + 4);
  if (length >= 20 && packet[at]! >>> 4 === 4) return readU16(packet, at + 2);
  return 0;
}
