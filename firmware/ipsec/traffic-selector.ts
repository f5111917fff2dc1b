// Traffic selectors (RFC 4301 §4.4.1.1): what a policy or SA covers, and the selector values of a packet.

import { ok, type Result } from "../core/result.ts";
import { parsePrefix, parseIpv4, parseIpv6 } from "../wire/address.ts";
import { readU16 } from "../wire/bytes.ts";
import type { WireError } from "../wire/error.ts";
import { parseIpv4Packet } from "../wire/ipv4.ts";
import { parseIpv6Packet } from "../wire/ipv6.ts";
import { IpProtocol } from "../wire/protocol-numbers.ts";

/** An address prefix as bytes (16 for IPv6, 4 for IPv4) and a length in bits. */
export interface PrefixSelector {
  readonly bytes: Uint8Array;
  readonly length: number;
}

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/**
 * One selector: every field left undefined means ANY. Per RFC 4301 §4.4.1.1 the ICMP type/code and
 * the Mobility Header type take the place of the ports for those protocols (and, being named here,
 * cannot be confused with them). Addresses are as the packet carries them in the direction the
 * selector is used: `source` is the packet's source.
 */
export interface TrafficSelector {
  readonly source?: PrefixSelector;
  readonly destination?: PrefixSelector;
  /** Next layer protocol (IPv6: the last Next Header; IPv4: Protocol). */
  readonly protocol?: number;
  readonly sourcePorts?: PortRange;
  readonly destinationPorts?: PortRange;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  /** RFC 4301 §4.4.1.1 "Mobility Header type" (RFC 4877 §4.3 uses it for BU/BA SAs). */
  readonly mobilityHeaderType?: number;
}

/** The selector values of one packet. Ports and types are present only when the protocol has them. */
export interface PacketSelector {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly protocol: number;
  readonly sourcePort?: number;
  readonly destinationPort?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  readonly mobilityHeaderType?: number;
}

/** `addr/len` text (IPv6 or IPv4) as a PrefixSelector; a bare address means a host (/128 or /32). */
export function prefixSelector(text: string): PrefixSelector | undefined {
  if (!text.includes("/")) {
    const v6 = parseIpv6(text);
    if (v6) return { bytes: v6, length: 128 };
    const v4 = parseIpv4(text);
    return v4 ? { bytes: v4, length: 32 } : undefined;
  }
  const prefix = parsePrefix(text);
  if (!prefix) return undefined;
  const bytes = parseIpv6(prefix.address) ?? parseIpv4(prefix.address);
  return bytes ? { bytes, length: prefix.length } : undefined;
}

/** Whether the address at `bytes[at, at+prefix.bytes.length)` lies in `prefix`. Allocation-free. */
export function prefixMatchesAt(prefix: PrefixSelector, bytes: Uint8Array, at: number, addressLength: number): boolean {
  if (prefix.bytes.length !== addressLength || at + addressLength > bytes.length) return false;
  const full = prefix.length >>> 3;
  const p = prefix.bytes;
  for (let i = 0; i < full; i++) if (p[i] !== bytes[at + i]) return false;
  const bits = prefix.length & 7;
  if (bits === 0) return true;
  const mask = (0xff00 >>> bits) & 0xff;
  return (p[full]! & mask) === (bytes[at + full]! & mask);
}

function inRange(range: PortRange | undefined, value: number | undefined): boolean {
  if (range === undefined) return true;
  return value !== undefined && value >= range.from && value <= range.to;
}

function fieldMatches(want: number | undefined, have: number | undefined): boolean {
  return want === undefined || want === have;
}

/** Whether a selector needs more than addresses (and so a walk to the upper layer). */
export function selectorNeedsUpperLayer(selector: TrafficSelector): boolean {
  return (
    selector.protocol !== undefined ||
    selector.sourcePorts !== undefined ||
    selector.destinationPorts !== undefined ||
    selector.icmpType !== undefined ||
    selector.icmpCode !== undefined ||
    selector.mobilityHeaderType !== undefined
  );
}

export function selectorMatches(selector: TrafficSelector, packet: PacketSelector): boolean {
  if (selector.source && !prefixMatchesAt(selector.source, packet.source, 0, packet.source.length)) return false;
  if (selector.destination && !prefixMatchesAt(selector.destination, packet.destination, 0, packet.destination.length)) return false;
  if (!fieldMatches(selector.protocol, packet.protocol)) return false;
  return (
    inRange(selector.sourcePorts, packet.sourcePort) &&
    inRange(selector.destinationPorts, packet.destinationPort) &&
    fieldMatches(selector.icmpType, packet.icmpType) &&
    fieldMatches(selector.icmpCode, packet.icmpCode) &&
    fieldMatches(selector.mobilityHeaderType, packet.mobilityHeaderType)
  );
}

type UpperFields = Omit<PacketSelector, "source" | "destination" | "protocol">;

/** Ports, ICMP type/code or MH type from the first octets of an upper-layer header (absent when too short). */
export function upperLayerFields(protocol: number, upper: Uint8Array): UpperFields {
  switch (protocol) {
    case IpProtocol.tcp:
    case IpProtocol.udp:
      return upper.length >= 4 ? { sourcePort: readU16(upper, 0), destinationPort: readU16(upper, 2) } : {};
    case IpProtocol.icmp:
    case IpProtocol.icmpv6:
      return upper.length >= 2 ? { icmpType: upper[0]!, icmpCode: upper[1]! } : {};
    case IpProtocol.mobility:
      return upper.length >= 3 ? { mobilityHeaderType: upper[2]! } : {};
    default:
      return {};
  }
}

/**
 * The selector values of an IPv6 or IPv4 packet. For IPv6 the home address of a Home Address
 * option stands for the source and a Type 2 routing header's address for the destination
 * (RFC 4877 §4.2: that is what the SPD must see for Mobile IPv6 signalling).
 */
export function packetSelectorOf(packet: Uint8Array): Result<PacketSelector, WireError> {
  if (packet.length > 0 && packet[0]! >>> 4 === 4) {
    const parsed = parseIpv4Packet(packet);
    if (!parsed.ok) return parsed;
    const v4 = parsed.value;
    const upper = v4.isFragment && v4.header.fragmentOffset !== 0 ? {} : upperLayerFields(v4.upperProtocol, v4.upperPayload);
    return ok({ source: v4.header.sourceBytes, destination: v4.header.destinationBytes, protocol: v4.upperProtocol, ...upper });
  }
  const parsed = parseIpv6Packet(packet);
  if (!parsed.ok) return parsed;
  const v6 = parsed.value;
  return ok({
    source: v6.homeAddressBytes ?? v6.header.sourceBytes,
    destination: v6.routingType2AddressBytes ?? v6.header.destinationBytes,
    protocol: v6.upperProtocol,
    ...upperLayerFields(v6.upperProtocol, v6.upperPayload),
  });
}
