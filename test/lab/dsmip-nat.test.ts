// Mobile IPv6 over an IPv4 care-of address behind NAT (RFC 5555) between monami router and home agent, and scenario (f): NAT rebinding.
//
// LTE is IPv4-only behind `net`'s NAT44, Wi-Fi has IPv6. The router registers BID 1 (LTE) with its IPv4 CoA in
// UDP to port 4191 and BID 2 (Wi-Fi) with its IPv6 CoA; the home agent detects the NAT and keeps its address.
// Traffic lan ↔ cn moves to LTE (ESP in UDP/4500), then the NAT rebinds: (i) new ports, (ii) a new public address.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { natRebindAddress, natRebindPort } from "../../board/lab/nat-rebinding.ts";
import type { StreamReport } from "../../board/lab/stream-tool.ts";
import { type StreamLoss, streamLoss, twoWayStream } from "../../board/lab/two-way-stream.ts";
import { ipv4Of, ipv6Of } from "../../board/lab/topology.ts";
import { startIkeDataplaneLab, type IkeDataplaneLab } from "./ike-dataplane-harness.ts";

const isRoot = process.getuid?.() === 0;
const PPS = 1000;

interface Binding {
  bindingId: number;
  careOfAddress: { family: string; address: string };
  observed?: { address: string; port: number };
  behindNat?: boolean;
}

/** Lost packets and the longest silence of one direction of the stream. */
function loss(r: StreamReport): { lost: number; outageMs: number } {
  return { lost: r.sent - r.received, outageMs: Math.round(Math.max(0, ...r.gaps.map((g) => g.ms))) };
}

describe.skipIf(!isRoot)("RFC 5555: an IPv4-only LTE uplink behind NAT, registered over UDP 4191, carrying ESP in UDP; NAT rebinding", () => {
  let h: IkeDataplaneLab;
  const figures: Record<string, { up: { lost: number; outageMs: number }; down: { lost: number; outageMs: number } }> = {};
  const lan = () => ipv6Of(h.lab.topology.lanHost);
  const cn = () => ipv6Of(h.lab.topology.correspondent);
  const haBindings = async () => Object.values((await h.homeAgentCommand("status")).bindings as Record<string, Binding[]>)[0]!;
  const lteBinding = async () => (await haBindings()).find((b) => b.bindingId === 1);

  /** A 1000 packets/s stream each way for `seconds`; `event` runs `atMs` after it starts. */
  async function stream(name: string, seconds: number, atMs: number, event: () => Promise<unknown>): Promise<{ up: StreamReport; down: StreamReport }> {
    const result = await twoWayStream(h.lab, { lan: lan(), cn: cn(), pps: PPS, seconds, atMs, event, lanPort: 6200, cnPort: 6100 });
    figures[name] = { up: streamLoss(result.up), down: streamLoss(result.down) };
    console.log(`dsmip-nat ${name}: lan→cn ${JSON.stringify(figures[name]!.up)} cn→lan ${JSON.stringify(figures[name]!.down)}`);
    return result;
  }

  let stopCapture: () => Promise<void> = async () => {};
  let captureFile = "";

  beforeAll(async () => {
    h = await startIkeDataplaneLab({ tag: `dsm${process.pid % 100000}`, dsmip: true });
    captureFile = join(h.lab.workDir, "lte0.pcap");
    stopCapture = await h.lab.capture("mr", h.lab.topology.access.lte.router.name, captureFile);
  }, 60_000);
  afterAll(async () => {
    await stopCapture().catch(() => undefined);
    await h?.destroy();
    console.log(`dsmip-nat figures: ${JSON.stringify(figures)}`);
  }, 30_000);

  test("BID 1 is the IPv4 CoA behind the NAT (observed: the NAT's address), BID 2 the Wi-Fi IPv6 CoA; both ends know the NAT", async () => {
    const t = h.lab.topology;
    const bindings = await haBindings();
    const lte = bindings.find((b) => b.bindingId === 1)!;
    expect(lte.careOfAddress).toEqual({ family: "ipv4", address: ipv4Of(t.access.lte.router) });
    expect(lte.observed?.address).toBe(t.natAddress4);
    expect(lte.observed?.port).toBeGreaterThan(0);
    expect(lte.behindNat).toBe(true);
    expect(bindings.find((b) => b.bindingId === 2)!.careOfAddress).toEqual({ family: "ipv6", address: ipv6Of(t.access.wifi.router) });
    const table = (await h.homeAgentCommand("status")).table as { careOfAddresses: string[] }[];
    expect(table[0]!.careOfAddresses).toContain(`::ffff:${t.natAddress4}`);
    const router = (await h.routerCommand("status")).bindings as { bindingId: number; state: string; behindNat?: boolean; natRefreshSeconds?: number }[];
    expect(router.find((b) => b.bindingId === 1)).toMatchObject({ state: "registered", behindNat: true, natRefreshSeconds: 110 });
    const counters = await h.homeAgentCommand("counters");
    expect(counters["mobility.ha.nat.detected"]).toBeGreaterThanOrEqual(1);
  });

  test("lan ↔ cn over LTE: a 1000 packets/s stream each way arrives whole through the NAT", async () => {
    expect((await h.routerCommand("uplink lte")).uplink).toBe("lte");
    await Bun.sleep(300);
    const { up, down } = await stream("steady", 3, 1000, async () => {});
    expect(up.received).toBeGreaterThan(up.sent * 0.99);
    expect(down.received).toBeGreaterThan(down.sent * 0.99);
    const counters = await h.homeAgentCommand("counters");
    expect(counters["dataplane.udp.port-learned"]).toBeGreaterThanOrEqual(1);
  }, 30_000);

  test("rebinding (i), new ports: traffic recovers, the home agent learns the new port from authenticated ESP", async () => {
    const before = await lteBinding();
    const learnedBefore = Number((await h.homeAgentCommand("counters"))["dataplane.udp.port-learned"] ?? 0);
    const { up, down } = await stream("port-change", 5, 1500, () => natRebindPort(h.lab));
    expect(up.received).toBeGreaterThan(up.sent * 0.9);
    expect(down.received).toBeGreaterThan(down.sent * 0.9);
    // The stream ran on after the rebinding: the last second arrived both ways.
    expect(up.highest).toBe(up.sent);
    expect(down.highest).toBe(down.sent);
    const learnedAfter = Number((await h.homeAgentCommand("counters"))["dataplane.udp.port-learned"]);
    expect(learnedAfter).toBeGreaterThan(learnedBefore);
    // Same public address: the binding still names it.
    expect((await lteBinding())?.observed?.address).toBe(before?.observed?.address);
  }, 40_000);

  test("rebinding (ii), new public address: the router refreshes its binding over UDP 4191, the home agent moves to the new address", async () => {
    const address = "192.0.2.3";
    const since = h.logs.length;
    const { up, down } = await stream("address-change", 6, 1500, () => natRebindAddress(h.lab, address));
    for (const line of h.logs.slice(since)) if (/RFC 5555|binding: .*"bindingId":1/.test(line)) console.log(`dsmip-nat log: ${line.slice(0, 260)}`);
    expect(up.received).toBeGreaterThan(up.sent * 0.8);
    expect(down.received).toBeGreaterThan(down.sent * 0.8);
    expect(up.highest).toBe(up.sent);
    expect(down.highest).toBe(down.sent);
    const lte = await lteBinding();
    expect(lte?.observed?.address).toBe(address);
    expect(lte?.behindNat).toBe(true);
    const table = (await h.homeAgentCommand("status")).table as { careOfAddresses: string[] }[];
    expect(table[0]!.careOfAddresses).toContain(`::ffff:${address}`);
    expect(table[0]!.careOfAddresses).not.toContain(`::ffff:${h.lab.topology.natAddress4}`);
    const router = await h.routerCommand("counters");
    expect(router["router.nat.rebinding-suspected"]).toBeGreaterThanOrEqual(1);
    expect(router["mobility.mr.nat.rebinding-refresh"]).toBeGreaterThanOrEqual(1);
    // ESP from the old mapping stopped being accepted while it was gone: the drops are counted, not delivered.
    const agent = await h.homeAgentCommand("counters");
    expect(agent["mobility.ha.binding.behind-nat"]).toBeGreaterThanOrEqual(2);
  }, 40_000);

  test("on the IPv4 uplink: BU/BA only in UDP 4191 (IPv6 + ESP inside), payload only as ESP in UDP 4500, nothing in clear", async () => {
    await stopCapture();
    const fields = async (filter: string, ...extra: string[]) => {
      const r = await h.lab.exec("mr", ["tshark", "-n", "-r", captureFile, "-d", "udp.port==4191,ipv6", "-Y", filter, "-T", "fields", "-e", "frame.number", ...extra]);
      return r.stdout.split("\n").filter((l) => l.trim() !== "");
    };
    expect((await fields("udp.port==4500 && esp")).length).toBeGreaterThan(8000);
    const dsmip = await fields("udp.port==4191", "-e", "frame.protocols");
    expect(dsmip.length).toBeGreaterThanOrEqual(4); // at least two BU/BA pairs (registration, rebinding refresh)
    for (const line of dsmip) expect(line).toContain("udp:ipv6:esp");
    expect(await fields("mipv6 || icmpv6 || tcp || ip.proto==50", "-e", "frame.protocols", "-e", "ip.src", "-e", "ip.dst")).toEqual([]);
    expect((await fields(`ipv6.addr==${cn()} || ipv6.addr==${lan()}`)).length).toBe(0);
    // Sequence-number gaps in the ESP are the packets the rebindings cost (counted above); nothing else may warn.
    expect(await fields("_ws.malformed || (_ws.expert.severity >= warning && !esp.sequence-analysis.wrong-sequence-number)", "-e", "frame.protocols", "-e", "_ws.expert.message")).toEqual([]);
  }, 30_000);
});
