// Mobility Header (RFC 6275 §6.1): View over the bytes, typed message Repr, emit with the pseudo-header checksum.

import { ok, type Result } from "../core/result.ts";
import { formatIpv6, parseIpv6, type Ipv6Text } from "./address.ts";
import { readU16, writeU16 } from "./bytes.ts";
import { ipv6UpperLayerChecksum } from "./checksum.ts";
import { wireError, type WireError } from "./error.ts";
import { emitOptions, optionsEnd, parseOptions, scanOptions, writePadding, type MobilityOption, type OptionSpan } from "./mobility-options.ts";
import { IpProtocol } from "./protocol-numbers.ts";

/*
 * RFC 6275 §6.1.1:
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  | Payload Proto |  Header Len   |   MH Type     |   Reserved    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |           Checksum            |                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               |
 *  .                       Message Data                            .
 */
export const MhField = {
  payloadProto: 0,
  headerLen: 1,
  mhType: 2,
  reserved: 3,
  checksum: 4,
  messageData: 6,
} as const;

/** MH Type values (IANA "Mobility Header Types"). */
export const MhType = {
  bindingRefreshRequest: 0,
  homeTestInit: 1,
  careOfTestInit: 2,
  homeTest: 3,
  careOfTest: 4,
  bindingUpdate: 5,
  bindingAcknowledgement: 6,
  bindingError: 7,
} as const;

/** Octets of each message's fixed part after the 6-octet MH header (RFC 6275 §6.1.2 to §6.1.9). */
const fixedPartLength: readonly number[] = [2, 10, 10, 18, 18, 6, 6, 18];

/** Binding Update flags, 16 bits after the Sequence # (RFC 6275 §6.1.7, RFC 3963 §4.1, IANA registry). */
export const BuFlag = {
  acknowledge: 0x8000, // A
  homeRegistration: 0x4000, // H
  linkLocalCompatibility: 0x2000, // L
  keyManagementCapability: 0x1000, // K
  mapRegistration: 0x0800, // M (RFC 5380)
  mobileRouter: 0x0400, // R (RFC 3963)
  proxyRegistration: 0x0200, // P (RFC 5213)
  forceUdpEncapsulation: 0x0100, // F (RFC 5555)
  tlvHeaderFormat: 0x0080, // T (RFC 5845)
  bulkBindingUpdate: 0x0040, // B (RFC 6602); RFC 5648's 'O' flag was never assigned by IANA
} as const;
export type BuFlagName = keyof typeof BuFlag;
export type BuFlags = { readonly [K in BuFlagName]: boolean };

/** Binding Acknowledgement flags, the octet after Status (RFC 6275 §6.1.8, RFC 3963 §4.2, RFC 5213). */
export const BaFlag = {
  keyManagementCapability: 0x80, // K
  mobileRouter: 0x40, // R
  proxyRegistration: 0x20, // P
} as const;
export type BaFlagName = keyof typeof BaFlag;
export type BaFlags = { readonly [K in BaFlagName]: boolean };

/** A Mobility Header message. Lifetimes are in 4-second units, as on the wire (RFC 6275 §6.1.7). */
export type MobilityMessage =
  | { readonly type: "binding-refresh-request"; readonly options: readonly MobilityOption[] }
  | { readonly type: "home-test-init"; readonly homeInitCookie: Uint8Array; readonly options: readonly MobilityOption[] }
  | { readonly type: "care-of-test-init"; readonly careOfInitCookie: Uint8Array; readonly options: readonly MobilityOption[] }
  | {
      readonly type: "home-test";
      readonly homeNonceIndex: number;
      readonly homeInitCookie: Uint8Array;
      readonly homeKeygenToken: Uint8Array;
      readonly options: readonly MobilityOption[];
    }
  | {
      readonly type: "care-of-test";
      readonly careOfNonceIndex: number;
      readonly careOfInitCookie: Uint8Array;
      readonly careOfKeygenToken: Uint8Array;
      readonly options: readonly MobilityOption[];
    }
  | {
      readonly type: "binding-update";
      readonly sequenceNumber: number;
      readonly flags: BuFlags;
      readonly lifetimeUnits: number;
      readonly options: readonly MobilityOption[];
    }
  | {
      readonly type: "binding-acknowledgement";
      readonly status: number;
      readonly flags: BaFlags;
      readonly sequenceNumber: number;
      readonly lifetimeUnits: number;
      readonly options: readonly MobilityOption[];
    }
  | { readonly type: "binding-error"; readonly status: number; readonly homeAddress: Ipv6Text; readonly options: readonly MobilityOption[] }
  /** An MH Type monami does not implement (answered with Binding Error status 2, RFC 6275 §9.2). */
  | { readonly type: "unrecognized"; readonly mhType: number; readonly messageData: Uint8Array };

export type MobilityMessageType = MobilityMessage["type"];

/** The addresses of the IPv6 pseudo-header (RFC 6275 §6.1.1: computed like ICMPv6, RFC 8200 §8.1). */
export interface MobilityPseudoHeader {
  /** The home address when a Home Address option is present, else the IPv6 source. */
  readonly source: Uint8Array;
  /** The home address when a Type 2 routing header is present, else the IPv6 destination. */
  readonly destination: Uint8Array;
}

export function buFlags(set: Partial<Record<BuFlagName, boolean>> = {}): BuFlags {
  const out = {} as Record<BuFlagName, boolean>;
  for (const name of Object.keys(BuFlag) as BuFlagName[]) out[name] = set[name] ?? false;
  return out;
}

export function baFlags(set: Partial<Record<BaFlagName, boolean>> = {}): BaFlags {
  const out = {} as Record<BaFlagName, boolean>;
  for (const name of Object.keys(BaFlag) as BaFlagName[]) out[name] = set[name] ?? false;
  return out;
}

/**
 * A checked view over one Mobility Header. Only `parse` creates it; after that no getter can fail.
 * `bytes` is exactly the header (Header Len × 8 + 8 octets), sharing memory with the input.
 */
export class MobilityHeaderView {
  readonly bytes: Uint8Array;
  readonly #spans: readonly OptionSpan[];

  private constructor(bytes: Uint8Array, spans: readonly OptionSpan[]) {
    this.bytes = bytes;
    this.#spans = spans;
  }

  /**
   * Checks everything once (RFC 6275 §9.2): room for the header, Header Len against the buffer and
   * the message type's minimum, Payload Proto = IPPROTO_NONE, and every option's length and alignment.
   * The input must end with the header (Payload Proto 59 means nothing follows).
   */
  static parse(input: Uint8Array): Result<MobilityHeaderView, WireError> {
    if (input.length < 8) return wireError("mobility", "truncated", input.length, `a Mobility Header needs 8 octets, have ${input.length}`);
    const length = (input[MhField.headerLen]! + 1) * 8;
    if (length > input.length) return wireError("mobility", "truncated", input.length, `Header Len says ${length} octets, have ${input.length}`);
    if (length < input.length) return wireError("mobility", "bad-length", length, `${input.length - length} octet(s) after the Mobility Header`);
    const payloadProto = input[MhField.payloadProto]!;
    if (payloadProto !== IpProtocol.noNextHeader) {
      return wireError("mobility", "bad-value", MhField.payloadProto, `Payload Proto ${payloadProto}, must be 59 (RFC 6275 §9.2)`);
    }
    const mhType = input[MhField.mhType]!;
    const fixed = fixedPartLength[mhType];
    if (fixed === undefined) return ok(new MobilityHeaderView(input, []));
    const optionsStart = MhField.messageData + fixed;
    if (optionsStart > length) {
      return wireError("mobility", "bad-length", MhField.headerLen, `MH Type ${mhType} needs ${optionsStart} octets, Header Len gives ${length}`);
    }
    const spans = scanOptions(input, optionsStart, length);
    return spans.ok ? ok(new MobilityHeaderView(input, spans.value)) : spans;
  }

  get mhType(): number {
    return this.bytes[MhField.mhType]!;
  }

  get headerLen(): number {
    return this.bytes[MhField.headerLen]!;
  }

  get checksum(): number {
    return readU16(this.bytes, MhField.checksum);
  }

  /** Every option TLV including padding, in order (for field debugging). */
  get optionSpans(): readonly OptionSpan[] {
    return this.#spans;
  }

  /** Whether the checksum verifies over the given pseudo-header (RFC 6275 §6.1.1). */
  verifyChecksum(pseudo: MobilityPseudoHeader): boolean {
    return ipv6UpperLayerChecksum(pseudo.source, pseudo.destination, IpProtocol.mobility, this.bytes) === 0;
  }
}

/** The typed message of a checked view. Never fails: `MobilityHeaderView.parse` did the checks. */
export function parseMobilityMessage(view: MobilityHeaderView): MobilityMessage {
  const b = view.bytes;
  const d = MhField.messageData;
  const options = (): MobilityOption[] => parseOptions(b, view.optionSpans);
  const copy = (from: number, n: number) => Uint8Array.from(b.subarray(from, from + n));
  switch (view.mhType) {
    case MhType.bindingRefreshRequest:
      return { type: "binding-refresh-request", options: options() };
    case MhType.homeTestInit:
      return { type: "home-test-init", homeInitCookie: copy(d + 2, 8), options: options() };
    case MhType.careOfTestInit:
      return { type: "care-of-test-init", careOfInitCookie: copy(d + 2, 8), options: options() };
    case MhType.homeTest:
      return { type: "home-test", homeNonceIndex: readU16(b, d), homeInitCookie: copy(d + 2, 8), homeKeygenToken: copy(d + 10, 8), options: options() };
    case MhType.careOfTest:
      return { type: "care-of-test", careOfNonceIndex: readU16(b, d), careOfInitCookie: copy(d + 2, 8), careOfKeygenToken: copy(d + 10, 8), options: options() };
    case MhType.bindingUpdate: {
      const raw = readU16(b, d + 2);
      const flags = {} as Record<BuFlagName, boolean>;
      for (const name of Object.keys(BuFlag) as BuFlagName[]) flags[name] = (raw & BuFlag[name]) !== 0;
      return { type: "binding-update", sequenceNumber: readU16(b, d), flags, lifetimeUnits: readU16(b, d + 4), options: options() };
    }
    case MhType.bindingAcknowledgement: {
      const raw = b[d + 1]!;
      const flags = {} as Record<BaFlagName, boolean>;
      for (const name of Object.keys(BaFlag) as BaFlagName[]) flags[name] = (raw & BaFlag[name]) !== 0;
      return { type: "binding-acknowledgement", status: b[d]!, flags, sequenceNumber: readU16(b, d + 2), lifetimeUnits: readU16(b, d + 4), options: options() };
    }
    case MhType.bindingError:
      return { type: "binding-error", status: b[d]!, homeAddress: formatIpv6(b.subarray(d + 2, d + 18)), options: options() };
    default:
      return { type: "unrecognized", mhType: view.mhType, messageData: copy(d, b.length - d) };
  }
}

function mhTypeOf(message: MobilityMessage): number {
  switch (message.type) {
    case "binding-refresh-request":
      return MhType.bindingRefreshRequest;
    case "home-test-init":
      return MhType.homeTestInit;
    case "care-of-test-init":
      return MhType.careOfTestInit;
    case "home-test":
      return MhType.homeTest;
    case "care-of-test":
      return MhType.careOfTest;
    case "binding-update":
      return MhType.bindingUpdate;
    case "binding-acknowledgement":
      return MhType.bindingAcknowledgement;
    case "binding-error":
      return MhType.bindingError;
    case "unrecognized":
      return message.mhType;
  }
}

function optionsOf(message: MobilityMessage): readonly MobilityOption[] {
  return message.type === "unrecognized" ? [] : message.options;
}

function fixedLengthOf(message: MobilityMessage): number {
  return message.type === "unrecognized" ? message.messageData.length : fixedPartLength[mhTypeOf(message)]!;
}

/** Octets `emitMobilityMessage` writes: header + fixed part + aligned options, padded to a multiple of 8. */
export function mobilityMessageBufferLen(message: MobilityMessage): number {
  const end = optionsEnd(optionsOf(message), MhField.messageData + fixedLengthOf(message));
  return Math.max(8, Math.ceil(end / 8) * 8);
}

/**
 * Writes `message` at the start of `into` (sized with `mobilityMessageBufferLen`) and fills the
 * checksum over `pseudo`. Returns the number of octets written. Throws RangeError for an invalid
 * Repr (a programmer error: a field out of range or an address that does not parse).
 */
export function emitMobilityMessage(message: MobilityMessage, into: Uint8Array, pseudo: MobilityPseudoHeader): number {
  const length = mobilityMessageBufferLen(message);
  if (into.length < length) throw new RangeError(`Mobility Header needs ${length} octets, buffer has ${into.length}`);
  if (length > 2048) throw new RangeError(`Mobility Header of ${length} octets exceeds Header Len`);
  const b = into.subarray(0, length);
  b.fill(0);
  b[MhField.payloadProto] = IpProtocol.noNextHeader;
  b[MhField.headerLen] = length / 8 - 1;
  b[MhField.mhType] = mhTypeOf(message);
  const d = MhField.messageData;
  const u16 = (at: number, v: number, what: string) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${what} ${v} is not a 16-bit value`);
    writeU16(b, at, v);
  };
  const u8 = (at: number, v: number, what: string) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${what} ${v} is not an 8-bit value`);
    b[at] = v;
  };
  const bytes8 = (at: number, v: Uint8Array, what: string) => {
    if (v.length !== 8) throw new RangeError(`${what} must be 8 octets, got ${v.length}`);
    b.set(v, at);
  };
  switch (message.type) {
    case "binding-refresh-request":
      break;
    case "home-test-init":
      bytes8(d + 2, message.homeInitCookie, "Home Init Cookie");
      break;
    case "care-of-test-init":
      bytes8(d + 2, message.careOfInitCookie, "Care-of Init Cookie");
      break;
    case "home-test":
      u16(d, message.homeNonceIndex, "Home Nonce Index");
      bytes8(d + 2, message.homeInitCookie, "Home Init Cookie");
      bytes8(d + 10, message.homeKeygenToken, "Home Keygen Token");
      break;
    case "care-of-test":
      u16(d, message.careOfNonceIndex, "Care-of Nonce Index");
      bytes8(d + 2, message.careOfInitCookie, "Care-of Init Cookie");
      bytes8(d + 10, message.careOfKeygenToken, "Care-of Keygen Token");
      break;
    case "binding-update": {
      u16(d, message.sequenceNumber, "Sequence #");
      let raw = 0;
      for (const name of Object.keys(BuFlag) as BuFlagName[]) if (message.flags[name]) raw |= BuFlag[name];
      writeU16(b, d + 2, raw);
      u16(d + 4, message.lifetimeUnits, "Lifetime");
      break;
    }
    case "binding-acknowledgement": {
      u8(d, message.status, "Status");
      let raw = 0;
      for (const name of Object.keys(BaFlag) as BaFlagName[]) if (message.flags[name]) raw |= BaFlag[name];
      b[d + 1] = raw;
      u16(d + 2, message.sequenceNumber, "Sequence #");
      u16(d + 4, message.lifetimeUnits, "Lifetime");
      break;
    }
    case "binding-error": {
      u8(d, message.status, "Status");
      const home = parseIpv6(message.homeAddress);
      if (!home) throw new RangeError(`Binding Error: '${message.homeAddress}' is not an IPv6 address`);
      b.set(home, d + 2);
      break;
    }
    case "unrecognized":
      if (message.mhType <= MhType.bindingError) throw new RangeError(`MH Type ${message.mhType} has its own Repr`);
      u8(MhField.mhType, message.mhType, "MH Type");
      b.set(message.messageData, d);
      break;
  }
  const end = emitOptions(optionsOf(message), b, d + fixedLengthOf(message));
  writePadding(b, end, length - end);
  writeU16(b, MhField.checksum, ipv6UpperLayerChecksum(pseudo.source, pseudo.destination, IpProtocol.mobility, b));
  return length;
}

/** Emits into a fresh buffer of the right size. */
export function encodeMobilityMessage(message: MobilityMessage, pseudo: MobilityPseudoHeader): Uint8Array {
  const out = new Uint8Array(mobilityMessageBufferLen(message));
  emitMobilityMessage(message, out, pseudo);
  return out;
}

/**
 * Parses one Mobility Header; with a pseudo-header it also verifies the checksum
 * (RFC 6275 §9.2: a message whose checksum fails MUST be discarded).
 */
export function decodeMobilityMessage(bytes: Uint8Array, pseudo?: MobilityPseudoHeader): Result<MobilityMessage, WireError> {
  const view = MobilityHeaderView.parse(bytes);
  if (!view.ok) return view;
  if (pseudo && !view.value.verifyChecksum(pseudo)) {
    return wireError("mobility", "bad-checksum", MhField.checksum, `checksum 0x${view.value.checksum.toString(16).padStart(4, "0")} does not verify`);
  }
  return ok(parseMobilityMessage(view.value));
}
