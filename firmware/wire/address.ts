// IPv6 and IPv4 addresses: text (RFC 4291 §2.2 in, RFC 5952 canonical out) <-> 16/4 bytes, and prefixes.

/** An IPv6 address in canonical RFC 5952 text form, e.g. `2001:db8::1`. */
export type Ipv6Text = string;
/** An IPv4 address in dotted-quad form. */
export type Ipv4Text = string;

export interface Prefix {
  /** Canonical text of the prefix address (host bits zero). */
  readonly address: string;
  readonly length: number;
}

/** Parses IPv4 dotted-quad text into 4 bytes; undefined if it is not exactly that. */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

export function formatIpv4(bytes: Uint8Array): Ipv4Text {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** Parses any RFC 4291 text form (including `::` and an embedded IPv4 tail) into 16 bytes. */
export function parseIpv6(text: string): Uint8Array | undefined {
  const zone = text.indexOf("%");
  const s = zone >= 0 ? text.slice(0, zone) : text;
  if (s.length < 2 || s.length > 45) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const fields = part.split(":");
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (i === fields.length - 1 && f.includes(".")) {
        const v4 = parseIpv4(f);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return undefined;
        out.push(parseInt(f, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const words = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >>> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  return out;
}

/**
 * Formats 16 bytes as RFC 5952 canonical text: lower case, the longest (then first) run of at least
 * two zero groups as `::`, and IPv4-mapped addresses as `::ffff:a.b.c.d` (§5).
 */
export function formatIpv6(bytes: Uint8Array): Ipv6Text {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  // RFC 5952 §5: an IPv4-mapped address (::ffff:0:0/96) is written with its IPv4 tail in dotted decimal.
  if (bestStart === 0 && bestLen === 5 && words[5] === 0xffff) return `::ffff:${formatIpv4(bytes.subarray(12, 16))}`;
  if (bestLen < 2) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Canonicalises IPv6 text; undefined if it does not parse. */
export function canonicalIpv6(text: string): Ipv6Text | undefined {
  const b = parseIpv6(text);
  return b ? formatIpv6(b) : undefined;
}

/** Parses `addr/len` (IPv6 or IPv4); host bits are cleared. */
export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.lastIndexOf("/");
  if (slash < 0) return undefined;
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const length = Number(lenText);
  const addr = text.slice(0, slash);
  const v6 = parseIpv6(addr);
  if (v6) return length > 128 ? undefined : { address: formatIpv6(maskBytes(v6, length)), length };
  const v4 = parseIpv4(addr);
  if (v4) return length > 32 ? undefined : { address: formatIpv4(maskBytes(v4, length)), length };
  return undefined;
}

/** A copy of `bytes` with every bit after the first `length` cleared. */
export function maskBytes(bytes: Uint8Array, length: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    out[i] = out[i]! & ((0xff00 >>> bits) & 0xff);
  }
  return out;
}

/** Whether the first `length` bits of `a` and `b` are equal. */
export function prefixMatches(a: Uint8Array, b: Uint8Array, length: number): boolean {
  if (a.length !== b.length || !Number.isInteger(length) || length < 0 || length > a.length * 8) return false;
  const full = length >>> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const bits = length & 7;
  if (bits === 0) return true;
  const mask = (0xff00 >>> bits) & 0xff;
  return (a[full]! & mask) === (b[full]! & mask);
}
