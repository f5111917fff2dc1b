// IPv6 (RFC 8200): the fixed-header View and Repr, and whole packets with their extension-header chain.

import { ok, type Result } from "../core/result.ts";
import { formatIpv6, parseIpv6, type Ipv6Text } from "./address.ts";
import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import { wireError, type WireError } from "./error.ts";
import { checkUnsigned } from "./field-range.ts";
import {
  emitExtensionHeader,
  extensionHeaderLen,
  extensionHeaderProtocol,
  walkExtensionHeaders,
  type ExtensionHeaderRepr,
} from "./ipv6-extension-headers.ts";
import type { UnrecognizedOptionSite } from "./ipv6-options.ts";
import type { PseudoHeaderAddresses } from "./pseudo-header.ts";

/*
 * RFC 8200 §3:
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version| Traffic Class |           Flow Label                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Payload Length        |  Next Header  |   Hop Limit   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                Source Address (128 bits)                      |
 * |                Destination Address (128 bits)                 |
 */
const FIELD = {
  versionClassFlow: 0,
  payloadLength: 4,
  nextHeader: 6,
  hopLimit: 7,
  source: 8,
  destination: 24,
} as const;

export const IPV6_HEADER_LEN = 40;
/** RFC 8200 §5: every link carries at least 1280-octet packets. */
export const IPV6_MIN_MTU = 1280;
export const IPV6_DEFAULT_HOP_LIMIT = 64;
const IPV6_MAX_PAYLOAD = 0xffff;

/** A checked window on an IPv6 fixed header. Built only by `parse`; no getter can throw. */
export class Ipv6View {
  /** The packet cut at the end of its payload (trailing link-layer padding is left out). */
  readonly packet: Uint8Array;

  private constructor(packet: Uint8Array) {
    this.packet = packet;
  }

  /**
   * Checks the version, that 40 octets are present and that Payload Length fits in `bytes`.
   * Octets after the payload are ignored. A zero Payload Length is taken literally (no jumbograms).
   */
  static parse(bytes: Uint8Array): Result<Ipv6View, WireError> {
    if (bytes.length < IPV6_HEADER_LEN) {
      return wireError("ipv6", "truncated", bytes.length, `need ${IPV6_HEADER_LEN} octets, have ${bytes.length}`);
    }
    const version = bytes[FIELD.versionClassFlow]! >>> 4;
    if (version !== 6) return wireError("ipv6", "bad-version", FIELD.versionClassFlow, `version ${version}`);
    const payloadLength = readU16(bytes, FIELD.payloadLength);
    if (IPV6_HEADER_LEN + payloadLength > bytes.length) {
      return wireError("ipv6", "truncated", bytes.length, `payload length ${payloadLength} beyond ${bytes.length - IPV6_HEADER_LEN} octets`);
    }
    return ok(new Ipv6View(bytes.subarray(0, IPV6_HEADER_LEN + payloadLength)));
  }

  get trafficClass(): number {
    return (readU16(this.packet, FIELD.versionClassFlow) >>> 4) & 0xff;
  }
  get flowLabel(): number {
    return readU32(this.packet, FIELD.versionClassFlow) & 0xfffff;
  }
  get payloadLength(): number {
    return readU16(this.packet, FIELD.payloadLength);
  }
  get nextHeader(): number {
    return this.packet[FIELD.nextHeader]!;
  }
  get hopLimit(): number {
    return this.packet[FIELD.hopLimit]!;
  }
  get sourceBytes(): Uint8Array {
    return this.packet.subarray(FIELD.source, FIELD.source + 16);
  }
  get destinationBytes(): Uint8Array {
    return this.packet.subarray(FIELD.destination, FIELD.destination + 16);
  }
  /** Everything after the fixed header: extension headers and the upper layer. */
  get payload(): Uint8Array {
    return this.packet.subarray(IPV6_HEADER_LEN);
  }
}

/** The fixed header alone. */
export interface Ipv6HeaderRepr {
  readonly source: Ipv6Text;
  readonly destination: Ipv6Text;
  readonly nextHeader: number;
  readonly payloadLength: number;
  readonly hopLimit: number;
  readonly trafficClass: number;
  readonly flowLabel: number;
}

export function parseIpv6Header(view: Ipv6View): Ipv6HeaderRepr {
  return {
    source: formatIpv6(view.sourceBytes),
    destination: formatIpv6(view.destinationBytes),
    nextHeader: view.nextHeader,
    payloadLength: view.payloadLength,
    hopLimit: view.hopLimit,
    trafficClass: view.trafficClass,
    flowLabel: view.flowLabel,
  };
}

/** Writes the 40-octet fixed header at `offset`. Out-of-range fields or bad addresses throw RangeError. */
export function emitIpv6Header(repr: Ipv6HeaderRepr, buffer: Uint8Array, offset: number): number {
  const source = parseIpv6(repr.source);
  const destination = parseIpv6(repr.destination);
  if (!source || !destination) throw new RangeError(`IPv6 header: bad address '${repr.source}' or '${repr.destination}'`);
  checkUnsigned(repr.trafficClass, 0xff, "traffic class");
  checkUnsigned(repr.flowLabel, 0xfffff, "flow label");
  checkUnsigned(repr.payloadLength, IPV6_MAX_PAYLOAD, "payload length");
  checkUnsigned(repr.nextHeader, 0xff, "next header");
  checkUnsigned(repr.hopLimit, 0xff, "hop limit");
  if (offset + IPV6_HEADER_LEN > buffer.length) throw new RangeError(`IPv6 header does not fit at ${offset}`);
  writeU32(buffer, offset + FIELD.versionClassFlow, ((6 << 28) | (repr.trafficClass << 20) | repr.flowLabel) >>> 0);
  writeU16(buffer, offset + FIELD.payloadLength, repr.payloadLength);
  buffer[offset + FIELD.nextHeader] = repr.nextHeader;
  buffer[offset + FIELD.hopLimit] = repr.hopLimit;
  buffer.set(source, offset + FIELD.source);
  buffer.set(destination, offset + FIELD.destination);
  return IPV6_HEADER_LEN;
}

/** The fixed-header fields of a parsed packet: addresses both as RFC 5952 text and as zero-copy subarrays. */
export interface Ipv6PacketHeader extends Ipv6HeaderRepr {
  readonly sourceBytes: Uint8Array;
  readonly destinationBytes: Uint8Array;
}

/** A parsed IPv6 packet. Every Uint8Array in it is a subarray of the input. */
export interface Ipv6Packet {
  readonly view: Ipv6View;
  readonly header: Ipv6PacketHeader;
  readonly extensionHeaders: readonly ExtensionHeaderRepr[];
  /** The Next Header that ends the chain (59 = No Next Header). */
  readonly upperProtocol: number;
  /** Where `upperPayload` starts in the packet. */
  readonly upperOffset: number;
  /** The upper-layer header and data (in a non-first fragment: fragment data). */
  readonly upperPayload: Uint8Array;
  /** From a Home Address option (RFC 6275 §6.3). */
  readonly homeAddress?: Ipv6Text;
  readonly homeAddressBytes?: Uint8Array;
  /** From a Type 2 routing header (RFC 6275 §6.4). */
  readonly routingType2Address?: Ipv6Text;
  readonly routingType2AddressBytes?: Uint8Array;
  /** Options the codec did not recognise, with their RFC 8200 §4.2 actions, for the caller to apply. */
  readonly unrecognizedOptions: readonly UnrecognizedOptionSite[];
}

/**
 * Parses an IPv6 packet and walks its extension headers (see `walkExtensionHeaders`).
 * Never throws; every failure is a WireError. Datapath code that needs only the fixed header
 * should use `Ipv6View.parse`, which formats no text.
 */
export function parseIpv6Packet(bytes: Uint8Array): Result<Ipv6Packet, WireError> {
  const parsedView = Ipv6View.parse(bytes);
  if (!parsedView.ok) return parsedView;
  const view = parsedView.value;
  const walked = walkExtensionHeaders(view.packet, view.nextHeader, IPV6_HEADER_LEN);
  if (!walked.ok) return walked;
  const chain = walked.value;
  const header: Ipv6PacketHeader = {
    ...parseIpv6Header(view),
    sourceBytes: view.sourceBytes,
    destinationBytes: view.destinationBytes,
  };
  return ok({
    view,
    header,
    extensionHeaders: chain.headers,
    upperProtocol: chain.upperProtocol,
    upperOffset: chain.upperOffset,
    upperPayload: view.packet.subarray(chain.upperOffset),
    unrecognizedOptions: chain.unrecognizedOptions,
    ...(chain.homeAddressBytes
      ? { homeAddress: formatIpv6(chain.homeAddressBytes), homeAddressBytes: chain.homeAddressBytes }
      : {}),
    ...(chain.routingType2AddressBytes
      ? { routingType2Address: formatIpv6(chain.routingType2AddressBytes), routingType2AddressBytes: chain.routingType2AddressBytes }
      : {}),
  });
}

/** An IPv6 packet to build. Defaults: hop limit 64, traffic class 0, flow label 0, no extension headers. */
export interface Ipv6PacketRepr {
  readonly source: Ipv6Text;
  readonly destination: Ipv6Text;
  readonly hopLimit?: number;
  readonly trafficClass?: number;
  readonly flowLabel?: number;
  /** In wire order; emit chains their Next Header fields and pads option headers. */
  readonly extensionHeaders?: readonly ExtensionHeaderRepr[];
  readonly upperProtocol: number;
  /** Written as is: the caller has already computed any upper-layer checksum. */
  readonly upperPayload: Uint8Array;
}

/** Octets `emitIpv6Packet(repr)` produces. */
export function ipv6PacketLen(repr: Ipv6PacketRepr): number {
  let len = IPV6_HEADER_LEN + repr.upperPayload.length;
  for (const header of repr.extensionHeaders ?? []) len += extensionHeaderLen(header);
  return len;
}

/** Writes the packet at `offset` and returns its length. A buffer too small or an invalid repr throws RangeError. */
export function emitIpv6PacketInto(repr: Ipv6PacketRepr, buffer: Uint8Array, offset: number): number {
  const len = ipv6PacketLen(repr);
  if (len - IPV6_HEADER_LEN > IPV6_MAX_PAYLOAD) throw new RangeError(`IPv6 payload of ${len - IPV6_HEADER_LEN} octets (no jumbograms)`);
  if (offset < 0 || offset + len > buffer.length) throw new RangeError(`IPv6 packet of ${len} octets does not fit at ${offset}`);
  const extensionHeaders = repr.extensionHeaders ?? [];
  const protocolAfter = (i: number): number => {
    const next = extensionHeaders[i + 1];
    return next ? extensionHeaderProtocol(next) : repr.upperProtocol;
  };
  const first = extensionHeaders[0];
  emitIpv6Header(
    {
      source: repr.source,
      destination: repr.destination,
      nextHeader: first ? extensionHeaderProtocol(first) : repr.upperProtocol,
      payloadLength: len - IPV6_HEADER_LEN,
      hopLimit: repr.hopLimit ?? IPV6_DEFAULT_HOP_LIMIT,
      trafficClass: repr.trafficClass ?? 0,
      flowLabel: repr.flowLabel ?? 0,
    },
    buffer,
    offset,
  );
  let at = offset + IPV6_HEADER_LEN;
  extensionHeaders.forEach((header, i) => {
    at += emitExtensionHeader(header, protocolAfter(i), buffer, at);
  });
  buffer.set(repr.upperPayload, at);
  return len;
}

export function emitIpv6Packet(repr: Ipv6PacketRepr): Uint8Array {
  const out = new Uint8Array(ipv6PacketLen(repr));
  emitIpv6PacketInto(repr, out, 0);
  return out;
}

/**
 * The pseudo-header addresses for the upper-layer checksum of a received packet: the source is
 * the home address when a Home Address option is present (RFC 6275 §6.3), the destination is the
 * Type 2 routing header's address when present (the final destination, RFC 8200 §8.1).
 */
export function ipv6UpperChecksumAddresses(packet: Ipv6Packet): PseudoHeaderAddresses {
  return {
    source: packet.homeAddressBytes ?? packet.header.sourceBytes,
    destination: packet.routingType2AddressBytes ?? packet.header.destinationBytes,
  };
}

/** The same addresses for a packet about to be emitted, so its upper-layer checksum can be computed first. */
export function ipv6ReprChecksumAddresses(repr: Ipv6PacketRepr): PseudoHeaderAddresses {
  let source: Ipv6Text = repr.source;
  let destination: Ipv6Text = repr.destination;
  for (const header of repr.extensionHeaders ?? []) {
    if (header.kind === "routing-type2") destination = header.homeAddress;
    if (header.kind !== "destination-options") continue;
    for (const option of header.options) if (option.type === "home-address") source = option.homeAddress;
  }
  const sourceBytes = parseIpv6(source);
  const destinationBytes = parseIpv6(destination);
  if (!sourceBytes || !destinationBytes) throw new RangeError(`bad IPv6 address '${source}' or '${destination}'`);
  return { source: sourceBytes, destination: destinationBytes };
}
