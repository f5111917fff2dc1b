// The home agent's per-packet view of its binding cache: which care-of addresses may send for, and receive, each mobile network.

import type { Prefix } from "../wire/address.ts";
import { prefixMatchesAt, prefixSelector, type PrefixSelector } from "../ipsec/traffic-selector.ts";
import type { BindingCache, CacheBinding } from "../mobility/binding-cache.ts";

/** One mobile router as the data plane needs it; plain data so it crosses a postMessage. */
export interface BindingTableEntry {
  readonly homeAddress: string;
  /** Registered mobile network prefixes (RFC 3963), `address/length`. */
  readonly prefixes: readonly string[];
  /**
   * Registered IPv6 care-of addresses; the first is the one the binding cache chose to carry packets
   * towards the router (`careOfAddressFor`), the rest are accepted as outer sources (RFC 5648 §6.5).
   */
  readonly careOfAddresses: readonly string[];
  /** Registered care-of addresses that may not carry protected traffic now (the `primary` design's others). */
  readonly idleCareOfAddresses?: readonly string[];
  /** `per-coa`: the outbound SPI of each care-of address's own SA, parallel to `careOfAddresses` (0: the SPD's SA). */
  readonly outboundSpis?: readonly number[];
  /**
   * RFC 5555 §4.1: an IPv4 care-of address (IPv4-mapped, as in `careOfAddresses`) → the UDP port its last
   * authenticated BU came from (the NAT's mapping). Payload tunnelled in UDP goes there, from port 4191.
   */
  readonly udpPorts?: Readonly<Record<string, number>>;
}

interface CompiledEntry {
  readonly homeAddress: PrefixSelector;
  readonly prefixes: readonly PrefixSelector[];
  readonly careOfAddresses: readonly Uint8Array[];
  readonly idleCareOfAddresses: readonly Uint8Array[];
  readonly outboundSpis: readonly number[];
  readonly udpAddresses: readonly Uint8Array[];
  readonly udpPorts: readonly number[];
}

/** Builds the table from the binding cache (the cache decides; this only mirrors it). */
export function bindingTableFromCache(cache: BindingCache, homeAddresses: readonly string[]): BindingTableEntry[] {
  const entries: BindingTableEntry[] = [];
  for (const homeAddress of homeAddresses) {
    const bindings = cache.bindingsOf(homeAddress).filter((b) => !b.homeBinding);
    if (bindings.length === 0) continue;
    const chosen = cache.careOfAddressFor(homeAddress);
    const ordered = bindings.map(dataPlaneAddress);
    const chosenBinding = chosen === undefined || chosen.homeBinding ? undefined : bindings.find((b) => b.bindingId === chosen.bindingId);
    const first = chosenBinding !== undefined ? dataPlaneAddress(chosenBinding) : ordered[0]!;
    const udpPorts = Object.fromEntries(bindings.flatMap((b) => (b.observed === undefined ? [] : [[dataPlaneAddress(b), b.observed.port]])));
    entries.push({
      homeAddress,
      prefixes: cache.prefixesOf(homeAddress).map((p: Prefix) => `${p.address}/${p.length}`),
      careOfAddresses: [first, ...ordered.filter((a) => a !== first)],
      ...(Object.keys(udpPorts).length > 0 ? { udpPorts } : {}),
    });
  }
  return entries;
}

/**
 * The outer address a binding's packets come from and go to, as the dual-stack data plane sees it: an
 * IPv6 care-of address as is; an IPv4 one IPv4-mapped, and the address its UDP-encapsulated BU was
 * observed from when a NAT is on the path (RFC 5555 §4.1), else the address it claimed.
 */
export function dataPlaneAddress(b: CacheBinding): string {
  if (b.careOfAddress.family === "ipv6") return b.careOfAddress.address;
  return `::ffff:${b.observed?.address ?? b.careOfAddress.address}`;
}

/** Lookups on raw address bytes, allocation-free. Replace the whole table on every binding change. */
export class BindingTable {
  readonly #entries: CompiledEntry[];

  constructor(entries: readonly BindingTableEntry[]) {
    this.#entries = entries.map((e) => ({
      homeAddress: requirePrefix(e.homeAddress),
      prefixes: e.prefixes.map(requirePrefix),
      careOfAddresses: e.careOfAddresses.map((a) => requirePrefix(a).bytes),
      idleCareOfAddresses: (e.idleCareOfAddresses ?? []).map((a) => requirePrefix(a).bytes),
      outboundSpis: e.outboundSpis ?? [],
      udpAddresses: Object.keys(e.udpPorts ?? {}).map((a) => requirePrefix(a).bytes),
      udpPorts: Object.values(e.udpPorts ?? {}),
    }));
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The entry whose home address or prefixes contain the address at `bytes[at, at+addressLength)`. */
  #owner(bytes: Uint8Array, at: number, addressLength: number): CompiledEntry | undefined {
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (prefixMatchesAt(e.homeAddress, bytes, at, addressLength)) return e;
      for (let k = 0; k < e.prefixes.length; k++) if (prefixMatchesAt(e.prefixes[k]!, bytes, at, addressLength)) return e;
    }
    return undefined;
  }

  /**
   * Whether the outer source at `outer[outerAt, +16)` is a registered care-of address of the mobile
   * router owning the inner source address at `inner[innerAt, +innerLength)`.
   */
  isRegistered(inner: Uint8Array, innerAt: number, innerLength: number, outer: Uint8Array, outerAt: number): boolean {
    const owner = this.#owner(inner, innerAt, innerLength);
    if (owner === undefined) return false;
    for (let i = 0; i < owner.careOfAddresses.length; i++) if (equal16(owner.careOfAddresses[i]!, outer, outerAt)) return true;
    return false;
  }

  /** Whether the outer source is registered for that router but idle (may not carry protected traffic now). */
  isIdle(inner: Uint8Array, innerAt: number, innerLength: number, outer: Uint8Array, outerAt: number): boolean {
    const owner = this.#owner(inner, innerAt, innerLength);
    if (owner === undefined) return false;
    for (let i = 0; i < owner.idleCareOfAddresses.length; i++) if (equal16(owner.idleCareOfAddresses[i]!, outer, outerAt)) return true;
    return false;
  }

  /** `per-coa`: the SPI of the SA bound to a care-of address `careOfAddressFor` returned (0: none, the SPD's SA). */
  outboundSpiFor(careOf: Uint8Array): number {
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.outboundSpis.length === 0) continue;
      for (let k = 0; k < e.careOfAddresses.length; k++) if (e.careOfAddresses[k] === careOf || equal16(e.careOfAddresses[k]!, careOf, 0)) return e.outboundSpis[k] ?? 0;
    }
    return 0;
  }

  /**
   * RFC 5555: the UDP port the BU of the IPv4-mapped care-of address at `careOf[at, +16)` came from (learned
   * from authenticated BUs only, never from payload), 0 when none is known.
   */
  udpPortFor(careOf: Uint8Array, at = 0): number {
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      for (let k = 0; k < e.udpAddresses.length; k++) if (equal16(e.udpAddresses[k]!, careOf, at)) return e.udpPorts[k]!;
    }
    return 0;
  }

  /**
   * The care-of address (16 octets) that carries packets to the inner destination, or undefined (no
   * binding). A `hint` (a flow's learned return address) wins while it is one of the owner's carrying CoAs.
   */
  careOfAddressFor(inner: Uint8Array, innerAt: number, innerLength: number, hint?: Uint8Array, hintAt = 0): Uint8Array | undefined {
    const owner = this.#owner(inner, innerAt, innerLength);
    if (owner === undefined) return undefined;
    if (hint !== undefined) for (let i = 0; i < owner.careOfAddresses.length; i++) if (equal16(owner.careOfAddresses[i]!, hint, hintAt)) return owner.careOfAddresses[i];
    return owner.careOfAddresses[0];
  }
}

function requirePrefix(text: string): PrefixSelector {
  const p = prefixSelector(text);
  if (p === undefined) throw new RangeError(`binding table: '${text}' is not an address or prefix`);
  return p;
}

function equal16(a: Uint8Array, b: Uint8Array, at: number): boolean {
  if (at + 16 > b.length) return false;
  for (let i = 0; i < 16; i++) if (a[i] !== b[at + i]) return false;
  return true;
}
