// Traffic selector arithmetic for CHILD_SA negotiation: from prefixes, narrowing and subset checks (RFC 7296 §2.9).

import { formatIpv4, formatIpv6, maskBytes, parseIpv4, parseIpv6, parsePrefix } from "../wire/address.ts";
import { TsType, type TrafficSelector } from "../wire/ikev2/traffic-selector.ts";

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

const protocolNames: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, "ipv6-icmp": 58, icmp6: 58, mh: 135, "ipv6-mh": 135 };
/** Protocols whose "port" is a message type in the upper 8 bits of the port fields (RFC 4301 §4.4.1.1, RFC 4877 §4.3). */
const typedProtocols = new Set([1, 58, 135]);

/**
 * A selector in strongSwan's `local_ts` syntax: `2001:db8:a::/64`, a bare address, and optionally
 * `[proto]` or `[proto/port]` / `[proto/low-high]`. For ICMP, ICMPv6 and the Mobility Header the
 * number after the slash is the message type, carried in the upper 8 bits of the port fields
 * (e.g. `2001:db8:a::1/128[mh/5]` = Binding Update, RFC 4877 §4.3).
 */
export function selectorFromPrefix(text: string, ipProtocol = 0): TrafficSelector | undefined {
  const bracket = /^(.*)\[([^\]/]+)(?:\/(\d+)(?:-(\d+))?)?\]$/.exec(text);
  if (bracket) {
    const name = bracket[2]!.toLowerCase();
    const proto = /^\d+$/.test(name) ? Number(name) : protocolNames[name];
    if (proto === undefined || proto > 255) return undefined;
    const base = selectorFromPrefix(bracket[1]!, proto);
    if (!base || bracket[3] === undefined) return base;
    const low = Number(bracket[3]);
    const high = bracket[4] === undefined ? low : Number(bracket[4]);
    if (typedProtocols.has(proto)) {
      if (low > 255 || high > 255 || low > high) return undefined;
      return { ...base, startPort: low << 8, endPort: (high << 8) | 0xff };
    }
    if (low > 0xffff || high > 0xffff || low > high) return undefined;
    return { ...base, startPort: low, endPort: high };
  }
  const withLength = text.includes("/") ? text : `${text}/${text.includes(":") ? 128 : 32}`;
  const prefix = parsePrefix(withLength);
  if (!prefix) return undefined;
  const bytes = parseIpv6(prefix.address) ?? parseIpv4(prefix.address);
  if (!bytes) return undefined;
  const start = maskBytes(bytes, prefix.length);
  const end = start.slice();
  for (let bit = prefix.length; bit < end.length * 8; bit++) end[bit >> 3]! |= 0x80 >> (bit & 7);
  return {
    tsType: end.length === 16 ? TsType.ipv6AddressRange : TsType.ipv4AddressRange,
    ipProtocol,
    startPort: 0,
    endPort: 0xffff,
    startAddress: start,
    endAddress: end,
  };
}

/** The intersection of two selectors, or undefined when they do not overlap. */
export function intersect(a: TrafficSelector, b: TrafficSelector): TrafficSelector | undefined {
  if (a.tsType !== b.tsType) return undefined;
  if (a.ipProtocol !== 0 && b.ipProtocol !== 0 && a.ipProtocol !== b.ipProtocol) return undefined;
  const startPort = Math.max(a.startPort, b.startPort);
  const endPort = Math.min(a.endPort, b.endPort);
  if (startPort > endPort) return undefined;
  const startAddress = compare(a.startAddress, b.startAddress) >= 0 ? a.startAddress : b.startAddress;
  const endAddress = compare(a.endAddress, b.endAddress) <= 0 ? a.endAddress : b.endAddress;
  if (compare(startAddress, endAddress) > 0) return undefined;
  return { tsType: a.tsType, ipProtocol: a.ipProtocol || b.ipProtocol, startPort, endPort, startAddress, endAddress };
}

/** Narrowing (§2.9): every overlap of a proposed selector with one of ours. */
export function narrow(proposed: readonly TrafficSelector[], ours: readonly TrafficSelector[]): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const p of proposed) for (const o of ours) {
    const i = intersect(p, o);
    if (i) out.push(i);
  }
  return out;
}

function within(inner: TrafficSelector, outer: TrafficSelector): boolean {
  const i = intersect(inner, outer);
  return i !== undefined && compare(i.startAddress, inner.startAddress) === 0 && compare(i.endAddress, inner.endAddress) === 0 &&
    i.startPort === inner.startPort && i.endPort === inner.endPort && i.ipProtocol === inner.ipProtocol;
}

/** Whether each returned selector lies inside one we proposed (an initiator's check of the response). */
export function allWithin(returned: readonly TrafficSelector[], proposed: readonly TrafficSelector[]): boolean {
  return returned.length > 0 && returned.every((r) => proposed.some((p) => within(r, p)));
}

/** strongSwan-like text: `2001:db8:a::/64`, or a range, with protocol/ports when narrowed. */
export function formatSelector(ts: TrafficSelector): string {
  const fmt = (b: Uint8Array) => (b.length === 16 ? formatIpv6(b) : formatIpv4(b));
  let text = `${fmt(ts.startAddress)}..${fmt(ts.endAddress)}`;
  const bits = ts.startAddress.length * 8;
  for (let length = 0; length <= bits; length++) {
    const s = maskBytes(ts.startAddress, length);
    if (compare(s, ts.startAddress) !== 0) continue;
    const end = s.slice();
    for (let bit = length; bit < bits; bit++) end[bit >> 3]! |= 0x80 >> (bit & 7);
    if (compare(end, ts.endAddress) === 0) {
      text = `${fmt(ts.startAddress)}/${length}`;
      break;
    }
  }
  if (ts.ipProtocol !== 0 || ts.startPort !== 0 || ts.endPort !== 0xffff) {
    const typed = typedProtocols.has(ts.ipProtocol) && (ts.startPort & 0xff) === 0 && (ts.endPort & 0xff) === 0xff;
    const [low, high] = typed ? [ts.startPort >> 8, ts.endPort >> 8] : [ts.startPort, ts.endPort];
    const ports = ts.startPort === 0 && ts.endPort === 0xffff ? "" : low === high ? `/${low}` : `/${low}-${high}`;
    text += `[${ts.ipProtocol}${ports}]`;
  }
  return text;
}
