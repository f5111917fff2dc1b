// WireError: the one typed error every codec returns for bad input (never thrown).

import { err, type Err } from "../core/result.ts";

/** The protocol layer a codec belongs to; counters are named `wire.<layer>.<kind>`. */
export type WireLayer =
  | "bytes"
  | "ipv4"
  | "ipv6"
  | "ipv6-ext"
  | "udp"
  | "icmpv6"
  | "mobility"
  | "esp"
  | "udp-encap"
  | "dsmipv6"
  | "ikev2"
  | "pcap"
  | "link-probe";

export type WireErrorKind =
  | "truncated" // the buffer ends before the header or a length says it should
  | "bad-length" // a length field is impossible (too small, not a multiple, beyond the packet)
  | "bad-version"
  | "bad-checksum"
  | "bad-alignment"
  | "bad-value" // a field holds a value the protocol forbids here
  | "unsupported" // well-formed but not something monami handles
  | "too-many-headers"; // an extension-header chain longer than our limit (loops, abuse)

export interface WireError {
  readonly layer: WireLayer;
  readonly kind: WireErrorKind;
  /** Byte offset in the input where the problem was found. */
  readonly at: number;
  readonly detail?: string;
}

export function wireError(layer: WireLayer, kind: WireErrorKind, at: number, detail?: string): Err<WireError> {
  return err(detail === undefined ? { layer, kind, at } : { layer, kind, at, detail });
}

/** The counter name for a wire error, e.g. `wire.ipv6.truncated`. */
export function wireErrorCounter(error: WireError): string {
  return `wire.${error.layer}.${error.kind}`;
}

export function formatWireError(error: WireError): string {
  return `${error.layer}: ${error.kind} at byte ${error.at}${error.detail ? ` (${error.detail})` : ""}`;
}
