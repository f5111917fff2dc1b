// The lab's IPv4-only LTE behind the NAT44 and the two NAT rebindings of scenario (f): a new port, a new public address.
//
// `net` masquerades LTE's 100.64.0.0/10 to its core address (setup-plan.ts `netRuleset`). A rebinding is
// what a carrier-grade NAT does when a mapping times out or the NAT restarts: the next packet of the flow
// gets a fresh mapping. `natRebindPort` makes that mapping take a random port (masquerade fully-random, then
// the conntrack table is flushed); `natRebindAddress` makes it take another public address (a second
// address on net's core interface, SNAT to it, flush). Needs the `conntrack` tool in `net`. Also the RFC 5555
// pieces the lab drivers share (test/lab/ike-dataplane-harness.ts, board/lab/modes-lab.ts).

import type { CommandResult } from "./netns.ts";
import type { Lab } from "./lab.ts";
import { NFT_TABLE } from "./setup-plan.ts";
import { cidr, ipv4Of, type LabTopology } from "./topology.ts";

/** The RFC 5555 addresses of the daemons' configs: LTE's IPv4 care-of address (`uplinks[].careOfAddress`), the home agent's IPv4 address (`homeAgentIpv4` / `ipv4Address`). */
export function dsmipAddresses(t: LabTopology): { readonly lteCareOfAddress: string; readonly homeAgentIpv4: string } {
  return { lteCareOfAddress: ipv4Of(t.access.lte.router), homeAgentIpv4: ipv4Of(t.coreHomeAgent) };
}

/** The home agent's log line once BID 1 (LTE) is registered with its IPv4 care-of address. */
export const IPV4_BINDING_LOG = /homeagent: .*binding: .*"bindingId":1,.*"family":"ipv4"/;

/** tshark's decode-as for a capture of the IPv4 uplink: UDP port 4191 carries whole IPv6 packets (RFC 5555 §4.1). */
export const DSMIP_DECODE_AS: readonly string[] = ["-d", "udp.port==4191,ipv6"];

async function must(lab: Lab, node: "mr" | "net", argv: readonly string[], input?: string): Promise<CommandResult> {
  const r = await lab.exec(node, argv, input);
  if (r.exitCode !== 0) throw new Error(`${node}: ${argv.join(" ")}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

/** The LTE prefix `net` translates (the only access network with IPv4). */
function ltePrefix4(lab: Lab): string {
  const p = lab.topology.access.lte.prefix4;
  if (p === undefined) throw new Error("the lab's LTE has no IPv4 prefix");
  return p;
}

/**
 * Replaces the NAT44 rule of the LTE prefix with `action` (an nft statement: `masquerade …` or `snat to …`) in one
 * nft transaction: between a separate flush and add, the existing mappings stop translating and the flow leaves
 * with its private source (measured: one packet per millisecond of the gap, 7 on an idle host, ~100 on a loaded
 * one), which no real NAT does.
 */
async function setNatRule(lab: Lab, action: string): Promise<void> {
  const chain = `ip ${NFT_TABLE}-nat postrouting`;
  await must(lab, "net", ["nft", "-f", "-"], `flush chain ${chain}\nadd rule ${chain} oifname "${lab.topology.coreNet.name}" ip saddr ${ltePrefix4(lab)} ${action}\n`);
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
