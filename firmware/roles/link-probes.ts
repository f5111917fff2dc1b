// Link probes inside the tunnel (issue 8): the router's authenticated echo per uplink to its home agent, and the home agent's answer.

import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Counters } from "../core/counters.ts";
import type { ChildSaInstall } from "../ike/child-sa.ts";
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

/**
 * The probe key of an IKE-keyed tunnel: the same derivation over a tunnel CHILD_SA's KEYMAT (RFC 7296 §2.17),
 * each direction's encryption key then integrity key. `local`: which end we are, so both ends agree.
 */
export function linkProbeKeyOfChild(child: ChildSaInstall, local: "router" | "homeagent"): SecretBytes {
  const keys = (d: ChildSaInstall["inbound"]) => {
    const e = d.encryptionKey.expose();
    const i = d.integrityKey.expose();
    const out = new Uint8Array(e.length + i.length);
    out.set(e, 0);
    out.set(i, e.length);
    return out;
  };
  const [towardsHomeAgent, towardsRouter] = local === "router" ? [keys(child.outbound), keys(child.inbound)] : [keys(child.inbound), keys(child.outbound)];
  const key = linkProbeKey(towardsHomeAgent, towardsRouter);
  towardsHomeAgent.fill(0);
  towardsRouter.fill(0);
  return key;
}

interface RingEntry {
  readonly key: SecretBytes;
  /** The tunnel CHILD_SA it came from (our inbound SPI), undefined for a static or placeholder key. */
  readonly source: number | undefined;
  /** Follows IKE SA rekeys (the CHILD_SAs move to the new IKE SA). */
  ikeSaName: string | undefined;
}

/**
 * The probe key of one tunnel as it changes: static (one key for good) or IKE-keyed, where every CHILD_SA
 * rekey brings a new key and the old one stays accepted until its CHILD_SA is deleted (the rekey's grace
 * period), so probes in flight across a rekey are still answered. Sending always uses the newest key.
 */
export class ProbeKeyRing {
  #current: RingEntry | undefined;
  #previous: RingEntry | undefined;

  constructor(initial?: SecretBytes) {
    if (initial) this.#current = { key: initial, source: undefined, ikeSaName: undefined };
  }

  /** The key probes are sent with; undefined before the first tunnel CHILD_SA. */
  get key(): SecretBytes | undefined {
    return this.#current?.key;
  }

  /**
   * A tunnel CHILD_SA was installed: the first one of an IKE SA, or the rekey of the one the key came from,
   * keys the probes from now on (further tunnel CHILD_SAs of the same IKE SA leave the key alone).
   */
  handleChildInstalled(child: ChildSaInstall, local: "router" | "homeagent"): boolean {
    if (child.mode !== "tunnel") return false;
    const c = this.#current;
    const follows = child.rekeys !== undefined ? c?.source === child.rekeys : c?.source === undefined || c.ikeSaName !== child.ikeSaName;
    if (!follows) return false;
    this.#previous?.key.wipe();
    // A placeholder (no CHILD_SA behind it) is not kept for a grace period.
    if (c && c.source === undefined) c.key.wipe();
    this.#previous = c?.source === undefined ? undefined : c;
    this.#current = { key: linkProbeKeyOfChild(child, local), source: child.inboundSpi, ikeSaName: child.ikeSaName };
    return true;
  }

  /** The IKE SA the key's CHILD_SA belongs to was rekeyed (its CHILD_SAs moved to the new one, RFC 7296 §2.8). */
  handleIkeRekeyed(oldName: string, newName: string): void {
    for (const e of [this.#current, this.#previous]) if (e?.ikeSaName === oldName) e.ikeSaName = newName;
  }

  /** A CHILD_SA was deleted (`inboundSpi` ours): the end of the grace period for a key derived from it. */
  handleChildDeleted(inboundSpi: number): void {
    if (this.#previous?.source === inboundSpi) {
      this.#previous.key.wipe();
      this.#previous = undefined;
    }
  }

  /** Opens a probe with the newest key, else the one before it; the failure is counted once. */
  decode(packet: Uint8Array, counters?: Counters): Result<ReceivedProbe & { readonly key: SecretBytes }, WireError> {
    const keys = [this.#current?.key, this.#previous?.key].filter((k): k is SecretBytes => k !== undefined && !k.wiped);
    for (const [i, key] of keys.entries()) {
      const last = i === keys.length - 1;
      const r = decodeProbePacket(packet, key, last ? counters : undefined);
      if (r.ok) return ok({ ...r.value, key });
      if (last) return r;
    }
    return counted(wireError("link-probe", "bad-value", 0, "no probe key yet"), counters);
  }

  clear(): void {
    this.#current?.key.wipe();
    this.#previous?.key.wipe();
  }
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
  readonly #keys: Map<string, ProbeKeyRing>;
  readonly #counters: Counters;

  /** `keys`: home address (RFC 5952 text) → that router's probe key, or its ring (IKE: keys change with rekeys). */
  constructor(keys: ReadonlyMap<string, SecretBytes | ProbeKeyRing>, counters: Counters) {
    this.#keys = new Map([...keys].map(([home, k]) => [home, k instanceof ProbeKeyRing ? k : new ProbeKeyRing(k)]));
    this.#counters = counters;
  }

  /** The reply packet, or undefined (unknown sender, not a request, bad authenticator: counted). `heldUs`: time since arrival. */
  answer(packet: Uint8Array, heldUs: number): Uint8Array | undefined {
    const ip = parseIpv6Packet(packet);
    const ring = ip.ok ? this.#keys.get(ip.value.header.source) : undefined;
    if (ring === undefined) {
      this.#counters.increment("homeagent.probe.drop.unknown-source");
      return undefined;
    }
    const received = ring.decode(packet, this.#counters);
    if (!received.ok) return undefined;
    if (received.value.probe.type !== "echo-request") {
      this.#counters.increment("homeagent.probe.drop.not-a-request");
      return undefined;
    }
    this.#counters.increment("homeagent.probe.answered");
    // Answered with the key the request was sealed with (during a rekey the router accepts either).
    return encodeProbePacket(echoReplyFor(received.value.probe, heldUs), received.value.key, received.value.destination, received.value.source);
  }

  clear(): void {
    for (const ring of this.#keys.values()) ring.clear();
  }
}
