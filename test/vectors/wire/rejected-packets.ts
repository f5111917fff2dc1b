// Packets the wire codecs must reject, Wycheproof style: hex, the parser, and the exact error (layer, kind, offset).

import type { WireErrorKind, WireLayer } from "../../../firmware/wire/error.ts";

export interface RejectedVector {
  readonly name: string;
  readonly parser: "ipv6" | "ipv4";
  readonly hex: string;
  readonly layer: WireLayer;
  readonly kind: WireErrorKind;
  readonly at: number;
}

const V6 = (payloadLength: string, nextHeader: string) => `60000000 ${payloadLength} ${nextHeader} 40 20010db8000000000000000000000001 20010db8000000000000000000000002`;
const HAO = "c9 10 20010db8000a00000000000000000001";

export const REJECTED: readonly RejectedVector[] = [
  { name: "empty input", parser: "ipv6", hex: "", layer: "ipv6", kind: "truncated", at: 0 },
  { name: "39-octet header", parser: "ipv6", hex: V6("0000", "3b").slice(0, -2), layer: "ipv6", kind: "truncated", at: 39 },
  { name: "version 4 in an IPv6 parser", parser: "ipv6", hex: "4" + V6("0000", "3b").slice(1), layer: "ipv6", kind: "bad-version", at: 0 },
  { name: "payload length past the end", parser: "ipv6", hex: V6("0001", "3b"), layer: "ipv6", kind: "truncated", at: 40 },
  { name: "hop-by-hop second (RFC 8200 §4.3)", parser: "ipv6", hex: V6("0010", "3c") + "00 00 01 04 00000000 3b 00 01 04 00000000", layer: "ipv6-ext", kind: "bad-value", at: 48 },
  { name: "destination options overrunning the payload", parser: "ipv6", hex: V6("0008", "3c") + "3b 01 01 04 00000000", layer: "ipv6-ext", kind: "truncated", at: 40 },
  { name: "PadN longer than its header", parser: "ipv6", hex: V6("0008", "3c") + "3b 00 01 05 00000000", layer: "ipv6-ext", kind: "bad-length", at: 42 },
  { name: "home address option at 8n+4", parser: "ipv6", hex: V6("0018", "3c") + "3b 02 01 00 " + HAO + " 01 00", layer: "ipv6-ext", kind: "bad-alignment", at: 44 },
  { name: "home address option 15 octets long", parser: "ipv6", hex: V6("0018", "3c") + "3b 02 01 02 0000 c9 0f 20010db8000a000000000000000000 00", layer: "ipv6-ext", kind: "bad-length", at: 46 },
  { name: "type 2 routing header with segments left 0", parser: "ipv6", hex: V6("0018", "2b") + "3b 02 02 00 00000000 20010db8000a00000000000000000001", layer: "ipv6-ext", kind: "bad-value", at: 43 },
  { name: "type 2 routing header of 16 octets", parser: "ipv6", hex: V6("0010", "2b") + "3b 01 02 01 00000000 20010db8000a0000", layer: "ipv6-ext", kind: "bad-length", at: 41 },
  { name: "fragment header cut short", parser: "ipv6", hex: V6("0004", "2c") + "3b 00 0000", layer: "ipv6-ext", kind: "truncated", at: 40 },
  {
    name: "nine destination options headers",
    parser: "ipv6",
    hex: V6("0048", "3c") + "3c 00 01 04 00000000".repeat(8) + "3b 00 01 04 00000000",
    layer: "ipv6-ext",
    kind: "too-many-headers",
    at: 104,
  },
  { name: "IPv4 version 6", parser: "ipv4", hex: "65000014 00000000 40110000 c0000201 c0000202", layer: "ipv4", kind: "bad-version", at: 0 },
  { name: "IPv4 IHL 4", parser: "ipv4", hex: "44000014 00000000 40110000 c0000201 c0000202", layer: "ipv4", kind: "bad-length", at: 0 },
  { name: "IPv4 total length 19", parser: "ipv4", hex: "45000013 00000000 40110000 c0000201 c0000202", layer: "ipv4", kind: "bad-length", at: 2 },
  { name: "IPv4 total length past the end", parser: "ipv4", hex: "45000015 00000000 40110000 c0000201 c0000202", layer: "ipv4", kind: "truncated", at: 20 },
  { name: "IPv4 header checksum wrong", parser: "ipv4", hex: "45000014 00000000 40110000 c0000201 c0000202", layer: "ipv4", kind: "bad-checksum", at: 10 },
  { name: "IPv4 option with length 1", parser: "ipv4", hex: "46000018 00000000 40110000 c0000201 c0000202 94010000", layer: "ipv4", kind: "bad-length", at: 21 },
];
