// Canonical address text at the mobility API boundary (config and application calls, not wire input).

import { canonicalIpv6, formatIpv4, parseIpv4 } from "../wire/address.ts";

/** Canonical RFC 5952 text; throws RangeError for text that is not IPv6 (a caller error). */
export function canonicalIpv6OrThrow(text: string): string {
  const c = canonicalIpv6(text);
  if (c === undefined) throw new RangeError(`'${text}' is not an IPv6 address`);
  return c;
}

/** Canonical dotted-quad text; throws RangeError for text that is not IPv4 (a caller error). */
export function canonicalIpv4(text: string): string {
  const b = parseIpv4(text);
  if (!b) throw new RangeError(`'${text}' is not an IPv4 address`);
  return formatIpv4(b);
}
