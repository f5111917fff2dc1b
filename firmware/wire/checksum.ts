// The Internet checksum (RFC 1071) and the IPv6 (RFC 8200 §8.1) and IPv4 pseudo-headers.

/** One's-complement sum of `data` folded to 16 bits, continuing from `initial` (not complemented). */
export function onesComplementSum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  const n = data.length & ~1;
  for (let i = 0; i < n; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The RFC 1071 checksum of `data`: the complement of the one's-complement sum. */
export function internetChecksum(data: Uint8Array, initial = 0): number {
  return ~onesComplementSum(data, initial) & 0xffff;
}

/** Partial sum of the IPv6 pseudo-header: source, destination, upper-layer length, next header. */
export function ipv6PseudoHeaderSum(source: Uint8Array, destination: Uint8Array, upperLength: number, nextHeader: number): number {
  let sum = onesComplementSum(source);
  sum = onesComplementSum(destination, sum);
  sum += (upperLength >>> 16) + (upperLength & 0xffff) + nextHeader;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Partial sum of the IPv4 pseudo-header: source, destination, zero + protocol, upper-layer length. */
export function ipv4PseudoHeaderSum(source: Uint8Array, destination: Uint8Array, upperLength: number, protocol: number): number {
  let sum = onesComplementSum(source);
  sum = onesComplementSum(destination, sum);
  sum += protocol + upperLength;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/**
 * Checksum of an upper-layer message over the IPv6 pseudo-header. With the checksum field
 * zeroed this gives the value to write; over a received message it gives 0 when it verifies.
 */
export function ipv6UpperLayerChecksum(source: Uint8Array, destination: Uint8Array, nextHeader: number, message: Uint8Array): number {
  return internetChecksum(message, ipv6PseudoHeaderSum(source, destination, message.length, nextHeader));
}

export function ipv4UpperLayerChecksum(source: Uint8Array, destination: Uint8Array, protocol: number, message: Uint8Array): number {
  return internetChecksum(message, ipv4PseudoHeaderSum(source, destination, message.length, protocol));
}
