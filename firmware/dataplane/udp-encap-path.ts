// ESP in UDP on the data path (RFC 3948): which sealed packets go to the NAT-T socket and where, what arrives there (ESP, IKE, keepalive), NAT keepalives.

import type { DatagramSocket } from "../../board/linux/raw-socket.ts";
import { MessageBatch, SOCKADDR_IN6_LEN, writeSockaddrIn6 } from "../../board/linux/ffi/socket-structs.ts";
import { openUdpSocket } from "../../board/linux/udp-socket.ts";
import { IP_MTU_DISCOVER, IP_PMTUDISC_PROBE, IPV6_DONTFRAG, setsockoptInt, SOL_IP, SOL_IPV6, type SysResult } from "../../board/linux/ffi/libc.ts";
import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import type { Endpoint } from "../ike/endpoint.ts";
import type { SecurityAssociationDatabase } from "../ipsec/sad.ts";
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "../wire/address.ts";
import { readU16, readU32 } from "../wire/bytes.ts";

/** RFC 3948 §2.3: a NAT keepalive is sent when nothing else left the NAT-T socket for this long. */
export const NAT_KEEPALIVE_IDLE_MS = 20_000;
/** RFC 3948 §2.2: four zero octets in front of an IKE message on port 4500 (where an SPI would be). */
export const NON_ESP_MARKER_LENGTH = 4;

export type UdpDatagramKind = "esp" | "ike" | "keepalive" | "invalid";

/**
 * RFC 3948 §2.2/§2.3 on a received UDP payload: one octet 0xFF is a keepalive; a zero first word is
 * the non-ESP marker (IKE follows); anything else of at least 8 octets is ESP (SPI ‖ sequence).
 */
export function classifyUdpDatagram(data: Uint8Array, at: number, length: number): UdpDatagramKind {
  if (length === 1 && data[at] === 0xff) return "keepalive";
  if (length < 8) return "invalid";
  return readU32(data, at) === 0 ? "ike" : "esp";
}

/** The 16-octet form of a 4- or 16-octet address: IPv4 as an IPv4-mapped IPv6 address (a dual-stack socket's view). */
export function mappedAddress(address: Uint8Array): Uint8Array {
  if (address.length === 16) return address;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(address, 12);
  return out;
}

function isMapped(address: Uint8Array, at = 0): boolean {
  for (let i = 0; i < 10; i++) if (address[at + i] !== 0) return false;
  return address[at + 10] === 0xff && address[at + 11] === 0xff;
}

/** Text of the address at `bytes[at, +16)`: dotted IPv4 for an IPv4-mapped one. */
export function addressText(bytes: Uint8Array, at: number): string {
  return isMapped(bytes, at) ? formatIpv4(bytes.subarray(at + 12, at + 16)) : formatIpv6(bytes.subarray(at, at + 16));
}

/** The 16-octet (mapped) form of an address in text, or undefined. */
export function addressBytes(text: string): Uint8Array | undefined {
  const v6 = parseIpv6(text);
  if (v6) return v6;
  const v4 = parseIpv4(text);
  return v4 ? mappedAddress(v4) : undefined;
}

/**
 * An uplink's NAT-T socket: dual-stack UDP bound to [::]:port on `device` (IPv6 peers and, IPv4-mapped,
 * IPv4 peers behind a NAT), with the arrival address reported (IPV6_RECVPKTINFO) and never fragmenting
 * what it sends (RFC 4303 §3.3.5 would allow it; monami does not). Closed again on any failure.
 */
export function openNatTSocket(device: string, port: number, bufferBytes: number): SysResult<DatagramSocket> {
  const opened = openUdpSocket(new Uint8Array(16), port, { device, receivePacketInfo: true, bufferBytes });
  if (!opened.ok) return opened;
  const fd = opened.value.fd;
  const df = setsockoptInt(fd, SOL_IPV6, IPV6_DONTFRAG, 1);
  const df4 = df.ok ? setsockoptInt(fd, SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE) : df;
  if (!df4.ok) {
    opened.value.close();
    return df4;
  }
  return opened;
}

/** The uplink side of the path: its NAT-T socket (dual-stack, bound to [::]:port on the uplink's device). */
export interface UdpUplink {
  readonly udp?: DatagramSocket | undefined;
  readonly interfaceIndex: number;
  /** The outer source for IPv6 peers (IPV6_PKTINFO); IPv4 peers get the kernel's choice on the device. */
  source: Uint8Array | undefined;
  /** IPv4-only uplink (RFC 5555 care-of address): every ESP packet goes in UDP to this IPv4-mapped address (the home agent's). */
  readonly ipv4Peer?: Uint8Array | undefined;
}

/** How many NATed peers' learned ports the home agent keeps (oldest replaced first). */
export const LEARNED_PORTS = 64;

/**
 * Per-packet decisions of the UDP-encapsulated path plus the slow path for IKE and keepalives.
 * Allocation-free on the per-packet path; one small send batch for IKE and keepalives.
 */
export class UdpEncapsulationPath {
  readonly #sad: SecurityAssociationDatabase;
  readonly #counters: Counters;
  readonly #uplinks: readonly UdpUplink[];
  /** When anything (ESP, IKE, keepalive) last left each uplink's NAT-T socket. */
  readonly #lastSent: Float64Array;
  /** When ESP last left each uplink's NAT-T socket, on which SA, to which peer (16 octets, IPv4 mapped) and port. */
  readonly #lastEsp: Float64Array;
  readonly #lastSpi: Float64Array;
  readonly #lastPeer: Uint8Array[];
  readonly #lastPort: Uint16Array;
  readonly #keepalive = Uint8Array.of(0xff);
  readonly #control = new MessageBatch(1, 9216);
  /** The NAT-T port (RFC 3948: 4500): where ESP in UDP goes when no SA and no learned port says otherwise. */
  readonly #port: number;
  /** IPv4-mapped peer addresses (16 octets each) and the UDP source port their last authenticated ESP came from. */
  readonly #learnedAddresses = new Uint8Array(LEARNED_PORTS * 16);
  readonly #learnedPorts = new Uint16Array(LEARNED_PORTS);
  #learnedCount = 0;
  #learnedNext = 0;

  constructor(sad: SecurityAssociationDatabase, uplinks: readonly UdpUplink[], counters: Counters, port = 4500) {
    this.#sad = sad;
    this.#uplinks = uplinks;
    this.#counters = counters;
    this.#port = port;
    this.#lastSent = new Float64Array(uplinks.length).fill(-Infinity);
    this.#lastEsp = new Float64Array(uplinks.length).fill(-Infinity);
    this.#lastSpi = new Float64Array(uplinks.length);
    this.#lastPeer = uplinks.map(() => new Uint8Array(16));
    this.#lastPort = new Uint16Array(uplinks.length);
  }

  /**
   * Arms send slot `index` of `batch` for the NAT-T socket when the outbound SA of the ESP packet at
   * `data[espAt..]` is UDP-encapsulated: destination = the SA's peer for an IPv4 (NATed) SA, else
   * `outerDestination` (the binding's choice), port = the SA's. The packet is `sealedLength` octets at
   * `sealedAt` in the slot. False: nothing armed, send it as raw ESP.
   */
  arm(batch: MessageBatch, index: number, sealedAt: number, sealedLength: number, uplink: number, outerDestination: Uint8Array, now: Instant): boolean {
    const sa = this.#sad.outbound(readU32(batch.data, batch.slotOffset(index) + sealedAt));
    const u = this.#uplinks[uplink];
    if (sa === undefined || u?.udp === undefined) return false;
    const udpSa = sa.encapsulation.kind === "udp";
    const saPort = sa.encapsulation.kind === "udp" ? sa.encapsulation.destinationPort : this.#port;
    let destination: Uint8Array;
    let port: number;
    let v4: boolean;
    if (u.ipv4Peer !== undefined) {
      // Router, IPv4 care-of address (RFC 5555): ESP in UDP to the home agent's IPv4 address, whatever address the IKE SA is on.
      destination = u.ipv4Peer;
      port = saPort;
      v4 = true;
    } else if (isMapped(outerDestination)) {
      // Home agent, towards an IPv4 care-of address: its observed (NAT) address, the port its authenticated ESP came from.
      destination = outerDestination;
      port = this.learnedPort(outerDestination) || saPort;
      v4 = true;
    } else {
      if (!udpSa) return false;
      const peer = sa.endpoints?.destination;
      v4 = peer !== undefined && peer.length === 4;
      destination = peer !== undefined && peer.length === 4 ? mappedAddress(peer) : outerDestination;
      port = saPort;
    }
    batch.prepareSend(index, sealedAt, sealedLength, SOCKADDR_IN6_LEN);
    writeSockaddrIn6(batch.names, batch.nameOffset(index), destination, 0, port);
    if (!v4 && u.source !== undefined) batch.setSourceIpv6(index, u.source, 0, u.interfaceIndex);
    this.#lastSent[uplink] = now;
    if (this.#lastSpi[uplink] !== sa.spi || this.#lastPort[uplink] !== port || !equal(this.#lastPeer[uplink]!, destination)) {
      this.#lastSpi[uplink] = sa.spi;
      this.#lastPeer[uplink]!.set(destination);
      this.#lastPort[uplink] = port;
    }
    this.#lastEsp[uplink] = now;
    return true;
  }

  /**
   * ESP in UDP from the sender at `names[at..]` (a sockaddr_in6) passed ICV, replay and the care-of check:
   * for an IPv4(-mapped) sender, its UDP source port is where ESP towards that address goes from now on
   * (a NAT's mapping; it changes when the NAT rebinds). Only authenticated packets may call this, so a
   * keepalive or forged packet never moves the port; each address learns only from its own packets.
   */
  learn(names: Uint8Array, at: number, now: Instant): void {
    void now;
    const addressAt = at + 8;
    if (!isMapped(names, addressAt)) return;
    const port = readU16(names, at + 2);
    const found = this.#find(names, addressAt);
    if (found >= 0) {
      if (this.#learnedPorts[found] === port) return;
      this.#learnedPorts[found] = port;
      this.#counters.increment("dataplane.udp.port-learned");
      return;
    }
    const slot = this.#learnedCount < LEARNED_PORTS ? this.#learnedCount++ : this.#learnedNext;
    this.#learnedNext = (slot + 1) % LEARNED_PORTS;
    this.#learnedAddresses.set(names.subarray(addressAt, addressAt + 16), slot * 16);
    this.#learnedPorts[slot] = port;
    this.#counters.increment("dataplane.udp.port-learned");
  }

  /** The port learned for an IPv4-mapped address (16 octets), 0 when none. */
  learnedPort(address: Uint8Array, at = 0): number {
    const found = this.#find(address, at);
    return found < 0 ? 0 : this.#learnedPorts[found]!;
  }

  #find(address: Uint8Array, at: number): number {
    const table = this.#learnedAddresses;
    outer: for (let s = 0; s < this.#learnedCount; s++) {
      const base = s * 16;
      for (let i = 0; i < 16; i++) if (table[base + i] !== address[at + i]) continue outer;
      return s;
    }
    return -1;
  }

  /**
   * RFC 3948 §2.3 on the data path: an uplink whose NAT-T socket carried ESP and then sent nothing for
   * NAT_KEEPALIVE_IDLE_MS sends one keepalive to that ESP's peer, so the NAT keeps the mapping. An
   * uplink the peer's ESP has since left for another (a MOBIKE move) stops. Call between batches.
   */
  tick(now: Instant): void {
    for (let u = 0; u < this.#uplinks.length; u++) {
      if (this.#lastSpi[u] === 0 || now - this.#lastSent[u]! < NAT_KEEPALIVE_IDLE_MS) continue;
      const peer = this.#lastPeer[u]!;
      let moved = false;
      for (let v = 0; v < this.#uplinks.length; v++) if (v !== u && this.#lastEsp[v]! > this.#lastEsp[u]! && equal(this.#lastPeer[v]!, peer)) moved = true;
      if (moved) continue;
      const socket = this.#uplinks[u]?.udp;
      if (socket === undefined) continue;
      const batch = this.#control;
      batch.data.set(this.#keepalive, 0);
      writeSockaddrIn6(batch.names, 0, peer, 0, this.#lastPort[u]!);
      batch.prepareSend(0, 0, 1, SOCKADDR_IN6_LEN);
      const source = this.#uplinks[u]!.source;
      if (!isMapped(peer) && source !== undefined) batch.setSourceIpv6(0, source, 0, this.#uplinks[u]!.interfaceIndex);
      const r = socket.sendBatch(batch, 0, 1);
      this.#counters.increment(r === 1 ? "dataplane.udp.keepalive.sent" : `dataplane.udp.send.errno.${-r}`);
      this.#lastSent[u] = now;
    }
  }

  /**
   * Sends one IKE message (marker included) or keepalive from an uplink's NAT-T socket, from `local`
   * for IPv6. A keepalive is skipped when that socket sent anything in the last NAT_KEEPALIVE_IDLE_MS.
   */
  send(uplink: number, local: string, remote: Endpoint, bytes: Uint8Array, keepalive: boolean, now: Instant): boolean {
    const u = this.#uplinks[uplink];
    const destination = addressBytes(remote.address);
    if (u?.udp === undefined || destination === undefined || bytes.length > this.#control.slotSize) {
      this.#counters.increment("dataplane.udp.drop.no-socket");
      return false;
    }
    if (keepalive && now - this.#lastSent[uplink]! < NAT_KEEPALIVE_IDLE_MS) {
      this.#counters.increment("dataplane.udp.keepalive.suppressed");
      return false;
    }
    const batch = this.#control;
    batch.data.set(bytes, 0);
    writeSockaddrIn6(batch.names, 0, destination, 0, remote.port);
    batch.prepareSend(0, 0, bytes.length, SOCKADDR_IN6_LEN);
    const source = addressBytes(local);
    if (source !== undefined && !isMapped(source) && !isMapped(destination)) batch.setSourceIpv6(0, source, 0, u.interfaceIndex);
    const r = u.udp.sendBatch(batch, 0, 1);
    if (r !== 1) {
      this.#counters.increment(`dataplane.udp.send.errno.${-r}`);
      return false;
    }
    this.#counters.increment(keepalive ? "dataplane.udp.keepalive.sent" : "dataplane.udp.ike.sent");
    this.#lastSent[uplink] = now;
    return true;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return a.length === b.length;
}

/** The sender of a datagram received on a dual-stack socket (sockaddr_in6 at `names[at..]`). */
export function senderOf(names: Uint8Array, at: number): Endpoint {
  return { address: addressText(names, at + 8), port: readU16(names, at + 2) };
}
