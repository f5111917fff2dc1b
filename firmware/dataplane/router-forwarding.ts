// The mobile router's forwarding path (RFC 3963 §5.5, RFC 4877 §4.3): LAN → SPD → ESP tunnel from the chosen care-of address, and back.

import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import type { EspInbound } from "../ipsec/esp-inbound.ts";
import type { EspOutbound } from "../ipsec/esp-outbound.ts";
import type { SecurityAssociationDatabase } from "../ipsec/sad.ts";
import type { SecurityPolicyDatabase } from "../ipsec/spd.ts";
import { DSMIPV6_UDP_PORT } from "../wire/dsmip-udp.ts";
import { ESP_HEADER_LEN } from "../wire/esp.ts";
import { ClearCounter, DROPPED, ForwardingCounter, type ForwardingPath, HEADROOM, isLinkScopeMulticast, TOO_BIG, tunnelNextHeader, wholeInnerPacket } from "./forwarding.ts";
import type { LocalPort } from "./local-delivery.ts";
import type { FlowSteering } from "../multicoa/flow-steering.ts";
import { matchOutboundPolicy } from "./policy-lookup.ts";

/** One uplink as the router's path sees it. */
export interface RouterUplink {
  /** The care-of address on this uplink (16 octets): the outer source of what leaves here. */
  careOfAddress: Uint8Array;
  /** The largest inner packet this uplink carries (see mtu.ts). */
  innerMtu: number;
}

/**
 * Outbound: every packet from the mobile network takes the uplink the control plane made active
 * (the mobility core's and link policy's choice; per-flow choice plugs in at `uplinkFor`).
 * Inbound: ESP from any uplink is accepted by SPI alone (RFC 5648 §9.3.2: the outer address is
 * irrelevant to IPsec); the inner packet must match the SA's selectors (checked by EspInbound).
 */
export class RouterForwarding implements ForwardingPath {
  readonly #spd: SecurityPolicyDatabase;
  readonly #sad: SecurityAssociationDatabase;
  readonly #outbound: EspOutbound;
  readonly #inbound: EspInbound;
  readonly #counters: Counters;
  readonly uplinks: RouterUplink[];
  /** The home agent's address (16 octets): the outer destination of everything. */
  readonly outerDestination: Uint8Array;
  /** Index into `uplinks`, or −1 while no uplink is usable. */
  activeUplink = -1;
  /** Per-flow uplink choice and per-uplink SAs of the multi-CoA design (firmware/multicoa); undefined: `activeUplink` for all. */
  steering: FlowSteering | undefined;
  sealedAt = 0;
  sealedLength = 0;
  tooBigMtu = 0;
  payloadOffset = 0;
  payloadLength = 0;
  local = false;
  sealedClear = false;
  /** Clear payload on an IPv4 uplink goes in UDP to the home agent's port 4191 (RFC 5555 §4.1). */
  readonly outerPort = DSMIPV6_UDP_PORT;
  /** Inner packets to this address/port (link probe replies) go to the control plane. */
  readonly #localPort: LocalPort | undefined;
  /** The home agent's IPv4 address, IPv4-mapped (16 octets): the only sender of UDP-tunnelled payload (RFC 5555). */
  readonly #homeAgentIpv4: Uint8Array | undefined;

  constructor(options: {
    spd: SecurityPolicyDatabase;
    sad: SecurityAssociationDatabase;
    outbound: EspOutbound;
    inbound: EspInbound;
    counters: Counters;
    uplinks: RouterUplink[];
    homeAgentAddress: Uint8Array;
    localPort?: LocalPort | undefined;
    /** RFC 5555: the home agent's IPv4 address, IPv4-mapped. */
    homeAgentIpv4?: Uint8Array | undefined;
  }) {
    this.#localPort = options.localPort;
    this.#homeAgentIpv4 = options.homeAgentIpv4;
    this.#spd = options.spd;
    this.#sad = options.sad;
    this.#outbound = options.outbound;
    this.#inbound = options.inbound;
    this.#counters = options.counters;
    this.uplinks = options.uplinks;
    this.outerDestination = options.homeAgentAddress;
  }

  /** The uplink for one inner packet: the design's flow steering, else the active uplink. */
  uplinkFor(data: Uint8Array, at: number, length: number): number {
    return this.steering === undefined ? this.activeUplink : this.steering.uplinkFor(data, at, length);
  }

  fromTunnelInterface(data: Uint8Array, slotAt: number, innerLength: number, now: Instant): number {
    if (isLinkScopeMulticast(data, slotAt + HEADROOM, innerLength)) return this.#drop(ForwardingCounter.linkScopeMulticast);
    return this.#protect(data, slotAt, innerLength, -1, now);
  }

  /** The home agent is the only outer destination; `outerDestination` is ignored. */
  sealLocal(data: Uint8Array, slotAt: number, innerLength: number, uplink: number, _outerDestination: Uint8Array | undefined, now: Instant): number {
    if (uplink < 0 || uplink >= this.uplinks.length) return this.#drop(ForwardingCounter.noUplink);
    return this.#protect(data, slotAt, innerLength, uplink, now);
  }

  /**
   * SPD → SA → uplink (`forced` ≥ 0, else `uplinkFor`) → inner MTU → ESP in place. A bypass flow (or
   * every packet, `clearPayload`) skips IPsec: mobility's own IPv6-in-IPv6 tunnel on the same uplink.
   */
  #protect(data: Uint8Array, slotAt: number, innerLength: number, forced: number, now: Instant): number {
    const innerAt = slotAt + HEADROOM;
    this.sealedClear = false;
    const steering = this.steering;
    if (steering !== undefined && (steering.clearPayload || steering.bypasses(data, innerAt, innerLength))) return this.#clear(data, innerAt, innerLength, forced, steering.clearPayload);
    const policy = matchOutboundPolicy(this.#spd, data, innerAt, innerLength);
    if (policy === undefined) return this.#drop(ForwardingCounter.noPolicy);
    if (policy.action !== "protect") return this.#drop(policy.action === "bypass" ? ForwardingCounter.bypassPolicy : ForwardingCounter.discardPolicy);
    const uplink = forced >= 0 ? forced : this.uplinkFor(data, innerAt, innerLength);
    if (uplink < 0) return this.#drop(ForwardingCounter.noUplink);
    // `per-coa`: each care-of address has its own SA; otherwise the SPD's SA serves every uplink.
    const spi = this.steering?.outboundSpiByUplink?.[uplink] ?? policy.outboundSpi;
    const sa = spi === undefined ? undefined : this.#sad.outbound(spi);
    if (sa === undefined) return this.#drop(ForwardingCounter.noSa);
    const mtu = this.uplinks[uplink]!.innerMtu;
    if (innerLength > mtu) {
      this.tooBigMtu = mtu;
      this.#counters.increment(ForwardingCounter.tooBig);
      return TOO_BIG;
    }
    const espAt = innerAt - ESP_HEADER_LEN - sa.suite.ivLength;
    const length = this.#outbound.protectAt(sa, data, espAt, innerLength, tunnelNextHeader(data, innerAt), now);
    if (length < 0) return DROPPED;
    this.sealedAt = espAt - slotAt;
    this.sealedLength = length;
    return uplink;
  }

  /** The inner packet itself goes out, unprotected, on its flow's uplink (RFC 2473 encapsulation by the kernel's protocol-41 socket). */
  #clear(data: Uint8Array, innerAt: number, innerLength: number, forced: number, all: boolean): number {
    const uplink = forced >= 0 ? forced : this.uplinkFor(data, innerAt, innerLength);
    if (uplink < 0) return this.#drop(ForwardingCounter.noUplink);
    const mtu = this.uplinks[uplink]!.innerMtu;
    if (innerLength > mtu) {
      this.tooBigMtu = mtu;
      this.#counters.increment(ForwardingCounter.tooBig);
      return TOO_BIG;
    }
    this.#counters.increment(ClearCounter.tx);
    if (!all) this.#counters.increment(ClearCounter.bypassTx);
    this.sealedClear = true;
    this.sealedAt = HEADROOM;
    this.sealedLength = innerLength;
    return uplink;
  }

  /**
   * IPv6-in-IPv6 from the home agent only (the outer source), a whole inner packet, and — unless all
   * payload goes in clear — one of a bypass flow (the correspondent is its source). No IPsec protects
   * it: this is the trade the configuration made, counted per packet.
   */
  fromUplinkClear(_uplink: number, data: Uint8Array, at: number, length: number, source: Uint8Array, sourceAt: number, _now: Instant): boolean {
    const home = this.outerDestination;
    for (let i = 0; i < 16; i++) if (source[sourceAt + i] !== home[i]) return this.#reject(ForwardingCounter.clearNotHomeAgent);
    return this.#acceptClear(data, at, length);
  }

  /**
   * RFC 5555 §4.1: payload tunnelled in UDP over an IPv4 uplink, only from the home agent's IPv4 address and
   * port 4191 (what the router sends to); then the same checks as IPv6-in-IPv6.
   */
  fromUplinkUdp(_uplink: number, data: Uint8Array, at: number, length: number, source: Uint8Array, sourceAt: number, sourcePort: number, _now: Instant): boolean {
    const home = this.#homeAgentIpv4;
    if (home === undefined || sourcePort !== DSMIPV6_UDP_PORT) return this.#reject(ForwardingCounter.clearNotHomeAgent);
    for (let i = 0; i < 16; i++) if (source[sourceAt + i] !== home[i]) return this.#reject(ForwardingCounter.clearNotHomeAgent);
    return this.#acceptClear(data, at, length);
  }

  /** A whole inner packet and, unless all payload goes in clear, one of a bypass flow; counted. */
  #acceptClear(data: Uint8Array, at: number, length: number): boolean {
    if (!wholeInnerPacket(data, at, length)) return this.#reject(ForwardingCounter.clearMalformed);
    const steering = this.steering;
    const all = steering?.clearPayload === true;
    if (!all && steering?.bypasses(data, at, length, "source") !== true) return this.#reject(ForwardingCounter.clearNotBypass);
    this.#counters.increment(ClearCounter.rx);
    if (!all) this.#counters.increment(ClearCounter.bypassRx);
    this.payloadOffset = at;
    this.payloadLength = length;
    this.local = this.#localPort !== undefined && this.#localPort.matches(data, at, length);
    return true;
  }

  fromUplink(_uplink: number, data: Uint8Array, at: number, length: number, _source: Uint8Array, _sourceAt: number, now: Instant): boolean {
    if (!this.#inbound.process(data, at, length, now)) return false;
    const r = this.#inbound.result;
    if (r.sa!.mode !== "tunnel") return this.#reject(ForwardingCounter.notTunnel);
    this.payloadOffset = r.payloadOffset;
    this.payloadLength = r.payloadLength;
    this.local = this.#localPort !== undefined && this.#localPort.matches(data, r.payloadOffset, r.payloadLength);
    return true;
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
