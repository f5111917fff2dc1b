// The data plane in the lab (root): lan ↔ cn over ESP on either uplink, nothing in clear on the uplinks, Packet Too Big,
// carrier loss, no descriptor or memory growth, the home agent's care-of check against spoofing, clean SIGTERM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { requireRoot } from "../../board/lab/lab.ts";
import { iperf3, pcapField, ping } from "../../board/lab/probes.ts";
import { ipv6Of } from "../../board/lab/topology.ts";
import { type DataplaneLab, HOME_ADDRESS, startDataplaneLab } from "./dataplane-harness.ts";

const canRun = requireRoot("data plane lab");
const TOOLS = resolve(import.meta.dir, "dataplane-tools.ts");
const bun = /(^|\/)bun[^/]*$/.test(process.execPath) ? process.execPath : "bun";
const WIFI_MTU = 1400;

describe.skipIf(!canRun)("data plane: router ↔ home agent over ESP", () => {
  let h: DataplaneLab;
  let cn: string;
  let lanHost: string;

  beforeAll(async () => {
    h = await startDataplaneLab({ tag: "dptest", uplinkMtus: { wifi: WIFI_MTU } });
    cn = ipv6Of(h.lab.topology.correspondent);
    lanHost = ipv6Of(h.lab.topology.lanHost);
  }, 60_000);

  afterAll(async () => {
    await h?.destroy();
  });

  const counter = async (who: "router" | "homeAgent", name: string): Promise<number> => {
    const c = who === "router" ? await h.routerCommand("counters") : await h.homeAgentCommand("counters");
    return Number(c[name] ?? 0);
  };

  /** 50 MB lan → cn over TCP; both ends hash what they saw. */
  async function hashedTransfer(bytes: number, port: number): Promise<{ sent: string; received: string }> {
    const sink = h.lab.spawn("cn", [bun, TOOLS, "sink", cn, String(port)]);
    const reader = sink.process.stdout.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("listening");
    const source = await h.lab.exec("lan", [bun, TOOLS, "source", cn, String(port), String(bytes)]);
    let received = "";
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      received += new TextDecoder().decode(chunk.value);
    }
    await sink.stop();
    return { sent: source.stdout.trim(), received: received.trim() };
  }

  /** Captures every IPv6 packet on both of mr's uplinks while `body` runs. */
  async function captureUplinks(name: string, body: () => Promise<void>): Promise<string[]> {
    const t = h.lab.topology;
    const files = [join(h.lab.workDir, `${name}-lte.pcap`), join(h.lab.workDir, `${name}-wifi.pcap`)];
    const stops = [await h.lab.capture("mr", t.access.lte.router.name, files[0]!, "ip6"), await h.lab.capture("mr", t.access.wifi.router.name, files[1]!, "ip6")];
    try {
      await body();
    } finally {
      for (const stop of stops) await stop();
    }
    return files;
  }

  /** Every packet between router and home agent is ESP; no packet shows the mobile network or cn in clear. */
  async function expectOnlyEsp(file: string, careOf: string): Promise<number> {
    const between = `ipv6.addr == ${h.homeAgentAddress} && ipv6.addr == ${careOf}`;
    const protocols = await pcapField(file, "frame.protocols", between);
    for (const p of protocols) expect(p.endsWith(":ipv6:esp") || p.endsWith(":ipv6:ipv6.dstopts:esp") || p.endsWith(":ipv6:ipv6.routing:esp")).toBe(true);
    const clear = await pcapField(file, "frame.number", `ipv6.addr == ${lanHost} || ipv6.addr == ${cn} || ipv6.addr == ${HOME_ADDRESS} || mipv6 || icmpv6.type == 4`);
    expect(clear).toEqual([]);
    return protocols.length;
  }

  test("ping and a 50 MB TCP transfer lan → cn over LTE, only ESP on the uplinks", async () => {
    const t = h.lab.topology;
    let transfer = { sent: "", received: "" };
    const files = await captureUplinks("lte", async () => {
      const p = await ping(h.lab, "lan", cn, { count: 5 });
      expect(p.received).toBe(5);
      transfer = await hashedTransfer(50_000_000, 5301);
    });
    expect(transfer.sent).toStartWith("50000000 ");
    expect(transfer.received).toBe(transfer.sent);
    expect(await expectOnlyEsp(files[0]!, ipv6Of(t.access.lte.router))).toBeGreaterThan(30_000);
    expect(await pcapField(files[1]!, "frame.number", `ipv6.addr == ${h.homeAgentAddress}`)).toEqual([]);
  }, 60_000);

  test("switching to Wi-Fi through the router's control socket moves traffic and the binding", async () => {
    const t = h.lab.topology;
    const wifi = ipv6Of(t.access.wifi.router);
    expect(await h.routerCommand("uplink wifi")).toEqual({ uplink: "wifi", changed: true });
    await h.waitForBinding(wifi);
    let transfer = { sent: "", received: "" };
    const files = await captureUplinks("wifi", async () => {
      const p = await ping(h.lab, "lan", cn, { count: 5 });
      expect(p.received).toBe(5);
      transfer = await hashedTransfer(50_000_000, 5302);
    });
    expect(transfer.received).toBe(transfer.sent);
    expect(await expectOnlyEsp(files[1]!, wifi)).toBeGreaterThan(30_000);
    expect(await pcapField(files[0]!, "frame.number", `ipv6.addr == ${h.homeAgentAddress} && !(ipv6.nxt == 50)`)).toEqual([]);
    const status = await h.routerCommand("status");
    expect(status.activeUplink).toBe("wifi");
  }, 60_000);

  test("a packet too big for the Wi-Fi uplink gets an ICMPv6 Packet Too Big with its inner MTU", async () => {
    const status = await h.routerCommand("status");
    const innerMtus = status.innerMtus as number[];
    expect(innerMtus[0]).toBe(1426); // 1500 − 40 − 8 − 8 − 16, aligned to 4, − 2
    expect(innerMtus[1]).toBe(WIFI_MTU - 74);
    expect(status.tunnelMtu).toBe(1426);
    // The Wi-Fi transfer already taught lan the path MTU (TCP got Packet Too Big too): forget it first.
    await h.lab.exec("lan", ["ip", "-6", "route", "flush", "cache"]);
    const before = await counter("router", "dataplane.icmp.packet-too-big.sent");
    const r = await h.lab.exec("lan", ["ping", "-6", "-n", "-c", "2", "-i", "0.3", "-W", "1", "-M", "do", "-s", String(1400 - 48), cn]);
    expect(r.stdout + r.stderr).toMatch(new RegExp(`mtu[:= ]+${WIFI_MTU - 74}`));
    expect(await counter("router", "dataplane.icmp.packet-too-big.sent")).toBeGreaterThan(before);
    const fits = await ping(h.lab, "lan", cn, { count: 2, payloadBytes: WIFI_MTU - 74 - 48 });
    expect(fits.received).toBe(2);
  }, 30_000);

  test("carrier loss on the active uplink does not stop the loop; restoring it lets traffic resume", async () => {
    await h.lab.cut("wifi", "carrier");
    const readBefore = await counter("router", "tun.rx.packets");
    const during = await ping(h.lab, "lan", cn, { count: 5, intervalSeconds: 0.1, waitSeconds: 1 });
    expect(during.received).toBe(0);
    // The loop kept taking packets from the LAN and answers its control socket while the uplink is down.
    expect((await counter("router", "tun.rx.packets")) - readBefore).toBeGreaterThanOrEqual(5);
    const status = await h.routerCommand("status");
    expect(status.activeUplink).toBe("wifi");
    await h.lab.restore("wifi");
    await h.lab.exec("mr", ["ip", "-6", "route", "replace", "default", "via", ipv6Of(h.lab.topology.access.wifi.gateway), "dev", "wlan0", "metric", "2001"]);
    let after = await ping(h.lab, "lan", cn, { count: 3 });
    for (let i = 0; i < 10 && after.received === 0; i++) after = await ping(h.lab, "lan", cn, { count: 3 });
    expect(after.received).toBeGreaterThan(0);
  }, 60_000);

  test("no descriptor or memory growth over 100 000 packets", async () => {
    const pid = h.router.pid;
    const fds = () => readdirSync(`/proc/${pid}/fd`).length;
    const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
    await iperf3(h.lab, { server: "cn", address: cn, client: "lan", seconds: 1 }); // warm-up: JIT, buffers
    const fdsBefore = fds();
    const rssBefore = rssMb();
    const packetsBefore = await counter("router", "tun.rx.packets");
    while ((await counter("router", "tun.rx.packets")) - packetsBefore < 100_000) {
      await iperf3(h.lab, { server: "cn", address: cn, client: "lan", seconds: 2 });
    }
    expect(fds()).toBe(fdsBefore);
    expect(rssMb() - rssBefore).toBeLessThan(16);
  }, 90_000);

  test("the home agent decrypts, then drops and counts ESP from an address that is no registered care-of address", async () => {
    const t = h.lab.topology;
    const dropsBefore = await counter("homeAgent", "dataplane.drop.unregistered-care-of");
    const deliveredBefore = await counter("homeAgent", "tun.tx.packets");
    const icvBefore = await counter("homeAgent", "esp.drop.icv");
    // Control: the same SA and keys from the registered care-of address (mr's Wi-Fi) are accepted.
    const good = await h.lab.exec("mr", [bun, TOOLS, "esp", t.access.wifi.router.name, h.homeAgentAddress, "2000000000", "5", lanHost, cn]);
    expect(good.stdout.trim()).toBe("5");
    // Spoof: valid SPI, fresh sequence numbers and ICV, but from net's core address.
    const spoof = await h.lab.exec("net", [bun, TOOLS, "esp", t.coreNet.name, h.homeAgentAddress, "2000000010", "5", lanHost, cn]);
    expect(spoof.stdout.trim()).toBe("5");
    await Bun.sleep(300);
    expect((await counter("homeAgent", "tun.tx.packets")) - deliveredBefore).toBeGreaterThanOrEqual(5);
    expect((await counter("homeAgent", "dataplane.drop.unregistered-care-of")) - dropsBefore).toBe(5);
    expect(await counter("homeAgent", "esp.drop.icv")).toBe(icvBefore);
  }, 30_000);

  test("SIGTERM deregisters, closes every descriptor and removes the routing it added", async () => {
    const closedLine = () => h.logs.find((l) => l.includes("router down:"));
    expect(await h.router.stop("SIGTERM", 5000)).toBe(0);
    // 2 uplinks × (ESP socket, signalling packet socket, signalling raw socket) + the TUN.
    expect(closedLine()).toContain("7 descriptors closed");
    expect(h.logs.some((l) => l.includes('"type":"all-deregistered"'))).toBe(true);
    const rules = await h.lab.exec("mr", ["ip", "-6", "rule", "show"]);
    expect(rules.stdout).not.toContain("lan0");
    const links = await h.lab.exec("mr", ["ip", "link", "show", "mnr0"]);
    expect(links.exitCode).not.toBe(0);
    const nft = await h.lab.exec("mr", ["nft", "list", "tables"]);
    expect(nft.stdout).not.toContain("monami-router");
  }, 30_000);
});
