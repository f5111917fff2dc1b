// RFC 5555 §4.1 on the data path: one UDP socket per IPv4 uplink (the home agent's on 4191) carrying BU/BA and IPv6 payload tunnelled in UDP, and how the two are told apart.
//
// Why one socket for both: a NAT maps each (address, port) of the router on its own. If BU/BA and payload
// left from two sockets, the mapping the home agent learns from an authenticated BU (where it sends the
// payload back) would be the wrong one. So the loop owns the socket, hands BU/BA up to the control plane
// with their sender, and forwards the rest. Two sockets on one port with SO_REUSEPORT would not do: the
// kernel spreads datagrams over them by a hash of the 4-tuple, not by what they carry.

import type { DatagramSocket } from "../../board/linux/raw-socket.ts";
import { openUdpSocket } from "../../board/linux/udp-socket.ts";
import { IP_MTU_DISCOVER, IP_PMTUDISC_PROBE, setsockoptInt, SOL_IP, type SysResult } from "../../board/linux/ffi/libc.ts";
import { parseIpv4 } from "../wire/address.ts";
import { parseDsmipPayload } from "../wire/dsmip-udp.ts";
import { IpProtocol } from "../wire/protocol-numbers.ts";
import { mappedAddress } from "./udp-encap-path.ts";

/** Offsets in the inner IPv6 header (RFC 8200 §3) that the demultiplexing reads. */
const INNER = { nextHeader: 6, source: 8, destination: 24 } as const;

export type DsmipDatagramKind = "signalling" | "payload";

/**
 * What one UDP payload received on an RFC 5555 socket (`data[at, at+length)`) is. BU/BA (RFC 5555 §4.1) are
 * whole IPv6 packets between a home address and the home agent (`homeAgent`, 16 octets), the Mobility Header
 * (or, keyed by IKEv2, ESP in transport mode) right after the IPv6 header: no Home Address option, no Type 2
 * routing header in the UDP-encapsulated form. Everything else is payload — an inner packet whose source or
 * destination is the home agent's own address but that carries neither MH nor ESP (a link probe) included.
 * Never throws; a malformed datagram is "payload" and the forwarding path drops it as such.
 */
export function classifyDsmipDatagram(data: Uint8Array, at: number, length: number, homeAgent: Uint8Array): DsmipDatagramKind {
  if (!parseDsmipPayload(data.subarray(at, at + length)).ok) return "payload";
  const next = data[at + INNER.nextHeader]!;
  if (next !== IpProtocol.mobility && next !== IpProtocol.esp) return "payload";
  return equalAt(data, at + INNER.source, homeAgent) || equalAt(data, at + INNER.destination, homeAgent) ? "signalling" : "payload";
}

function equalAt(data: Uint8Array, at: number, address: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (data[at + i] !== address[i]) return false;
  return true;
}

/**
 * Opens an RFC 5555 socket: dual-stack UDP bound to the IPv4 address (as ::ffff:a.b.c.d) and `port` (0: the
 * kernel picks one, as a router's is), so peers are IPv4-mapped like on the NAT-T socket; never fragmenting
 * what it sends (IP_PMTUDISC_PROBE: DF set, no PMTU cache). Closed again on any failure.
 */
export function openDsmipSocket(ipv4Address: string, port: number, bufferBytes: number): SysResult<DatagramSocket> {
  const address = parseIpv4(ipv4Address);
  if (address === undefined) throw new RangeError(`RFC 5555 socket: '${ipv4Address}' is not an IPv4 address`);
  const opened = openUdpSocket(mappedAddress(address), port, { bufferBytes });
  if (!opened.ok) return opened;
  const df = setsockoptInt(opened.value.fd, SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE);
  if (!df.ok) {
    opened.value.close();
    return df;
  }
  return opened;
}
