// IPv4 (RFC 791): the header View and Repr with options, header checksum and fragment fields.

import { ok, type Result } from "../core/result.ts";
import { formatIpv4, parseIpv4, type Ipv4Text } from "./address.ts";
import { readU16, writeU16 } from "./bytes.ts";
import { internetChecksum } from "./checksum.ts";
import { wireError, type WireError } from "./error.ts";
import { checkUnsigned } from "./field-range.ts";
import type { PseudoHeaderAddresses } from "./pseudo-header.ts";

/*
 * RFC 791 §3.1:
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |Type of Service|          Total Length         |
 * |         Identification        |Flags|      Fragment Offset    |
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * |                       Source Address                          |
 * |                    Destination Address                        |
 * |                    Options                    |    Padding    |
 */
const FIELD = {
  versionIhl: 0,
  typeOfService: 1,
  totalLength: 2,
  identification: 4,
  flagsFragment: 6,
  timeToLive: 8,
  protocol: 9,
  checksum: 10,
  source: 12,
  destination: 16,
  options: 20,
} as const;
const FLAG_DONT_FRAGMENT = 0x4000;
const FLAG_MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;
const OPTION_END = 0;
const OPTION_NOP = 1;

export const IPV4_MIN_HEADER_LEN = 20;
/** IHL is 4 bits of 32-bit words: at most 60 octets, so 40 of options. */
export const IPV4_MAX_OPTIONS_LEN = 40;
export const IPV4_DEFAULT_TIME_TO_LIVE = 64;

/** A checked window on an IPv4 header. Built only by `parse`; no getter can throw. */
export class Ipv4View {
  /** The packet cut at Total Length (trailing link-layer padding is left out). */
  readonly packet: Uint8Array;

  private constructor(packet: Uint8Array) {
    this.packet = packet;
  }

  /**
   * Checks version, IHL (5..15 and within the input), Total Length (at least the header, at most the
   * input) and the option list's lengths. It does not check the header checksum: see `verifyChecksum`.
   */
  static parse(bytes: Uint8Array): Result<Ipv4View, WireError> {
    if (bytes.length < IPV4_MIN_HEADER_LEN) {
      return wireError("ipv4", "truncated", bytes.length, `need ${IPV4_MIN_HEADER_LEN} octets, have ${bytes.length}`);
    }
    const version = bytes[FIELD.versionIhl]! >>> 4;
    if (version !== 4) return wireError("ipv4", "bad-version", FIELD.versionIhl, `version ${version}`);
    const headerLength = (bytes[FIELD.versionIhl]! & 0x0f) * 4;
    if (headerLength < IPV4_MIN_HEADER_LEN) return wireError("ipv4", "bad-length", FIELD.versionIhl, `IHL of ${headerLength} octets`);
    if (headerLength > bytes.length) return wireError("ipv4", "truncated", bytes.length, `IHL of ${headerLength} octets beyond the input`);
    const totalLength = readU16(bytes, FIELD.totalLength);
    if (totalLength < headerLength) return wireError("ipv4", "bad-length", FIELD.totalLength, `total length ${totalLength} below the header`);
    if (totalLength > bytes.length) return wireError("ipv4", "truncated", bytes.length, `total length ${totalLength} beyond ${bytes.length} octets`);
    const options = checkOptions(bytes, headerLength);
    if (!options.ok) return options;
    return ok(new Ipv4View(bytes.subarray(0, totalLength)));
  }

  get headerLength(): number {
    return (this.packet[FIELD.versionIhl]! & 0x0f) * 4;
  }
  get typeOfService(): number {
    return this.packet[FIELD.typeOfService]!;
  }
  get totalLength(): number {
    return this.packet.length;
  }
  get identification(): number {
    return readU16(this.packet, FIELD.identification);
  }
  get dontFragment(): boolean {
    return (readU16(this.packet, FIELD.flagsFragment) & FLAG_DONT_FRAGMENT) !== 0;
  }
  get moreFragments(): boolean {
    return (readU16(this.packet, FIELD.flagsFragment) & FLAG_MORE_FRAGMENTS) !== 0;
  }
  /** In 8-octet units, as on the wire. */
  get fragmentOffset(): number {
    return readU16(this.packet, FIELD.flagsFragment) & FRAGMENT_OFFSET_MASK;
  }
  /** True for any piece of a fragmented datagram (MF set or a non-zero offset). */
  get isFragment(): boolean {
    return this.moreFragments || this.fragmentOffset !== 0;
  }
  get timeToLive(): number {
    return this.packet[FIELD.timeToLive]!;
  }
  get protocol(): number {
    return this.packet[FIELD.protocol]!;
  }
  get checksum(): number {
    return readU16(this.packet, FIELD.checksum);
  }
  get sourceBytes(): Uint8Array {
    return this.packet.subarray(FIELD.source, FIELD.source + 4);
  }
  get destinationBytes(): Uint8Array {
    return this.packet.subarray(FIELD.destination, FIELD.destination + 4);
  }
  /** The options area, padding included (a multiple of 4 octets, possibly empty). */
  get options(): Uint8Array {
    return this.packet.subarray(FIELD.options, this.headerLength);
  }
  get payload(): Uint8Array {
    return this.packet.subarray(this.headerLength);
  }

  /** RFC 791 §3.1: the one's-complement sum over the header, checksum included, is all ones. */
  verifyChecksum(): Result<void, WireError> {
    if (internetChecksum(this.packet.subarray(0, this.headerLength)) !== 0) {
      return wireError("ipv4", "bad-checksum", FIELD.checksum, `header checksum 0x${this.checksum.toString(16).padStart(4, "0")} does not verify`);
    }
    return ok(undefined);
  }
}

/** RFC 791 §3.1 options: End of List stops the walk, NOP is one octet, every other option is type, length (≥ 2), data. */
function checkOptions(bytes: Uint8Array, headerLength: number): Result<void, WireError> {
  let at = FIELD.options;
  while (at < headerLength) {
    const type = bytes[at]!;
    if (type === OPTION_END) break;
    if (type === OPTION_NOP) {
      at += 1;
      continue;
    }
    if (at + 2 > headerLength) return wireError("ipv4", "bad-length", at, `option ${type} has no length octet`);
    const length = bytes[at + 1]!;
    if (length < 2 || at + length > headerLength) return wireError("ipv4", "bad-length", at + 1, `option ${type} length ${length}`);
    at += length;
  }
  return ok(undefined);
}

export interface Ipv4PacketHeader {
  readonly source: Ipv4Text;
  readonly destination: Ipv4Text;
  readonly sourceBytes: Uint8Array;
  readonly destinationBytes: Uint8Array;
  readonly typeOfService: number;
  readonly totalLength: number;
  readonly headerLength: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  readonly fragmentOffset: number;
  readonly timeToLive: number;
  readonly options: Uint8Array;
}

/** A parsed, checksum-verified IPv4 packet. Every Uint8Array in it is a subarray of the input. */
export interface Ipv4Packet {
  readonly view: Ipv4View;
  readonly header: Ipv4PacketHeader;
  readonly isFragment: boolean;
  readonly upperProtocol: number;
  readonly upperOffset: number;
  /** The upper-layer header and data (in a non-first fragment: fragment data). */
  readonly upperPayload: Uint8Array;
}

/** Parses an IPv4 packet and verifies its header checksum. Never throws. */
export function parseIpv4Packet(bytes: Uint8Array): Result<Ipv4Packet, WireError> {
  const parsed = Ipv4View.parse(bytes);
  if (!parsed.ok) return parsed;
  const view = parsed.value;
  const verified = view.verifyChecksum();
  if (!verified.ok) return verified;
  return ok({
    view,
    header: {
      source: formatIpv4(view.sourceBytes),
      destination: formatIpv4(view.destinationBytes),
      sourceBytes: view.sourceBytes,
      destinationBytes: view.destinationBytes,
      typeOfService: view.typeOfService,
      totalLength: view.totalLength,
      headerLength: view.headerLength,
      identification: view.identification,
      dontFragment: view.dontFragment,
      moreFragments: view.moreFragments,
      fragmentOffset: view.fragmentOffset,
      timeToLive: view.timeToLive,
      options: view.options,
    },
    isFragment: view.isFragment,
    upperProtocol: view.protocol,
    upperOffset: view.headerLength,
    upperPayload: view.payload,
  });
}

/** The pseudo-header addresses of a received IPv4 packet (RFC 768). */
export function ipv4UpperChecksumAddresses(packet: Ipv4Packet): PseudoHeaderAddresses {
  return { source: packet.header.sourceBytes, destination: packet.header.destinationBytes };
}

/**
 * An IPv4 packet to build. Defaults: TTL 64, TOS 0, identification 0, no flags, offset 0, no options.
 * `options` is written as is and must be a multiple of 4 octets (pad with End of List), at most 40.
 */
export interface Ipv4PacketRepr {
  readonly source: Ipv4Text;
  readonly destination: Ipv4Text;
  readonly timeToLive?: number;
  readonly typeOfService?: number;
  readonly identification?: number;
  readonly dontFragment?: boolean;
  readonly moreFragments?: boolean;
  /** In 8-octet units. */
  readonly fragmentOffset?: number;
  readonly options?: Uint8Array;
  readonly upperProtocol: number;
  readonly upperPayload: Uint8Array;
}

export function ipv4PacketLen(repr: Ipv4PacketRepr): number {
  return IPV4_MIN_HEADER_LEN + (repr.options?.length ?? 0) + repr.upperPayload.length;
}

/** Writes the packet with its header checksum at `offset`; returns its length. Invalid reprs or buffers throw RangeError. */
export function emitIpv4PacketInto(repr: Ipv4PacketRepr, buffer: Uint8Array, offset: number): number {
  const source = parseIpv4(repr.source);
  const destination = parseIpv4(repr.destination);
  if (!source || !destination) throw new RangeError(`IPv4: bad address '${repr.source}' or '${repr.destination}'`);
  const options = repr.options ?? new Uint8Array(0);
  if (options.length % 4 !== 0 || options.length > IPV4_MAX_OPTIONS_LEN) {
    throw new RangeError(`IPv4 options of ${options.length} octets (a multiple of 4, at most ${IPV4_MAX_OPTIONS_LEN})`);
  }
  const fragmentOffset = repr.fragmentOffset ?? 0;
  checkUnsigned(fragmentOffset, FRAGMENT_OFFSET_MASK, "fragment offset");
  const timeToLive = repr.timeToLive ?? IPV4_DEFAULT_TIME_TO_LIVE;
  checkUnsigned(timeToLive, 0xff, "time to live");
  const typeOfService = repr.typeOfService ?? 0;
  checkUnsigned(typeOfService, 0xff, "type of service");
  const identification = repr.identification ?? 0;
  checkUnsigned(identification, 0xffff, "identification");
  checkUnsigned(repr.upperProtocol, 0xff, "protocol");
  const headerLength = IPV4_MIN_HEADER_LEN + options.length;
  const len = headerLength + repr.upperPayload.length;
  if (len > 0xffff) throw new RangeError(`IPv4 packet of ${len} octets`);
  if (offset < 0 || offset + len > buffer.length) throw new RangeError(`IPv4 packet of ${len} octets does not fit at ${offset}`);
  const flags = (repr.dontFragment ? FLAG_DONT_FRAGMENT : 0) | (repr.moreFragments ? FLAG_MORE_FRAGMENTS : 0);
  buffer[offset + FIELD.versionIhl] = 0x40 | (headerLength / 4);
  buffer[offset + FIELD.typeOfService] = typeOfService;
  writeU16(buffer, offset + FIELD.totalLength, len);
  writeU16(buffer, offset + FIELD.identification, identification);
  writeU16(buffer, offset + FIELD.flagsFragment, flags | fragmentOffset);
  buffer[offset + FIELD.timeToLive] = timeToLive;
  buffer[offset + FIELD.protocol] = repr.upperProtocol;
  writeU16(buffer, offset + FIELD.checksum, 0);
  buffer.set(source, offset + FIELD.source);
  buffer.set(destination, offset + FIELD.destination);
  buffer.set(options, offset + FIELD.options);
  writeU16(buffer, offset + FIELD.checksum, internetChecksum(buffer.subarray(offset, offset + headerLength)));
  buffer.set(repr.upperPayload, offset + headerLength);
  return len;
}

export function emitIpv4Packet(repr: Ipv4PacketRepr): Uint8Array {
  const out = new Uint8Array(ipv4PacketLen(repr));
  emitIpv4PacketInto(repr, out, 0);
  return out;
}

/** The pseudo-header addresses for a packet about to be emitted. */
export function ipv4ReprChecksumAddresses(repr: Ipv4PacketRepr): PseudoHeaderAddresses {
  const source = parseIpv4(repr.source);
  const destination = parseIpv4(repr.destination);
  if (!source || !destination) throw new RangeError(`IPv4: bad address '${repr.source}' or '${repr.destination}'`);
  return { source, destination };
}
