// The batched packet loop: tunnel interface → seal → sendmmsg per uplink; recvmmsg per uplink → open → tunnel interface.

import type { DatagramSocket } from "../../board/linux/raw-socket.ts";
import { MessageBatch, SOCKADDR_IN6_LEN, writeSockaddrIn6 } from "../../board/linux/ffi/socket-structs.ts";
import { addressOf, type Fd, POLLIN, PollSet, readRaw, writeRaw } from "../../board/linux/ffi/libc.ts";
import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import { buildPacketTooBig } from "../wire/icmpv6.ts";
import { ForwardingCounter, type ForwardingPath, HEADROOM, isIpv4Mapped, TAILROOM, TOO_BIG } from "./forwarding.ts";
import { completeChecksum, GSO_NONE, readVnetHeader, TcpCoalescer, TcpSegmenter, type VnetHeader, VNET_F_NEEDS_CSUM, VNET_HEADER_LEN, writePlainVnetHeader } from "./segmentation.ts";
import { HotCounter, type SharedCounters } from "./shared-counters.ts";
import { addressText as addressTextOf, classifyUdpDatagram, NON_ESP_MARKER_LENGTH, senderOf, type UdpEncapsulationPath } from "./udp-encap-path.ts";
import type { Endpoint } from "../ike/endpoint.ts";
import { classifyDsmipDatagram } from "./dsmip-path.ts";

/** One uplink's descriptors; any may be absent (interface missing at start: the loop runs without it). */
export interface LoopUplink {
  readonly id: string;
  readonly interfaceIndex: number;
  readonly esp: DatagramSocket | undefined;
  /** Packet socket receiving Mobility signalling with extension headers (see packet-socket.ts). */
  readonly signallingReceive: DatagramSocket | undefined;
  /** Header-included raw socket sending whole signalling packets. */
  readonly signallingSend: DatagramSocket | undefined;
  /** Outer source written as IPV6_PKTINFO into each send (the care-of address); undefined: the socket's own. */
  source: Uint8Array | undefined;
  /** The NAT-T socket (ESP in UDP and IKE on port 4500, RFC 3948), when UDP encapsulation is on. */
  readonly udp?: DatagramSocket | undefined;
  /** The IPv6-in-IPv6 socket (protocol 41): packets mobility tunnels without IPsec (bypass flows, `auth-option`). */
  readonly clear?: DatagramSocket | undefined;
  /** IPv4-only uplink (RFC 5555 care-of address): the home agent's IPv4 address, IPv4-mapped; its ESP goes in UDP there. */
  readonly ipv4Peer?: Uint8Array | undefined;
  /**
   * RFC 5555 §4.1 UDP socket (dual-stack, IPv4-mapped peers): the router's on its IPv4 care-of address, the home
   * agent's on port 4191. One socket carries both the BU/BA (handed to `onSignalling` with the sender) and the
   * clear payload (IPv6 in UDP), so both share one NAT mapping (see dsmip-path.ts).
   */
  readonly dsmip?: DatagramSocket | undefined;
}

export interface PacketLoopOptions {
  /** Packets per recvmmsg/sendmmsg (and TUN reads per pass). */
  readonly batchSize: number;
  /** Largest inner packet the tunnel interface may hand over (its MTU). */
  readonly tunnelMtu: number;
  /**
   * The tunnel interface was opened with IFF_VNET_HDR and TSO offloads: reads may be TCP super-segments
   * (cut here before sealing), writes glue in-order TCP segments back together (see segmentation.ts).
   */
  readonly vnetHeader: boolean;
  /** Source of Packet Too Big messages (an address of ours on the inner side), or undefined: none sent. */
  readonly tooBigSource: string | undefined;
  /** Signalling packets received (whole IPv6 packets, a copy) with the uplink they came on; `from`: the UDP sender (RFC 5555). */
  readonly onSignalling: (uplink: number, packet: Uint8Array, from?: Endpoint) => void;
  /** RFC 5555: the home agent's IPv6 address (16 octets), for telling BU/BA from payload on the 4191 sockets. */
  readonly dsmipSignallingPeer?: Uint8Array | undefined;
  /** Inner packets for the control plane (`ForwardingPath.local`): a copy, with the uplink and outer source they came by. */
  readonly onLocal?: ((uplink: number, outerSource: Uint8Array, packet: Uint8Array) => void) | undefined;
  /** Sends SAs marked for UDP encapsulation to the NAT-T sockets (udp-encap-path.ts). */
  readonly udpEncapsulation?: UdpEncapsulationPath | undefined;
  /** IKE messages that arrived on a NAT-T socket (non-ESP marker removed; a copy). */
  readonly onIkeDatagram?: ((uplink: number, local: Endpoint, remote: Endpoint, message: Uint8Array) => void) | undefined;
}

/** Added to an uplink index in the send plan: the packet goes to that uplink's NAT-T socket. */
const VIA_UDP = 0x10000;
/** Added to an uplink index in the send plan: the packet goes to that uplink's IPv6-in-IPv6 socket. */
const VIA_CLEAR = 0x20000;
/** Added to an uplink index in the send plan: the packet goes to that uplink's RFC 5555 UDP socket (IPv6 in UDP). */
const VIA_DSMIP = 0x30000;
/** Left free before each packet received on an IPv6-in-IPv6 socket: room for the vnet header written in front. */
const CLEAR_RECEIVE_HEADROOM = 16;

const EAGAIN = -11;
const PACKET_TOO_BIG_PER_SECOND = 50;

/**
 * Owns the buffers, not the descriptors (the caller closes those). `pump(now)` does one pass and says
 * whether it moved anything; `wait(ms)` blocks in ppoll until a descriptor is readable. Nothing on the
 * per-packet path allocates: one send batch and one receive batch, each with fixed slots and pointers.
 */
export class PacketLoop {
  readonly #tun: Fd;
  readonly #uplinks: readonly LoopUplink[];
  readonly #path: ForwardingPath;
  readonly #hot: SharedCounters;
  readonly #counters: Counters;
  readonly #options: PacketLoopOptions;
  readonly #send: MessageBatch;
  readonly #receive: MessageBatch;
  readonly #signalling: MessageBatch;
  /** One slot for BU/BA sent on an RFC 5555 socket (between passes). */
  readonly #dsmipControl = new MessageBatch(1, 2048);
  readonly #uplinkOf: Int32Array;
  readonly #poll: PollSet;
  readonly #maxInner: number;
  readonly #vnet: boolean;
  /** Whole super-segments are read here (vnet mode), then cut into the send slots. */
  readonly #staging: Uint8Array;
  readonly #stagingAddress: number;
  readonly #vnetHeader: VnetHeader = { flags: 0, gsoType: 0, headerLength: 0, gsoSize: 0, checksumStart: 0, checksumOffset: 0 };
  readonly #segmenter = new TcpSegmenter();
  readonly #coalescer = new TcpCoalescer();
  readonly #coalescerAddress: number;
  #tooBigTokens = PACKET_TOO_BIG_PER_SECOND;
  #tooBigRefilledAt = 0;

  constructor(tun: Fd, uplinks: readonly LoopUplink[], path: ForwardingPath, hot: SharedCounters, counters: Counters, options: PacketLoopOptions, wake?: Fd) {
    this.#tun = tun;
    this.#uplinks = uplinks;
    this.#path = path;
    this.#hot = hot;
    this.#counters = counters;
    this.#options = options;
    const slotSize = Math.ceil((HEADROOM + options.tunnelMtu + TAILROOM) / 64) * 64;
    this.#maxInner = slotSize - HEADROOM - TAILROOM;
    this.#send = new MessageBatch(options.batchSize, slotSize);
    this.#receive = new MessageBatch(options.batchSize, Math.max(slotSize, 2048));
    this.#signalling = new MessageBatch(4, 2048);
    this.#uplinkOf = new Int32Array(options.batchSize);
    this.#vnet = options.vnetHeader;
    this.#staging = new Uint8Array(new ArrayBuffer(options.vnetHeader ? VNET_HEADER_LEN + 65_536 : 8));
    this.#stagingAddress = addressOf(this.#staging);
    this.#coalescerAddress = addressOf(this.#coalescer.buffer);
    this.#poll = new PollSet(2 + uplinks.length * 5);
    this.#poll.add(tun, POLLIN);
    for (const u of uplinks) {
      if (u.esp) this.#poll.add(u.esp.fd, POLLIN);
      if (u.signallingReceive) this.#poll.add(u.signallingReceive.fd, POLLIN);
      if (u.udp) this.#poll.add(u.udp.fd, POLLIN);
      if (u.clear) this.#poll.add(u.clear.fd, POLLIN);
      if (u.dsmip) this.#poll.add(u.dsmip.fd, POLLIN);
    }
    if (wake !== undefined) this.#poll.add(wake, POLLIN);
  }

  /** Blocks until a descriptor is readable or `timeoutMs` passed (ppoll). */
  wait(timeoutMs: number): void {
    this.#hot.add(HotCounter["loop.polls"], 1);
    this.#poll.poll(timeoutMs);
  }

  /** One pass: a batch from the tunnel interface, a batch from each uplink, pending signalling. */
  pump(now: Instant): boolean {
    this.#hot.add(HotCounter["loop.passes"], 1);
    let moved = this.#fromTunnelInterface(now);
    for (let u = 0; u < this.#uplinks.length; u++) {
      const uplink = this.#uplinks[u]!;
      if (uplink.esp !== undefined) moved += this.#fromUplink(u, uplink.esp, now);
      if (uplink.udp !== undefined) moved += this.#fromUplink(u, uplink.udp, now, true);
      if (uplink.clear !== undefined) moved += this.#fromUplink(u, uplink.clear, now, false, true);
      if (uplink.dsmip !== undefined) moved += this.#fromDsmip(u, uplink.dsmip, now);
      if (uplink.signallingReceive !== undefined) moved += this.#signallingFrom(u, uplink.signallingReceive);
    }
    return moved > 0;
  }

  /** Sends one whole IPv6 signalling packet through an uplink's header-included socket. */
  sendSignalling(uplink: number, packet: Uint8Array, destination: Uint8Array): boolean {
    const socket = this.#uplinks[uplink]?.signallingSend;
    if (socket === undefined) {
      this.#counters.increment("dataplane.signalling.drop.no-socket");
      return false;
    }
    const sent = socket.sendTo(packet, destination);
    if (!sent.ok) {
      this.#counters.increment(`dataplane.signalling.drop.${sent.error.code}`);
      return false;
    }
    this.#hot.add(HotCounter["signalling.tx.packets"], 1);
    return true;
  }

  /**
   * RFC 5555 §4.1: sends one whole IPv6 signalling packet (a BU, a BA) in UDP from an uplink's 4191 socket to
   * `destination` (16 octets, IPv4-mapped) and `port`. Only between passes.
   */
  sendSignallingUdp(uplink: number, packet: Uint8Array, destination: Uint8Array, port: number): boolean {
    const socket = this.#uplinks[uplink]?.dsmip;
    const batch = this.#dsmipControl;
    if (socket === undefined || packet.length > batch.slotSize) {
      this.#counters.increment("dataplane.dsmip.drop.no-socket");
      return false;
    }
    batch.data.set(packet, 0);
    batch.prepareSend(0, 0, packet.length, SOCKADDR_IN6_LEN);
    writeSockaddrIn6(batch.names, 0, destination, 0, port);
    const r = socket.sendBatch(batch, 0, 1);
    if (r !== 1) {
      this.#counters.increment(`dataplane.dsmip.send.errno.${-r}`);
      return false;
    }
    this.#counters.increment("dataplane.dsmip.signalling.tx");
    this.#hot.add(HotCounter["signalling.tx.packets"], 1);
    return true;
  }

  /**
   * Seals and sends one inner packet the control plane made (a link probe) on `uplink`, towards
   * `outerDestination` when given (see `ForwardingPath.sealLocal`). Only between passes: it uses the send batch.
   */
  sendLocal(uplink: number, packet: Uint8Array, outerDestination: Uint8Array | undefined, now: Instant): boolean {
    if (packet.length > this.#maxInner) {
      this.#counters.increment(ForwardingCounter.tooBig);
      return false;
    }
    const batch = this.#send;
    const slotAt = batch.slotOffset(0);
    batch.data.set(packet, slotAt + HEADROOM);
    const path = this.#path;
    const chosen = path.sealLocal(batch.data, slotAt, packet.length, uplink, outerDestination, now);
    if (chosen < 0 || this.#uplinks[chosen] === undefined) return false;
    // ESP of an IPv4 uplink, or towards an IPv4(-mapped) care-of address, goes in UDP as `#seal`'s does (RFC 3948); a
    // probe on an IPv6 uplink stays raw ESP even when its SA is UDP-encapsulated elsewhere (it measures that uplink).
    const v4 = this.#uplinks[chosen]!.ipv4Peer !== undefined || isIpv4Mapped(path.outerDestination);
    if (v4 && !path.sealedClear && this.#options.udpEncapsulation?.arm(batch, 0, path.sealedAt, path.sealedLength, chosen, path.outerDestination, now)) this.#uplinkOf[0] = chosen + VIA_UDP;
    else if (!this.#arm(0, chosen)) return false;
    this.#flush(1);
    this.#counters.increment("dataplane.local.tx");
    return true;
  }

  #fromTunnelInterface(now: Instant): number {
    return this.#vnet ? this.#fromTunnelInterfaceSegmenting(now) : this.#fromTunnelInterfaceDirect(now);
  }

  /** Without vnet headers: each read is one packet, read straight into its send slot. */
  #fromTunnelInterfaceDirect(now: Instant): number {
    const batch = this.#send;
    const capacity = batch.capacity;
    let queued = 0;
    let read = 0;
    let bytes = 0;
    while (queued < capacity) {
      const slotAt = batch.slotOffset(queued);
      const n = readRaw(this.#tun, batch.dataAddress + slotAt + HEADROOM, this.#maxInner);
      if (n <= 0) break;
      read++;
      bytes += n;
      if (this.#seal(queued, n, now)) queued++;
    }
    if (read > 0) {
      this.#hot.add(HotCounter["tun.rx.reads"], read);
      this.#hot.add(HotCounter["tun.rx.packets"], read);
      this.#hot.add(HotCounter["tun.rx.bytes"], bytes);
    }
    if (queued > 0) this.#flush(queued);
    return read;
  }

  /**
   * With vnet headers: each read may be a TCP super-segment; it is cut into MSS-sized packets in the send
   * slots (a full batch is sent before the next one starts). Partial checksums are completed first.
   */
  #fromTunnelInterfaceSegmenting(now: Instant): number {
    const batch = this.#send;
    const data = batch.data;
    const staging = this.#staging;
    const header = this.#vnetHeader;
    const segmenter = this.#segmenter;
    const capacity = batch.capacity;
    let queued = 0;
    let reads = 0;
    let packets = 0;
    let bytes = 0;
    while (reads < capacity) {
      const n = readRaw(this.#tun, this.#stagingAddress, staging.length);
      if (n <= VNET_HEADER_LEN) break;
      reads++;
      const length = n - VNET_HEADER_LEN;
      bytes += length;
      readVnetHeader(staging, 0, header);
      if (header.gsoType === GSO_NONE || !segmenter.load(staging, VNET_HEADER_LEN, length, header)) {
        if (header.gsoType !== GSO_NONE) {
          this.#counters.increment("dataplane.drop.gso-unsupported");
          continue;
        }
        if ((header.flags & VNET_F_NEEDS_CSUM) !== 0 && !completeChecksum(staging, VNET_HEADER_LEN, length, header.checksumStart, header.checksumOffset)) {
          this.#counters.increment("dataplane.drop.bad-checksum-offsets");
          continue;
        }
        if (length > this.#maxInner) {
          this.#counters.increment(ForwardingCounter.tooBig);
          continue;
        }
        if (queued === capacity) {
          this.#flush(queued);
          queued = 0;
        }
        const slotAt = batch.slotOffset(queued);
        data.set(staging.subarray(VNET_HEADER_LEN, n), slotAt + HEADROOM);
        packets++;
        if (this.#seal(queued, length, now)) queued++;
        continue;
      }
      for (let i = 0; i < segmenter.count; i++) {
        if (queued === capacity) {
          this.#flush(queued);
          queued = 0;
        }
        const slotAt = batch.slotOffset(queued);
        const segment = segmenter.write(i, data, slotAt + HEADROOM);
        if (segment > this.#maxInner) {
          this.#counters.increment(ForwardingCounter.tooBig);
          continue;
        }
        packets++;
        if (this.#seal(queued, segment, now)) queued++;
      }
    }
    if (reads > 0) {
      this.#hot.add(HotCounter["tun.rx.reads"], reads);
      this.#hot.add(HotCounter["tun.rx.packets"], packets);
      this.#hot.add(HotCounter["tun.rx.bytes"], bytes);
    }
    if (queued > 0) this.#flush(queued);
    return reads;
  }

  /** Seals the inner packet in send slot `index` and arms it; false when it was dropped (or answered with Packet Too Big). */
  #seal(index: number, innerLength: number, now: Instant): boolean {
    const batch = this.#send;
    const data = batch.data;
    const path = this.#path;
    const slotAt = batch.slotOffset(index);
    const uplink = path.fromTunnelInterface(data, slotAt, innerLength, now);
    if (uplink < 0) {
      if (uplink === TOO_BIG) this.#sendTooBig(data.subarray(slotAt + HEADROOM, slotAt + HEADROOM + innerLength), path.tooBigMtu, now);
      return false;
    }
    if (!path.sealedClear && this.#options.udpEncapsulation?.arm(batch, index, path.sealedAt, path.sealedLength, uplink, path.outerDestination, now)) {
      this.#uplinkOf[index] = uplink + VIA_UDP;
      return true;
    }
    return this.#arm(index, uplink);
  }

  /**
   * Arms send slot `index` with what the path just sealed: ESP (raw) or, `sealedClear`, the inner packet for
   * IPv6-in-IPv6 — or, on an IPv4 uplink or towards an IPv4(-mapped) care-of address, for IPv6 in UDP (RFC 5555
   * §4.1) to `path.outerPort`. False: not sendable (counted).
   */
  #arm(index: number, uplink: number): boolean {
    const batch = this.#send;
    const path = this.#path;
    const u = this.#uplinks[uplink]!;
    batch.prepareSend(index, path.sealedAt, path.sealedLength, SOCKADDR_IN6_LEN);
    if (path.sealedClear && (u.ipv4Peer !== undefined || isIpv4Mapped(path.outerDestination))) {
      if (u.dsmip === undefined) {
        this.#counters.increment("dataplane.dsmip.drop.no-socket");
        return false;
      }
      writeSockaddrIn6(batch.names, batch.nameOffset(index), u.ipv4Peer ?? path.outerDestination, 0, path.outerPort);
      this.#uplinkOf[index] = uplink + VIA_DSMIP;
      return true;
    }
    writeSockaddrIn6(batch.names, batch.nameOffset(index), path.outerDestination, 0);
    if (u.source !== undefined) batch.setSourceIpv6(index, u.source, 0, u.interfaceIndex);
    this.#uplinkOf[index] = path.sealedClear ? uplink + VIA_CLEAR : uplink;
    return true;
  }

  /** sendmmsg runs of consecutive messages for the same uplink; a refused message is counted and skipped. */
  #flush(queued: number): void {
    const uplinkOf = this.#uplinkOf;
    const batch = this.#send;
    let start = 0;
    let sentPackets = 0;
    let sentBytes = 0;
    while (start < queued) {
      const uplink = uplinkOf[start]!;
      let end = start + 1;
      while (end < queued && uplinkOf[end] === uplink) end++;
      const socket =
        uplink >= VIA_DSMIP
          ? this.#uplinks[uplink - VIA_DSMIP]!.dsmip
          : uplink >= VIA_CLEAR
            ? this.#uplinks[uplink - VIA_CLEAR]!.clear
            : uplink >= VIA_UDP
              ? this.#uplinks[uplink - VIA_UDP]!.udp
              : this.#uplinks[uplink]!.esp;
      let at = start;
      while (at < end) {
        const r = socket === undefined ? -19 : socket.sendBatch(batch, at, end - at);
        this.#hot.add(HotCounter["loop.batch.tx"], 1);
        if (r > 0) {
          for (let i = at; i < at + r; i++) sentBytes += batch.receivedLength(i);
          sentPackets += r;
          this.#hot.addUplink(uplink & 0xffff, "tx", r);
          at += r;
          continue;
        }
        // The first message of the run was refused (EAGAIN with a full queue, ENETDOWN on a cut uplink, …).
        this.#hot.add(HotCounter["esp.tx.errors"], 1);
        this.#counters.increment(ForwardingCounter.sendFailed);
        this.#counters.increment(`dataplane.send.errno.${-r}`);
        at++;
      }
      start = end;
    }
    this.#hot.add(HotCounter["esp.tx.packets"], sentPackets);
    this.#hot.add(HotCounter["esp.tx.bytes"], sentBytes);
  }

  /**
   * `udp`: the NAT-T socket (dual-stack): keepalives and IKE are sorted out, ESP follows the same path.
   * `clear`: the IPv6-in-IPv6 socket: inner packets (received after some headroom) for `fromUplinkClear`.
   */
  #fromUplink(u: number, socket: DatagramSocket, now: Instant, udp = false, clear = false): number {
    const batch = this.#receive;
    const capacity = batch.capacity;
    const headroom = clear ? CLEAR_RECEIVE_HEADROOM : 0;
    batch.prepareReceive(capacity, udp, headroom);
    const n = socket.receiveBatch(batch, capacity);
    if (n <= 0) {
      if (n !== EAGAIN && n !== 0) this.#counters.increment(`dataplane.receive.errno.${-n}`);
      return 0;
    }
    this.#hot.add(HotCounter["loop.batch.rx"], 1);
    const data = batch.data;
    const names = batch.names;
    const path = this.#path;
    let bytes = 0;
    let written = 0;
    let writtenBytes = 0;
    let authenticated = 0;
    const v6 = socket.family === 6;
    for (let i = 0; i < n; i++) {
      const slotAt = batch.slotOffset(i);
      let at = slotAt + headroom;
      let length = batch.receivedLength(i);
      bytes += length;
      if (!v6) {
        // Raw IPv4 sockets deliver the IPv4 header too: skip it (IHL words).
        const ihl = (data[at]! & 0x0f) * 4;
        at += ihl;
        length -= ihl;
      }
      if (length <= 0) {
        this.#counters.increment(ForwardingCounter.truncated);
        continue;
      }
      if (udp && !this.#espFromUdp(u, i, at, length)) continue;
      const sourceAt = batch.nameOffset(i) + (v6 ? 8 : 4);
      if (!(clear ? path.fromUplinkClear(u, data, at, length, names, sourceAt, now) : path.fromUplink(u, data, at, length, names, sourceAt, now))) continue;
      authenticated++;
      // ESP in UDP that passed ICV, replay and the care-of check: its NAT port is where replies go (RFC 3948 §3.2).
      if (udp && !path.local) this.#options.udpEncapsulation?.learn(names, batch.nameOffset(i), now);
      if (!this.#deliver(u, data, batch.dataAddress, names, sourceAt, v6 ? 16 : 4)) continue;
      written++;
      writtenBytes += path.payloadLength;
    }
    this.#endReceive(u, authenticated, n, bytes, written, writtenBytes);
    return n;
  }

  /**
   * An inner packet the path accepted (`this.#path.payloadOffset/Length`): to the local port (probes, with the
   * outer source at `names[sourceAt, +sourceLength)`) or to the tunnel interface. True when it went to the tunnel interface.
   */
  #deliver(u: number, data: Uint8Array, dataAddress: number, names: Uint8Array, sourceAt: number, sourceLength: number): boolean {
    const path = this.#path;
    if (path.local) {
      this.#counters.increment("dataplane.local.rx");
      this.#options.onLocal?.(u, names.slice(sourceAt, sourceAt + sourceLength), data.slice(path.payloadOffset, path.payloadOffset + path.payloadLength));
      return false;
    }
    if (this.#vnet) {
      this.#writeCoalescing(data, dataAddress, path.payloadOffset, path.payloadLength);
      return true;
    }
    this.#hot.add(HotCounter["tun.tx.writes"], 1);
    if (writeRaw(this.#tun, dataAddress + path.payloadOffset, path.payloadLength) < 0) this.#counters.increment(ForwardingCounter.tunWriteFailed);
    return true;
  }

  /** After a received batch: the coalesced writes go out, and the batch's counters. */
  #endReceive(u: number, accepted: number, received: number, bytes: number, written: number, writtenBytes: number): void {
    if (this.#vnet) this.#flushCoalesced();
    this.#hot.addUplink(u, "rx", accepted);
    this.#hot.add(HotCounter["esp.rx.packets"], received);
    this.#hot.add(HotCounter["esp.rx.bytes"], bytes);
    this.#hot.add(HotCounter["tun.tx.packets"], written);
    this.#hot.add(HotCounter["tun.tx.bytes"], writtenBytes);
  }

  /**
   * vnet mode: in-order TCP segments of one flow are glued into the coalescer; anything else is written
   * alone with a plain vnet header put in the (already consumed) ESP header room before it.
   */
  #writeCoalescing(data: Uint8Array, dataAddress: number, at: number, length: number): void {
    const coalescer = this.#coalescer;
    if (TcpCoalescer.candidate(data, at, length)) {
      if (coalescer.append(data, at, length)) return;
      this.#flushCoalesced();
      coalescer.start(data, at, length);
      return;
    }
    this.#flushCoalesced();
    writePlainVnetHeader(data, at - VNET_HEADER_LEN);
    this.#hot.add(HotCounter["tun.tx.writes"], 1);
    if (writeRaw(this.#tun, dataAddress + at - VNET_HEADER_LEN, length + VNET_HEADER_LEN) < 0) this.#counters.increment(ForwardingCounter.tunWriteFailed);
  }

  #flushCoalesced(): void {
    const length = this.#coalescer.finish();
    if (length === 0) return;
    this.#hot.add(HotCounter["tun.tx.writes"], 1);
    if (writeRaw(this.#tun, this.#coalescerAddress, length) < 0) this.#counters.increment(ForwardingCounter.tunWriteFailed);
  }

  /** RFC 3948 §2.2/§2.3: true for ESP; keepalives are counted, IKE goes to the control plane (slow path). */
  #espFromUdp(u: number, i: number, at: number, length: number): boolean {
    const batch = this.#receive;
    const kind = classifyUdpDatagram(batch.data, at, length);
    if (kind === "esp") return true;
    this.#counters.increment(`dataplane.udp.rx.${kind}`);
    if (kind !== "ike") return false;
    const info = batch.receivedPacketInfo(i);
    const remote = senderOf(batch.names, batch.nameOffset(i));
    const local = info < 0 ? "::" : addressTextOf(batch.control, info);
    this.#options.onIkeDatagram?.(u, { address: local, port: 0 }, remote, batch.data.slice(at + NON_ESP_MARKER_LENGTH, at + length));
    return false;
  }

  /**
   * RFC 5555 §4.1, an uplink's UDP socket: each datagram is one IPv6 packet. BU/BA (`classifyDsmipDatagram`) go
   * to the control plane with their sender (a NAT's address and port); the rest is payload tunnelled in UDP,
   * checked by the path like IPv6-in-IPv6 and written to the tunnel interface.
   */
  #fromDsmip(u: number, socket: DatagramSocket, now: Instant): number {
    const batch = this.#receive;
    batch.prepareReceive(batch.capacity, false, CLEAR_RECEIVE_HEADROOM);
    const n = socket.receiveBatch(batch, batch.capacity);
    if (n <= 0) {
      if (n !== EAGAIN && n !== 0) this.#counters.increment(`dataplane.receive.errno.${-n}`);
      return 0;
    }
    this.#hot.add(HotCounter["loop.batch.rx"], 1);
    const data = batch.data;
    const names = batch.names;
    const path = this.#path;
    const peer = this.#options.dsmipSignallingPeer;
    let accepted = 0;
    let bytes = 0;
    let written = 0;
    let writtenBytes = 0;
    for (let i = 0; i < n; i++) {
      const at = batch.slotOffset(i) + CLEAR_RECEIVE_HEADROOM;
      const length = batch.receivedLength(i);
      bytes += length;
      const nameAt = batch.nameOffset(i);
      if (peer !== undefined && classifyDsmipDatagram(data, at, length, peer) === "signalling") {
        this.#counters.increment("dataplane.dsmip.signalling.rx");
        this.#hot.add(HotCounter["signalling.rx.packets"], 1);
        this.#options.onSignalling(u, data.slice(at, at + length), senderOf(names, nameAt));
        continue;
      }
      if (!path.fromUplinkUdp(u, data, at, length, names, nameAt + 8, (names[nameAt + 2]! << 8) | names[nameAt + 3]!, now)) continue;
      accepted++;
      if (!this.#deliver(u, data, batch.dataAddress, names, nameAt + 8, 16)) continue;
      written++;
      writtenBytes += path.payloadLength;
    }
    this.#endReceive(u, accepted, n, bytes, written, writtenBytes);
    return n;
  }

  #signallingFrom(u: number, socket: DatagramSocket): number {
    const batch = this.#signalling;
    batch.prepareReceive(batch.capacity, false);
    const n = socket.receiveBatch(batch, batch.capacity);
    if (n <= 0) return 0;
    for (let i = 0; i < n; i++) {
      const at = batch.slotOffset(i);
      this.#options.onSignalling(u, batch.data.slice(at, at + batch.receivedLength(i)));
    }
    this.#hot.add(HotCounter["signalling.rx.packets"], n);
    return n;
  }

  /** RFC 4443 §3.2 Packet Too Big to the inner source, rate-limited (§2.4(f)) with a token bucket. */
  #sendTooBig(invoking: Uint8Array, mtu: number, now: Instant): void {
    const source = this.#options.tooBigSource;
    if (source === undefined) return;
    if (now - this.#tooBigRefilledAt >= 1000) {
      this.#tooBigTokens = PACKET_TOO_BIG_PER_SECOND;
      this.#tooBigRefilledAt = now;
    }
    if (this.#tooBigTokens <= 0) {
      this.#counters.increment(ForwardingCounter.tooBigSuppressed);
      return;
    }
    this.#tooBigTokens--;
    const reply = buildPacketTooBig(invoking, mtu, { source });
    if (!reply.ok) {
      this.#counters.increment(`${ForwardingCounter.tooBigSuppressed}.${reply.error}`);
      return;
    }
    if (this.#writeTun(reply.value)) this.#counters.increment(ForwardingCounter.tooBigSent);
    else this.#counters.increment(ForwardingCounter.tunWriteFailed);
  }

  #writeTun(packet: Uint8Array): boolean {
    const scratch = this.#signalling;
    const at = this.#vnet ? VNET_HEADER_LEN : 0;
    if (this.#vnet) writePlainVnetHeader(scratch.data, 0);
    scratch.data.set(packet, at);
    return writeRaw(this.#tun, scratch.dataAddress, packet.length + at) === packet.length + at;
  }
}
