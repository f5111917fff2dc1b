// IPv6 extension headers (RFC 8200 §4): Hop-by-Hop, Destination Options, Routing (Type 2 of RFC 6275 §6.4 and generic), Fragment; and the bounded chain walk.

import { assertNever, ok, type Result } from "../core/result.ts";
import { formatIpv6, parseIpv6 } from "./address.ts";
import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import { wireError, type WireError } from "./error.ts";
import { checkUnsigned } from "./field-range.ts";
import { emitIpv6Options, ipv6OptionsHeaderLen, parseIpv6Options, type Ipv6OptionRepr, type UnrecognizedOptionSite } from "./ipv6-options.ts";
import { IpProtocol } from "./protocol-numbers.ts";

/**
 * An extension header as a caller means it. Next Header and Hdr Ext Len are not part of a repr:
 * the chain emitter derives them. `fragmentOffset` is in 8-octet units, as on the wire.
 * A generic `routing` header's `data` is everything after Segments Left (4 + data.length must be a multiple of 8).
 */
export type ExtensionHeaderRepr =
  | { readonly kind: "hop-by-hop"; readonly options: readonly Ipv6OptionRepr[] }
  | { readonly kind: "destination-options"; readonly options: readonly Ipv6OptionRepr[] }
  | { readonly kind: "routing-type2"; readonly homeAddress: string }
  | { readonly kind: "routing"; readonly routingType: number; readonly segmentsLeft: number; readonly data: Uint8Array }
  | { readonly kind: "fragment"; readonly fragmentOffset: number; readonly moreFragments: boolean; readonly identification: number };

/**
 * The longest chain the walker follows. RFC 8200 §4.1 allows each header once (Destination Options
 * twice): six in all; eight leaves room for a duplicate and stops loops and abuse early.
 */
export const MAX_EXTENSION_HEADERS = 8;

/** RFC 6275 §6.4: a Type 2 routing header is always 24 octets (Hdr Ext Len 2) with Segments Left 1. */
export const ROUTING_TYPE2 = 2;
const ROUTING_TYPE2_HDR_EXT_LEN = 2;
const ROUTING_TYPE2_SEGMENTS_LEFT = 1;

/** Generic header fields (RFC 8200 §4.3–4.5): offsets from the start of each extension header. */
const FIELD = {
  nextHeader: 0,
  hdrExtLen: 1,
  routingType: 2,
  segmentsLeft: 3,
  routingData: 4,
  type2HomeAddress: 8,
  fragmentReserved: 1,
  fragmentOffsetFlags: 2,
  fragmentIdentification: 4,
} as const;
const FRAGMENT_HEADER_LEN = 8;

/** Whether the walker treats `nextHeader` as an extension header (the rest are upper layers, ESP and AH included). */
export function isWalkedExtensionHeader(nextHeader: number): boolean {
  return (
    nextHeader === IpProtocol.hopByHop ||
    nextHeader === IpProtocol.destinationOptions ||
    nextHeader === IpProtocol.routing ||
    nextHeader === IpProtocol.fragment
  );
}

/** The Next Header value that announces `repr`. */
export function extensionHeaderProtocol(repr: ExtensionHeaderRepr): number {
  switch (repr.kind) {
    case "hop-by-hop":
      return IpProtocol.hopByHop;
    case "destination-options":
      return IpProtocol.destinationOptions;
    case "routing-type2":
    case "routing":
      return IpProtocol.routing;
    case "fragment":
      return IpProtocol.fragment;
    default:
      return assertNever(repr, "extension header");
  }
}

/** Octets `repr` takes on the wire (always a multiple of 8). Invalid reprs throw RangeError. */
export function extensionHeaderLen(repr: ExtensionHeaderRepr): number {
  switch (repr.kind) {
    case "hop-by-hop":
    case "destination-options":
      return ipv6OptionsHeaderLen(repr.options);
    case "routing-type2":
      return 8 * (ROUTING_TYPE2_HDR_EXT_LEN + 1);
    case "routing": {
      const len = FIELD.routingData + repr.data.length;
      if (len % 8 !== 0 || len > 2048) throw new RangeError(`routing header of ${len} octets (a multiple of 8, at most 2048)`);
      return len;
    }
    case "fragment":
      return FRAGMENT_HEADER_LEN;
    default:
      return assertNever(repr, "extension header");
  }
}

/** Writes `repr` announcing `nextHeader` at `offset`; returns the octets written. The buffer must be sized by the caller. */
export function emitExtensionHeader(repr: ExtensionHeaderRepr, nextHeader: number, buffer: Uint8Array, offset: number): number {
  const len = extensionHeaderLen(repr);
  if (offset + len > buffer.length) throw new RangeError(`extension header of ${len} octets does not fit at ${offset}`);
  buffer[offset + FIELD.nextHeader] = nextHeader;
  switch (repr.kind) {
    case "hop-by-hop":
    case "destination-options":
      emitIpv6Options(repr.options, buffer, offset);
      buffer[offset + FIELD.hdrExtLen] = len / 8 - 1;
      break;
    case "routing-type2": {
      const address = parseIpv6(repr.homeAddress);
      if (!address) throw new RangeError(`routing type 2: '${repr.homeAddress}' is not an IPv6 address`);
      buffer[offset + FIELD.hdrExtLen] = ROUTING_TYPE2_HDR_EXT_LEN;
      buffer[offset + FIELD.routingType] = ROUTING_TYPE2;
      buffer[offset + FIELD.segmentsLeft] = ROUTING_TYPE2_SEGMENTS_LEFT;
      writeU32(buffer, offset + FIELD.routingData, 0);
      buffer.set(address, offset + FIELD.type2HomeAddress);
      break;
    }
    case "routing":
      checkUnsigned(repr.routingType, 0xff, "routing type");
      checkUnsigned(repr.segmentsLeft, 0xff, "segments left");
      if (repr.routingType === ROUTING_TYPE2) throw new RangeError("routing type 2 has its own repr (routing-type2)");
      buffer[offset + FIELD.hdrExtLen] = len / 8 - 1;
      buffer[offset + FIELD.routingType] = repr.routingType;
      buffer[offset + FIELD.segmentsLeft] = repr.segmentsLeft;
      buffer.set(repr.data, offset + FIELD.routingData);
      break;
    case "fragment":
      checkUnsigned(repr.fragmentOffset, 0x1fff, "fragment offset");
      checkUnsigned(repr.identification, 0xffffffff, "fragment identification");
      buffer[offset + FIELD.fragmentReserved] = 0;
      writeU16(buffer, offset + FIELD.fragmentOffsetFlags, (repr.fragmentOffset << 3) | (repr.moreFragments ? 1 : 0));
      writeU32(buffer, offset + FIELD.fragmentIdentification, repr.identification);
      break;
    default:
      assertNever(repr, "extension header");
  }
  return len;
}

/** What the walk found between the fixed header and the upper layer. */
export interface ExtensionChain {
  readonly headers: ExtensionHeaderRepr[];
  /** Next Header of the last extension header (or of the fixed header): the upper-layer protocol. */
  readonly upperProtocol: number;
  /** Packet offset of the upper-layer header (or, in a non-first fragment, of the fragment data). */
  readonly upperOffset: number;
  /** From the Home Address option in a Destination Options header (RFC 6275 §6.3); a subarray. */
  readonly homeAddressBytes?: Uint8Array;
  /** From the Type 2 routing header (RFC 6275 §6.4); a subarray. */
  readonly routingType2AddressBytes?: Uint8Array;
  readonly unrecognizedOptions: UnrecognizedOptionSite[];
}

/**
 * Walks the extension headers of `packet` (the IPv6 packet cut at the end of its payload) from
 * the fixed header's Next Header `first`, starting at `start`. Stops at the first protocol that is
 * not a walked extension header, or after a Fragment header whose offset is not 0 (what follows is
 * fragment data). Errors: truncated or overrunning headers, Hop-by-Hop anywhere but first
 * (RFC 8200 §4.3), a malformed Type 2 header, a second Home Address option or Type 2 header,
 * more than MAX_EXTENSION_HEADERS headers.
 */
export function walkExtensionHeaders(packet: Uint8Array, first: number, start: number): Result<ExtensionChain, WireError> {
  const headers: ExtensionHeaderRepr[] = [];
  const unrecognizedOptions: UnrecognizedOptionSite[] = [];
  let homeAddressBytes: Uint8Array | undefined;
  let routingType2AddressBytes: Uint8Array | undefined;
  let nextHeader = first;
  let at = start;
  while (isWalkedExtensionHeader(nextHeader)) {
    if (headers.length === MAX_EXTENSION_HEADERS) {
      return wireError("ipv6-ext", "too-many-headers", at, `more than ${MAX_EXTENSION_HEADERS} extension headers`);
    }
    if (nextHeader === IpProtocol.hopByHop && headers.length > 0) {
      return wireError("ipv6-ext", "bad-value", at, "Hop-by-Hop Options header not first (RFC 8200 §4.3)");
    }
    if (at + 8 > packet.length) return wireError("ipv6-ext", "truncated", at, "extension header needs 8 octets");
    const len = nextHeader === IpProtocol.fragment ? FRAGMENT_HEADER_LEN : 8 * (packet[at + FIELD.hdrExtLen]! + 1);
    if (at + len > packet.length) {
      return wireError("ipv6-ext", "truncated", at, `extension header of ${len} octets overruns the payload`);
    }
    const header = packet.subarray(at, at + len);
    const following = header[FIELD.nextHeader]!;
    switch (nextHeader) {
      case IpProtocol.hopByHop:
      case IpProtocol.destinationOptions: {
        const parsed = parseIpv6Options(header, at);
        if (!parsed.ok) return parsed;
        const kind = nextHeader === IpProtocol.hopByHop ? "hop-by-hop" : "destination-options";
        if (kind === "destination-options" && parsed.value.homeAddressBytes) {
          if (homeAddressBytes) return wireError("ipv6-ext", "bad-value", at, "second home address option");
          homeAddressBytes = parsed.value.homeAddressBytes;
        }
        unrecognizedOptions.push(...parsed.value.unrecognized);
        headers.push({ kind, options: parsed.value.options });
        break;
      }
      case IpProtocol.routing: {
        const routingType = header[FIELD.routingType]!;
        const segmentsLeft = header[FIELD.segmentsLeft]!;
        if (routingType === ROUTING_TYPE2) {
          if (header[FIELD.hdrExtLen] !== ROUTING_TYPE2_HDR_EXT_LEN) {
            return wireError("ipv6-ext", "bad-length", at + FIELD.hdrExtLen, "type 2 routing header length is not 2 (RFC 6275 §6.4)");
          }
          if (segmentsLeft !== ROUTING_TYPE2_SEGMENTS_LEFT) {
            return wireError("ipv6-ext", "bad-value", at + FIELD.segmentsLeft, "type 2 routing header segments left is not 1 (RFC 6275 §6.4)");
          }
          if (routingType2AddressBytes) return wireError("ipv6-ext", "bad-value", at, "second type 2 routing header");
          routingType2AddressBytes = header.subarray(FIELD.type2HomeAddress, FIELD.type2HomeAddress + 16);
          headers.push({ kind: "routing-type2", homeAddress: formatIpv6(routingType2AddressBytes) });
        } else {
          headers.push({ kind: "routing", routingType, segmentsLeft, data: header.subarray(FIELD.routingData) });
        }
        break;
      }
      case IpProtocol.fragment: {
        const offsetFlags = readU16(header, FIELD.fragmentOffsetFlags);
        const fragmentOffset = offsetFlags >>> 3;
        headers.push({
          kind: "fragment",
          fragmentOffset,
          moreFragments: (offsetFlags & 1) === 1,
          identification: readU32(header, FIELD.fragmentIdentification),
        });
        if (fragmentOffset !== 0) {
          return ok(chain(headers, following, at + len, unrecognizedOptions, homeAddressBytes, routingType2AddressBytes));
        }
        break;
      }
    }
    nextHeader = following;
    at += len;
  }
  return ok(chain(headers, nextHeader, at, unrecognizedOptions, homeAddressBytes, routingType2AddressBytes));
}

function chain(
  headers: ExtensionHeaderRepr[],
  upperProtocol: number,
  upperOffset: number,
  unrecognizedOptions: UnrecognizedOptionSite[],
  homeAddressBytes: Uint8Array | undefined,
  routingType2AddressBytes: Uint8Array | undefined,
): ExtensionChain {
  return {
    headers,
    upperProtocol,
    upperOffset,
    unrecognizedOptions,
    ...(homeAddressBytes ? { homeAddressBytes } : {}),
    ...(routingType2AddressBytes ? { routingType2AddressBytes } : {}),
  };
}
