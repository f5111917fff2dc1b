// Which address of an uplink is its care-of address as addresses come and go (SLAAC renumbering, a new DHCPv6 lease).

/** One IPv6 address on the uplink's interface as the kernel reports it. */
export interface InterfaceAddress {
  /** RFC 5952 text. */
  readonly address: string;
  /** Global scope (RT_SCOPE_UNIVERSE): link-local and host addresses never serve as a care-of address. */
  readonly global: boolean;
  /** Preferred lifetime over (RFC 4862 §5.5.4): still valid, but no new use. */
  readonly deprecated: boolean;
  /** Duplicate Address Detection not finished, or failed (RFC 4862 §5.4): not usable yet. */
  readonly tentative: boolean;
}

/**
 * The care-of address after a change of the interface's addresses: the current one as long as it is
 * present and not deprecated (an extra address does not move the binding, RFC 5648 §6.2 re-registers a
 * BID only when its CoA changes); otherwise the newest usable global address (the list is in the order
 * the addresses appeared); otherwise the current one, deprecated, while it still exists; else none.
 */
export function chooseCareOfAddress(current: string | undefined, addresses: readonly InterfaceAddress[]): string | undefined {
  const usable = addresses.filter((a) => a.global && !a.tentative);
  const now = usable.find((a) => a.address === current);
  if (now !== undefined && !now.deprecated) return current;
  const fresh = usable.filter((a) => !a.deprecated);
  if (fresh.length > 0) return fresh[fresh.length - 1]!.address;
  return now?.address ?? usable[usable.length - 1]?.address;
}
