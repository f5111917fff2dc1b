// Per-packet flow classification on raw inner packets: which uplink a flow takes (RFC 5648 per-flow CoA) and which flows bypass IPsec.

import { prefixMatchesAt, prefixSelector, type PrefixSelector } from "../ipsec/traffic-selector.ts";
import type { BypassSelector, FlowRuleConfig } from "./mode-config.ts";

/** What the data plane is told (plain data: crosses postMessage). */
export interface SteeringSpec {
  /** Flow rules in order, each with the uplink index the mode assigned it (−1: the default uplink). */
  readonly rules: readonly { readonly match: FlowRuleConfig["match"]; readonly uplink: number }[];
  /** Uplink for everything no rule claims (−1: none usable). */
  readonly defaultUplink: number;
  readonly bypass: readonly BypassSelector[];
  /** `per-coa`: the outbound tunnel SPI of each uplink's own SA (absent: the SPD's SA for all). */
  readonly outboundSpiByUplink?: readonly number[];
  /**
   * `auth-option` without ESP: every payload packet is tunnelled by mobility alone (IPv6-in-IPv6,
   * RFC 2473), in clear; absent or false: only the bypass flows are.
   */
  readonly clearPayload?: boolean;
}

/** The header fields a flow rule or bypass selector looks at. */
export interface InnerFlow {
  dscp: number;
  protocol: number;
  sourcePort: number;
  destinationPort: number;
}

interface CompiledRule {
  readonly dscp: ReadonlySet<number> | undefined;
  readonly protocol: ReadonlySet<number> | undefined;
  readonly ports: readonly { from: number; to: number }[] | undefined;
  readonly destination: readonly PrefixSelector[] | undefined;
  readonly uplink: number;
}

interface CompiledBypass {
  readonly protocol: number | undefined;
  readonly remote: PrefixSelector | undefined;
  readonly ports: { from: number; to: number } | undefined;
}

/** IPv6 extension headers walked to find the upper layer (RFC 8200 §4): Hop-by-Hop, Routing, Destination Options. */
const EXTENSION_HEADERS = new Set([0, 43, 60]);

/**
 * Reads DSCP, protocol and ports of the IPv6 or IPv4 packet at `data[at, at+length)` into `out`;
 * false when the header is too short or not IP. Ports are 0 for protocols without them or for
 * non-first fragments. Never throws, never allocates.
 */
export function readInnerFlow(data: Uint8Array, at: number, length: number, out: InnerFlow): boolean {
  if (length < 1) return false;
  const version = data[at]! >>> 4;
  let l4: number;
  if (version === 6) {
    if (length < 40) return false;
    out.dscp = (((data[at]! & 0x0f) << 4) | (data[at + 1]! >>> 4)) >>> 2;
    let next = data[at + 6]!;
    l4 = at + 40;
    while (EXTENSION_HEADERS.has(next) && l4 + 8 <= at + length) {
      next = data[l4]!;
      l4 += (data[l4 + 1]! + 1) * 8;
    }
    out.protocol = next;
  } else if (version === 4) {
    if (length < 20) return false;
    out.dscp = data[at + 1]! >>> 2;
    out.protocol = data[at + 9]!;
    const fragmentOffset = ((data[at + 6]! & 0x1f) << 8) | data[at + 7]!;
    l4 = fragmentOffset === 0 ? at + (data[at]! & 0x0f) * 4 : at + length;
  } else {
    return false;
  }
  const hasPorts = out.protocol === 6 || out.protocol === 17 || out.protocol === 132;
  if (hasPorts && l4 + 4 <= at + length) {
    out.sourcePort = (data[l4]! << 8) | data[l4 + 1]!;
    out.destinationPort = (data[l4 + 2]! << 8) | data[l4 + 3]!;
  } else {
    out.sourcePort = 0;
    out.destinationPort = 0;
  }
  return true;
}

function compilePrefix(text: string): PrefixSelector {
  const p = prefixSelector(text);
  if (p === undefined) throw new RangeError(`flow steering: '${text}' is not a prefix`);
  return p;
}

/**
 * The compiled steering of one data plane. `side` says which end of the inner packet is the
 * correspondent (the router sends towards it: destination; the home agent receives from it: source).
 */
export class FlowSteering {
  readonly defaultUplink: number;
  readonly outboundSpiByUplink: readonly number[] | undefined;
  readonly bypassEnabled: boolean;
  readonly clearPayload: boolean;
  readonly #rules: CompiledRule[];
  readonly #bypass: CompiledBypass[];
  readonly #side: "router" | "homeagent";
  readonly #flow: InnerFlow = { dscp: 0, protocol: 0, sourcePort: 0, destinationPort: 0 };

  constructor(spec: SteeringSpec, side: "router" | "homeagent") {
    this.defaultUplink = spec.defaultUplink;
    this.outboundSpiByUplink = spec.outboundSpiByUplink;
    this.#side = side;
    this.#rules = spec.rules.map((r) => ({
      dscp: r.match.dscp ? new Set(r.match.dscp) : undefined,
      protocol: r.match.protocol ? new Set(r.match.protocol) : undefined,
      ports: r.match.ports,
      destination: r.match.destination?.map(compilePrefix),
      uplink: r.uplink,
    }));
    this.#bypass = spec.bypass.map((b) => ({ protocol: b.protocol, remote: b.remotePrefix === undefined ? undefined : compilePrefix(b.remotePrefix), ports: b.remotePorts }));
    this.bypassEnabled = this.#bypass.length > 0;
    this.clearPayload = spec.clearPayload === true;
  }

  /** The uplink of the inner packet at `data[at, +length)`: the first matching rule's, else the default. */
  uplinkFor(data: Uint8Array, at: number, length: number): number {
    const rules = this.#rules;
    if (rules.length === 0) return this.defaultUplink;
    const f = this.#flow;
    if (!readInnerFlow(data, at, length, f)) return this.defaultUplink;
    const v6 = data[at]! >>> 4 === 6;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (r.dscp !== undefined && !r.dscp.has(f.dscp)) continue;
      if (r.protocol !== undefined && !r.protocol.has(f.protocol)) continue;
      if (r.ports !== undefined && !inRanges(r.ports, f.destinationPort)) continue;
      if (r.destination !== undefined && !anyPrefix(r.destination, data, at + (v6 ? 24 : 16), v6 ? 16 : 4)) continue;
      return r.uplink < 0 ? this.defaultUplink : r.uplink;
    }
    return this.defaultUplink;
  }

  /**
   * Whether the inner packet belongs to a flow configured to go without IPsec. `remote` says which end
   * of the packet is the correspondent: by default the one of a packet this side sends (router:
   * destination, home agent: source); a received packet has it at the other end.
   */
  bypasses(data: Uint8Array, at: number, length: number, remote: "source" | "destination" = this.#side === "router" ? "destination" : "source"): boolean {
    if (!this.bypassEnabled) return false;
    const f = this.#flow;
    if (!readInnerFlow(data, at, length, f)) return false;
    const v6 = data[at]! >>> 4 === 6;
    const remoteAt = at + (remote === "destination" ? (v6 ? 24 : 16) : v6 ? 8 : 12);
    const remotePort = remote === "destination" ? f.destinationPort : f.sourcePort;
    for (const b of this.#bypass) {
      if (b.protocol !== undefined && b.protocol !== f.protocol) continue;
      if (b.ports !== undefined && (remotePort < b.ports.from || remotePort > b.ports.to)) continue;
      if (b.remote !== undefined && !prefixMatchesAt(b.remote, data, remoteAt, v6 ? 16 : 4)) continue;
      return true;
    }
    return false;
  }
}

function inRanges(ranges: readonly { from: number; to: number }[], port: number): boolean {
  for (const r of ranges) if (port >= r.from && port <= r.to) return true;
  return false;
}

function anyPrefix(prefixes: readonly PrefixSelector[], data: Uint8Array, at: number, length: number): boolean {
  for (const p of prefixes) if (prefixMatchesAt(p, data, at, length)) return true;
  return false;
}
