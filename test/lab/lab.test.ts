// The lab end to end (root): plain IPv6 lan→cn over LTE and Wi-Fi with the profiles' RTT and shaping, NAT44,
// carrier and blackhole cuts, the 'off' bypass, and a teardown that leaves no namespace and no process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createLab, type Lab, requireRoot } from "../../board/lab/lab.ts";
import { isAlive, listNamespaces, namespacePids } from "../../board/lab/netns.ts";
import { iperf3, median, pcapField, ping } from "../../board/lab/probes.ts";
import { ipv4Of, ipv6Of, LAB_NODES } from "../../board/lab/topology.ts";

const canRun = requireRoot("lab end-to-end");

describe.skipIf(!canRun)("lab", () => {
  let lab: Lab;
  let cn: string;

  beforeAll(async () => {
    lab = await createLab({ tag: "test" });
    cn = ipv6Of(lab.topology.correspondent);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  async function linkState(node: "mr" | "net", iface: string): Promise<{ flags: string[]; operstate: string }> {
    const r = await lab.exec(node, ["ip", "-j", "link", "show", "dev", iface]);
    const [entry] = JSON.parse(r.stdout) as { flags: string[]; operstate: string }[];
    if (!entry) throw new Error(`no ${iface} in ${node}`);
    return entry;
  }

  test("every namespace exists with the run's unique name", () => {
    const names = new Set(listNamespaces());
    for (const node of LAB_NODES) {
      expect(lab.ns(node)).toStartWith(`mnm-test-${process.pid}-`);
      expect(names.has(lab.ns(node))).toBe(true);
    }
  });

  test("lan reaches cn in plain IPv6 over LTE with ~80 ms RTT", async () => {
    await lab.useUplink("lte");
    const p = await ping(lab, "lan", cn, { count: 10 });
    expect(p.received).toBeGreaterThanOrEqual(8);
    expect(median(p.rttsMs)).toBeGreaterThan(60);
    expect(median(p.rttsMs)).toBeLessThan(110);
  });

  test("lan reaches cn in plain IPv6 over Wi-Fi with ~10 ms RTT", async () => {
    await lab.useUplink("wifi");
    const p = await ping(lab, "lan", cn, { count: 10 });
    expect(p.received).toBeGreaterThanOrEqual(8);
    expect(median(p.rttsMs)).toBeGreaterThan(9);
    expect(median(p.rttsMs)).toBeLessThan(40);
    await lab.useUplink("lte");
  });

  test("rate shaping: LTE stays under ~20 Mbit/s and well below Wi-Fi", async () => {
    await lab.useUplink("lte");
    const lte = await iperf3(lab, { server: "cn", address: cn, client: "lan", seconds: 2 });
    await lab.useUplink("wifi");
    const wifi = await iperf3(lab, { server: "cn", address: cn, client: "lan", seconds: 2 });
    await lab.useUplink("lte");
    expect(lte.bitsPerSecond).toBeLessThan(25e6);
    expect(lte.bitsPerSecond).toBeGreaterThan(3e6);
    expect(wifi.bitsPerSecond).toBeGreaterThan(40e6);
    expect(wifi.bitsPerSecond).toBeLessThan(110e6);
    expect(lte.bitsPerSecond).toBeLessThan(wifi.bitsPerSecond / 2);
    const c = (await lab.emulatorCounters()).counters;
    expect(c["lte.uplink.tx.bytes"]).toBeGreaterThan(lte.bitsPerSecond / 8);
  });

  test("IPv4 from mr's lte0 reaches the core through NAT44: ha sees the NAT address", async () => {
    const t = lab.topology;
    const pcap = join(lab.workDir, "nat.pcap");
    const stop = await lab.capture("ha", t.coreHomeAgent.name, pcap, "icmp");
    // The LTE profile has random loss (~0.7 %): a request may be lost before the NAT; every one that arrives is translated.
    const p = await ping(lab, "mr", ipv4Of(t.coreHomeAgent), { count: 5 });
    await stop();
    expect(p.received).toBeGreaterThanOrEqual(3);
    const sources = await pcapField(pcap, "ip.src", "icmp.type == 8");
    expect(sources.length).toBeGreaterThanOrEqual(p.received);
    expect(new Set(sources)).toEqual(new Set([t.natAddress4]));
    expect(sources).not.toContain(ipv4Of(t.access.lte.router));
  });

  test("carrier cut: the router's lte0 loses carrier and pings fail; restore brings them back", async () => {
    const lte0 = lab.topology.access.lte.router.name;
    await lab.cut("lte", "carrier");
    const down = await linkState("mr", lte0);
    expect(down.flags).toContain("NO-CARRIER");
    expect(down.operstate).not.toBe("UP");
    const p = await ping(lab, "lan", cn, { count: 3, waitSeconds: 1 });
    expect(p.received).toBe(0);
    await lab.restore("lte");
    expect((await linkState("mr", lte0)).flags).not.toContain("NO-CARRIER");
    const q = await ping(lab, "lan", cn, { count: 5 });
    expect(q.received).toBeGreaterThanOrEqual(3);
    const v4 = await ping(lab, "mr", ipv4Of(lab.topology.coreHomeAgent), { count: 3 });
    expect(v4.received).toBeGreaterThanOrEqual(2);
  });

  test("blackhole: the link stays up, the emulator drops everything; restore brings pings back", async () => {
    const lte0 = lab.topology.access.lte.router.name;
    const before = (await lab.emulatorCounters()).counters["lte.uplink.drop.cut"] ?? 0;
    await lab.cut("lte", "blackhole");
    const state = await linkState("mr", lte0);
    expect(state.flags).not.toContain("NO-CARRIER");
    expect(state.operstate).toBe("UP");
    const p = await ping(lab, "lan", cn, { count: 3, waitSeconds: 1 });
    expect(p.received).toBe(0);
    const after = (await lab.emulatorCounters()).counters["lte.uplink.drop.cut"] ?? 0;
    expect(after - before).toBeGreaterThanOrEqual(3);
    await lab.restore("lte");
    const q = await ping(lab, "lan", cn, { count: 5 });
    expect(q.received).toBeGreaterThanOrEqual(3);
  });

  test("profile 'off' routes around the emulator; a named profile brings it back", async () => {
    await lab.useUplink("lte");
    const before = (await lab.emulatorCounters()).counters["lte.uplink.rx.packets"] ?? 0;
    await lab.setProfile("lte", "off");
    const plain = await ping(lab, "lan", cn, { count: 5 });
    const during = (await lab.emulatorCounters()).counters["lte.uplink.rx.packets"] ?? 0;
    expect(plain.received).toBe(5);
    expect(median(plain.rttsMs)).toBeLessThan(5);
    expect(during).toBe(before);
    await lab.setProfile("lte", "lte");
    const emulated = await ping(lab, "lan", cn, { count: 5 });
    expect(median(emulated.rttsMs)).toBeGreaterThan(60);
  });

  test("a live profile change takes effect at once", async () => {
    await lab.setProfile("lte", {
      uplink: { delayMs: 100, jitterMs: 0, lossProbability: 0, rateBitsPerSecond: 0, burstBytes: 0, queueBytes: 0, reorderProbability: 0 },
      downlink: { delayMs: 0, jitterMs: 0, lossProbability: 0, rateBitsPerSecond: 0, burstBytes: 0, queueBytes: 0, reorderProbability: 0 },
    });
    const p = await ping(lab, "lan", cn, { count: 5 });
    expect(median(p.rttsMs)).toBeGreaterThan(99);
    expect(median(p.rttsMs)).toBeLessThan(115);
    await lab.setProfile("lte", "lte");
  });

  test("destroy leaves no namespace and no process behind, and is idempotent", async () => {
    const names = LAB_NODES.map((n) => lab.ns(n));
    const pids = names.flatMap(namespacePids);
    expect(pids.length).toBeGreaterThan(0); // at least the link emulator
    await lab.destroy();
    await lab.destroy();
    const left = new Set(listNamespaces());
    for (const name of names) expect(left.has(name)).toBe(false);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(lab.destroyed).toBe(true);
    await expect(lab.exec("lan", ["true"])).rejects.toThrow("destroyed");
  });
});
