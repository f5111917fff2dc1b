// Traffic selector arithmetic for CHILD_SA negotiation: from prefixes, narrowing and subset checks (RFC 7296 §2.9).

import { formatIpv4, formatIpv6, maskBytes, parseIpv4, parseIpv6, parsePrefix } from "../wire/address.ts";
import { TsType, type TrafficSelector } from "../wire/ikev2/traffic-selector.ts";

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** A selector covering `prefix` (`2001:db8:a::/64`, `192.0.2.0/24`, or a bare address), any protocol and port. */
export function selectorFromPrefix(text: string, ipProtocol = 0): TrafficSelector | undefined {
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
    const ports = ts.startPort === 0 && ts.endPort === 0xffff ? "" : ts.startPort === ts.endPort ? `/${ts.startPort}` : `/${ts.startPort}-${ts.endPort}`;
    text += `[${ts.ipProtocol}${ports}]`;
  }
  return text;
}
