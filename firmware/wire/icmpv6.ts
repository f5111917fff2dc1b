// ICMPv6 (RFC 4443): echo and error messages, checksum over the IPv6 pseudo-header, and error replies (Packet Too Big for the data plane).

import { err, ok, type Result } from "../core/result.ts";
import { formatIpv6 } from "./address.ts";
import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import { wireError, type WireError } from "./error.ts";
import { checkUnsigned } from "./field-range.ts";
import { walkExtensionHeaders } from "./ipv6-extension-headers.ts";
import { emitIpv6Packet, IPV6_DEFAULT_HOP_LIMIT, IPV6_HEADER_LEN, IPV6_MIN_MTU, type Ipv6PacketRepr } from "./ipv6.ts";
import { IpProtocol } from "./protocol-numbers.ts";
import { pseudoHeaderFamily, upperLayerChecksum, type PseudoHeaderAddresses } from "./pseudo-header.ts";

/*
 * RFC 4443 §2.1 and §3–4:
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Type      |     Code      |          Checksum             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Identifier / Unused / MTU / Pointer  |  Sequence Number      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Data / as much of the invoking packet as fits in 1280 octets   |
 */
const FIELD = { type: 0, code: 1, checksum: 2, body: 4, identifier: 4, sequenceNumber: 6, parameter: 4, data: 8 } as const;
export const ICMPV6_HEADER_LEN = 4;
/** Every message monami knows has a 4-octet field after the checksum. */
const ICMPV6_FIXED_LEN = 8;

export const Icmpv6Type = {
  destinationUnreachable: 1,
  packetTooBig: 2,
  timeExceeded: 3,
  parameterProblem: 4,
  echoRequest: 128,
  echoReply: 129,
  redirect: 137,
} as const;

/** RFC 4443 §3.1. */
export const DestinationUnreachableCode = {
  noRoute: 0,
  administrativelyProhibited: 1,
  beyondScopeOfSourceAddress: 2,
  addressUnreachable: 3,
  portUnreachable: 4,
  sourceAddressFailedPolicy: 5,
  rejectRouteToDestination: 6,
} as const;

/** RFC 4443 §3.3. */
export const TimeExceededCode = { hopLimitExceeded: 0, fragmentReassemblyTimeExceeded: 1 } as const;

/** RFC 4443 §3.4. */
export const ParameterProblemCode = { erroneousHeaderField: 0, unrecognizedNextHeader: 1, unrecognizedIpv6Option: 2 } as const;

const KNOWN_TYPES: ReadonlySet<number> = new Set([1, 2, 3, 4, 128, 129]);

/**
 * An ICMPv6 message as a caller means it. Codes RFC 4443 says to set to 0 and ignore (Packet Too
 * Big, Echo) are not kept; unused fields are written as 0 and ignored. Types monami does not model
 * are `other`, with `body` = everything after the checksum.
 */
export type Icmpv6Repr =
  | { readonly kind: "echo-request"; readonly identifier: number; readonly sequenceNumber: number; readonly data: Uint8Array }
  | { readonly kind: "echo-reply"; readonly identifier: number; readonly sequenceNumber: number; readonly data: Uint8Array }
  | { readonly kind: "destination-unreachable"; readonly code: number; readonly invokingPacket: Uint8Array }
  | { readonly kind: "packet-too-big"; readonly mtu: number; readonly invokingPacket: Uint8Array }
  | { readonly kind: "time-exceeded"; readonly code: number; readonly invokingPacket: Uint8Array }
  | { readonly kind: "parameter-problem"; readonly code: number; readonly pointer: number; readonly invokingPacket: Uint8Array }
  | { readonly kind: "other"; readonly type: number; readonly code: number; readonly body: Uint8Array };

/** A checked window on an ICMPv6 message (the whole upper-layer payload). No getter can throw. */
export class Icmpv6View {
  readonly message: Uint8Array;

  private constructor(message: Uint8Array) {
    this.message = message;
  }

  /** Checks the 4-octet header, and 8 octets for the types in RFC 4443 (errors and echo). */
  static parse(bytes: Uint8Array): Result<Icmpv6View, WireError> {
    if (bytes.length < ICMPV6_HEADER_LEN) return wireError("icmpv6", "truncated", bytes.length, `need ${ICMPV6_HEADER_LEN} octets`);
    if (KNOWN_TYPES.has(bytes[FIELD.type]!) && bytes.length < ICMPV6_FIXED_LEN) {
      return wireError("icmpv6", "truncated", bytes.length, `type ${bytes[FIELD.type]} needs ${ICMPV6_FIXED_LEN} octets`);
    }
    return ok(new Icmpv6View(bytes));
  }

  get type(): number {
    return this.message[FIELD.type]!;
  }
  get code(): number {
    return this.message[FIELD.code]!;
  }
  get checksum(): number {
    return readU16(this.message, FIELD.checksum);
  }
  /** Everything after the checksum. */
  get body(): Uint8Array {
    return this.message.subarray(FIELD.body);
  }

  /** RFC 4443 §2.3: over the IPv6 pseudo-header with Next Header 58. */
  verifyChecksum(addresses: PseudoHeaderAddresses): Result<void, WireError> {
    if (pseudoHeaderFamily(addresses) !== "ipv6") throw new RangeError("ICMPv6 checksum needs IPv6 addresses");
    if (upperLayerChecksum(addresses, IpProtocol.icmpv6, this.message) !== 0) {
      return wireError("icmpv6", "bad-checksum", FIELD.checksum, `checksum 0x${this.checksum.toString(16).padStart(4, "0")} does not verify`);
    }
    return ok(undefined);
  }
}

/** Parses and verifies a message; `addresses` come from `ipv6UpperChecksumAddresses`. Data fields are subarrays. */
export function parseIcmpv6(bytes: Uint8Array, addresses: PseudoHeaderAddresses): Result<Icmpv6Repr, WireError> {
  const parsed = Icmpv6View.parse(bytes);
  if (!parsed.ok) return parsed;
  const view = parsed.value;
  const verified = view.verifyChecksum(addresses);
  if (!verified.ok) return verified;
  return ok(icmpv6Repr(view));
}

/** The repr of a parsed view, without checking the checksum (for messages quoted inside others). */
export function icmpv6Repr(view: Icmpv6View): Icmpv6Repr {
  const m = view.message;
  const parameter = (): number => readU32(m, FIELD.parameter);
  const tail = (): Uint8Array => m.subarray(FIELD.data);
  switch (view.type) {
    case Icmpv6Type.echoRequest:
    case Icmpv6Type.echoReply:
      return {
        kind: view.type === Icmpv6Type.echoRequest ? "echo-request" : "echo-reply",
        identifier: readU16(m, FIELD.identifier),
        sequenceNumber: readU16(m, FIELD.sequenceNumber),
        data: tail(),
      };
    case Icmpv6Type.destinationUnreachable:
      return { kind: "destination-unreachable", code: view.code, invokingPacket: tail() };
    case Icmpv6Type.packetTooBig:
      return { kind: "packet-too-big", mtu: parameter(), invokingPacket: tail() };
    case Icmpv6Type.timeExceeded:
      return { kind: "time-exceeded", code: view.code, invokingPacket: tail() };
    case Icmpv6Type.parameterProblem:
      return { kind: "parameter-problem", code: view.code, pointer: parameter(), invokingPacket: tail() };
    default:
      return { kind: "other", type: view.type, code: view.code, body: view.body };
  }
}

export function icmpv6Len(repr: Icmpv6Repr): number {
  switch (repr.kind) {
    case "echo-request":
    case "echo-reply":
      return ICMPV6_FIXED_LEN + repr.data.length;
    case "other":
      return ICMPV6_HEADER_LEN + repr.body.length;
    default:
      return ICMPV6_FIXED_LEN + repr.invokingPacket.length;
  }
}

/** Writes the message with its checksum at `offset`; returns its length. Invalid reprs or buffers throw RangeError. */
export function emitIcmpv6Into(repr: Icmpv6Repr, addresses: PseudoHeaderAddresses, buffer: Uint8Array, offset: number): number {
  if (pseudoHeaderFamily(addresses) !== "ipv6") throw new RangeError("ICMPv6 checksum needs IPv6 addresses");
  const len = icmpv6Len(repr);
  if (offset < 0 || offset + len > buffer.length) throw new RangeError(`ICMPv6 message of ${len} octets does not fit at ${offset}`);
  const at = (field: number): number => offset + field;
  let type: number;
  let code = 0;
  switch (repr.kind) {
    case "echo-request":
    case "echo-reply":
      type = repr.kind === "echo-request" ? Icmpv6Type.echoRequest : Icmpv6Type.echoReply;
      checkUnsigned(repr.identifier, 0xffff, "ICMPv6 identifier");
      checkUnsigned(repr.sequenceNumber, 0xffff, "ICMPv6 sequence number");
      writeU16(buffer, at(FIELD.identifier), repr.identifier);
      writeU16(buffer, at(FIELD.sequenceNumber), repr.sequenceNumber);
      buffer.set(repr.data, at(FIELD.data));
      break;
    case "destination-unreachable":
    case "time-exceeded":
      type = repr.kind === "destination-unreachable" ? Icmpv6Type.destinationUnreachable : Icmpv6Type.timeExceeded;
      code = repr.code;
      writeU32(buffer, at(FIELD.parameter), 0);
      buffer.set(repr.invokingPacket, at(FIELD.data));
      break;
    case "packet-too-big":
      type = Icmpv6Type.packetTooBig;
      checkUnsigned(repr.mtu, 0xffffffff, "ICMPv6 MTU");
      writeU32(buffer, at(FIELD.parameter), repr.mtu);
      buffer.set(repr.invokingPacket, at(FIELD.data));
      break;
    case "parameter-problem":
      type = Icmpv6Type.parameterProblem;
      code = repr.code;
      checkUnsigned(repr.pointer, 0xffffffff, "ICMPv6 pointer");
      writeU32(buffer, at(FIELD.parameter), repr.pointer);
      buffer.set(repr.invokingPacket, at(FIELD.data));
      break;
    case "other":
      type = repr.type;
      code = repr.code;
      checkUnsigned(type, 0xff, "ICMPv6 type");
      if (KNOWN_TYPES.has(type)) throw new RangeError(`ICMPv6 type ${type} has its own repr`);
      buffer.set(repr.body, at(FIELD.body));
      break;
  }
  checkUnsigned(code, 0xff, "ICMPv6 code");
  buffer[at(FIELD.type)] = type;
  buffer[at(FIELD.code)] = code;
  writeU16(buffer, at(FIELD.checksum), 0);
  writeU16(buffer, at(FIELD.checksum), upperLayerChecksum(addresses, IpProtocol.icmpv6, buffer.subarray(offset, offset + len)));
  return len;
}

export function emitIcmpv6(repr: Icmpv6Repr, addresses: PseudoHeaderAddresses): Uint8Array {
  const out = new Uint8Array(icmpv6Len(repr));
  emitIcmpv6Into(repr, addresses, out, 0);
  return out;
}

/** An ICMPv6 error to send about an invoking packet (the packet itself is added by `buildIcmpv6Error`). */
export type Icmpv6ErrorSpec =
  | { readonly kind: "destination-unreachable"; readonly code: number }
  | { readonly kind: "packet-too-big"; readonly mtu: number }
  | { readonly kind: "time-exceeded"; readonly code: number }
  | { readonly kind: "parameter-problem"; readonly code: number; readonly pointer: number };

/** Fixed-header offsets (RFC 8200 §3) read from an invoking packet that may not pass `Ipv6View.parse`. */
const INVOKING = { payloadLength: 4, nextHeader: 6, source: 8, destination: 24 } as const;

/** Why RFC 4443 §2.4(e) forbids an error about this packet; the caller counts it and sends nothing. */
export type Icmpv6ErrorSuppressed =
  | "invoking-not-ipv6" // not even a fixed IPv6 header to answer to
  | "invoking-icmpv6-error" // (e.1)
  | "invoking-redirect" // (e.2)
  | "multicast-destination" // (e.3), except Packet Too Big and Parameter Problem code 2
  | "source-not-unicast"; // (e.6): unspecified or multicast source

export interface Icmpv6ErrorOptions {
  /** The address the error is sent from: one of the sender's own unicast addresses (RFC 4443 §2.2). */
  readonly source: string;
  readonly hopLimit?: number;
}

/**
 * Builds a whole IPv6 packet carrying an ICMPv6 error about `invokingPacket`, addressed to its
 * source and quoting as much of it as keeps the error within 1280 octets (RFC 4443 §2.4(c)).
 * Refuses, with the reason, where RFC 4443 §2.4(e) says not to send. Rate limiting (§2.4(f)) is
 * the caller's job. Never throws for bad invoking bytes; a bad spec or source throws RangeError.
 */
export function buildIcmpv6Error(
  spec: Icmpv6ErrorSpec,
  invokingPacket: Uint8Array,
  options: Icmpv6ErrorOptions,
): Result<Uint8Array, Icmpv6ErrorSuppressed> {
  if (spec.kind === "packet-too-big" && spec.mtu < IPV6_MIN_MTU) {
    throw new RangeError(`Packet Too Big MTU ${spec.mtu} below the IPv6 minimum ${IPV6_MIN_MTU} (RFC 8200 §5)`);
  }
  // Only the fixed header's addresses are needed: the invoking packet may be malformed past them.
  if (invokingPacket.length < IPV6_HEADER_LEN || invokingPacket[0]! >>> 4 !== 6) return err("invoking-not-ipv6");
  const invokingSource = invokingPacket.subarray(INVOKING.source, INVOKING.source + 16);
  const invokingDestination = invokingPacket.subarray(INVOKING.destination, INVOKING.destination + 16);
  if (isMulticast(invokingSource) || isUnspecified(invokingSource)) return err("source-not-unicast");
  const multicastAllowed = spec.kind === "packet-too-big" || (spec.kind === "parameter-problem" && spec.code === ParameterProblemCode.unrecognizedIpv6Option);
  if (isMulticast(invokingDestination) && !multicastAllowed) return err("multicast-destination");
  const quotedType = quotedIcmpv6Type(invokingPacket);
  if (quotedType !== undefined && quotedType < 128) return err("invoking-icmpv6-error");
  if (quotedType === Icmpv6Type.redirect) return err("invoking-redirect");

  const quoted = invokingPacket.subarray(0, Math.min(invokingPacket.length, IPV6_MIN_MTU - IPV6_HEADER_LEN - ICMPV6_FIXED_LEN));
  const repr: Icmpv6Repr = { ...spec, invokingPacket: quoted };
  const packet: Omit<Ipv6PacketRepr, "upperPayload"> = {
    source: options.source,
    destination: formatIpv6(invokingSource),
    hopLimit: options.hopLimit ?? IPV6_DEFAULT_HOP_LIMIT,
    upperProtocol: IpProtocol.icmpv6,
  };
  const emitted = emitIpv6Packet({ ...packet, upperPayload: new Uint8Array(icmpv6Len(repr)) });
  const addresses = { source: emitted.subarray(8, 24), destination: emitted.subarray(24, 40) };
  emitIcmpv6Into(repr, addresses, emitted, IPV6_HEADER_LEN);
  return ok(emitted);
}

/** The Packet Too Big reply the data plane sends when `invokingPacket` exceeds the next-hop `mtu`. */
export function buildPacketTooBig(invokingPacket: Uint8Array, mtu: number, options: Icmpv6ErrorOptions): Result<Uint8Array, Icmpv6ErrorSuppressed> {
  return buildIcmpv6Error({ kind: "packet-too-big", mtu }, invokingPacket, options);
}

/** The ICMPv6 type of the invoking packet's upper layer, when its chain parses and it is not a later fragment. */
function quotedIcmpv6Type(invokingPacket: Uint8Array): number | undefined {
  const payloadEnd = Math.min(invokingPacket.length, IPV6_HEADER_LEN + readU16(invokingPacket, INVOKING.payloadLength));
  const walked = walkExtensionHeaders(invokingPacket.subarray(0, payloadEnd), invokingPacket[INVOKING.nextHeader]!, IPV6_HEADER_LEN);
  if (!walked.ok || walked.value.upperProtocol !== IpProtocol.icmpv6 || walked.value.upperOffset >= payloadEnd) return undefined;
  if (walked.value.headers.some((h) => h.kind === "fragment" && h.fragmentOffset !== 0)) return undefined;
  return invokingPacket[walked.value.upperOffset];
}

function isMulticast(address: Uint8Array): boolean {
  return address[0] === 0xff;
}

function isUnspecified(address: Uint8Array): boolean {
  return address.every((b) => b === 0);
}
