// BU/BA under IKE-keyed transport-mode SAs (RFC 4877 §4.3): the control plane's own SAD/SPD, filled by the IKE→SAD installer.

import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import { err, ok, type Result } from "../core/result.ts";
import type { IkeEvent } from "../ike/events.ts";
import { EspInbound } from "../ipsec/esp-inbound.ts";
import { EspOutbound } from "../ipsec/esp-outbound.ts";
import { openPacket, sealTransportIpv6 } from "../ipsec/esp-packets.ts";
import { type CryptoProvider, type SecurityAssociation, SecurityAssociationDatabase } from "../ipsec/sad.ts";
import { SecurityPolicyDatabase } from "../ipsec/spd.ts";
import { prefixMatchesAt } from "../ipsec/traffic-selector.ts";
import { decodeMobilityPacket, encodeMobilityPacket, type ReceivedMobilityPacket } from "../mobility/mobility-packet.ts";
import type { MobilityTransmit } from "../mobility/types.ts";
import { IkeSaInstaller, type LifetimeSink } from "../multicoa/sa-installer.ts";
import { parseIpv6 } from "../wire/address.ts";
import { formatWireError } from "../wire/error.ts";
import { IpProtocol } from "../wire/protocol-numbers.ts";

/** What both kinds of signalling security offer the daemons (static keys: signalling-security.ts). */
export interface SignallingProtection {
  seal(transmit: MobilityTransmit, now: Instant): Result<Uint8Array, string>;
  open(bytes: Uint8Array, now: Instant): Result<ReceivedMobilityPacket, string>;
  clear(): void;
}

/**
 * Transport-mode CHILD_SAs from IKE (`handleEvent` with the core's events: installs, rekeys with the
 * old inbound SA kept for the grace period, deletes with keys wiped). Sealing picks the SA through the
 * SPD by the home-address view of the packet (HAO as source, RH2 as destination, RFC 4877 §4.2).
 */
export class IkeSignallingSecurity implements SignallingProtection {
  readonly #counters: Counters;
  readonly #sad: SecurityAssociationDatabase;
  readonly #spd = new SecurityPolicyDatabase();
  readonly #installer: IkeSaInstaller;
  readonly #outbound: EspOutbound;
  readonly #inbound: EspInbound;

  constructor(provider: CryptoProvider, counters: Counters) {
    this.#counters = counters;
    this.#sad = new SecurityAssociationDatabase(provider);
    this.#installer = new IkeSaInstaller(this.#sad, this.#spd);
    this.#outbound = new EspOutbound(this.#sad, counters);
    this.#inbound = new EspInbound(this.#sad, counters);
  }

  /** Applies an IKE event; installs return the new SAs (for the debug key export). */
  handleEvent(event: IkeEvent, now: Instant): Result<SecurityAssociation[], string> {
    const r = this.#installer.handleEvent(event, now);
    return r.ok ? r : err(`${r.error.kind}: ${r.error.detail}`);
  }

  /** Grace-period deletes and lifetime events (forwarded to the IKE core). */
  tick(now: Instant, ike: LifetimeSink): void {
    this.#installer.handleTimeout(now);
    this.#sad.handleTimeout(now);
    for (let e = this.#sad.pollEvent(); e !== undefined; e = this.#sad.pollEvent()) this.#installer.forwardLifetimeEvent(e, ike, now);
  }

  pollTimeout(): Instant | undefined {
    const a = this.#installer.pollTimeout();
    const b = this.#sad.pollTimeout();
    return a === undefined ? b : b === undefined ? a : (Math.min(a, b) as Instant);
  }

  /** The outbound SA for MH from `source` to `destination` (16 octets each), if one is installed. */
  #outboundSa(source: Uint8Array, destination: Uint8Array): SecurityAssociation | undefined {
    for (const policy of this.#spd.entries("outbound")) {
      const s = policy.selector;
      if (policy.action !== "protect" || policy.outboundSpi === undefined) continue;
      if (s.protocol !== undefined && s.protocol !== IpProtocol.mobility) continue;
      if (s.source !== undefined && !prefixMatchesAt(s.source, source, 0, 16)) continue;
      if (s.destination !== undefined && !prefixMatchesAt(s.destination, destination, 0, 16)) continue;
      const sa = this.#sad.outbound(policy.outboundSpi);
      if (sa !== undefined && sa.mode === "transport") return sa;
    }
    return undefined;
  }

  /** Whether BU/BA between these addresses can be protected now (RFC 4877 §4.3: they MUST be). */
  canProtect(source: string, destination: string): boolean {
    const s = parseIpv6(source);
    const d = parseIpv6(destination);
    return s !== undefined && d !== undefined && this.#outboundSa(s, d) !== undefined;
  }

  seal(transmit: MobilityTransmit, now: Instant): Result<Uint8Array, string> {
    const source = parseIpv6(transmit.homeAddressOption ?? transmit.source)!;
    const destination = parseIpv6(transmit.routingType2Address ?? transmit.destination)!;
    const sa = this.#outboundSa(source, destination);
    if (sa === undefined) {
      this.#counters.increment("signalling.drop.no-outbound-sa");
      return err(`no IKE signalling SA for ${transmit.homeAddressOption ?? transmit.source} → ${transmit.routingType2Address ?? transmit.destination} yet`);
    }
    const sealed = sealTransportIpv6(this.#outbound, sa, encodeMobilityPacket(transmit), now);
    return sealed.ok ? ok(sealed.value) : err(`seal: ${sealed.error.kind}`);
  }

  open(bytes: Uint8Array, now: Instant): Result<ReceivedMobilityPacket, string> {
    const opened = openPacket(this.#inbound, bytes, now);
    if (!opened.ok) {
      const e = opened.error;
      this.#counters.increment(e.kind === "drop" ? `signalling.drop.${e.counter}` : `signalling.drop.${e.kind}`);
      return err(e.kind === "wire" ? formatWireError(e.error) : e.kind === "drop" ? e.counter : e.kind);
    }
    if (opened.value.sa.mode !== "transport" || opened.value.packet === undefined) {
      this.#counters.increment("signalling.drop.not-transport-mode");
      return err("not a transport-mode packet");
    }
    const decoded = decodeMobilityPacket(opened.value.packet);
    if (!decoded.ok) {
      this.#counters.increment("signalling.drop.bad-mobility-header");
      return err(formatWireError(decoded.error));
    }
    this.#counters.increment("signalling.rx.ok");
    return ok(decoded.value);
  }

  clear(): void {
    this.#sad.clear();
  }
}
