// What the packet loop asks of a role's forwarding path: seal a packet from the tunnel interface, open one from an uplink.

import type { Instant } from "../core/instant.ts";

/**
 * Where the packet loop reads an inner packet into a send slot: room before it for the ESP header and
 * the largest IV (16, AES-CBC), so sealing happens in place and the ESP packet starts at
 * `HEADROOM − 8 − ivLength` in the slot.
 */
export const HEADROOM = 24;
/** Room after the inner packet for padding (≤ 15), Pad Length, Next Header and ICV (≤ 16). */
export const TAILROOM = 40;

/** `fromTunnelInterface` results below 0. */
export const DROPPED = -1;
/** The packet exceeds the chosen uplink's inner MTU: answer with Packet Too Big (`tooBigMtu`). */
export const TOO_BIG = -2;

export interface ForwardingPath {
  /**
   * Protects the inner packet at `data[slotAt + HEADROOM, + innerLength)` in place. Returns the uplink
   * index to send on (the ESP packet is then `data[slotAt + sealedAt, + sealedLength)` and goes to
   * `outerDestination`, from `outerSource` when set), or DROPPED (counted) or TOO_BIG.
   */
  fromTunnelInterface(data: Uint8Array, slotAt: number, innerLength: number, now: Instant): number;
  readonly sealedAt: number;
  readonly sealedLength: number;
  /** 16 octets: the outer destination of the last sealed packet. */
  readonly outerDestination: Uint8Array;
  readonly tooBigMtu: number;
  /**
   * Opens the ESP packet `data[at, at+length)` that arrived on `uplink` from the outer source at
   * `source[sourceAt, +16)`. True: write `data[payloadOffset, +payloadLength)` to the tunnel interface.
   * False: dropped and counted.
   */
  fromUplink(uplink: number, data: Uint8Array, at: number, length: number, source: Uint8Array, sourceAt: number, now: Instant): boolean;
  readonly payloadOffset: number;
  readonly payloadLength: number;
  /** After `fromUplink` returned true: the payload is for the control plane (a `LocalPort` match, see local-delivery.ts). */
  readonly local: boolean;
  /**
   * Seals an inner packet the control plane made (a link probe) like `fromTunnelInterface`, but on `uplink`
   * and towards `outerDestination` (16 octets) when given, instead of the path's own choice.
   */
  sealLocal(data: Uint8Array, slotAt: number, innerLength: number, uplink: number, outerDestination: Uint8Array | undefined, now: Instant): number;
  /**
   * After `fromTunnelInterface`/`sealLocal` chose an uplink: true when the packet goes without IPsec,
   * tunnelled by mobility alone (IPv6-in-IPv6, RFC 2473: a bypass flow, or `auth-option` without ESP).
   * `data[slotAt + sealedAt, + sealedLength)` is then the inner packet, for the uplink's protocol-41 socket.
   */
  readonly sealedClear: boolean;
  /**
   * An IPv6-in-IPv6 packet from an uplink: the inner packet at `data[at, at+length)` (the outer header
   * already removed), outer source at `source[sourceAt, +16)`. True: write the payload (as `fromUplink`).
   */
  fromUplinkClear(uplink: number, data: Uint8Array, at: number, length: number, source: Uint8Array, sourceAt: number, now: Instant): boolean;
  /**
   * After a `sealedClear` packet to an IPv4(-mapped) `outerDestination` or on an IPv4 uplink: the UDP port it
   * goes to (RFC 5555 §4.1, IPv6 tunnelled in UDP: the home agent's 4191, or the port of the binding's BU).
   */
  readonly outerPort: number;
  /**
   * RFC 5555 §4.1: an IPv6 packet that arrived in UDP on an uplink's 4191 socket (payload, not signalling), at
   * `data[at, at+length)`, from the IPv4-mapped address at `source[sourceAt, +16)` and UDP port `sourcePort`.
   * True: write the payload (as `fromUplinkClear`).
   */
  fromUplinkUdp(uplink: number, data: Uint8Array, at: number, length: number, source: Uint8Array, sourceAt: number, sourcePort: number, now: Instant): boolean;
}

/** Drop counters the forwarding paths keep (ESP's own drops are `esp.drop.*`). */
export const ForwardingCounter = {
  noPolicy: "dataplane.drop.no-policy",
  discardPolicy: "dataplane.drop.policy-discard",
  bypassPolicy: "dataplane.drop.policy-bypass",
  noSa: "dataplane.drop.no-sa",
  noUplink: "dataplane.drop.no-uplink",
  tooBig: "dataplane.drop.too-big",
  notTunnel: "dataplane.drop.not-tunnel-mode",
  noBinding: "dataplane.drop.no-binding",
  unregisteredCareOf: "dataplane.drop.unregistered-care-of",
  /** `primary` design: ESP from a registered care-of address that is not the primary (firmware/multicoa/primary.ts). */
  notPrimaryCareOf: "dataplane.drop.not-primary-care-of",
  /** IPv6-in-IPv6 (no IPsec): the inner packet is not a whole IPv6/IPv4 packet. */
  clearMalformed: "dataplane.drop.clear-malformed",
  /** IPv6-in-IPv6 at the home agent from an outer source that is no registered care-of address of the inner source's owner. */
  clearUnregisteredCareOf: "dataplane.drop.clear-unregistered-care-of",
  /** IPv6-in-IPv6 that matches no bypass selector while payload must be protected. */
  clearNotBypass: "dataplane.drop.clear-not-bypass",
  /** IPv6-in-IPv6 at the router from anyone but the home agent. */
  clearNotHomeAgent: "dataplane.drop.clear-not-home-agent",
  /** Home agent: clear payload for an IPv4 care-of address whose binding has no observed UDP port (no BU came from it). */
  clearNoUdpPort: "dataplane.drop.clear-no-udp-port",
  /** A packet for a link-scope multicast group (ff02::/16, 224.0.0.0/24: MLD, ND, mDNS…) from the tunnel interface: never forwarded (RFC 4291 §2.7). */
  linkScopeMulticast: "dataplane.drop.link-scope-multicast",
  sendFailed: "dataplane.drop.send-failed",
  tunWriteFailed: "dataplane.drop.tun-write-failed",
  truncated: "dataplane.drop.truncated",
  tooBigSent: "dataplane.icmp.packet-too-big.sent",
  tooBigSuppressed: "dataplane.icmp.packet-too-big.suppressed",
} as const;

/** Packets that went without IPsec: every one (`clear`) and those a bypass selector sent so (`bypass`), each way. */
export const ClearCounter = {
  tx: "dataplane.clear.tx",
  rx: "dataplane.clear.rx",
  bypassTx: "dataplane.bypass.tx",
  bypassRx: "dataplane.bypass.rx",
} as const;

/**
 * Whether `data[at, at+length)` is one whole IPv6 or IPv4 packet (the length its header states), as an
 * IPv6-in-IPv6 payload must be (RFC 2473 §3.1: the tunnel packet carries exactly one inner packet).
 */
export function wholeInnerPacket(data: Uint8Array, at: number, length: number): boolean {
  if (length < 1) return false;
  const version = data[at]! >>> 4;
  if (version === 6) return length >= 40 && 40 + ((data[at + 4]! << 8) | data[at + 5]!) === length;
  if (version === 4) return length >= 20 && ((data[at + 2]! << 8) | data[at + 3]!) === length && (data[at]! & 0x0f) >= 5;
  return false;
}

/** Inner IPv6 → Next Header 41, IPv4 → 4 (RFC 4303 §2.6), else −1. */
export function tunnelNextHeader(data: Uint8Array, at: number): number {
  const version = data[at]! >>> 4;
  return version === 6 ? 41 : version === 4 ? 4 : -1;
}

/** Whether `bytes[at, at+16)` is an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2): an IPv4 peer on a dual-stack socket. */
export function isIpv4Mapped(bytes: Uint8Array, at = 0): boolean {
  if (at + 16 > bytes.length) return false;
  for (let i = 0; i < 10; i++) if (bytes[at + i] !== 0) return false;
  return bytes[at + 10] === 0xff && bytes[at + 11] === 0xff;
}

/**
 * Whether the inner packet at `data[at, at + length)` is addressed to a multicast group of interface- or
 * link-local scope (IPv6 ff01::/16, ff02::/16 and the reserved scopes 0 and 1–2 of RFC 4291 §2.7; IPv4
 * 224.0.0.0/24, RFC 5771): a router never forwards those, so they never enter the tunnel.
 */
export function isLinkScopeMulticast(data: Uint8Array, at: number, length: number): boolean {
  const version = length > 0 ? data[at]! >> 4 : 0;
  if (version === 6 && length >= 40) return data[at + 24] === 0xff && (data[at + 25]! & 0x0f) <= 2;
  if (version === 4 && length >= 20) return data[at + 16] === 224 && data[at + 17] === 0 && data[at + 18] === 0;
  return false;
}
