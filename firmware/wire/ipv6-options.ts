// TLV options of the IPv6 Hop-by-Hop and Destination Options headers (RFC 8200 §4.2), including the Home Address option (RFC 6275 §6.3).

import { assertNever, ok, type Result } from "../core/result.ts";
import { formatIpv6, parseIpv6 } from "./address.ts";
import { wireError, type WireError } from "./error.ts";
import { checkUnsigned } from "./field-range.ts";

/** Option types monami understands; every other type is kept raw as `unknown`. */
export const Ipv6OptionType = {
  pad1: 0,
  padN: 1,
  /** RFC 6275 §6.3 (0xC9: action bits 11, may-change 0). */
  homeAddress: 201,
} as const;

/** RFC 6275 §6.3: the Home Address option carries exactly one address. */
export const HOME_ADDRESS_OPTION_DATA_LEN = 16;

/**
 * One option as a caller means it. Parsing drops Pad1/PadN (they are layout, not meaning);
 * emitting inserts the padding that alignment needs, and also writes any pad the caller lists.
 * `padn.length` counts every octet of the option, type and length included (2..257).
 */
export type Ipv6OptionRepr =
  | { readonly type: "pad1" }
  | { readonly type: "padn"; readonly length: number }
  | { readonly type: "home-address"; readonly homeAddress: string }
  | { readonly type: "unknown"; readonly optionType: number; readonly data: Uint8Array };

/**
 * What RFC 8200 §4.2 says a node that does not recognise an option must do, from the option
 * type's two high-order bits. monami's codec never acts on it: the caller decides.
 */
export type UnrecognizedOptionAction =
  | "skip" // 00
  | "discard" // 01
  | "discard-send-parameter-problem" // 10: ICMPv6 Parameter Problem code 2, even to multicast
  | "discard-send-parameter-problem-unless-multicast"; // 11

export function unrecognizedOptionAction(optionType: number): UnrecognizedOptionAction {
  switch ((optionType >>> 6) & 3) {
    case 0:
      return "skip";
    case 1:
      return "discard";
    case 2:
      return "discard-send-parameter-problem";
    default:
      return "discard-send-parameter-problem-unless-multicast";
  }
}

/** RFC 8200 §4.2: the third-highest bit says the option data may change en route. */
export function optionDataMayChange(optionType: number): boolean {
  return (optionType & 0x20) !== 0;
}

/** Where an option the codec did not recognise sits, so a caller can apply its action bits. */
export interface UnrecognizedOptionSite {
  readonly optionType: number;
  readonly action: UnrecognizedOptionAction;
  /** Offset of the option type octet from the start of the IPv6 packet (the Parameter Problem pointer). */
  readonly offset: number;
}

export interface ParsedOptions {
  readonly options: Ipv6OptionRepr[];
  readonly unrecognized: UnrecognizedOptionSite[];
  /** The address octets of the Home Address option, if there is one (a subarray). */
  readonly homeAddressBytes?: Uint8Array;
}

/**
 * Parses the options area of a Hop-by-Hop or Destination Options header. `header` is the whole
 * extension header (its first two octets are Next Header and Hdr Ext Len); `headerOffset` is where
 * it starts in the packet, so errors and sites carry packet offsets. Option data are subarrays.
 * Type 201 is read as a Home Address option in either header; the chain walker takes the home
 * address from Destination Options only (RFC 6275 §6.3).
 */
export function parseIpv6Options(header: Uint8Array, headerOffset: number): Result<ParsedOptions, WireError> {
  const options: Ipv6OptionRepr[] = [];
  const unrecognized: UnrecognizedOptionSite[] = [];
  let homeAddressBytes: Uint8Array | undefined;
  let at = 2;
  while (at < header.length) {
    const optionType = header[at]!;
    if (optionType === Ipv6OptionType.pad1) {
      at += 1;
      continue;
    }
    if (at + 2 > header.length) {
      return wireError("ipv6-ext", "bad-length", headerOffset + at, `option ${optionType} has no length octet`);
    }
    const dataLen = header[at + 1]!;
    const end = at + 2 + dataLen;
    if (end > header.length) {
      return wireError("ipv6-ext", "bad-length", headerOffset + at, `option ${optionType} overruns its header`);
    }
    const data = header.subarray(at + 2, end);
    if (optionType === Ipv6OptionType.homeAddress) {
      if (dataLen !== HOME_ADDRESS_OPTION_DATA_LEN) {
        return wireError("ipv6-ext", "bad-length", headerOffset + at, `home address option length ${dataLen}, RFC 6275 §6.3 says 16`);
      }
      if (at % 8 !== 6) {
        return wireError("ipv6-ext", "bad-alignment", headerOffset + at, "home address option not at 8n+6 (RFC 6275 §6.3)");
      }
      if (homeAddressBytes) return wireError("ipv6-ext", "bad-value", headerOffset + at, "second home address option");
      homeAddressBytes = data;
      options.push({ type: "home-address", homeAddress: formatIpv6(data) });
    } else if (optionType !== Ipv6OptionType.padN) {
      options.push({ type: "unknown", optionType, data });
      unrecognized.push({ optionType, action: unrecognizedOptionAction(optionType), offset: headerOffset + at });
    }
    at = end;
  }
  return ok(homeAddressBytes ? { options, unrecognized, homeAddressBytes } : { options, unrecognized });
}

/** Length of a Hop-by-Hop or Destination Options header carrying `options`, padded to 8 octets. */
export function ipv6OptionsHeaderLen(options: readonly Ipv6OptionRepr[]): number {
  return layOutOptions(options, undefined, 0);
}

/**
 * Writes the header's options (not its first two octets) into `buffer`, whose header starts at
 * `headerOffset`, and returns the header length. A home address option lands at 8n+6; the header
 * ends on a multiple of 8. Invalid reprs (lengths, reserved types) throw RangeError.
 */
export function emitIpv6Options(options: readonly Ipv6OptionRepr[], buffer: Uint8Array, headerOffset: number): number {
  return layOutOptions(options, buffer, headerOffset);
}

/** RFC 8200 §4.3: the header length field counts 8-octet units after the first 8, so at most 2048 octets. */
const MAX_OPTIONS_HEADER_LEN = 2048;

function layOutOptions(options: readonly Ipv6OptionRepr[], out: Uint8Array | undefined, base: number): number {
  let at = 2;
  const pad = (n: number): void => {
    if (n === 0) return;
    if (out) {
      out.fill(0, base + at, base + at + n);
      if (n >= 2) {
        out[base + at] = Ipv6OptionType.padN;
        out[base + at + 1] = n - 2;
      }
    }
    at += n;
  };
  for (const option of options) {
    switch (option.type) {
      case "pad1":
        pad(1);
        break;
      case "padn":
        if (!Number.isInteger(option.length) || option.length < 2 || option.length > 257) {
          throw new RangeError(`PadN length ${option.length} outside 2..257`);
        }
        pad(option.length);
        break;
      case "home-address": {
        const address = parseIpv6(option.homeAddress);
        if (!address) throw new RangeError(`home address option: '${option.homeAddress}' is not an IPv6 address`);
        pad((6 - (at % 8) + 8) % 8);
        if (out) {
          out[base + at] = Ipv6OptionType.homeAddress;
          out[base + at + 1] = HOME_ADDRESS_OPTION_DATA_LEN;
          out.set(address, base + at + 2);
        }
        at += 2 + HOME_ADDRESS_OPTION_DATA_LEN;
        break;
      }
      case "unknown": {
        const { optionType, data } = option;
        checkUnsigned(optionType, 0xff, "option type");
        if (optionType === Ipv6OptionType.pad1 || optionType === Ipv6OptionType.padN || optionType === Ipv6OptionType.homeAddress) {
          throw new RangeError(`option type ${optionType} has its own repr`);
        }
        if (data.length > 255) throw new RangeError(`option ${optionType}: ${data.length} data octets (max 255)`);
        if (out) {
          out[base + at] = optionType;
          out[base + at + 1] = data.length;
          out.set(data, base + at + 2);
        }
        at += 2 + data.length;
        break;
      }
      default:
        assertNever(option, "IPv6 option");
    }
  }
  pad((8 - (at % 8)) % 8);
  if (at > MAX_OPTIONS_HEADER_LEN) throw new RangeError(`options header of ${at} octets (max ${MAX_OPTIONS_HEADER_LEN})`);
  return at;
}
