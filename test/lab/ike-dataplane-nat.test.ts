// monami router ↔ monami homeagent keyed by IKEv2 over the LTE uplink's IPv4 path behind NAT44: ESP in UDP (RFC 3948), keepalives on the idle path.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ipv4Of, ipv6Of } from "../../board/lab/topology.ts";
import { startIkeDataplaneLab, type IkeDataplaneLab } from "./ike-dataplane-harness.ts";

const isRoot = process.getuid?.() === 0;
const TOOLS = join(import.meta.dir, "dataplane-tools.ts");

describe.skipIf(!isRoot)("IKEv2 over the NATed IPv4 LTE path: ESP in UDP between monami router and monami homeagent", () => {
  let h: IkeDataplaneLab;
  let stopCapture: () => Promise<void> = async () => {};
  let captureFile = "";
  const cn = () => ipv6Of(h.lab.topology.correspondent);

  beforeAll(async () => {
    h = await startIkeDataplaneLab({ tag: "h12", natIpv4: true });
    captureFile = join(h.lab.workDir, "lte0.pcap");
    stopCapture = await h.lab.capture("mr", h.lab.topology.access.lte.router.name, captureFile);
  }, 60_000);
  afterAll(async () => {
    await stopCapture().catch(() => undefined);
    await h?.destroy();
  }, 30_000);

  test("both sides detected the NAT and keyed ESP in UDP over IPv4; the home agent sees the NAT's address", async () => {
    const status = (await h.routerCommand("status")).ike as { ike: { natLocal: boolean; local: { address: string; port: number }; remote: { address: string } } };
    expect(status.ike.natLocal).toBe(true);
    expect(status.ike.local).toEqual({ address: ipv4Of(h.lab.topology.access.lte.router), port: 4500 });
    expect(status.ike.remote.address).toBe(ipv4Of(h.lab.topology.coreHomeAgent));
    const agent = (await h.homeAgentCommand("status")).ike as { remote: { address: string } }[];
    expect(agent[0]!.remote.address).toBe(h.lab.topology.natAddress4);
  });

  test("lan ↔ cn: ping and a hashed 5 MB TCP transfer through the NAT", async () => {
    await h.lab.exec("lan", ["ping", "-6", "-c", "1", "-W", "2", cn()]);
    const ping = await h.lab.exec("lan", ["ping", "-6", "-c", "5", "-i", "0.2", "-W", "2", cn()]);
    expect(ping.stdout).toContain(" 0% packet loss");
    const sink = h.lab.spawn("cn", [process.execPath, TOOLS, "sink", cn(), "7777"]);
    const reader = sink.process.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("listening");
    const source = await h.lab.exec("lan", [process.execPath, TOOLS, "source", cn(), "7777", "5000000"]);
    let received = "";
    for (let c = await reader.read(); !c.done; c = await reader.read()) received += new TextDecoder().decode(c.value);
    expect(source.stdout.trim().startsWith("5000000 ")).toBe(true);
    expect(received.trim()).toBe(source.stdout.trim());
  }, 60_000);

  test("only UDP to port 4500 carries the tunnel on the IPv4 uplink; an idle path gets NAT keepalives (RFC 3948 §2.3)", async () => {
    await Bun.sleep(22_000);
    await stopCapture();
    const count = async (filter: string) => {
      const r = await h.lab.exec("mr", ["tshark", "-n", "-r", captureFile, "-Y", filter, "-T", "fields", "-e", "frame.number"]);
      return r.stdout.split("\n").filter((l) => l.trim() !== "").length;
    };
    expect(await count("udp.port==4500 && esp")).toBeGreaterThan(1000);
    expect(await count("ip.proto==50")).toBe(0);
    expect(await count(`ipv6.addr==${cn()} || tcp`)).toBe(0);
    // The idle path's NAT mapping is kept by a packet from the router's port 4500 at least every 20 s: a keepalive
    // (one 0xFF octet, UDP length 9, RFC 3948 §2.3) or, when that IKE SA does MOBIKE, its periodic NAT check
    // (an INFORMATIONAL, RFC 4555 §3.8), which makes the path busy so no keepalive is due.
    const keepalives = await count("udp.dstport==4500 && udp.length==9");
    const natChecks = await count("udp.dstport==4500 && isakmp.exchangetype==37");
    expect(keepalives + natChecks).toBeGreaterThanOrEqual(1);
    const counters = await h.routerCommand("counters");
    if (keepalives > 0) expect(counters["dataplane.udp.keepalive.sent"]).toBeGreaterThanOrEqual(1);
  }, 40_000);
});
