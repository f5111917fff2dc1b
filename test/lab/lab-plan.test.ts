// The lab's data and plans without root: topology addresses, run ids and sweep ownership, routing plan, probe parsers.
import { describe, expect, test } from "bun:test";
import { makeRunId, ownerPid } from "../../board/lab/netns.ts";
import { parseIperf3, parsePing, median } from "../../board/lab/probes.ts";
import { isProfileName, LINK_PROFILES } from "../../board/lab/profiles.ts";
import { addressPlan, emulationRules, mobileNetworkRule, netRuleset, vethPlan } from "../../board/lab/setup-plan.ts";
import { expectedRtt } from "../../board/lab/smoke.ts";
import { ACCESS_LINKS, type LabInterface, labTopology, LAB_NODES } from "../../board/lab/topology.ts";
import { parseIpv4, parseIpv6, parsePrefix, prefixMatches } from "../../firmware/wire/address.ts";

const t = labTopology("mnm-test-42-abcd");

function inPrefix(address: string, prefix: string): boolean {
  const p = parsePrefix(prefix);
  if (!p) throw new Error(`bad prefix ${prefix}`);
  const a = parseIpv6(address) ?? parseIpv4(address);
  const b = parseIpv6(p.address) ?? parseIpv4(p.address);
  return a !== undefined && b !== undefined && prefixMatches(a, b, p.length);
}

describe("LabTopology", () => {
  const interfaces: LabInterface[] = [
    ...ACCESS_LINKS.flatMap((l) => [t.access[l].router, t.access[l].gateway]),
    t.mobileRouterLan,
    t.lanHost,
    t.coreNet,
    t.coreHomeAgent,
    t.homeAgentHome,
    t.homeAgentCn,
    t.correspondent,
  ];

  test("namespaces are unique and carry the run id", () => {
    const names = LAB_NODES.map((n) => t.namespaces[n]);
    expect(new Set(names).size).toBe(LAB_NODES.length);
    for (const name of names) expect(name).toStartWith("mnm-test-42-abcd-");
  });

  test("every address sits in its documented prefix, and none repeats", () => {
    for (const l of ACCESS_LINKS) {
      const a = t.access[l];
      for (const i of [a.router, a.gateway]) {
        expect(inPrefix(i.ipv6!.address, a.prefix6)).toBe(true);
        if (a.prefix4) expect(inPrefix(i.ipv4!.address, a.prefix4)).toBe(true);
      }
    }
    expect(inPrefix(t.lanHost.ipv6!.address, t.mobileNetworkPrefix)).toBe(true);
    expect(inPrefix(t.mobileRouterLan.ipv6!.address, t.mobileNetworkPrefix)).toBe(true);
    expect(inPrefix(t.homeAgentHome.ipv6!.address, t.homePrefix)).toBe(true);
    expect(inPrefix(t.correspondent.ipv6!.address, t.cnPrefix)).toBe(true);
    for (const i of interfaces) if (i.ipv6) expect(inPrefix(i.ipv6.address, "2001:db8::/32")).toBe(true);
    expect(inPrefix(t.access.lte.router.ipv4!.address, "100.64.0.0/10")).toBe(true);
    expect(inPrefix(t.natAddress4, "192.0.2.0/24")).toBe(true);
    const all = interfaces.flatMap((i) => [i.ipv6?.address, i.ipv4?.address]).filter((a) => a !== undefined);
    expect(new Set(all).size).toBe(all.length);
  });

  test("interface and TUN names fit IFNAMSIZ", () => {
    const names = [
      ...interfaces.map((i) => i.name),
      ...ACCESS_LINKS.flatMap((l) => [t.access[l].tun.uplink, t.access[l].tun.downlink]),
    ];
    for (const name of names) expect(name.length).toBeLessThanOrEqual(15);
  });
});

describe("run ids and sweep ownership", () => {
  test("the owner pid is read back only from our own prefix", () => {
    const id = makeRunId("mnm", "demo", 1234, "x9z1");
    expect(ownerPid(`${id}-net`, "mnm")).toBe(1234);
    expect(ownerPid(`${id}-net`, "other")).toBeUndefined();
    expect(ownerPid("mnm-net", "mnm")).toBeUndefined();
    expect(ownerPid("unrelated", "mnm")).toBeUndefined();
  });

  test("tags with a dash or capitals are refused (they would break ownership parsing)", () => {
    expect(() => makeRunId("mnm", "my-tag", 1, "a")).toThrow();
    expect(() => makeRunId("mnm", "Tag", 1, "a")).toThrow();
  });
});

describe("setup plan", () => {
  test("every veth end lands in a namespace of this run", () => {
    const lines = Object.values(vethPlan(t)).flat();
    expect(lines.length).toBe(6);
    for (const line of lines) if (line.includes("netns")) expect(line).toMatch(/netns mnm-test-42-abcd-(net|lan|ha|cn)$/);
  });

  test("net steers each access link into its TUNs and back out to main", () => {
    const net = addressPlan(t).net;
    for (const l of ACCESS_LINKS) {
      const a = t.access[l];
      expect(net.any).toContain(`tuntap add dev ${a.tun.uplink} mode tun`);
      expect(net.v6).toContain(`route add default dev ${a.tun.uplink} table ${a.tables.uplink}`);
      expect(net.v6).toContain(`rule add iif ${a.tun.downlink} lookup main pref ${1000 + ACCESS_LINKS.indexOf(l)}`);
      const rules = emulationRules(t, l, "add");
      expect(rules.v6).toContain(`rule add iif ${a.gateway.name} lookup ${a.tables.uplink} pref ${1100 + ACCESS_LINKS.indexOf(l)}`);
      expect(rules.v6.some((r) => r.includes(`to ${a.prefix6} lookup ${a.tables.downlink}`))).toBe(true);
    }
    expect(emulationRules(t, "lte", "del").v4.every((r) => r.startsWith("rule del"))).toBe(true);
    expect(mobileNetworkRule(t, "wifi", "add")).toBe(`rule add to ${t.mobileNetworkPrefix} lookup 112 pref 1300`);
  });

  test("NAT44 masquerades only the LTE IPv4 prefix towards the core", () => {
    const rules = netRuleset(t);
    expect(rules).toContain(`oifname "core0" ip saddr 100.64.0.0/10 masquerade`);
    expect(rules.match(/masquerade/g)?.length).toBe(1);
    expect(rules).toContain(`iifname { "lte-dn", "wifi-dn" } notrack`);
  });
});

describe("profiles", () => {
  test("defaults match the foundation issue: LTE 40±10 ms 0.5 % 20 Mbit/s, Wi-Fi 5 ms 0.1 % 100 Mbit/s", () => {
    const lte = LINK_PROFILES.lte.uplink;
    expect([lte.delayMs, lte.jitterMs, lte.lossProbability, lte.rateBitsPerSecond]).toEqual([40, 10, 0.005, 20e6]);
    const wifi = LINK_PROFILES.wifi.downlink;
    expect([wifi.delayMs, wifi.lossProbability, wifi.rateBitsPerSecond]).toEqual([5, 0.001, 100e6]);
    expect(expectedRtt(LINK_PROFILES.lte.uplink, LINK_PROFILES.lte.downlink)).toEqual({ ms: 80, spreadMs: 20 });
    expect(isProfileName("off")).toBe(true);
    expect(isProfileName("ideal")).toBe(true);
    expect(isProfileName("toString")).toBe(false);
  });
});

describe("probe parsers", () => {
  test("ping output with replies", () => {
    const out = `PING 2001:db8:30::2(2001:db8:30::2) 56 data bytes
64 bytes from 2001:db8:30::2: icmp_seq=1 ttl=60 time=68.6 ms
64 bytes from 2001:db8:30::2: icmp_seq=2 ttl=60 time=92.8 ms
64 bytes from 2001:db8:30::2: icmp_seq=3 ttl=60 time=67.6 ms

--- 2001:db8:30::2 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 804ms
rtt min/avg/max/mdev = 67.579/76.448/92.789/9.324 ms`;
    expect(parsePing(out)).toEqual({ transmitted: 4, received: 3, rttsMs: [68.6, 92.8, 67.6] });
    expect(median([68.6, 92.8, 67.6])).toBe(68.6);
    expect(median([1, 2, 3, 4])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  test("ping output with no reply", () => {
    const out = `PING 2001:db8:30::2(2001:db8:30::2) 56 data bytes

--- 2001:db8:30::2 ping statistics ---
3 packets transmitted, 0 received, 100% packet loss, time 2030ms`;
    expect(parsePing(out)).toEqual({ transmitted: 3, received: 0, rttsMs: [] });
    expect(parsePing("")).toEqual({ transmitted: 0, received: 0, rttsMs: [] });
  });

  test("iperf3 JSON: TCP, UDP and error reports", () => {
    const tcp = JSON.stringify({ end: { sum_sent: { retransmits: 7, bits_per_second: 2e7 }, sum_received: { bits_per_second: 1.5e7 } } });
    expect(parseIperf3(tcp)).toEqual({ bitsPerSecond: 1.5e7, retransmits: 7 });
    const udp = JSON.stringify({ end: { sum: { bits_per_second: 9.9e7, lost_percent: 0.25 } } });
    expect(parseIperf3(udp)).toEqual({ bitsPerSecond: 9.9e7, lostPercent: 0.25 });
    expect(() => parseIperf3(JSON.stringify({ error: "unable to connect to server" }))).toThrow("unable to connect");
    expect(() => parseIperf3(JSON.stringify({ end: {} }))).toThrow("no totals");
  });
});
