// The lab's topology as data: namespace names, interfaces and IPv6/IPv4 addresses (RFC 3849 / RFC 5737 / RFC 6598).
//
//   lan ── mr ══ lte0 ── lte-ap ══╗
//              ══ wlan0 ─ wifi-ap ══ net ── core0 ── ha ── cn0 ── cn
//                                                     └─ home0 (home link)
// Everything downstream (router, home agent, tests) reads addresses from a LabTopology, never literals.

/** The lab's nodes, each a network namespace. */
export type LabNode = "mr" | "lan" | "net" | "ha" | "cn";
export const LAB_NODES: readonly LabNode[] = ["mr", "lan", "net", "ha", "cn"];

/** The access networks between the mobile router and `net`. */
export type AccessLinkName = "lte" | "wifi";
export const ACCESS_LINKS: readonly AccessLinkName[] = ["lte", "wifi"];

/** An address on an interface: `address` is bare text, `prefix` the on-link prefix it belongs to. */
export interface InterfaceAddress {
  readonly address: string;
  readonly prefixLength: number;
}

export interface LabInterface {
  readonly node: LabNode;
  readonly name: string;
  readonly ipv6?: InterfaceAddress;
  readonly ipv4?: InterfaceAddress;
}

export interface AccessNetwork {
  readonly name: AccessLinkName;
  /** The access network's IPv6 prefix (where the mobile router's care-of address lives). */
  readonly prefix6: string;
  /** The access network's IPv4 prefix, when it has an IPv4 path (LTE: carrier-grade NAT space). */
  readonly prefix4?: string;
  /** The mobile router's interface on this access network (its care-of address). */
  readonly router: LabInterface;
  /** The access router's interface in `net` (the mobile router's default gateway on this network). */
  readonly gateway: LabInterface;
  /** TUN devices in `net` through which the link emulator sees this network's traffic. */
  readonly tun: { readonly uplink: string; readonly downlink: string };
  /** Routing tables in `net` steering traffic into the uplink and downlink TUN. */
  readonly tables: { readonly uplink: number; readonly downlink: number };
}

export interface LabTopology {
  /** Unique per run: `<prefix>-<tag>-<pid>-<random>`; every namespace name starts with it. */
  readonly runId: string;
  readonly namespaces: Readonly<Record<LabNode, string>>;
  readonly access: Readonly<Record<AccessLinkName, AccessNetwork>>;
  /** The mobile network prefix (RFC 3963), on the link between mr and lan. */
  readonly mobileNetworkPrefix: string;
  /** mr's interface on the mobile network and the host behind it. */
  readonly mobileRouterLan: LabInterface;
  readonly lanHost: LabInterface;
  /** The core link between `net` and the home agent (IPv6 and IPv4 documentation space). */
  readonly coreNet: LabInterface;
  readonly coreHomeAgent: LabInterface;
  /** The home link and the home agent's address on it (RFC 6275 §2: home link, home agent address). */
  readonly homePrefix: string;
  readonly homeAgentHome: LabInterface;
  /** The correspondent's network, behind the home agent. */
  readonly cnPrefix: string;
  readonly homeAgentCn: LabInterface;
  readonly correspondent: LabInterface;
  /** The source address `net` masquerades the LTE side's IPv4 to (NAT44). */
  readonly natAddress4: string;
}

const v6 = (address: string, prefixLength = 64): InterfaceAddress => ({ address, prefixLength });
const v4 = (address: string, prefixLength: number): InterfaceAddress => ({ address, prefixLength });

/** Builds the topology for one run; only the namespace names depend on `runId`. */
export function labTopology(runId: string): LabTopology {
  const ns = (node: LabNode) => `${runId}-${node}`;
  return {
    runId,
    namespaces: { mr: ns("mr"), lan: ns("lan"), net: ns("net"), ha: ns("ha"), cn: ns("cn") },
    access: {
      lte: {
        name: "lte",
        prefix6: "2001:db8:1::/64",
        prefix4: "100.64.0.0/10",
        router: { node: "mr", name: "lte0", ipv6: v6("2001:db8:1::2"), ipv4: v4("100.64.0.2", 10) },
        gateway: { node: "net", name: "lte-ap", ipv6: v6("2001:db8:1::1"), ipv4: v4("100.64.0.1", 10) },
        tun: { uplink: "lte-up", downlink: "lte-dn" },
        tables: { uplink: 101, downlink: 102 },
      },
      wifi: {
        name: "wifi",
        prefix6: "2001:db8:2::/64",
        router: { node: "mr", name: "wlan0", ipv6: v6("2001:db8:2::2") },
        gateway: { node: "net", name: "wifi-ap", ipv6: v6("2001:db8:2::1") },
        tun: { uplink: "wifi-up", downlink: "wifi-dn" },
        tables: { uplink: 111, downlink: 112 },
      },
    },
    mobileNetworkPrefix: "2001:db8:20::/64",
    mobileRouterLan: { node: "mr", name: "lan0", ipv6: v6("2001:db8:20::1") },
    lanHost: { node: "lan", name: "eth0", ipv6: v6("2001:db8:20::2") },
    coreNet: { node: "net", name: "core0", ipv6: v6("2001:db8:f::1"), ipv4: v4("192.0.2.1", 24) },
    coreHomeAgent: { node: "ha", name: "core0", ipv6: v6("2001:db8:f::2"), ipv4: v4("192.0.2.2", 24) },
    homePrefix: "2001:db8:10::/64",
    homeAgentHome: { node: "ha", name: "home0", ipv6: v6("2001:db8:10::1") },
    cnPrefix: "2001:db8:30::/64",
    homeAgentCn: { node: "ha", name: "cn0", ipv6: v6("2001:db8:30::1") },
    correspondent: { node: "cn", name: "eth0", ipv6: v6("2001:db8:30::2") },
    natAddress4: "192.0.2.1",
  };
}

/** `address/prefixLength`, as `ip addr add` wants it. */
export function cidr(a: InterfaceAddress): string {
  return `${a.address}/${a.prefixLength}`;
}

/** The IPv6 address of an interface; throws if the topology gave it none (a programming error). */
export function ipv6Of(i: LabInterface): string {
  if (!i.ipv6) throw new Error(`${i.node}/${i.name} has no IPv6 address`);
  return i.ipv6.address;
}

export function ipv4Of(i: LabInterface): string {
  if (!i.ipv4) throw new Error(`${i.node}/${i.name} has no IPv4 address`);
  return i.ipv4.address;
}
