// UDP encapsulation of ESP (RFC 3948): telling ESP, IKE (non-ESP marker) and NAT-keepalives apart on port 4500.

import { ok, type Result } from "../core/result.ts";
import { readU32 } from "./bytes.ts";
import { wireError, type WireError } from "./error.ts";
import { ESP_HEADER_LEN } from "./esp.ts";

/** RFC 3948 §2 (and RFC 7296 §2.23): ESP-in-UDP and IKE share this port. */
export const UDP_ENCAPSULATION_PORT = 4500;
/** RFC 3948 §2.2: four zero octets in front of IKE messages on port 4500. */
export const NON_ESP_MARKER_LEN = 4;
/** RFC 3948 §2.3: a NAT-keepalive is one octet of 0xFF. */
export const NAT_KEEPALIVE_OCTET = 0xff;
/** RFC 3948 §4: the default keepalive interval, 20 s. */
export const NAT_KEEPALIVE_INTERVAL_MS = 20_000;

/*
 * The UDP payload on port 4500 (RFC 3948 §2.1–2.3):
 *
 *   ESP-in-UDP:     SPI (32, never 0) | Sequence Number (32) | …      (no marker)
 *   IKE:            0x00000000 (non-ESP marker) | IKE header …
 *   NAT-keepalive:  0xFF                                                (one octet)
 */

/** What a datagram on port 4500 carries; every Uint8Array is a subarray of the input. */
export type UdpEncapsulatedRepr =
  | { readonly kind: "esp"; readonly packet: Uint8Array }
  | { readonly kind: "ike"; readonly message: Uint8Array }
  | { readonly kind: "nat-keepalive" };

/**
 * Classifies a UDP payload received on the encapsulation port. Errors: empty or too short for
 * the kind its first octets announce, an empty IKE message behind the marker.
 */
export function parseUdpEncapsulated(payload: Uint8Array): Result<UdpEncapsulatedRepr, WireError> {
  if (payload.length === 1 && payload[0] === NAT_KEEPALIVE_OCTET) return ok({ kind: "nat-keepalive" });
  if (payload.length < NON_ESP_MARKER_LEN) {
    return wireError("udp-encap", "truncated", payload.length, `need ${NON_ESP_MARKER_LEN} octets for a marker or an SPI`);
  }
  if (readU32(payload, 0) === 0) {
    if (payload.length === NON_ESP_MARKER_LEN) return wireError("udp-encap", "truncated", NON_ESP_MARKER_LEN, "non-ESP marker with no IKE message");
    return ok({ kind: "ike", message: payload.subarray(NON_ESP_MARKER_LEN) });
  }
  if (payload.length < ESP_HEADER_LEN) {
    return wireError("udp-encap", "truncated", payload.length, `ESP needs ${ESP_HEADER_LEN} octets, have ${payload.length}`);
  }
  return ok({ kind: "esp", packet: payload });
}

export function udpEncapsulatedLen(repr: UdpEncapsulatedRepr): number {
  switch (repr.kind) {
    case "esp":
      return repr.packet.length;
    case "ike":
      return NON_ESP_MARKER_LEN + repr.message.length;
    case "nat-keepalive":
      return 1;
  }
}

/**
 * Writes the UDP payload for `repr` at `at`; returns its length. An ESP packet whose SPI is 0 or
 * that is shorter than its header, or a buffer too small, throws RangeError (programmer error).
 */
export function emitUdpEncapsulated(repr: UdpEncapsulatedRepr, into: Uint8Array, at: number): number {
  const len = udpEncapsulatedLen(repr);
  if (at < 0 || at + len > into.length) throw new RangeError(`UDP-encapsulated payload of ${len} octets does not fit at ${at}`);
  switch (repr.kind) {
    case "esp":
      if (repr.packet.length < ESP_HEADER_LEN || readU32(repr.packet, 0) === 0) throw new RangeError("ESP-in-UDP needs a non-zero SPI");
      into.set(repr.packet, at);
      break;
    case "ike":
      into.fill(0, at, at + NON_ESP_MARKER_LEN);
      into.set(repr.message, at + NON_ESP_MARKER_LEN);
      break;
    case "nat-keepalive":
      into[at] = NAT_KEEPALIVE_OCTET;
      break;
  }
  return len;
}

export function encodeUdpEncapsulated(repr: UdpEncapsulatedRepr): Uint8Array {
  const out = new Uint8Array(udpEncapsulatedLen(repr));
  emitUdpEncapsulated(repr, out, 0);
  return out;
}
