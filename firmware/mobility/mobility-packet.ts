// A Mobility Header inside its IPv6 packet: Home Address option / Type 2 routing header and the right pseudo-header.

import { ok, type Result } from "../core/result.ts";
import type { Ipv6Text } from "../wire/address.ts";
import { wireError, type WireError } from "../wire/error.ts";
import type { ExtensionHeaderRepr } from "../wire/ipv6-extension-headers.ts";
import { emitIpv6Packet, ipv6UpperChecksumAddresses, parseIpv6Packet, type Ipv6Packet } from "../wire/ipv6.ts";
import { decodeMobilityMessage, encodeMobilityMessage, type MobilityMessage } from "../wire/mobility-header.ts";
import { IpProtocol } from "../wire/protocol-numbers.ts";
import { transmitPseudoHeader, type MobilityTransmit } from "./types.ts";

/**
 * Builds the IPv6 packet of a transmit: Type 2 routing header first, then a Destination Options
 * header with the Home Address option (RFC 6275 §6.3, §6.4), then the Mobility Header whose
 * checksum uses the home addresses (RFC 6275 §6.1.1). The IPv4/UDP wrapping of an
 * `ipv4Encapsulation` transmit is the runtime's job.
 */
export function encodeMobilityPacket(t: MobilityTransmit, hopLimit = 64): Uint8Array {
  const mh = encodeMobilityMessage(t.message, transmitPseudoHeader(t));
  const extensionHeaders: ExtensionHeaderRepr[] = [];
  if (t.routingType2Address !== undefined) extensionHeaders.push({ kind: "routing-type2", homeAddress: t.routingType2Address });
  if (t.homeAddressOption !== undefined) extensionHeaders.push({ kind: "destination-options", options: [{ type: "home-address", homeAddress: t.homeAddressOption }] });
  return emitIpv6Packet({ source: t.source, destination: t.destination, hopLimit, extensionHeaders, upperProtocol: IpProtocol.mobility, upperPayload: mh });
}

/** A received Mobility Header message with the addressing of its packet. */
export interface ReceivedMobilityPacket {
  readonly packet: Ipv6Packet;
  readonly message: MobilityMessage;
  readonly source: Ipv6Text;
  readonly destination: Ipv6Text;
  readonly homeAddressOption?: Ipv6Text;
  readonly routingType2Address?: Ipv6Text;
}

/**
 * Parses an IPv6 packet carrying a Mobility Header and verifies its checksum over the
 * home-address pseudo-header. Enforces RFC 6275 §6.1: only a BU may carry a Home Address
 * option, only a BA a Type 2 routing header.
 */
export function decodeMobilityPacket(bytes: Uint8Array): Result<ReceivedMobilityPacket, WireError> {
  const parsed = parseIpv6Packet(bytes);
  if (!parsed.ok) return parsed;
  const packet = parsed.value;
  if (packet.upperProtocol !== IpProtocol.mobility) {
    return wireError("mobility", "unsupported", packet.upperOffset, `upper-layer protocol ${packet.upperProtocol} is not a Mobility Header (135)`);
  }
  const decoded = decodeMobilityMessage(packet.upperPayload, ipv6UpperChecksumAddresses(packet));
  if (!decoded.ok) return { ok: false, error: { ...decoded.error, at: decoded.error.at + packet.upperOffset } };
  const message = decoded.value;
  if (packet.homeAddress !== undefined && message.type !== "binding-update") {
    return wireError("mobility", "bad-value", packet.upperOffset, `a ${message.type} must not carry a Home Address option (RFC 6275 §6.1)`);
  }
  if (packet.routingType2Address !== undefined && message.type !== "binding-acknowledgement") {
    return wireError("mobility", "bad-value", packet.upperOffset, `a ${message.type} must not carry a Type 2 routing header (RFC 6275 §6.1)`);
  }
  return ok({
    packet,
    message,
    source: packet.header.source,
    destination: packet.header.destination,
    ...(packet.homeAddress !== undefined ? { homeAddressOption: packet.homeAddress } : {}),
    ...(packet.routingType2Address !== undefined ? { routingType2Address: packet.routingType2Address } : {}),
  });
}
