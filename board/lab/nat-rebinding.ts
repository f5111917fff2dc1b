// The lab's IPv4-only LTE behind the NAT44 and the two NAT rebindings of scenario (f): a new port, a new public address.
//
// `net` masquerades LTE's 100.64.0.0/10 to its core address (setup-plan.ts `netRuleset`). A rebinding is
// what a carrier-grade NAT does when a mapping times out or the NAT restarts: the next packet of the flow
// gets a fresh mapping. `natRebindPort` makes that mapping take a random port (masquerade fully-random, then
// the conntrack table is flushed); `natRebindAddress` makes it take another public address (a second
// address on net's core interface, SNAT to it, flush). Needs the `conntrack` tool in `net`.

import type { CommandResult } from "./netns.ts";
import type { Lab } from "./lab.ts";
import { NFT_TABLE } from "./setup-plan.ts";
import { cidr } from "./topology.ts";

async function must(lab: Lab, node: "mr" | "net", argv: readonly string[]): Promise<CommandResult> {
  const r = await lab.exec(node, argv);
  if (r.exitCode !== 0) throw new Error(`${node}: ${argv.join(" ")}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

/** The LTE prefix `net` translates (the only access network with IPv4). */
function ltePrefix4(lab: Lab): string {
  const p = lab.topology.access.lte.prefix4;
  if (p === undefined) throw new Error("the lab's LTE has no IPv4 prefix");
  return p;
}

/** Replaces the NAT44 rule of the LTE prefix with `action` (an nft statement: `masquerade …` or `snat to …`). */
async function setNatRule(lab: Lab, action: string): Promise<void> {
  const t = lab.topology;
  await must(lab, "net", ["nft", "flush", "chain", "ip", `${NFT_TABLE}-nat`, "postrouting"]);
  await must(lab, "net", ["nft", "add", "rule", "ip", `${NFT_TABLE}-nat`, "postrouting", "oifname", t.coreNet.name, "ip", "saddr", ltePrefix4(lab), ...action.split(" ")]);
}

/** Drops every conntrack entry in `net` (its NAT mappings): the next packet of each flow is mapped afresh. */
export async function flushNatMappings(lab: Lab): Promise<void> {
  await must(lab, "net", ["conntrack", "-F"]);
}

/**
 * Makes LTE an IPv4-only access network for the mobile router: mr's lte0 loses IPv6 altogether, so the
 * router's only care-of address there is 100.64.0.2 behind the NAT (RFC 5555). Call before starting the daemons.
 */
export async function makeLteIpv4Only(lab: Lab): Promise<void> {
  const lte = lab.topology.access.lte.router;
  if (lte.ipv6 !== undefined) await must(lab, "mr", ["ip", "-6", "addr", "del", cidr(lte.ipv6), "dev", lte.name]);
  // No link-local address, no router or neighbour discovery either: nothing IPv6 leaves mr on LTE.
  await must(lab, "mr", ["sysctl", "-q", "-w", `net.ipv6.conf.${lte.name}.disable_ipv6=1`]);
}

/** Rebinding (i): the NAT keeps its public address and gives the flows new random ports. Resolves to the rule used. */
export async function natRebindPort(lab: Lab): Promise<string> {
  const action = "masquerade fully-random";
  await setNatRule(lab, action);
  await flushNatMappings(lab);
  return action;
}

/**
 * Rebinding (ii): the NAT's public address changes to `address` (added on net's core interface, in the core
 * link's /24), new ports too. Resolves to the rule used.
 */
export async function natRebindAddress(lab: Lab, address = "192.0.2.3"): Promise<string> {
  const core = lab.topology.coreNet;
  const shown = await lab.exec("net", ["ip", "-4", "addr", "show", "dev", core.name]);
  if (!shown.stdout.includes(`inet ${address}/`)) await must(lab, "net", ["ip", "addr", "add", `${address}/${core.ipv4?.prefixLength ?? 24}`, "dev", core.name]);
  const action = `snat to ${address} fully-random`;
  await setNatRule(lab, action);
  await flushNatMappings(lab);
  return action;
}
