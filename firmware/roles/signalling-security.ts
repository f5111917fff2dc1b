// Mobility signalling under ESP transport mode (RFC 4877 §4.2–4.3): seal BU/BA packets with their HAO/RH2 in place, open and check them.

import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import { err, ok, type Result } from "../core/result.ts";
import { createSecurityState, installSa, type SecurityState, type StaticSaSpec } from "../dataplane/static-security.ts";
import { openPacket, sealTransportIpv6 } from "../ipsec/esp-packets.ts";
import type { CryptoProvider } from "../ipsec/sad.ts";
import { prefixMatchesAt } from "../ipsec/traffic-selector.ts";
import { parseIpv6 } from "../wire/address.ts";
import { decodeMobilityPacket, encodeMobilityPacket, type ReceivedMobilityPacket } from "../mobility/mobility-packet.ts";
import type { MobilityTransmit } from "../mobility/types.ts";
import { formatWireError } from "../wire/error.ts";

/**
 * The transport-mode SAs of one daemon. Outbound SA choice: the one whose selector covers the
 * packet's home-address view (HAO as source, Type 2 routing header as destination, RFC 4877 §4.2).
 * Inbound: `openPacket` checks the same view against the SA's selectors; an MH that came without
 * ESP is refused (RFC 4877 §4.3: BU/BA MUST be protected).
 */
export class SignallingSecurity {
  readonly counters: Counters;
  readonly #state: SecurityState;
  readonly #outboundSpis: number[] = [];

  constructor(provider: CryptoProvider, counters: Counters, sas: readonly StaticSaSpec[], now: Instant) {
    this.counters = counters;
    this.#state = createSecurityState(provider, counters);
    for (const sa of sas) {
      const r = installSa(this.#state, sa, now);
      if (!r.ok) throw new Error(`signalling SA: ${r.error}`);
      if (sa.direction === "outbound") this.#outboundSpis.push(sa.spi);
    }
  }

  /** The whole IPv6 packet of a transmit, with ESP after its extension headers. */
  seal(transmit: MobilityTransmit, now: Instant): Result<Uint8Array, string> {
    const packet = encodeMobilityPacket(transmit);
    const source = parseIpv6(transmit.homeAddressOption ?? transmit.source)!;
    const destination = parseIpv6(transmit.routingType2Address ?? transmit.destination)!;
    const sa = this.#outboundSpis
      .map((spi) => this.#state.sad.outbound(spi)!)
      .find((candidate) =>
        candidate.selectors.every(
          (s) => (s.source === undefined || prefixMatchesAt(s.source, source, 0, 16)) && (s.destination === undefined || prefixMatchesAt(s.destination, destination, 0, 16)),
        ),
      );
    if (sa === undefined) {
      this.counters.increment("signalling.drop.no-outbound-sa");
      return err(`no signalling SA for ${transmit.homeAddressOption ?? transmit.source} → ${transmit.routingType2Address ?? transmit.destination}`);
    }
    const sealed = sealTransportIpv6(this.#state.outbound, sa, packet, now);
    if (!sealed.ok) return err(`seal: ${JSON.stringify(sealed.error)}`);
    return ok(sealed.value);
  }

  /** Opens a received packet: ESP transport, selectors, then the Mobility Header with its checksum. */
  open(bytes: Uint8Array, now: Instant): Result<ReceivedMobilityPacket, string> {
    const opened = openPacket(this.#state.inbound, bytes, now);
    if (!opened.ok) {
      const e = opened.error;
      this.counters.increment(e.kind === "drop" ? `signalling.drop.${e.counter}` : `signalling.drop.${e.kind}`);
      return err(e.kind === "wire" ? formatWireError(e.error) : e.kind === "drop" ? e.counter : e.kind);
    }
    if (opened.value.sa.mode !== "transport" || opened.value.packet === undefined) {
      this.counters.increment("signalling.drop.not-transport-mode");
      return err("not a transport-mode packet");
    }
    const decoded = decodeMobilityPacket(opened.value.packet);
    if (!decoded.ok) {
      this.counters.increment("signalling.drop.bad-mobility-header");
      return err(formatWireError(decoded.error));
    }
    this.counters.increment("signalling.rx.ok");
    return ok(decoded.value);
  }

  /** Deletes the SAs (keys wiped). */
  clear(): void {
    this.#state.sad.clear();
  }
}

