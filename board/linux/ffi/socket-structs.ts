// Linux socket structs laid out in preallocated memory: sockaddr_in6/in/ll, cmsg with packet info, and mmsghdr batches.
//
// LP64 layouts (x86_64 and aarch64 agree): iovec 16 octets; msghdr 56 (name 0, namelen 8, iov 16, iovlen 24,
// control 32, controllen 40, flags 48); mmsghdr 64 (msghdr, then msg_len at 56); cmsghdr 16 (len 0, level 8,
// type 12, data 16); sockaddr_in6 28; sockaddr_in 16; sockaddr_ll 20; in6_pktinfo 20; in_pktinfo 12.

import { AF_INET, AF_INET6, AF_PACKET, addressOf, IP_PKTINFO, IPV6_PKTINFO, SOL_IP, SOL_IPV6 } from "./libc.ts";

export const SOCKADDR_IN6_LEN = 28;
export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_LL_LEN = 20;
/** Room for any of the sockaddrs above, 8-aligned. */
export const SOCKADDR_SLOT = 32;
const MMSGHDR_LEN = 64;
const IOVEC_LEN = 16;
const CMSG_HEADER_LEN = 16;
/** CMSG_SPACE(sizeof(struct in6_pktinfo)) and CMSG_SPACE(sizeof(struct in_pktinfo)). */
const PKTINFO6_SPACE = CMSG_HEADER_LEN + 24;
const PKTINFO4_SPACE = CMSG_HEADER_LEN + 16;
/** Control room per message: one packet-info cmsg of either family, with slack for one more small one. */
export const CONTROL_SLOT = 64;

function zeroed(length: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(length));
}

/** struct sockaddr_in6 for `address` (16 octets), port in host order, scope (interface index) for link-local. */
export function sockaddrIn6(address: Uint8Array, port = 0, scopeId = 0): Uint8Array {
  const out = zeroed(SOCKADDR_IN6_LEN);
  writeSockaddrIn6(out, 0, address, 0, port, scopeId);
  return out;
}

export function writeSockaddrIn6(into: Uint8Array, at: number, address: Uint8Array, addressAt: number, port = 0, scopeId = 0): void {
  into[at] = AF_INET6 & 0xff;
  into[at + 1] = AF_INET6 >>> 8;
  into[at + 2] = port >>> 8;
  into[at + 3] = port & 0xff;
  into[at + 4] = into[at + 5] = into[at + 6] = into[at + 7] = 0;
  for (let i = 0; i < 16; i++) into[at + 8 + i] = address[addressAt + i]!;
  into[at + 24] = scopeId & 0xff;
  into[at + 25] = (scopeId >>> 8) & 0xff;
  into[at + 26] = (scopeId >>> 16) & 0xff;
  into[at + 27] = scopeId >>> 24;
}

/** struct sockaddr_in for `address` (4 octets), port in host order. */
export function sockaddrIn(address: Uint8Array, port = 0): Uint8Array {
  const out = zeroed(SOCKADDR_IN_LEN);
  writeSockaddrIn(out, 0, address, 0, port);
  return out;
}

export function writeSockaddrIn(into: Uint8Array, at: number, address: Uint8Array, addressAt: number, port = 0): void {
  into[at] = AF_INET;
  into[at + 1] = 0;
  into[at + 2] = port >>> 8;
  into[at + 3] = port & 0xff;
  for (let i = 0; i < 4; i++) into[at + 4 + i] = address[addressAt + i]!;
  for (let i = 8; i < 16; i++) into[at + i] = 0;
}

/** struct sockaddr_ll binding a packet socket to one interface and EtherType (host order). */
export function sockaddrLl(interfaceIndex: number, etherType: number): Uint8Array {
  const out = zeroed(SOCKADDR_LL_LEN);
  const view = new DataView(out.buffer);
  view.setUint16(0, AF_PACKET, true);
  view.setUint16(2, etherType, false);
  view.setInt32(4, interfaceIndex, true);
  return out;
}

/** sockaddr_ll.sll_pkttype values (linux/if_packet.h). */
export const PACKET_HOST = 0;
export const PACKET_OUTGOING = 4;

/**
 * N messages for sendmmsg/recvmmsg, every byte preallocated and every pointer written once: a data slot
 * per message (`slotSize` octets at `slotOffset(i)` in `data`), one iovec, one sockaddr and one control
 * area each. Per call only lengths change, so the hot path allocates nothing and takes no address.
 * The batch must stay referenced while the kernel may use it (it owns all the memory it points to).
 */
export class MessageBatch {
  readonly capacity: number;
  readonly slotSize: number;
  /** All data slots, back to back. */
  readonly data: Uint8Array;
  /** All sockaddrs (SOCKADDR_SLOT octets each): source on receive, destination on send. */
  readonly names: Uint8Array;
  /** All control areas (CONTROL_SLOT octets each). */
  readonly control: Uint8Array;
  /** Address of the mmsghdr vector (for sendmmsg/recvmmsg) and of its first byte in data. */
  readonly vectorAddress: number;
  readonly dataAddress: number;
  readonly #headers: Uint8Array;
  readonly #words: Uint32Array;
  readonly #iovecWords: Uint32Array;
  readonly #iovecAddress: number;
  readonly #namesAddress: number;
  readonly #controlAddress: number;
  /** Held so the memory the headers point into lives as long as the batch. */
  readonly #iovecs: Uint8Array;

  constructor(capacity: number, slotSize: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1024) throw new RangeError(`batch capacity ${capacity} outside 1..1024`);
    if (!Number.isInteger(slotSize) || slotSize < 64 || slotSize % 8 !== 0) throw new RangeError(`slot size ${slotSize} must be a multiple of 8 ≥ 64`);
    this.capacity = capacity;
    this.slotSize = slotSize;
    this.data = zeroed(capacity * slotSize);
    this.names = zeroed(capacity * SOCKADDR_SLOT);
    this.control = zeroed(capacity * CONTROL_SLOT);
    this.#headers = zeroed(capacity * MMSGHDR_LEN);
    const iovecs = zeroed(capacity * IOVEC_LEN);
    this.#words = new Uint32Array(this.#headers.buffer);
    this.#iovecWords = new Uint32Array(iovecs.buffer);
    this.dataAddress = addressOf(this.data);
    this.vectorAddress = addressOf(this.#headers);
    this.#iovecAddress = addressOf(iovecs);
    this.#namesAddress = addressOf(this.names);
    this.#controlAddress = addressOf(this.control);
    this.#iovecs = iovecs;
    for (let i = 0; i < capacity; i++) {
      setPointer(this.#iovecWords, i * 4, this.dataAddress + i * slotSize);
      const w = i * 16;
      setPointer(this.#words, w, this.#namesAddress + i * SOCKADDR_SLOT);
      setPointer(this.#words, w + 4, this.#iovecAddress + i * IOVEC_LEN);
      this.#words[w + 6] = 1; // msg_iovlen
      setPointer(this.#words, w + 8, this.#controlAddress + i * CONTROL_SLOT);
    }
  }

  /** Where message `i`'s data slot starts in `data`. */
  slotOffset(i: number): number {
    return i * this.slotSize;
  }

  /** Address of the mmsghdr of message `i` (to send a run that starts there). */
  messageAddress(i: number): number {
    return this.vectorAddress + i * MMSGHDR_LEN;
  }

  /**
   * Arms messages [0, count) for recvmmsg: full slots (less `headroom` octets left free at the start of
   * each, for a header written in front later), room for a sockaddr and a control message.
   */
  prepareReceive(count: number, withControl: boolean, headroom = 0): void {
    const words = this.#words;
    const iov = this.#iovecWords;
    const slot = this.slotSize;
    for (let i = 0; i < count; i++) {
      setPointer(iov, i * 4, this.dataAddress + i * slot + headroom);
      iov[i * 4 + 2] = slot - headroom;
      const w = i * 16;
      words[w + 2] = SOCKADDR_SLOT;
      words[w + 10] = withControl ? CONTROL_SLOT : 0;
      words[w + 12] = 0;
      words[w + 14] = 0;
    }
  }

  /** Octets received into message `i` (msg_len). */
  receivedLength(i: number): number {
    return this.#words[i * 16 + 14]!;
  }

  /** msg_flags of message `i` after recvmmsg (MSG_TRUNC = 0x20, MSG_CTRUNC = 0x8). */
  receivedFlags(i: number): number {
    return this.#words[i * 16 + 12]!;
  }

  /** Offset in `names` of message `i`'s sockaddr; the address of an AF_INET6 one starts 8 octets in, AF_INET 4. */
  nameOffset(i: number): number {
    return i * SOCKADDR_SLOT;
  }

  /**
   * Offset in `control` of the destination address of an IPV6_PKTINFO (16 octets) or IP_PKTINFO
   * (ipi_addr, 4 octets) message received with message `i`, or −1 when none came. The interface
   * index follows the IPv6 address (`control[offset+16..]`) or precedes the IPv4 one (`offset-8`).
   */
  receivedPacketInfo(i: number): number {
    const base = i * CONTROL_SLOT;
    const length = this.#words[i * 16 + 10]!; // msg_controllen as the kernel left it
    const control = this.control;
    let at = 0;
    while (at + CMSG_HEADER_LEN <= length) {
      const cmsgLength = readU32Le(control, base + at);
      const level = readU32Le(control, base + at + 8);
      const type = readU32Le(control, base + at + 12);
      if (cmsgLength < CMSG_HEADER_LEN) return -1;
      if (level === SOL_IPV6 && type === IPV6_PKTINFO) return base + at + CMSG_HEADER_LEN;
      if (level === SOL_IP && type === IP_PKTINFO) return base + at + CMSG_HEADER_LEN + 8;
      at += (cmsgLength + 7) & ~7;
    }
    return -1;
  }

  /**
   * Arms message `i` to send `length` octets from its slot at `offset` (relative to the slot), with no
   * control data. The destination is whatever sockaddr `names` holds for it (namelen `nameLength`,
   * 0 for a connected socket).
   */
  prepareSend(i: number, offset: number, length: number, nameLength: number): void {
    setPointer(this.#iovecWords, i * 4, this.dataAddress + i * this.slotSize + offset);
    this.#iovecWords[i * 4 + 2] = length;
    const w = i * 16;
    this.#words[w + 2] = nameLength;
    this.#words[w + 10] = 0;
    this.#words[w + 12] = 0;
  }

  /**
   * Adds an explicit source to message `i` (armed by `prepareSend`): IPV6_PKTINFO with the 16 octets
   * at `source[sourceAt..]` and interface `interfaceIndex` (0 = any).
   */
  setSourceIpv6(i: number, source: Uint8Array, sourceAt: number, interfaceIndex: number): void {
    const base = i * CONTROL_SLOT;
    const c = this.control;
    writeU32Le(c, base, CMSG_HEADER_LEN + 20);
    writeU32Le(c, base + 4, 0);
    writeU32Le(c, base + 8, SOL_IPV6);
    writeU32Le(c, base + 12, IPV6_PKTINFO);
    for (let k = 0; k < 16; k++) c[base + 16 + k] = source[sourceAt + k]!;
    writeU32Le(c, base + 32, interfaceIndex);
    this.#words[i * 16 + 10] = PKTINFO6_SPACE;
  }

  /** IP_PKTINFO source (ipi_spec_dst) for message `i`, for IPv4 sockets. */
  setSourceIpv4(i: number, source: Uint8Array, sourceAt: number, interfaceIndex: number): void {
    const base = i * CONTROL_SLOT;
    const c = this.control;
    writeU32Le(c, base, CMSG_HEADER_LEN + 12);
    writeU32Le(c, base + 4, 0);
    writeU32Le(c, base + 8, SOL_IP);
    writeU32Le(c, base + 12, IP_PKTINFO);
    writeU32Le(c, base + 16, interfaceIndex);
    for (let k = 0; k < 4; k++) c[base + 20 + k] = source[sourceAt + k]!;
    writeU32Le(c, base + 24, 0);
    this.#words[i * 16 + 10] = PKTINFO4_SPACE;
  }

  /** The iovec memory (kept by the batch; exposed for tests that check the layout). */
  get iovecBytes(): Uint8Array {
    return this.#iovecs;
  }
}

function setPointer(words: Uint32Array, at: number, address: number): void {
  words[at] = address >>> 0;
  words[at + 1] = Math.floor(address / 0x1_0000_0000);
}

function readU32Le(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

function writeU32Le(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = value >>> 24;
}
