// NAT detection (RFC 7296 §2.23): SHA-1(SPIs | IP address | port) in NAT_DETECTION_SOURCE/DESTINATION_IP.

import { sha1 } from "@noble/hashes/legacy.js";
import { parseIpv4, parseIpv6 } from "../wire/address.ts";
import { spiBytes, type IkeSpi } from "../wire/ikev2/header.ts";
import type { Payload } from "../wire/ikev2/payloads.ts";
import { NotifyType } from "./constants.ts";
import { constantTimeEqual } from "./encrypted-payload.ts";
import type { Endpoint } from "./endpoint.ts";
import { concat } from "./keys.ts";
import { notifies, notify } from "./task.ts";

/** The hash for one endpoint; SPIs as in the header of the message carrying it (SPIr = 0 in the first request). */
export function natDetectionHash(spiI: IkeSpi, spiR: IkeSpi, endpoint: Endpoint): Uint8Array {
  const address = parseIpv6(endpoint.address) ?? parseIpv4(endpoint.address) ?? new Uint8Array(0);
  return sha1(concat(spiBytes(spiI), spiBytes(spiR), address, Uint8Array.of(endpoint.port >> 8, endpoint.port & 0xff)));
}

/** NAT_DETECTION_SOURCE_IP for our endpoint and NAT_DETECTION_DESTINATION_IP for the peer's. */
export function natDetectionNotifies(spiI: IkeSpi, spiR: IkeSpi, local: Endpoint, remote: Endpoint): Payload[] {
  return [
    notify(NotifyType.natDetectionSourceIp, natDetectionHash(spiI, spiR, local)),
    notify(NotifyType.natDetectionDestinationIp, natDetectionHash(spiI, spiR, remote)),
  ];
}

export interface NatResult {
  /** The message carried NAT detection notifies at all. */
  readonly present: boolean;
  /** Our address was translated (the peer saw a different destination than we bound). */
  readonly local: boolean;
  /** The peer's address was translated (no source hash matches where the datagram came from). */
  readonly remote: boolean;
}

/** Evaluates the NAT-D notifies of a received message (from = packet source, to = our receiving endpoint). */
export function detectNat(payloads: readonly Payload[], spiI: IkeSpi, spiR: IkeSpi, from: Endpoint, to: Endpoint): NatResult {
  const sources = notifies(payloads, NotifyType.natDetectionSourceIp);
  const destinations = notifies(payloads, NotifyType.natDetectionDestinationIp);
  if (sources.length === 0 || destinations.length === 0) return { present: false, local: false, remote: false };
  const src = natDetectionHash(spiI, spiR, from);
  const dst = natDetectionHash(spiI, spiR, to);
  return {
    present: true,
    remote: !sources.some((n) => constantTimeEqual(n.data, src)),
    local: !destinations.some((n) => constantTimeEqual(n.data, dst)),
  };
}
