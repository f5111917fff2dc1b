// The lab's configuration as command lists (iproute2 batch lines, sysctls, an nftables ruleset), derived from a LabTopology.
//
// Routing in `net` (per access link L, table numbers from the topology):
//   pref 1000+i  iif L-dn → main                       packets the emulator released downlink: deliver on L-ap
//   pref 1100+i  iif L-ap → table up(L)  (default dev L-up)    uplink into the emulator      } only while L
//   pref 1200+i  to prefix(L) → table down(L) (default dev L-dn) downlink into the emulator    } is emulated
//   pref 1300    to mobile network prefix → table down(selected uplink)                        (plain routing)
// Packets the emulator writes back into L-up arrive with iif L-up and follow main. Conntrack skips the
// pre-emulation passes (iif L-ap) and the post-emulation downlink pass (iif L-dn), so NAT44 sees each flow once.

import { type AccessLinkName, ACCESS_LINKS, cidr, ipv4Of, ipv6Of, type LabNode, type LabTopology } from "./topology.ts";

export const NFT_TABLE = "monami-lab";
const PREF_DELIVER = 1000;
const PREF_UPLINK = 1100;
const PREF_DOWNLINK = 1200;
export const PREF_MOBILE_NETWORK = 1300;

/** Commands for `ip -n <ns> -batch`, split by the family option the batch needs. */
export interface BatchPlan {
  readonly any: readonly string[];
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

const ROUTERS: ReadonlySet<LabNode> = new Set(["mr", "net", "ha"]);

export function sysctlsFor(node: LabNode): Record<string, number> {
  const common = {
    "net.ipv6.conf.all.accept_dad": 0,
    "net.ipv6.conf.default.accept_dad": 0,
    "net.ipv6.conf.all.accept_ra": 0,
    "net.ipv6.conf.default.accept_ra": 0,
    "net.ipv6.conf.all.keep_addr_on_down": 1,
    "net.ipv6.conf.default.keep_addr_on_down": 1,
  };
  if (!ROUTERS.has(node)) return common;
  return {
    ...common,
    "net.ipv6.conf.all.forwarding": 1,
    "net.ipv6.conf.default.forwarding": 1,
    "net.ipv4.ip_forward": 1,
    "net.ipv4.conf.all.rp_filter": 0,
    "net.ipv4.conf.default.rp_filter": 0,
  };
}

/** veth pairs, each created from the namespace of its first end (the peer is created directly in its own). */
export function vethPlan(t: LabTopology): Partial<Record<LabNode, string[]>> {
  const ns = t.namespaces;
  const pair = (a: string, b: string, bNode: LabNode) => `link add ${a} type veth peer name ${b} netns ${ns[bNode]}`;
  return {
    mr: [
      pair(t.access.lte.router.name, t.access.lte.gateway.name, "net"),
      pair(t.access.wifi.router.name, t.access.wifi.gateway.name, "net"),
      pair(t.mobileRouterLan.name, t.lanHost.name, "lan"),
    ],
    net: [pair(t.coreNet.name, t.coreHomeAgent.name, "ha")],
    ha: [
      pair(t.homeAgentCn.name, t.correspondent.name, "cn"),
      // The home link has no other host yet: its far end stays in `ha`, so the link has carrier.
      `link add ${t.homeAgentHome.name} type veth peer name ${t.homeAgentHome.name}-peer`,
    ],
  };
}

function addressLines(...interfaces: readonly { name: string; ipv6?: { address: string; prefixLength: number }; ipv4?: { address: string; prefixLength: number } }[]): string[] {
  const lines: string[] = [];
  for (const i of interfaces) {
    if (i.ipv6) lines.push(`addr add ${cidr(i.ipv6)} dev ${i.name} nodad`);
    if (i.ipv4) lines.push(`addr add ${cidr(i.ipv4)} dev ${i.name}`);
    lines.push(`link set ${i.name} up`);
  }
  return lines;
}

/** Addresses, static routes and rules of every namespace (the mr's IPv6 default route comes from `useUplink`). */
export function addressPlan(t: LabTopology): Record<LabNode, BatchPlan> {
  const lte = t.access.lte;
  const wifi = t.access.wifi;
  const net: string[] = [
    "link set lo up",
    ...addressLines(lte.gateway, wifi.gateway, t.coreNet),
    `route add ${t.homePrefix} via ${ipv6Of(t.coreHomeAgent)}`,
    `route add ${t.cnPrefix} via ${ipv6Of(t.coreHomeAgent)}`,
  ];
  const netV4: string[] = [];
  const netV6: string[] = [];
  for (const [i, name] of ACCESS_LINKS.entries()) {
    const a = t.access[name];
    for (const tun of [a.tun.uplink, a.tun.downlink]) net.push(`tuntap add dev ${tun} mode tun`, `link set ${tun} up`);
    for (const family of [netV4, netV6]) {
      family.push(
        `route add default dev ${a.tun.uplink} table ${a.tables.uplink}`,
        `route add default dev ${a.tun.downlink} table ${a.tables.downlink}`,
        `rule add iif ${a.tun.downlink} lookup main pref ${PREF_DELIVER + i}`,
      );
    }
  }
  return {
    mr: {
      any: [
        "link set lo up",
        ...addressLines(lte.router, wifi.router, t.mobileRouterLan),
        routerIpv4Default(t),
      ],
      v4: [],
      v6: [],
    },
    lan: {
      any: ["link set lo up", ...addressLines(t.lanHost), `route add default via ${ipv6Of(t.mobileRouterLan)} dev ${t.lanHost.name}`],
      v4: [],
      v6: [],
    },
    net: { any: net, v4: netV4, v6: netV6 },
    ha: {
      any: [
        "link set lo up",
        ...addressLines(t.coreHomeAgent, t.homeAgentHome, t.homeAgentCn),
        `link set ${t.homeAgentHome.name}-peer up`,
        `route add default via ${ipv6Of(t.coreNet)} dev ${t.coreHomeAgent.name}`,
        `route add default via ${ipv4Of(t.coreNet)} dev ${t.coreHomeAgent.name}`,
      ],
      v4: [],
      v6: [],
    },
    cn: {
      any: [
        "link set lo up",
        ...addressLines(t.correspondent),
        `route add default via ${ipv6Of(t.homeAgentCn)} dev ${t.correspondent.name}`,
      ],
      v4: [],
      v6: [],
    },
  };
}

/** nftables in `net`: conntrack bypass around the emulator, and NAT44 of the LTE side towards the core. */
export function netRuleset(t: LabTopology): string {
  const downlinkTuns = ACCESS_LINKS.map((l) => `"${t.access[l].tun.downlink}"`).join(", ");
  const natted = ACCESS_LINKS.map((l) => t.access[l].prefix4).filter((p): p is string => p !== undefined);
  return `
table inet ${NFT_TABLE} {
  set emulated { type ifname; }
  chain raw-prerouting {
    type filter hook prerouting priority raw; policy accept;
    iifname @emulated notrack
    iifname { ${downlinkTuns} } notrack
  }
}
table ip ${NFT_TABLE}-nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
${natted.map((p) => `    oifname "${t.coreNet.name}" ip saddr ${p} masquerade`).join("\n")}
  }
}
`;
}

/** Rules that steer link `name` through the emulator (`add`) or take them away (`del`). */
export function emulationRules(t: LabTopology, name: AccessLinkName, verb: "add" | "del"): BatchPlan {
  const i = ACCESS_LINKS.indexOf(name);
  const a = t.access[name];
  const up = `rule ${verb} iif ${a.gateway.name} lookup ${a.tables.uplink} pref ${PREF_UPLINK + i}`;
  const down = (prefix: string) => `rule ${verb} to ${prefix} lookup ${a.tables.downlink} pref ${PREF_DOWNLINK + i}`;
  return {
    any: [],
    v4: [up, ...(a.prefix4 === undefined ? [] : [down(a.prefix4)])],
    v6: [up, down(a.prefix6)],
  };
}

/** The nft command adding or removing the link's access interface from the conntrack-bypass set. */
export function emulatedSetCommand(t: LabTopology, name: AccessLinkName, verb: "add" | "delete"): string {
  return `${verb} element inet ${NFT_TABLE} emulated { "${t.access[name].gateway.name}" }`;
}

/** Plain routing of the mobile network prefix via `name` (until the NEMO tunnel exists). */
export function mobileNetworkRoute(t: LabTopology, name: AccessLinkName): { readonly mr: string; readonly net: string } {
  const a = t.access[name];
  return {
    mr: `route replace default via ${ipv6Of(a.gateway)} dev ${a.router.name}`,
    net: `route replace ${t.mobileNetworkPrefix} via ${ipv6Of(a.router)} dev ${a.gateway.name}`,
  };
}

/** mr's IPv4 default route: over the first access network with an IPv4 path (LTE). */
export function routerIpv4Default(t: LabTopology): string {
  const a = ACCESS_LINKS.map((l) => t.access[l]).find((x) => x.gateway.ipv4 !== undefined);
  if (a === undefined) throw new Error("no access network has IPv4");
  return `route replace default via ${ipv4Of(a.gateway)} dev ${a.router.name}`;
}

export function mobileNetworkRule(t: LabTopology, name: AccessLinkName, verb: "add" | "del"): string {
  return `rule ${verb} to ${t.mobileNetworkPrefix} lookup ${t.access[name].tables.downlink} pref ${PREF_MOBILE_NETWORK}`;
}
