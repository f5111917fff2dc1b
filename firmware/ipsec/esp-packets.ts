// Whole IP packets around ESP for slow-path callers (signalling, selftests, captures): outer headers, RFC 3948 UDP, transport-mode splicing.

import type { Instant } from "../core/instant.ts";
import { err, ok, type Result } from "../core/result.ts";
import { formatIpv4, formatIpv6 } from "../wire/address.ts";
import type { WireError } from "../wire/error.ts";
import { emitIpv4Packet, parseIpv4Packet } from "../wire/ipv4.ts";
import { emitIpv6Packet, parseIpv6Packet } from "../wire/ipv6.ts";
import { IpProtocol } from "../wire/protocol-numbers.ts";
import { emitUdp, parseUdp } from "../wire/udp.ts";
import { parseUdpEncapsulated, UDP_ENCAPSULATION_PORT } from "../wire/udp-encapsulation.ts";
import type { EspCounterName } from "./constants.ts";
import type { EspInbound } from "./esp-inbound.ts";
import type { EspOutbound } from "./esp-outbound.ts";
import type { SecurityAssociation } from "./sad.ts";

export type EspPacketError =
  | { readonly kind: "drop"; readonly counter: EspCounterName }
  | { readonly kind: "wire"; readonly error: WireError }
  | { readonly kind: "no-endpoints" }
  | { readonly kind: "not-esp" };

/** Wraps an ESP packet in the SA's outer header (and UDP when the SA is encapsulated, RFC 3948 §2.1). */
function outerPacket(sa: SecurityAssociation, esp: Uint8Array): Result<Uint8Array, EspPacketError> {
  const endpoints = sa.endpoints;
  if (endpoints === undefined) return err({ kind: "no-endpoints" });
  const v4 = endpoints.source.length === 4;
  const encapsulation = sa.encapsulation;
  const upper =
    encapsulation.kind === "udp"
      ? emitUdp({ sourcePort: encapsulation.sourcePort, destinationPort: encapsulation.destinationPort, payload: esp }, endpoints, { ipv4ZeroChecksum: v4 })
      : esp;
  const upperProtocol = encapsulation.kind === "udp" ? IpProtocol.udp : IpProtocol.esp;
  return ok(
    v4
      ? emitIpv4Packet({ source: formatIpv4(endpoints.source), destination: formatIpv4(endpoints.destination), upperProtocol, upperPayload: upper })
      : emitIpv6Packet({ source: formatIpv6(endpoints.source), destination: formatIpv6(endpoints.destination), upperProtocol, upperPayload: upper }),
  );
}

/** Tunnel mode: `inner` (IPv6 or IPv4) inside ESP inside the SA's current outer header. */
export function sealTunnelPacket(outbound: EspOutbound, sa: SecurityAssociation, inner: Uint8Array, now: Instant): Result<Uint8Array, EspPacketError> {
  const length = outbound.protectTunnel(sa, inner, now);
  if (length < 0) return err({ kind: "drop", counter: outbound.lastDrop! });
  return outerPacket(sa, sa.output!.slice(0, length));
}

/**
 * Transport mode on an IPv6 packet (RFC 4303 §3.1.1): ESP goes after the extension headers that
 * precede it (Type 2 routing header, Destination Options with the Home Address option, RFC 6275
 * §6.3) and protects the upper layer. UDP encapsulation is not applied to transport-mode SAs here.
 */
export function sealTransportIpv6(outbound: EspOutbound, sa: SecurityAssociation, packet: Uint8Array, now: Instant): Result<Uint8Array, EspPacketError> {
  const parsed = parseIpv6Packet(packet);
  if (!parsed.ok) return err({ kind: "wire", error: parsed.error });
  const p = parsed.value;
  const length = outbound.protectTransport(sa, p.upperProtocol, p.upperPayload, now);
  if (length < 0) return err({ kind: "drop", counter: outbound.lastDrop! });
  return ok(
    emitIpv6Packet({
      source: p.header.source,
      destination: p.header.destination,
      hopLimit: p.header.hopLimit,
      trafficClass: p.header.trafficClass,
      flowLabel: p.header.flowLabel,
      extensionHeaders: p.extensionHeaders,
      upperProtocol: IpProtocol.esp,
      upperPayload: sa.output!.subarray(0, length),
    }),
  );
}

export interface OpenedPacket {
  readonly sa: SecurityAssociation;
  readonly nextHeader: number;
  /** Tunnel mode: the inner packet. Transport mode: the upper-layer payload. A copy. */
  readonly payload: Uint8Array;
  /** Transport mode over IPv6: the packet rebuilt without ESP (as if it had arrived in clear). */
  readonly packet?: Uint8Array;
}

/**
 * Opens an IPv6 or IPv4 packet carrying ESP directly or in UDP to port 4500. Decrypts in a copy
 * (the input is left untouched). Transport-mode selectors are checked with the home address of a
 * Home Address option as source and a Type 2 routing header's address as destination (RFC 4877 §4.2).
 */
export function openPacket(inbound: EspInbound, bytes: Uint8Array, now: Instant): Result<OpenedPacket, EspPacketError> {
  const copy = Uint8Array.from(bytes);
  const v4 = copy.length > 0 && copy[0]! >>> 4 === 4;
  const parsed = v4 ? parseIpv4Packet(copy) : parseIpv6Packet(copy);
  if (!parsed.ok) return err({ kind: "wire", error: parsed.error });
  const p = parsed.value;
  const source = "homeAddressBytes" in p && p.homeAddressBytes !== undefined ? p.homeAddressBytes : p.header.sourceBytes;
  const destination =
    "routingType2AddressBytes" in p && p.routingType2AddressBytes !== undefined ? p.routingType2AddressBytes : p.header.destinationBytes;
  let esp: Uint8Array;
  if (p.upperProtocol === IpProtocol.esp) {
    esp = p.upperPayload;
  } else if (p.upperProtocol === IpProtocol.udp) {
    const udp = parseUdp(p.upperPayload, { source: p.header.sourceBytes, destination: p.header.destinationBytes });
    if (!udp.ok) return err({ kind: "wire", error: udp.error });
    if (udp.value.destinationPort !== UDP_ENCAPSULATION_PORT) return err({ kind: "not-esp" });
    const encapsulated = parseUdpEncapsulated(udp.value.payload);
    if (!encapsulated.ok) return err({ kind: "wire", error: encapsulated.error });
    if (encapsulated.value.kind !== "esp") return err({ kind: "not-esp" });
    esp = encapsulated.value.packet;
  } else {
    return err({ kind: "not-esp" });
  }
  if (!inbound.process(esp, 0, esp.length, now, { source, destination })) return err({ kind: "drop", counter: inbound.lastDrop! });
  const r = inbound.result;
  const sa = r.sa!;
  const payload = esp.slice(r.payloadOffset, r.payloadOffset + r.payloadLength);
  if (sa.mode === "tunnel" || v4 || !("extensionHeaders" in p)) return ok({ sa, nextHeader: r.nextHeader, payload });
  const rebuilt = emitIpv6Packet({
    source: p.header.source,
    destination: p.header.destination,
    hopLimit: p.header.hopLimit,
    extensionHeaders: p.extensionHeaders,
    upperProtocol: r.nextHeader,
    upperPayload: payload,
  });
  return ok({ sa, nextHeader: r.nextHeader, payload, packet: rebuilt });
}
