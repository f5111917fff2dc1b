// Large TCP segments across the tunnel interface (virtio_net_hdr): cut what the kernel hands over into MSS-sized packets, and glue received ones back.
//
// With IFF_VNET_HDR and TSO offloads on the TUN, the kernel passes up to 64 KiB TCP super-segments (one read
// instead of ~45) and accepts them back (one write, one pass through forwarding and the receiver's TCP stack).
// Inside the tunnel every packet stays an ordinary, fully checksummed IP packet: segmentation happens before
// sealing and coalescing after opening, as a NIC's TSO and GRO would do (RFC 9293 §3.7 segments; RFC 8200 §8.1
// checksums).

/** struct virtio_net_hdr (legacy, little-endian): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset. */
export const VNET_HEADER_LEN = 10;
export const VNET_F_NEEDS_CSUM = 1;
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_TCPV6 = 4;
export const GSO_ECN = 0x80;

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_PSH = 0x08;
const TCP_ACK = 0x10;
const TCP_URG = 0x20;
const TCP_ECE = 0x40;
const TCP_CWR = 0x80;
const PROTOCOL_TCP = 6;
const IPV6_HEADER = 40;
const MAX_IP_PACKET = 65_535;

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** One's-complement sum (RFC 1071) of `b[start, end)` continuing from `initial`, folded to 16 bits, not complemented. */
export function sumRange(b: Uint8Array, start: number, end: number, initial: number): number {
  let sum = initial;
  const even = start + ((end - start) & ~1);
  let i = start;
  // Unrolled by 8 octets: the sum stays far below 2^53 for any IP packet.
  for (; i + 8 <= even; i += 8) sum += ((b[i]! << 8) | b[i + 1]!) + ((b[i + 2]! << 8) | b[i + 3]!) + ((b[i + 4]! << 8) | b[i + 5]!) + ((b[i + 6]! << 8) | b[i + 7]!);
  for (; i < even; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (even < end) sum += b[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The pseudo-header sum of the IP packet at `at` (IPv6 or IPv4 addresses) for an upper layer of `length` octets. */
function pseudoHeaderSum(b: Uint8Array, at: number, v6: boolean, length: number, protocol: number): number {
  const sum = v6 ? sumRange(b, at + 8, at + 40, 0) : sumRange(b, at + 12, at + 20, 0);
  return sumRange(EMPTY, 0, 0, sum + length + protocol);
}
const EMPTY = new Uint8Array(0);

/** The vnet header of a packet read from the TUN, decoded. */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  headerLength: number;
  gsoSize: number;
  checksumStart: number;
  checksumOffset: number;
}

export function readVnetHeader(b: Uint8Array, at: number, into: VnetHeader): void {
  into.flags = b[at]!;
  into.gsoType = b[at + 1]!;
  into.headerLength = b[at + 2]! | (b[at + 3]! << 8);
  into.gsoSize = b[at + 4]! | (b[at + 5]! << 8);
  into.checksumStart = b[at + 6]! | (b[at + 7]! << 8);
  into.checksumOffset = b[at + 8]! | (b[at + 9]! << 8);
}

/** Writes a vnet header saying "a plain packet, checksum complete". */
export function writePlainVnetHeader(b: Uint8Array, at: number): void {
  for (let i = 0; i < VNET_HEADER_LEN; i++) b[at + i] = 0;
}

/**
 * Completes a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field at start+offset holds the
 * pseudo-header sum; the one's-complement sum from `start` to the end, complemented, goes there.
 * False when the offsets do not lie inside the packet.
 */
export function completeChecksum(b: Uint8Array, packetAt: number, packetLength: number, start: number, offset: number): boolean {
  const field = packetAt + start + offset;
  if (start >= packetLength || start + offset + 2 > packetLength) return false;
  const sum = sumRange(b, packetAt + start, packetAt + packetLength, 0);
  put16(b, field, ~sum & 0xffff || 0xffff);
  return true;
}

/**
 * Cuts one TCP super-segment (GSO_TCPV4/V6 from a vnet header) into MSS-sized packets, each with its
 * own IP length (and IPv4 identification and header checksum), sequence number, flags (FIN and PSH
 * only on the last, CWR only on the first) and a full TCP checksum.
 */
export class TcpSegmenter {
  #source: Uint8Array = EMPTY;
  #at = 0;
  #v6 = true;
  #tcpAt = 0;
  #headerLength = 0;
  #payloadLength = 0;
  #mss = 0;
  #sequence = 0;
  #identification = 0;
  count = 0;

  /** Loads the packet `source[at, at+length)` described by `header`; false when it is not a TCP segment to cut. */
  load(source: Uint8Array, at: number, length: number, header: VnetHeader): boolean {
    const type = header.gsoType & ~GSO_ECN;
    if (type !== GSO_TCPV6 && type !== GSO_TCPV4) return false;
    const v6 = type === GSO_TCPV6;
    if (length < (v6 ? IPV6_HEADER : 20) + 20) return false;
    const tcpAt = header.checksumStart;
    if (tcpAt + 20 > length) return false;
    if (v6 ? source[at + 6] !== PROTOCOL_TCP || tcpAt !== IPV6_HEADER : source[at + 9] !== PROTOCOL_TCP) return false;
    const headerLength = tcpAt + (source[at + tcpAt + 12]! >>> 4) * 4;
    if (headerLength > length || header.gsoSize === 0) return false;
    this.#source = source;
    this.#at = at;
    this.#v6 = v6;
    this.#tcpAt = tcpAt;
    this.#headerLength = headerLength;
    this.#payloadLength = length - headerLength;
    this.#mss = header.gsoSize;
    this.#sequence = u32(source, at + tcpAt + 4);
    this.#identification = v6 ? 0 : u16(source, at + 4);
    this.count = Math.max(1, Math.ceil(this.#payloadLength / this.#mss));
    return true;
  }

  /** Writes segment `index` at `into[at]`; returns its length. The caller gives room for headerLength + MSS. */
  write(index: number, into: Uint8Array, at: number): number {
    const src = this.#source;
    const from = this.#at;
    const headerLength = this.#headerLength;
    const offset = index * this.#mss;
    const payload = Math.min(this.#mss, this.#payloadLength - offset);
    for (let i = 0; i < headerLength; i++) into[at + i] = src[from + i]!;
    into.set(src.subarray(from + headerLength + offset, from + headerLength + offset + payload), at + headerLength);
    const length = headerLength + payload;
    const tcp = at + this.#tcpAt;
    if (this.#v6) {
      put16(into, at + 4, length - IPV6_HEADER);
    } else {
      put16(into, at + 2, length);
      put16(into, at + 4, (this.#identification + index) & 0xffff);
      put16(into, at + 10, 0);
      put16(into, at + 10, ~sumRange(into, at, at + this.#tcpAt, 0) & 0xffff);
    }
    put32(into, tcp + 4, (this.#sequence + offset) >>> 0);
    let flags = into[tcp + 13]!;
    if (index !== this.count - 1) flags &= ~(TCP_FIN | TCP_PSH);
    if (index !== 0) flags &= ~TCP_CWR;
    into[tcp + 13] = flags;
    const tcpLength = length - this.#tcpAt;
    put16(into, tcp + 16, 0);
    const sum = sumRange(into, tcp, at + length, pseudoHeaderSum(into, at, this.#v6, tcpLength, PROTOCOL_TCP));
    put16(into, tcp + 16, ~sum & 0xffff);
    return length;
  }
}

/**
 * Glues consecutive in-order segments of one IPv6 TCP flow (plain ACK, optionally PSH on the last) into one
 * super-segment for a single TUN write, the way GRO would: same addresses, ports, acknowledgment, first
 * header word, TCP header and options; contiguous sequence numbers; all but the last exactly MSS long.
 * `buffer[0, VNET_HEADER_LEN)` receives the vnet header, the packet follows.
 */
export class TcpCoalescer {
  readonly buffer = new Uint8Array(new ArrayBuffer(VNET_HEADER_LEN + MAX_IP_PACKET));
  #length = 0;
  #segments = 0;
  #mss = 0;
  #lastPayload = 0;
  #headerLength = 0;
  #nextSequence = 0;
  #closed = false;

  get segments(): number {
    return this.#segments;
  }

  /** Whether `data[at, at+length)` can start a group (an IPv6 TCP data segment with only ACK/PSH set). */
  static candidate(data: Uint8Array, at: number, length: number): boolean {
    if (length < IPV6_HEADER + 20 || data[at]! >>> 4 !== 6 || data[at + 6] !== PROTOCOL_TCP) return false;
    const tcp = at + IPV6_HEADER;
    const flags = data[tcp + 13]!;
    if ((flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG | TCP_ECE | TCP_CWR)) !== 0 || (flags & TCP_ACK) === 0) return false;
    const headerLength = IPV6_HEADER + (data[tcp + 12]! >>> 4) * 4;
    return headerLength < length && IPV6_HEADER + u16(data, at + 4) === length;
  }

  /** Appends the candidate segment when it continues the group; false when the group must be written first. */
  append(data: Uint8Array, at: number, length: number): boolean {
    if (this.#segments === 0 || this.#closed) return false;
    const b = this.buffer;
    const base = VNET_HEADER_LEN;
    const headerLength = this.#headerLength;
    const payload = length - headerLength;
    if (IPV6_HEADER + (data[at + IPV6_HEADER + 12]! >>> 4) * 4 !== headerLength) return false;
    if (this.#lastPayload !== this.#mss || payload > this.#mss || payload <= 0) return false;
    if (this.#length + payload > VNET_HEADER_LEN + MAX_IP_PACKET) return false;
    if (u32(data, at + IPV6_HEADER + 4) !== this.#nextSequence) return false;
    // Must match: version/class/flow label, hop limit, addresses, ports, acknowledgment, data offset,
    // urgent pointer and options (as GRO requires). Sequence, window and checksum may differ.
    for (let i = 0; i < 4; i++) if (b[base + i] !== data[at + i]) return false;
    if (b[base + 7] !== data[at + 7]) return false;
    for (let i = 8; i < IPV6_HEADER + 4; i++) if (b[base + i] !== data[at + i]) return false;
    for (let i = IPV6_HEADER + 8; i < IPV6_HEADER + 13; i++) if (b[base + i] !== data[at + i]) return false;
    for (let i = IPV6_HEADER + 18; i < headerLength; i++) if (b[base + i] !== data[at + i]) return false;
    b.set(data.subarray(at + headerLength, at + length), this.#length);
    // The receiver's newest window wins, as in GRO.
    b[base + IPV6_HEADER + 14] = data[at + IPV6_HEADER + 14]!;
    b[base + IPV6_HEADER + 15] = data[at + IPV6_HEADER + 15]!;
    this.#length += payload;
    this.#segments++;
    this.#lastPayload = payload;
    this.#nextSequence = (this.#nextSequence + payload) >>> 0;
    if ((data[at + IPV6_HEADER + 13]! & TCP_PSH) !== 0) {
      b[base + IPV6_HEADER + 13] = b[base + IPV6_HEADER + 13]! | TCP_PSH;
      this.#closed = true;
    }
    return true;
  }

  /** Starts a group with a candidate segment. */
  start(data: Uint8Array, at: number, length: number): void {
    const b = this.buffer;
    b.set(data.subarray(at, at + length), VNET_HEADER_LEN);
    this.#length = VNET_HEADER_LEN + length;
    this.#segments = 1;
    this.#headerLength = IPV6_HEADER + (data[at + IPV6_HEADER + 12]! >>> 4) * 4;
    this.#mss = length - this.#headerLength;
    this.#lastPayload = this.#mss;
    this.#nextSequence = (u32(data, at + IPV6_HEADER + 4) + this.#mss) >>> 0;
    this.#closed = (data[at + IPV6_HEADER + 13]! & TCP_PSH) !== 0;
  }

  /**
   * Finishes the group: one segment stays a plain packet (its checksum is already complete); several become
   * a GSO_TCPV6 super-segment with a partial checksum (the pseudo-header sum, as the kernel expects for
   * CHECKSUM_PARTIAL). Returns the octets to write from `buffer[0]`, vnet header included, and empties the group.
   */
  finish(): number {
    const length = this.#length;
    if (this.#segments === 0) return 0;
    const b = this.buffer;
    const base = VNET_HEADER_LEN;
    if (this.#segments === 1) {
      writePlainVnetHeader(b, 0);
    } else {
      const tcpLength = length - base - IPV6_HEADER;
      put16(b, base + 4, tcpLength);
      const tcp = base + IPV6_HEADER;
      put16(b, tcp + 16, pseudoHeaderSum(b, base, true, tcpLength, PROTOCOL_TCP));
      b[0] = VNET_F_NEEDS_CSUM;
      b[1] = GSO_TCPV6;
      b[2] = this.#headerLength & 0xff;
      b[3] = this.#headerLength >>> 8;
      b[4] = this.#mss & 0xff;
      b[5] = this.#mss >>> 8;
      b[6] = IPV6_HEADER;
      b[7] = 0;
      b[8] = 16; // TCP checksum offset
      b[9] = 0;
    }
    this.#segments = 0;
    this.#length = 0;
    return length;
  }
}
