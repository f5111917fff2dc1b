// The home agent's forwarding path (RFC 3963 §6.7, RFC 5648 §6.5, §9.3.2): decrypt, then check the outer source against the binding cache.

import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import type { EspInbound } from "../ipsec/esp-inbound.ts";
import type { EspOutbound } from "../ipsec/esp-outbound.ts";
import type { SecurityAssociationDatabase } from "../ipsec/sad.ts";
import type { SecurityPolicyDatabase } from "../ipsec/spd.ts";
import { ESP_HEADER_LEN } from "../wire/esp.ts";
import { BindingTable } from "./binding-table.ts";
import { ClearCounter, DROPPED, ForwardingCounter, type ForwardingPath, HEADROOM, isIpv4Mapped, isLinkScopeMulticast, TOO_BIG, tunnelNextHeader, wholeInnerPacket } from "./forwarding.ts";
import type { LocalPort } from "./local-delivery.ts";
import type { FlowSteering } from "../multicoa/flow-steering.ts";
import type { ReturnPaths } from "../multicoa/return-paths.ts";
import { matchOutboundPolicy } from "./policy-lookup.ts";

/**
 * Towards a mobile router: SPD picks the SA, the binding table (the binding cache's choice, not the
 * SA's endpoints) picks the care-of address that becomes the outer destination, per packet.
 * From a mobile router: ESP is opened first (cheap checks, replay, AEAD, inner selectors), then the
 * outer source must be a registered care-of address of the router owning the inner source; else
 * the packet is dropped and counted (`dataplane.drop.unregistered-care-of`).
 */
export class HomeAgentForwarding implements ForwardingPath {
  readonly #spd: SecurityPolicyDatabase;
  readonly #sad: SecurityAssociationDatabase;
  readonly #outbound: EspOutbound;
  readonly #inbound: EspInbound;
  readonly #counters: Counters;
  /** The inner MTU of the home agent's uplink. */
  innerMtu: number;
  bindings = new BindingTable([]);
  /** `simultaneous`/`per-coa`: each flow goes back to the care-of address it last came from while that stays registered. */
  returnPaths: ReturnPaths | undefined;
  /** Bypass selectors and `clearPayload` (firmware/multicoa/flow-steering.ts); undefined: everything under ESP. */
  steering: FlowSteering | undefined;
  sealedClear = false;
  outerDestination: Uint8Array = new Uint8Array(16);
  outerPort = 0;
  sealedAt = 0;
  sealedLength = 0;
  tooBigMtu = 0;
  payloadOffset = 0;
  payloadLength = 0;
  local = false;
  /** Inner packets to this address/port (link probes) go to the control plane. */
  readonly #localPort: LocalPort | undefined;

  constructor(options: {
    spd: SecurityPolicyDatabase;
    sad: SecurityAssociationDatabase;
    outbound: EspOutbound;
    inbound: EspInbound;
    counters: Counters;
    innerMtu: number;
    localPort?: LocalPort | undefined;
  }) {
    this.#localPort = options.localPort;
    this.#spd = options.spd;
    this.#sad = options.sad;
    this.#outbound = options.outbound;
    this.#inbound = options.inbound;
    this.#counters = options.counters;
    this.innerMtu = options.innerMtu;
  }

  fromTunnelInterface(data: Uint8Array, slotAt: number, innerLength: number, now: Instant): number {
    if (isLinkScopeMulticast(data, slotAt + HEADROOM, innerLength)) return this.#drop(ForwardingCounter.linkScopeMulticast);
    return this.#protect(data, slotAt, innerLength, undefined, now);
  }

  /**
   * A probe reply goes back to the care-of address the request came from (`outerDestination`), registered
   * or not, so each uplink is measured on its own path: one authenticated reply per authenticated request.
   */
  sealLocal(data: Uint8Array, slotAt: number, innerLength: number, _uplink: number, outerDestination: Uint8Array | undefined, now: Instant): number {
    return this.#protect(data, slotAt, innerLength, outerDestination, now);
  }

  /** SPD → SA → care-of address (`forced`, else the binding table's) → inner MTU → ESP in place. */
  #protect(data: Uint8Array, slotAt: number, innerLength: number, forced: Uint8Array | undefined, now: Instant): number {
    const innerAt = slotAt + HEADROOM;
    this.sealedClear = false;
    // A bypass flow (or all payload, `clearPayload`) goes tunnelled by mobility alone, to the same care-of address.
    const steering = this.steering;
    const clear = steering !== undefined && (steering.clearPayload || steering.bypasses(data, innerAt, innerLength));
    const policy = clear ? undefined : matchOutboundPolicy(this.#spd, data, innerAt, innerLength);
    if (!clear && policy === undefined) return this.#drop(ForwardingCounter.noPolicy);
    if (policy !== undefined && policy.action !== "protect") return this.#drop(policy.action === "bypass" ? ForwardingCounter.bypassPolicy : ForwardingCounter.discardPolicy);
    let sa = policy?.outboundSpi === undefined ? undefined : this.#sad.outbound(policy.outboundSpi);
    if (!clear && sa === undefined) return this.#drop(ForwardingCounter.noSa);
    const v6 = data[innerAt]! >>> 4 === 6;
    const learned = forced === undefined && this.returnPaths !== undefined ? this.returnPaths.lookup(data, innerAt, innerLength) : -1;
    const careOf =
      forced ?? this.bindings.careOfAddressFor(data, innerAt + (v6 ? 24 : 16), v6 ? 16 : 4, learned < 0 ? undefined : this.returnPaths!.careOfAddresses, learned);
    if (careOf === undefined) return this.#drop(ForwardingCounter.noBinding);
    // `per-coa`: the SA whose tunnel endpoint is that care-of address (standard IPsec semantics).
    const pinned = sa === undefined ? 0 : this.bindings.outboundSpiFor(careOf);
    if (pinned !== 0) sa = this.#sad.outbound(pinned) ?? sa;
    if (innerLength > this.innerMtu) {
      this.tooBigMtu = this.innerMtu;
      this.#counters.increment(ForwardingCounter.tooBig);
      return TOO_BIG;
    }
    if (sa === undefined) {
      // RFC 5555 §4.1: to an IPv4 care-of address, in UDP from 4191 to the port its authenticated BU came from.
      this.outerPort = isIpv4Mapped(careOf) ? this.bindings.udpPortFor(careOf) : 0;
      if (this.outerPort === 0 && isIpv4Mapped(careOf)) return this.#drop(ForwardingCounter.clearNoUdpPort);
      this.#counters.increment(ClearCounter.tx);
      if (!steering!.clearPayload) this.#counters.increment(ClearCounter.bypassTx);
      this.outerDestination = careOf;
      this.sealedClear = true;
      this.sealedAt = HEADROOM;
      this.sealedLength = innerLength;
      return 0;
    }
    const espAt = innerAt - ESP_HEADER_LEN - sa.suite.ivLength;
    const length = this.#outbound.protectAt(sa, data, espAt, innerLength, tunnelNextHeader(data, innerAt), now);
    if (length < 0) return DROPPED;
    this.outerDestination = careOf;
    this.sealedAt = espAt - slotAt;
    this.sealedLength = length;
    return 0;
  }

  fromUplink(_uplink: number, data: Uint8Array, at: number, length: number, source: Uint8Array, sourceAt: number, now: Instant): boolean {
    if (!this.#inbound.process(data, at, length, now)) return false;
    const r = this.#inbound.result;
    if (r.sa!.mode !== "tunnel") return this.#reject(ForwardingCounter.notTunnel);
    const innerAt = r.payloadOffset;
    const v6 = data[innerAt]! >>> 4 === 6;
    // A link probe is answered on the path it came by, before the care-of check: that is what it measures.
    this.local = this.#localPort !== undefined && this.#localPort.matches(data, innerAt, r.payloadLength);
    if (!this.local && !this.bindings.isRegistered(data, innerAt + (v6 ? 8 : 12), v6 ? 16 : 4, source, sourceAt)) {
      const idle = this.bindings.isIdle(data, innerAt + (v6 ? 8 : 12), v6 ? 16 : 4, source, sourceAt);
      return this.#reject(idle ? ForwardingCounter.notPrimaryCareOf : ForwardingCounter.unregisteredCareOf);
    }
    if (!this.local) this.returnPaths?.learn(data, innerAt, r.payloadLength, source, sourceAt);
    this.payloadOffset = innerAt;
    this.payloadLength = r.payloadLength;
    return true;
  }

  /**
   * IPv6-in-IPv6 from a mobile router, no IPsec: a whole inner packet whose outer source is a registered
   * care-of address of the inner source's owner (the same binding-cache check as after ESP), and that
   * belongs to a bypass flow (the correspondent is its destination) unless all payload goes in clear.
   */
  fromUplinkClear(_uplink: number, data: Uint8Array, at: number, length: number, source: Uint8Array, sourceAt: number, _now: Instant): boolean {
    if (!wholeInnerPacket(data, at, length)) return this.#reject(ForwardingCounter.clearMalformed);
    const v6 = data[at]! >>> 4 === 6;
    this.local = this.#localPort !== undefined && this.#localPort.matches(data, at, length);
    if (!this.local && !this.bindings.isRegistered(data, at + (v6 ? 8 : 12), v6 ? 16 : 4, source, sourceAt)) return this.#reject(ForwardingCounter.clearUnregisteredCareOf);
    const steering = this.steering;
    const all = steering?.clearPayload === true;
    if (!all && steering?.bypasses(data, at, length, "destination") !== true) return this.#reject(ForwardingCounter.clearNotBypass);
    this.#counters.increment(ClearCounter.rx);
    if (!all) this.#counters.increment(ClearCounter.bypassRx);
    if (!this.local) this.returnPaths?.learn(data, at, length, source, sourceAt);
    this.payloadOffset = at;
    this.payloadLength = length;
    return true;
  }

  /**
   * RFC 5555 §4.1: payload tunnelled in UDP from an IPv4 care-of address — the same checks as IPv6-in-IPv6, the
   * outer source being the IPv4-mapped address the datagram came from. The UDP source port is not checked and
   * never learned here: without `encryptPayload` nothing authenticates the payload, so a packet with a spoofed
   * source could otherwise redirect the binding's port; only authenticated BUs move it (`udpPortFor`).
   */
  fromUplinkUdp(uplink: number, data: Uint8Array, at: number, length: number, source: Uint8Array, sourceAt: number, _sourcePort: number, now: Instant): boolean {
    return this.fromUplinkClear(uplink, data, at, length, source, sourceAt, now);
  }

  #drop(counter: string): number {
    this.#counters.increment(counter);
    return DROPPED;
  }

  #reject(counter: string): false {
    this.#counters.increment(counter);
    return false;
  }
}
