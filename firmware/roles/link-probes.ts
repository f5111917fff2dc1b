// Link probes inside the tunnel (issue 8): the router's authenticated echo per uplink to its home agent, and the home agent's answer.

import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Counters } from "../core/counters.ts";
import { err, ok, type Result } from "../core/result.ts";
import { SecretBytes } from "../core/secret.ts";
import { wireError, wireErrorCounter, type WireError } from "../wire/error.ts";
import { emitIpv6Packet, ipv6ReprChecksumAddresses, ipv6UpperChecksumAddresses, parseIpv6Packet } from "../wire/ipv6.ts";
import { echoReplyFor, emitLinkProbe, type LinkProbeRepr, parseLinkProbe } from "../wire/link-probe.ts";
import { IpProtocol } from "../wire/protocol-numbers.ts";
import { emitUdp, parseUdp } from "../wire/udp.ts";

/**
 * The UDP port both ends use for probes, from the dynamic range (RFC 6335 §6). Probes only ever travel
 * inside the ESP tunnel: the packet loop hands inner UDP to this port to the control plane.
 */
export const LINK_PROBE_UDP_PORT = 60_606;

const KEY_INFO = new TextEncoder().encode("monami link-probe v1 key");

/**
 * The probe HMAC key of one router ↔ home agent tunnel: HKDF-SHA-256 (RFC 5869) over the tunnel SA pair's
 * key material, towards-the-home-agent first, so both ends derive the same key and nothing new is configured.
 * (With IKEv2 the same derivation applies to the CHILD_SA's KEYMAT.)
 */
export function linkProbeKey(towardsHomeAgent: Uint8Array, towardsRouter: Uint8Array): SecretBytes {
  const material = new Uint8Array(towardsHomeAgent.length + towardsRouter.length);
  material.set(towardsHomeAgent, 0);
  material.set(towardsRouter, towardsHomeAgent.length);
  const key = hkdf(sha256, material, undefined, KEY_INFO, 32);
  material.fill(0);
  return new SecretBytes(key);
}

/** A probe as an inner IPv6/UDP packet (`source` → `destination`, port to port), ready for `DataplaneHandle.sendLocal`. */
export function encodeProbePacket(probe: LinkProbeRepr, key: SecretBytes, source: string, destination: string): Uint8Array {
  const repr = { source, destination, upperProtocol: IpProtocol.udp, upperPayload: new Uint8Array(0) };
  const udp = emitUdp({ sourcePort: LINK_PROBE_UDP_PORT, destinationPort: LINK_PROBE_UDP_PORT, payload: emitLinkProbe(probe, key) }, ipv6ReprChecksumAddresses(repr));
  return emitIpv6Packet({ ...repr, upperPayload: udp });
}

export interface ReceivedProbe {
  readonly probe: LinkProbeRepr;
  /** Inner addresses (RFC 5952 text). */
  readonly source: string;
  readonly destination: string;
}

/** Parses an inner packet from the loop: IPv6, UDP to the probe port with a good checksum, an authenticated probe. */
export function decodeProbePacket(packet: Uint8Array, key: SecretBytes, counters?: Counters): Result<ReceivedProbe, WireError> {
  const ip = parseIpv6Packet(packet);
  if (!ip.ok) return counted(ip, counters);
  if (ip.value.upperProtocol !== IpProtocol.udp) return counted(wireError("link-probe", "bad-value", 6, `next header ${ip.value.upperProtocol}`), counters);
  const udp = parseUdp(ip.value.upperPayload, ipv6UpperChecksumAddresses(ip.value));
  if (!udp.ok) return counted(udp, counters);
  if (udp.value.destinationPort !== LINK_PROBE_UDP_PORT) return counted(wireError("link-probe", "bad-value", 42, `port ${udp.value.destinationPort}`), counters);
  const probe = parseLinkProbe(udp.value.payload, key, counters);
  if (!probe.ok) return probe;
  return ok({ probe: probe.value, source: ip.value.header.source, destination: ip.value.header.destination });
}

function counted<T>(r: { ok: false; error: WireError }, counters: Counters | undefined): Result<T, WireError> {
  counters?.increment(wireErrorCounter(r.error));
  return err(r.error);
}

/**
 * The home agent's side: answers each authenticated echo request with a reply to the request's inner
 * source, sent back (by the caller) to the care-of address the request came from. One key per home address.
 */
export class ProbeResponder {
  readonly #keys: ReadonlyMap<string, SecretBytes>;
  readonly #counters: Counters;

  /** `keys`: home address (RFC 5952 text) → that router's probe key. */
  constructor(keys: ReadonlyMap<string, SecretBytes>, counters: Counters) {
    this.#keys = keys;
    this.#counters = counters;
  }

  /** The reply packet, or undefined (unknown sender, not a request, bad authenticator: counted). `heldUs`: time since arrival. */
  answer(packet: Uint8Array, heldUs: number): Uint8Array | undefined {
    const ip = parseIpv6Packet(packet);
    const key = ip.ok ? this.#keys.get(ip.value.header.source) : undefined;
    if (key === undefined) {
      this.#counters.increment("homeagent.probe.drop.unknown-source");
      return undefined;
    }
    const received = decodeProbePacket(packet, key, this.#counters);
    if (!received.ok) return undefined;
    if (received.value.probe.type !== "echo-request") {
      this.#counters.increment("homeagent.probe.drop.not-a-request");
      return undefined;
    }
    this.#counters.increment("homeagent.probe.answered");
    return encodeProbePacket(echoReplyFor(received.value.probe, heldUs), key, received.value.destination, received.value.source);
  }

  clear(): void {
    for (const key of this.#keys.values()) key.wipe();
  }
}
