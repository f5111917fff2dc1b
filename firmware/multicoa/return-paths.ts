// The home agent's per-flow return care-of address (RFC 5648 §9.3.2 outbound choice): the CoA each flow last arrived from.

/** Slots in the table (a power of two); a collision only overwrites a hint. */
const SLOTS = 4096;

/**
 * A fixed-size, allocation-free memory of which care-of address each flow's packets came from. The
 * key is symmetric in the two ends (addresses, ports), so a reply flow finds its request's entry.
 * Fill it only with packets that passed ESP and the binding-cache check; a hint is used only while
 * its CoA is still a carrying CoA of the flow's owner (BindingTable.careOfAddressFor checks).
 */
export class ReturnPaths {
  readonly #keys = new Uint32Array(SLOTS);
  readonly #used = new Uint8Array(SLOTS);
  readonly careOfAddresses = new Uint8Array(SLOTS * 16);

  /** Remembers that the flow of the inner packet at `inner[at, +length)` arrived from the outer source `outer[outerAt, +16)`. */
  learn(inner: Uint8Array, at: number, length: number, outer: Uint8Array, outerAt: number): void {
    const key = flowKey(inner, at, length);
    if (key === 0) return;
    const slot = key & (SLOTS - 1);
    this.#keys[slot] = key;
    this.#used[slot] = 1;
    this.careOfAddresses.set(outer.subarray(outerAt, outerAt + 16), slot * 16);
  }

  /** The offset into `careOfAddresses` of the flow's learned CoA, or −1. */
  lookup(inner: Uint8Array, at: number, length: number): number {
    const key = flowKey(inner, at, length);
    if (key === 0) return -1;
    const slot = key & (SLOTS - 1);
    return this.#used[slot] === 1 && this.#keys[slot] === key ? slot * 16 : -1;
  }

  clear(): void {
    this.#used.fill(0);
  }
}

/**
 * A 32-bit hash of (protocol, {address, port} × 2), the same for both directions of a flow; 0 when the
 * packet is not IPv6/IPv4. FNV-1a per end, combined with addition (commutative).
 */
export function flowKey(data: Uint8Array, at: number, length: number): number {
  const version = length > 0 ? data[at]! >>> 4 : 0;
  let addressLength: number;
  let sourceAt: number;
  let protocol: number;
  let l4: number;
  if (version === 6 && length >= 40) {
    addressLength = 16;
    sourceAt = at + 8;
    protocol = data[at + 6]!;
    l4 = at + 40;
  } else if (version === 4 && length >= 20) {
    addressLength = 4;
    sourceAt = at + 12;
    protocol = data[at + 9]!;
    l4 = at + (data[at]! & 0x0f) * 4;
  } else {
    return 0;
  }
  const ports = (protocol === 6 || protocol === 17 || protocol === 132) && l4 + 4 <= at + length;
  const a = endHash(data, sourceAt, addressLength, ports ? (data[l4]! << 8) | data[l4 + 1]! : 0);
  const b = endHash(data, sourceAt + addressLength, addressLength, ports ? (data[l4 + 2]! << 8) | data[l4 + 3]! : 0);
  return ((Math.imul((a + b) >>> 0, 0x01000193) ^ protocol) >>> 0) | 1;
}

function endHash(data: Uint8Array, at: number, length: number, port: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ data[at + i]!, 0x01000193);
  h = Math.imul(h ^ (port >>> 8), 0x01000193);
  h = Math.imul(h ^ (port & 0xff), 0x01000193);
  return h >>> 0;
}
