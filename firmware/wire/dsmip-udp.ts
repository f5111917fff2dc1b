// DSMIPv6 UDP encapsulation (RFC 5555 §4.1): a whole IPv6 packet (BU/BA under ESP) carried in UDP over IPv4, port 4191.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  IPv4 header (src = IPv4 CoA or the NAT's, dst = HA IPv4)     |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  UDP header (one of the ports = 4191, "dsmipv6")              |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  IPv6 header (src = home address, dst = HA IPv6) | ESP | MH   |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The UDP payload *is* the IPv6 packet (no TLV header: the BU's T flag, RFC 5845, stays 0).

import { ok, type Result } from "../core/result.ts";
import type { Ipv4Text } from "./address.ts";
import { readU16 } from "./bytes.ts";
import { wireError, type WireError } from "./error.ts";
import { emitIpv4Packet, ipv4ReprChecksumAddresses, ipv4UpperChecksumAddresses, parseIpv4Packet } from "./ipv4.ts";
import { IPV6_HEADER_LEN } from "./ipv6.ts";
import { IpProtocol } from "./protocol-numbers.ts";
import { emitUdp, parseUdp } from "./udp.ts";

/** IANA service name "dsmipv6" (RFC 5555 §4.1): the home agent listens here. */
export const DSMIPV6_UDP_PORT = 4191;

/** Offsets inside the inner IPv6 header that the payload check reads (RFC 8200 §3). */
const INNER = { versionClassFlow: 0, payloadLength: 4 } as const;

/**
 * Checks that a UDP payload received on port 4191 is exactly one IPv6 packet: version 6 and a
 * Payload Length that ends where the datagram ends (nothing trailing, nothing missing). Returns the
 * payload itself (no copy). Never throws.
 */
export function parseDsmipPayload(payload: Uint8Array): Result<Uint8Array, WireError> {
  if (payload.length < IPV6_HEADER_LEN) return wireError("dsmipv6", "truncated", payload.length, `need an IPv6 header (${IPV6_HEADER_LEN} octets), have ${payload.length}`);
  const version = payload[INNER.versionClassFlow]! >>> 4;
  if (version !== 6) return wireError("dsmipv6", "unsupported", INNER.versionClassFlow, `inner version ${version}: only IPv6 (no TLV header, RFC 5845) is carried`);
  const payloadLength = readU16(payload, INNER.payloadLength);
  if (IPV6_HEADER_LEN + payloadLength !== payload.length) {
    return wireError("dsmipv6", "bad-length", INNER.payloadLength, `inner Payload Length ${payloadLength} for ${payload.length - IPV6_HEADER_LEN} octets after the header`);
  }
  return ok(payload);
}

/** One UDP-encapsulated Mobile IPv6 packet as a plain value. */
export interface DsmipDatagramRepr {
  readonly ipv4Source: Ipv4Text;
  readonly ipv4Destination: Ipv4Text;
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** The whole inner IPv6 packet (a subarray of the input when parsed). */
  readonly ipv6Packet: Uint8Array;
}

/**
 * Parses a whole IPv4 packet carrying the encapsulation: IPv4 header checksum, not a fragment,
 * protocol UDP, UDP length and checksum (zero allowed over IPv4), port 4191 at one end, then
 * `parseDsmipPayload`. Never throws.
 */
export function parseDsmipDatagram(bytes: Uint8Array): Result<DsmipDatagramRepr, WireError> {
  const ip = parseIpv4Packet(bytes);
  if (!ip.ok) return ip;
  const packet = ip.value;
  if (packet.isFragment) return wireError("dsmipv6", "unsupported", 6, "an IPv4 fragment (reassembly is the kernel's job)");
  if (packet.upperProtocol !== IpProtocol.udp) return wireError("dsmipv6", "unsupported", 9, `protocol ${packet.upperProtocol} is not UDP`);
  const udp = parseUdp(packet.upperPayload, ipv4UpperChecksumAddresses(packet));
  if (!udp.ok) return { ok: false, error: { ...udp.error, at: udp.error.at + packet.upperOffset } };
  const u = udp.value;
  if (u.sourcePort !== DSMIPV6_UDP_PORT && u.destinationPort !== DSMIPV6_UDP_PORT) {
    return wireError("dsmipv6", "unsupported", packet.upperOffset, `ports ${u.sourcePort} → ${u.destinationPort}: neither is ${DSMIPV6_UDP_PORT}`);
  }
  const inner = parseDsmipPayload(u.payload);
  if (!inner.ok) return { ok: false, error: { ...inner.error, at: inner.error.at + packet.upperOffset + 8 } };
  return ok({
    ipv4Source: packet.header.source,
    ipv4Destination: packet.header.destination,
    sourcePort: u.sourcePort,
    destinationPort: u.destinationPort,
    ipv6Packet: inner.value,
  });
}

/** Octets of the whole IPv4 packet `emitDsmipDatagram` builds. */
export function dsmipDatagramLen(repr: DsmipDatagramRepr): number {
  return 20 + 8 + repr.ipv6Packet.length;
}

/** Builds the IPv4/UDP packet with both checksums (a capture, a test peer). A bad Repr throws RangeError (programmer error). */
export function emitDsmipDatagram(repr: DsmipDatagramRepr): Uint8Array {
  const base = { source: repr.ipv4Source, destination: repr.ipv4Destination, upperProtocol: IpProtocol.udp };
  const udp = emitUdp({ sourcePort: repr.sourcePort, destinationPort: repr.destinationPort, payload: repr.ipv6Packet }, ipv4ReprChecksumAddresses({ ...base, upperPayload: new Uint8Array(0) }));
  return emitIpv4Packet({ ...base, upperPayload: udp });
}
