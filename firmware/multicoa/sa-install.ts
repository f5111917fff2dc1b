// IKE → SAD: a CHILD_SA install record as the IPsec core's inbound/outbound SaConfigs and SPD policies (RFC 7296 §2.9, RFC 4301 §4.4).

import { err, ok, type Result } from "../core/result.ts";
import { SecretBytes } from "../core/secret.ts";
import type { ChildSaInstall } from "../ike/child-sa.ts";
import type { SaLifetimes } from "../ipsec/lifetimes.ts";
import { spi as toSpi, type Encapsulation, type SaConfig, type TunnelEndpoints } from "../ipsec/sad.ts";
import { policyId, type SecurityPolicy } from "../ipsec/spd.ts";
import type { PortRange, PrefixSelector, TrafficSelector } from "../ipsec/traffic-selector.ts";
import { parseIpv4, parseIpv6 } from "../wire/address.ts";
import type { TrafficSelector as IkeTrafficSelector } from "../wire/ikev2/traffic-selector.ts";
import { IpProtocol } from "../wire/protocol-numbers.ts";

/** More selectors than this for one CHILD_SA direction is refused (odd ranges multiply out). */
export const MAX_SELECTORS_PER_DIRECTION = 256;

export interface VolumeLimits {
  readonly bytes?: number;
  readonly packets?: number;
}

export interface SaInstallOptions {
  /** Policy ids are `<policyBase>:out:<n>` / `<policyBase>:in:<n>`; a rekey keeps the base, so the entries keep their place. */
  readonly policyBase: string;
  /** Inbound anti-replay window; the SAD default when undefined. */
  readonly replayWindow?: number;
  /** ESP volume lifetimes (RFC 4301 §4.4.2.1). The hard time limit is the CHILD_SA's `expireAfterMs`; IKE times the rekey itself. */
  readonly soft?: VolumeLimits;
  readonly hard?: VolumeLimits;
}

export interface ChildSaEntries {
  readonly inbound: SaConfig;
  readonly outbound: SaConfig;
  /** PROTECT, bound to the outbound SA. */
  readonly outboundPolicies: readonly SecurityPolicy[];
  /** PROTECT: the same traffic arriving in clear is dropped (RFC 4301 §5.2 step 3). */
  readonly inboundPolicies: readonly SecurityPolicy[];
}

export type SaInstallError =
  | { readonly kind: "unsupported-suite"; readonly detail: string }
  | { readonly kind: "reserved-spi"; readonly detail: string }
  | { readonly kind: "bad-endpoint"; readonly detail: string }
  | { readonly kind: "selectors"; readonly detail: string };

function toBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function fromBigInt(v: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * The fewest prefixes whose union is exactly the address range [start, end] (IKEv2 selectors are
 * ranges, RFC 7296 §3.13.1; the SPD matches prefixes). Empty when start > end or the lengths differ.
 */
export function rangeToPrefixes(start: Uint8Array, end: Uint8Array): PrefixSelector[] {
  if (start.length !== end.length) return [];
  const bits = start.length * 8;
  let s = toBigInt(start);
  const e = toBigInt(end);
  const out: PrefixSelector[] = [];
  while (s <= e) {
    // The largest aligned block starting at s that ends at or before e.
    let hostBits = 0;
    while (hostBits < bits && ((s >> BigInt(hostBits)) & 1n) === 0n && s + (1n << BigInt(hostBits + 1)) - 1n <= e) hostBits++;
    out.push({ bytes: fromBigInt(s, start.length), length: bits - hostBits });
    s += 1n << BigInt(hostBits);
  }
  return out;
}

const FULL_PORTS = { start: 0, end: 0xffff };
const typedProtocols: ReadonlySet<number> = new Set([IpProtocol.icmp, IpProtocol.icmpv6, IpProtocol.mobility]);

type UpperFields = Pick<TrafficSelector, "icmpType" | "icmpCode" | "mobilityHeaderType" | "sourcePorts" | "destinationPorts">;

/**
 * ICMP type/code or MH type of packets sent from the `source` side (RFC 7296 §3.13.1: type in the
 * upper, code in the lower octet of the port fields). RFC 4877 §4.3's SPD entries name a
 * local_mh_type for what we send and a remote_mh_type for what we receive: the sender's selector decides.
 */
function typedFields(protocol: number, source: IkeTrafficSelector): Result<UpperFields[], string> {
  const { startPort: from, endPort: to } = source;
  if (from === FULL_PORTS.start && to === FULL_PORTS.end) return ok([{}]);
  if (from > to) return err(`OPAQUE type selector ${from}-${to}`);
  const mh = protocol === IpProtocol.mobility;
  if ((from & 0xff) === 0 && (to & 0xff) === 0xff) {
    const out: UpperFields[] = [];
    for (let type = from >> 8; type <= to >> 8; type++) out.push(mh ? { mobilityHeaderType: type } : { icmpType: type });
    return ok(out);
  }
  if (!mh && from >> 8 === to >> 8 && from === to) return ok([{ icmpType: from >> 8, icmpCode: from & 0xff }]);
  return err(`${mh ? "MH" : "ICMP"} type range ${from}-${to} is not expressible as types`);
}

function portRange(ts: IkeTrafficSelector): Result<PortRange | undefined, string> {
  if (ts.startPort === FULL_PORTS.start && ts.endPort === FULL_PORTS.end) return ok(undefined);
  if (ts.startPort > ts.endPort) return err(`OPAQUE port selector ${ts.startPort}-${ts.endPort}`);
  return ok({ from: ts.startPort, to: ts.endPort });
}

/**
 * The SPD selectors of traffic from `sources` to `destinations` (each the cross product of one
 * source and one destination selector of the same family and a compatible protocol).
 */
export function directionSelectors(sources: readonly IkeTrafficSelector[], destinations: readonly IkeTrafficSelector[]): Result<TrafficSelector[], string> {
  const out: TrafficSelector[] = [];
  for (const s of sources) {
    for (const d of destinations) {
      if (s.tsType !== d.tsType || s.startAddress.length !== d.startAddress.length) continue;
      if (s.ipProtocol !== 0 && d.ipProtocol !== 0 && s.ipProtocol !== d.ipProtocol) continue;
      const protocol = s.ipProtocol || d.ipProtocol;
      let uppers: UpperFields[];
      if (typedProtocols.has(protocol)) {
        const typed = typedFields(protocol, s.ipProtocol === protocol ? s : { ...s, startPort: 0, endPort: 0xffff });
        if (!typed.ok) return typed;
        uppers = typed.value;
      } else {
        const sp = portRange(s);
        const dp = portRange(d);
        if (!sp.ok) return sp;
        if (!dp.ok) return dp;
        uppers = [{ ...(sp.value ? { sourcePorts: sp.value } : {}), ...(dp.value ? { destinationPorts: dp.value } : {}) }];
      }
      const sourcePrefixes = rangeToPrefixes(s.startAddress, s.endAddress);
      const destinationPrefixes = rangeToPrefixes(d.startAddress, d.endAddress);
      if (sourcePrefixes.length === 0 || destinationPrefixes.length === 0) return err("an address range ends before it starts");
      if (out.length + sourcePrefixes.length * destinationPrefixes.length * uppers.length > MAX_SELECTORS_PER_DIRECTION) {
        return err(`more than ${MAX_SELECTORS_PER_DIRECTION} SPD selectors`);
      }
      for (const source of sourcePrefixes) {
        for (const destination of destinationPrefixes) {
          for (const upper of uppers) out.push({ source, destination, ...(protocol !== 0 ? { protocol } : {}), ...upper });
        }
      }
    }
  }
  if (out.length === 0) return err("no pair of selectors of the same family and protocol");
  return ok(out);
}

function addressBytes(text: string): Uint8Array | undefined {
  return parseIpv6(text) ?? parseIpv4(text);
}

function copyKey(key: SecretBytes): SecretBytes {
  return new SecretBytes(Uint8Array.from(key.expose()));
}

/**
 * The SAD and SPD entries for one CHILD_SA, seen from our side: inbound SA (our SPI, traffic
 * remote → local), outbound SA (the peer's SPI, local → remote). Keys are copied, so the SAD
 * owns (and wipes) its own; the IKE core wipes its copies when the CHILD_SA goes.
 */
export function childSaEntries(child: ChildSaInstall, options: SaInstallOptions): Result<ChildSaEntries, SaInstallError> {
  if (child.suite === undefined) return err({ kind: "unsupported-suite", detail: `no ESP suite for ${child.negotiated.encryption.name}_${child.negotiated.encryption.keyBits}` });
  if (child.inboundSpi < 256 || child.outboundSpi < 256) return err({ kind: "reserved-spi", detail: `SPI ${child.inboundSpi < 256 ? child.inboundSpi : child.outboundSpi} is reserved (RFC 4303 §2.1)` });
  const local = addressBytes(child.local.address);
  const remote = addressBytes(child.remote.address);
  if (!local || !remote || local.length !== remote.length) return err({ kind: "bad-endpoint", detail: `${child.local.address} → ${child.remote.address}` });
  const outSelectors = directionSelectors(child.localTs, child.remoteTs);
  if (!outSelectors.ok) return err({ kind: "selectors", detail: outSelectors.error });
  const inSelectors = directionSelectors(child.remoteTs, child.localTs);
  if (!inSelectors.ok) return err({ kind: "selectors", detail: inSelectors.error });
  const lifetimes: SaLifetimes = {
    ...(options.soft ? { soft: options.soft } : {}),
    hard: { ...options.hard, time: child.lifetimes.expireAfterMs },
  };
  const udp = child.udpEncapsulation;
  const sa = (direction: "inbound" | "outbound"): SaConfig => {
    const keys = direction === "inbound" ? child.inbound : child.outbound;
    const endpoints: TunnelEndpoints = direction === "inbound" ? { source: remote, destination: local } : { source: local, destination: remote };
    const encapsulation: Encapsulation = !udp
      ? { kind: "none" }
      : direction === "inbound"
        ? { kind: "udp", sourcePort: udp.remotePort, destinationPort: udp.localPort }
        : { kind: "udp", sourcePort: udp.localPort, destinationPort: udp.remotePort };
    return {
      spi: toSpi(direction === "inbound" ? child.inboundSpi : child.outboundSpi),
      direction,
      mode: child.mode,
      suite: child.suite!,
      keys: { encryption: copyKey(keys.encryptionKey), ...(keys.integrityKey.length > 0 ? { integrity: copyKey(keys.integrityKey) } : {}) },
      extendedSequenceNumbers: child.esn,
      ...(direction === "inbound" && options.replayWindow !== undefined ? { replayWindow: options.replayWindow } : {}),
      endpoints,
      encapsulation,
      selectors: direction === "inbound" ? inSelectors.value : outSelectors.value,
      lifetimes,
    };
  };
  const outbound = sa("outbound");
  return ok({
    inbound: sa("inbound"),
    outbound,
    outboundPolicies: outSelectors.value.map((selector, i) => ({ id: policyId(`${options.policyBase}:out:${i}`), direction: "outbound", selector, action: "protect", outboundSpi: outbound.spi })),
    inboundPolicies: inSelectors.value.map((selector, i) => ({ id: policyId(`${options.policyBase}:in:${i}`), direction: "inbound", selector, action: "protect" })),
  });
}
