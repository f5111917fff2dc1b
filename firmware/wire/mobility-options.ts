// Mobility options (RFC 6275 §6.2, RFC 3963 §4.3, RFC 5648 §4.3, RFC 5555 §3.1.2 and §3.2.2, RFC 4285 §5–6): TLV codec with alignment rules.

import { ok, type Result } from "../core/result.ts";
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6, type Ipv4Text, type Ipv6Text } from "./address.ts";
import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import { wireError, type WireError } from "./error.ts";

/** Mobility option types (IANA "Mobility Options"). */
export const MobilityOptionType = {
  pad1: 0,
  padN: 1,
  bindingRefreshAdvice: 2,
  alternateCareOfAddress: 3,
  nonceIndices: 4,
  bindingAuthorizationData: 5,
  mobileNetworkPrefix: 6,
  /** RFC 4285 §5.1 (IANA AUTH-OPTION-TYPE). */
  mobilityMessageAuthentication: 9,
  /** RFC 4285 §6.1 (IANA MESG-ID-OPTION-TYPE). */
  mobilityMessageReplayProtection: 10,
  /** RFC 5555 §3.2.2 (IANA type 31). */
  natDetection: 31,
  ipv4CareOfAddress: 32,
  bindingIdentifier: 35,
} as const;

/** RFC 4285 §5.1 Subtype: 1 = MN-HA, 2 = MN-AAA authentication. */
export const AUTH_SUBTYPE_MN_HA = 1;
export const AUTH_SUBTYPE_MN_AAA = 2;

/** RFC 5648 §4.3: the BID option's H flag, in the octet after Status. */
export const BID_FLAG_SIMULTANEOUS_HOME_AND_FOREIGN = 0x80;

/** RFC 5555 §3.2.2: the NAT Detection option's F flag, the top bit of the 16 bits before Refresh time. */
export const NAT_DETECTION_FLAG_UDP_ENCAPSULATION = 0x8000;
/** RFC 5555 §3.2.2: a Refresh time of all ones says no keepalives are needed (no NAT detected). */
export const NAT_REFRESH_NOT_NEEDED = 0xffff_ffff;

/** The care-of address inside a Binding Identifier option (RFC 5648 §4.3: IPv4 or IPv6, or absent). */
export type BindingCareOfAddress = { readonly family: "ipv6"; readonly address: Ipv6Text } | { readonly family: "ipv4"; readonly address: Ipv4Text };

/**
 * One mobility option as the protocol sees it. Pad1/PadN never appear here: `parse` drops them and
 * `emit` inserts them where an option's alignment rule needs them.
 */
export type MobilityOption =
  /** RFC 6275 §6.2.4; the interval is in 4-second units. */
  | { readonly type: "binding-refresh-advice"; readonly refreshIntervalUnits: number }
  /** RFC 6275 §6.2.5. */
  | { readonly type: "alternate-care-of-address"; readonly careOfAddress: Ipv6Text }
  /** RFC 6275 §6.2.6. */
  | { readonly type: "nonce-indices"; readonly homeNonceIndex: number; readonly careOfNonceIndex: number }
  /** RFC 6275 §6.2.7: must be the last option of its message. */
  | { readonly type: "binding-authorization-data"; readonly authenticator: Uint8Array }
  /** RFC 3963 §4.3. */
  | { readonly type: "mobile-network-prefix"; readonly prefix: Ipv6Text; readonly prefixLength: number }
  /** RFC 5648 §4.3 (final format: no priority field, no flag other than H). */
  | {
      readonly type: "binding-identifier";
      readonly bindingId: number;
      readonly status: number;
      readonly simultaneousHomeAndForeign: boolean;
      readonly careOfAddress?: BindingCareOfAddress;
    }
  /**
   * A BID option whose Length is not 4, 8 or 20. Kept (not rejected by the codec) because RFC 5648
   * §6.2 makes the home agent answer it with MCOA MALFORMED (164) rather than drop the message.
   */
  | { readonly type: "malformed-binding-identifier"; readonly data: Uint8Array }
  /** RFC 5555 §3.1.2. */
  | { readonly type: "ipv4-care-of-address"; readonly careOfAddress: Ipv4Text }
  /**
   * RFC 5555 §3.2.2, in a BA: F = the mobile node MUST use UDP encapsulation (a NAT is on the path, or
   * the BU's F flag asked for it); Refresh time = seconds between keepalives (0: ignore, all ones: none needed).
   */
  | { readonly type: "nat-detection"; readonly udpEncapsulationRequired: boolean; readonly refreshTimeSeconds: number }
  /**
   * RFC 4285 §5.1 Mobility Message Authentication: Subtype, Mobility SPI and the authenticator over the
   * message up to and including the SPI. The last option of its message (§5.1).
   */
  | { readonly type: "mobility-message-authentication"; readonly subtype: number; readonly mobilitySpi: number; readonly authenticationData: Uint8Array }
  /** RFC 4285 §6.1 Mobility Message Replay Protection (Mesg-ID): a 64-bit timestamp (NTP format, RFC 1305). */
  | { readonly type: "mobility-message-replay-protection"; readonly timestamp: bigint }
  /** Any other type: skipped by the protocol (RFC 6275 §6.2.1), kept here so it round-trips. */
  | { readonly type: "unknown"; readonly optionType: number; readonly data: Uint8Array };

/** Alignment `xn+y` (RFC 6275 §6.2.1 notation), counted from the start of the Mobility Header. */
export interface Alignment {
  readonly x: number;
  readonly y: number;
}

const NONE: Alignment = { x: 1, y: 0 };

/** The alignment rule of an option, from its defining RFC section. */
export function optionAlignment(option: MobilityOption): Alignment {
  switch (option.type) {
    case "binding-refresh-advice":
      return { x: 2, y: 0 }; // RFC 6275 §6.2.4
    case "alternate-care-of-address":
      return { x: 8, y: 6 }; // RFC 6275 §6.2.5
    case "nonce-indices":
      return { x: 2, y: 0 }; // RFC 6275 §6.2.6
    case "binding-authorization-data":
      return { x: 8, y: 2 }; // RFC 6275 §6.2.7
    case "mobile-network-prefix":
      return { x: 8, y: 4 }; // RFC 3963 §4.3
    case "binding-identifier":
      return option.careOfAddress ? { x: 8, y: 2 } : { x: 2, y: 0 }; // RFC 5648 §4.3
    case "ipv4-care-of-address":
      return { x: 4, y: 0 }; // RFC 5555 §3.1.2
    case "nat-detection":
      return { x: 4, y: 0 }; // RFC 5555 §3.2.2: Refresh time on a 4-octet boundary
    case "mobility-message-authentication":
      return { x: 4, y: 1 }; // RFC 4285 §5.1: the Mobility SPI on a 4-octet boundary
    case "mobility-message-replay-protection":
      return { x: 8, y: 2 }; // RFC 4285 §6.1: the timestamp on an 8-octet boundary
    case "malformed-binding-identifier":
    case "unknown":
      return NONE;
  }
}

/** Length of the option's data (without Type and Length). */
export function optionDataLength(option: MobilityOption): number {
  switch (option.type) {
    case "binding-refresh-advice":
      return 2;
    case "alternate-care-of-address":
      return 16;
    case "nonce-indices":
      return 4;
    case "binding-authorization-data":
      return option.authenticator.length;
    case "mobile-network-prefix":
      return 18;
    case "binding-identifier":
      return option.careOfAddress === undefined ? 4 : option.careOfAddress.family === "ipv6" ? 20 : 8;
    case "malformed-binding-identifier":
    case "unknown":
      return option.data.length;
    case "ipv4-care-of-address":
    case "nat-detection":
      return 6;
    case "mobility-message-authentication":
      return 5 + option.authenticationData.length;
    case "mobility-message-replay-protection":
      return 8;
  }
}

/** Padding octets needed before an option placed at `offset` (from the MH start) to meet its alignment. */
export function paddingBefore(offset: number, alignment: Alignment): number {
  return (((alignment.y - offset) % alignment.x) + alignment.x) % alignment.x;
}

/** Writes `n` octets of padding at `at`: Pad1 for one octet, PadN otherwise (RFC 6275 §6.2.2, §6.2.3). */
export function writePadding(into: Uint8Array, at: number, n: number): void {
  if (n === 0) return;
  if (n === 1) {
    into[at] = MobilityOptionType.pad1;
    return;
  }
  into[at] = MobilityOptionType.padN;
  into[at + 1] = n - 2;
  into.fill(0, at + 2, at + n);
}

/** Bytes taken by `options` (with alignment padding, without the final padding to 8n) starting at `start`. */
export function optionsEnd(options: readonly MobilityOption[], start: number): number {
  let at = start;
  for (const option of options) at += paddingBefore(at, optionAlignment(option)) + 2 + optionDataLength(option);
  return at;
}

/**
 * Writes `options` at `start` with alignment padding; returns the offset after the last one.
 * Throws RangeError for a Repr that cannot be encoded (a programmer error, e.g. a bad address text).
 */
export function emitOptions(options: readonly MobilityOption[], into: Uint8Array, start: number): number {
  let at = start;
  for (const option of options) {
    const pad = paddingBefore(at, optionAlignment(option));
    writePadding(into, at, pad);
    at += pad;
    const length = optionDataLength(option);
    if (length > 255) throw new RangeError(`mobility option ${option.type}: ${length} data octets exceed 255`);
    into[at] = optionTypeNumber(option);
    into[at + 1] = length;
    const data = into.subarray(at + 2, at + 2 + length);
    emitOptionData(option, data);
    at += 2 + length;
  }
  return at;
}

function optionTypeNumber(option: MobilityOption): number {
  switch (option.type) {
    case "binding-refresh-advice":
      return MobilityOptionType.bindingRefreshAdvice;
    case "alternate-care-of-address":
      return MobilityOptionType.alternateCareOfAddress;
    case "nonce-indices":
      return MobilityOptionType.nonceIndices;
    case "binding-authorization-data":
      return MobilityOptionType.bindingAuthorizationData;
    case "mobile-network-prefix":
      return MobilityOptionType.mobileNetworkPrefix;
    case "binding-identifier":
    case "malformed-binding-identifier":
      return MobilityOptionType.bindingIdentifier;
    case "ipv4-care-of-address":
      return MobilityOptionType.ipv4CareOfAddress;
    case "nat-detection":
      return MobilityOptionType.natDetection;
    case "mobility-message-authentication":
      return MobilityOptionType.mobilityMessageAuthentication;
    case "mobility-message-replay-protection":
      return MobilityOptionType.mobilityMessageReplayProtection;
    case "unknown":
      if (option.optionType === MobilityOptionType.pad1 || option.optionType === MobilityOptionType.padN) {
        throw new RangeError("mobility option: padding is inserted by emit, not given as an option");
      }
      return option.optionType;
  }
}

function ipv6Bytes(text: string): Uint8Array {
  const bytes = parseIpv6(text);
  if (!bytes) throw new RangeError(`mobility option: '${text}' is not an IPv6 address`);
  return bytes;
}

function ipv4Bytes(text: string): Uint8Array {
  const bytes = parseIpv4(text);
  if (!bytes) throw new RangeError(`mobility option: '${text}' is not an IPv4 address`);
  return bytes;
}

function emitOptionData(option: MobilityOption, data: Uint8Array): void {
  switch (option.type) {
    case "binding-refresh-advice":
      writeU16(data, 0, option.refreshIntervalUnits);
      return;
    case "alternate-care-of-address":
      data.set(ipv6Bytes(option.careOfAddress));
      return;
    case "nonce-indices":
      writeU16(data, 0, option.homeNonceIndex);
      writeU16(data, 2, option.careOfNonceIndex);
      return;
    case "binding-authorization-data":
      data.set(option.authenticator);
      return;
    case "mobile-network-prefix":
      data[0] = 0;
      data[1] = option.prefixLength;
      data.set(ipv6Bytes(option.prefix), 2);
      return;
    case "binding-identifier":
      writeU16(data, 0, option.bindingId);
      data[2] = option.status;
      data[3] = option.simultaneousHomeAndForeign ? BID_FLAG_SIMULTANEOUS_HOME_AND_FOREIGN : 0;
      if (option.careOfAddress) {
        data.set(option.careOfAddress.family === "ipv6" ? ipv6Bytes(option.careOfAddress.address) : ipv4Bytes(option.careOfAddress.address), 4);
      }
      return;
    case "ipv4-care-of-address":
      data[0] = 0;
      data[1] = 0;
      data.set(ipv4Bytes(option.careOfAddress), 2);
      return;
    case "nat-detection":
      if (!Number.isInteger(option.refreshTimeSeconds) || option.refreshTimeSeconds < 0 || option.refreshTimeSeconds > NAT_REFRESH_NOT_NEEDED) {
        throw new RangeError(`NAT Detection: Refresh time ${option.refreshTimeSeconds} is not a 32-bit count of seconds`);
      }
      writeU16(data, 0, option.udpEncapsulationRequired ? NAT_DETECTION_FLAG_UDP_ENCAPSULATION : 0);
      writeU32(data, 2, option.refreshTimeSeconds);
      return;
    case "mobility-message-authentication":
      data[0] = option.subtype;
      writeU32(data, 1, option.mobilitySpi);
      data.set(option.authenticationData, 5);
      return;
    case "mobility-message-replay-protection":
      writeU32(data, 0, Number((option.timestamp >> 32n) & 0xffff_ffffn));
      writeU32(data, 4, Number(option.timestamp & 0xffff_ffffn));
      return;
    case "malformed-binding-identifier":
    case "unknown":
      data.set(option.data);
      return;
  }
}

/** Where one option sits in the message (offsets from the start of the Mobility Header). */
export interface OptionSpan {
  readonly type: number;
  /** Offset of the Type octet. */
  readonly at: number;
  /** Length of the data (0 for Pad1, which has no Length octet). */
  readonly length: number;
}

/** Fixed data lengths of the options whose length the RFCs define exactly. */
const fixedLength: ReadonlyMap<number, number> = new Map([
  [MobilityOptionType.bindingRefreshAdvice, 2],
  [MobilityOptionType.alternateCareOfAddress, 16],
  [MobilityOptionType.nonceIndices, 4],
  [MobilityOptionType.mobileNetworkPrefix, 18],
  [MobilityOptionType.ipv4CareOfAddress, 6],
  [MobilityOptionType.natDetection, 6],
  [MobilityOptionType.mobilityMessageReplayProtection, 8],
]);

/**
 * Walks the option area `[start, end)` of a Mobility Header, checking every TLV length, the fixed
 * lengths and the alignment of the options monami knows (RFC 6275 §6.2.1). Unknown types are kept
 * as spans (to be skipped). All checks happen here, so `parseOptions` over the result cannot fail.
 */
export function scanOptions(mh: Uint8Array, start: number, end: number): Result<OptionSpan[], WireError> {
  const spans: OptionSpan[] = [];
  let at = start;
  while (at < end) {
    const type = mh[at]!;
    if (type === MobilityOptionType.pad1) {
      spans.push({ type, at, length: 0 });
      at += 1;
      continue;
    }
    if (at + 2 > end) return wireError("mobility", "truncated", at, `option ${type} has no Length octet`);
    const length = mh[at + 1]!;
    if (at + 2 + length > end) return wireError("mobility", "bad-length", at + 1, `option ${type} length ${length} runs past the header`);
    const fixed = fixedLength.get(type);
    if (fixed !== undefined && length !== fixed) return wireError("mobility", "bad-length", at + 1, `option ${type} length ${length}, expected ${fixed}`);
    const alignment = receivedAlignment(type, length);
    if (paddingBefore(at, alignment) !== 0) {
      return wireError("mobility", "bad-alignment", at, `option ${type} at offset ${at} breaks its ${alignment.x}n+${alignment.y} alignment`);
    }
    if (type === MobilityOptionType.mobileNetworkPrefix && mh[at + 3]! > 128) {
      return wireError("mobility", "bad-value", at + 3, `prefix length ${mh[at + 3]} exceeds 128`);
    }
    if (type === MobilityOptionType.mobilityMessageAuthentication && length < 5) {
      return wireError("mobility", "bad-length", at + 1, `authentication option length ${length} leaves no room for Subtype and Mobility SPI (RFC 4285 §5.1)`);
    }
    if (type === MobilityOptionType.bindingAuthorizationData && at + 2 + length !== end && !onlyPaddingAfter(mh, at + 2 + length, end)) {
      return wireError("mobility", "bad-value", at, "Binding Authorization Data is not the last option (RFC 6275 §6.2.7)");
    }
    spans.push({ type, at, length });
    at += 2 + length;
  }
  return ok(spans);
}

function onlyPaddingAfter(mh: Uint8Array, from: number, end: number): boolean {
  let at = from;
  while (at < end) {
    const type = mh[at]!;
    if (type === MobilityOptionType.pad1) at += 1;
    else if (type === MobilityOptionType.padN && at + 1 < end) at += 2 + mh[at + 1]!;
    else return false;
  }
  return true;
}

function receivedAlignment(type: number, length: number): Alignment {
  switch (type) {
    case MobilityOptionType.bindingRefreshAdvice:
    case MobilityOptionType.nonceIndices:
      return { x: 2, y: 0 };
    case MobilityOptionType.alternateCareOfAddress:
      return { x: 8, y: 6 };
    case MobilityOptionType.bindingAuthorizationData:
      return { x: 8, y: 2 };
    case MobilityOptionType.mobileNetworkPrefix:
      return { x: 8, y: 4 };
    case MobilityOptionType.ipv4CareOfAddress:
    case MobilityOptionType.natDetection:
      return { x: 4, y: 0 };
    case MobilityOptionType.bindingIdentifier:
      return length === 4 ? { x: 2, y: 0 } : length === 8 || length === 20 ? { x: 8, y: 2 } : NONE;
    default:
      return NONE;
  }
}

/** Turns scanned spans into options (padding dropped). Never fails: `scanOptions` did the checks. */
export function parseOptions(mh: Uint8Array, spans: readonly OptionSpan[]): MobilityOption[] {
  const out: MobilityOption[] = [];
  for (const span of spans) {
    if (span.type === MobilityOptionType.pad1 || span.type === MobilityOptionType.padN) continue;
    const data = mh.subarray(span.at + 2, span.at + 2 + span.length);
    out.push(parseOption(span.type, data));
  }
  return out;
}

function parseOption(type: number, data: Uint8Array): MobilityOption {
  switch (type) {
    case MobilityOptionType.bindingRefreshAdvice:
      return { type: "binding-refresh-advice", refreshIntervalUnits: readU16(data, 0) };
    case MobilityOptionType.alternateCareOfAddress:
      return { type: "alternate-care-of-address", careOfAddress: formatIpv6(data) };
    case MobilityOptionType.nonceIndices:
      return { type: "nonce-indices", homeNonceIndex: readU16(data, 0), careOfNonceIndex: readU16(data, 2) };
    case MobilityOptionType.bindingAuthorizationData:
      return { type: "binding-authorization-data", authenticator: Uint8Array.from(data) };
    case MobilityOptionType.mobileNetworkPrefix:
      return { type: "mobile-network-prefix", prefixLength: data[1]!, prefix: formatIpv6(data.subarray(2, 18)) };
    case MobilityOptionType.ipv4CareOfAddress:
      return { type: "ipv4-care-of-address", careOfAddress: formatIpv4(data.subarray(2, 6)) };
    case MobilityOptionType.natDetection:
      return { type: "nat-detection", udpEncapsulationRequired: (readU16(data, 0) & NAT_DETECTION_FLAG_UDP_ENCAPSULATION) !== 0, refreshTimeSeconds: readU32(data, 2) };
    case MobilityOptionType.mobilityMessageAuthentication:
      return { type: "mobility-message-authentication", subtype: data[0]!, mobilitySpi: readU32(data, 1), authenticationData: Uint8Array.from(data.subarray(5)) };
    case MobilityOptionType.mobilityMessageReplayProtection:
      return { type: "mobility-message-replay-protection", timestamp: (BigInt(readU32(data, 0)) << 32n) | BigInt(readU32(data, 4)) };
    case MobilityOptionType.bindingIdentifier: {
      if (data.length !== 4 && data.length !== 8 && data.length !== 20) return { type: "malformed-binding-identifier", data: Uint8Array.from(data) };
      const base = {
        type: "binding-identifier" as const,
        bindingId: readU16(data, 0),
        status: data[2]!,
        simultaneousHomeAndForeign: (data[3]! & BID_FLAG_SIMULTANEOUS_HOME_AND_FOREIGN) !== 0,
      };
      if (data.length === 20) return { ...base, careOfAddress: { family: "ipv6", address: formatIpv6(data.subarray(4, 20)) } };
      if (data.length === 8) return { ...base, careOfAddress: { family: "ipv4", address: formatIpv4(data.subarray(4, 8)) } };
      return base;
    }
    default:
      return { type: "unknown", optionType: type, data: Uint8Array.from(data) };
  }
}
