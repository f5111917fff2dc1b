// The router as a device with IKEv2-keyed SAs (root): the in-tunnel link probes, keyed from the tunnel CHILD_SA, are answered,
// a link becomes primary, and a blackholed primary is detected by them and traffic fails over.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireRoot } from "../../board/lab/lab.ts";
import { ping } from "../../board/lab/probes.ts";
import { ipv6Of } from "../../board/lab/topology.ts";
import { encodeBootVariables, factoryBootState } from "../../ota/slots/boot-state.ts";
import { formatPublicKeyFile, generateSigningKey } from "../../ota/sign/ed25519.ts";
import { HOME_ADDRESS } from "./dataplane-harness.ts";
import { blackholePrimary, primaryOf, type RouterLab, startRouterLab } from "./router-lab.ts";

const canRun = requireRoot("router device lab with IKEv2");

type Json = Record<string, unknown>;

describe.skipIf(!canRun)("router as a device, SAs keyed by IKEv2", () => {
  let h: RouterLab | undefined;
  let cn: string;

  beforeAll(async () => {
    h = await startRouterLab({
      tag: `h18ike${process.pid}`.slice(0, 14),
      security: "ikev2",
      routerEnv: (dir) => ({ MONAMI_BOARD: "simulated", MONAMI_SIM_ROOT: join(dir, "sim"), MONAMI_SIM_LINK_TRACE: join(dir, "radio.jsonl") }),
      device: (lab, dir) => {
        const t = lab.topology;
        mkdirSync(join(dir, "state"), { recursive: true });
        mkdirSync(join(dir, "sim"), { recursive: true });
        const key = generateSigningKey();
        writeFileSync(join(dir, "ota.pub"), formatPublicKeyFile(key.publicKey));
        key.secretKey.wipe();
        writeFileSync(join(dir, "mqtt.password"), "unused", { mode: 0o600 });
        const device = {
          device: { id: "h18-mr1", site: "h18 lab" },
          uplinks: [
            { id: "lte", driver: { kind: "cellular", interface: t.access.lte.router.name, apn: "lab" }, probeIntervalMs: 1000, probeTimeoutMs: 1000, costPerMegabyte: 0.01 },
            { id: "wifi", driver: { kind: "wifi", interface: t.access.wifi.router.name, ssid: "lab" }, probeIntervalMs: 1000, probeTimeoutMs: 1000 },
          ],
          selection: { minimumDwellMs: 2000, downCount: 3, upCount: 3 },
          ipsec: { multiCoaMode: "primary", auth: { method: "psk", psk: { ref: `file:${join(dir, "ike.psk")}` } } },
          mobility: { homeAddress: HOME_ADDRESS, homeAgent: ipv6Of(t.homeAgentHome), mobileNetworkPrefixes: [t.mobileNetworkPrefix] },
          // No broker in this lab: the fleet link keeps retrying, which the link policy does not depend on.
          mqtt: { url: "mqtt://127.0.0.1:9", username: "h18", password: { ref: `file:${join(dir, "mqtt.password")}` }, keepaliveSeconds: 10, reconnect: { initialDelayMs: 1000, maxDelayMs: 5000 } },
          telemetry: { intervalSeconds: 2, metricsIntervalMs: 1000, outbox: { path: join(dir, "state", "outbox.db") } },
          ota: { config: { watchSeconds: 4 }, image: { publicKeyFile: join(dir, "ota.pub") } },
        };
        const trace = [
          { format: "monami-link-trace", version: 1, name: "h18-steady", durationMs: 600_000, demandKbps: 100, links: [{ id: "lte", kind: "cellular" }, { id: "wifi", kind: "wifi" }] },
          { t: 0, link: "lte", up: true, rtt: 40, loss: 0, rsrp: -95, rsrq: -10, sinr: 12 },
          { t: 0, link: "wifi", up: true, rtt: 10, loss: 0, signal: -58 },
        ];
        writeFileSync(join(dir, "radio.jsonl"), `${trace.map((l) => JSON.stringify(l)).join("\n")}\n`);
        const boot = { ...encodeBootVariables(factoryBootState()), BOOTED: "A" };
        writeFileSync(join(dir, "sim", "boot-state"), `${Object.entries(boot).map(([k, v]) => `${k}=${v}`).join("\n")}\n`);
        const path = join(dir, "device.json");
        writeFileSync(path, JSON.stringify(device, null, 2));
        return path;
      },
    });
    cn = ipv6Of(h.lab.topology.correspondent);
  }, 90_000);

  afterAll(async () => {
    await h?.destroy();
  });


  test("probes keyed from the CHILD_SA are answered by the home agent; both links up, one primary carrying traffic", async () => {
    const s = await h!.waitForStatus((s) => typeof s.activeUplink === "string" && (s.links as Json[]).every((l) => l.up === true) && primaryOf(s) !== undefined, 20_000, "both links up and a primary");
    expect(((s.ike as Json).state as string) ?? "").toBe("established");
    const ha = await h!.homeAgentCommand("counters");
    expect(ha["homeagent.probe.answered"] ?? 0).toBeGreaterThan(0);
    const mr = await h!.routerCommand("counters");
    expect(mr["router.probe.sent"] ?? 0).toBeGreaterThan(0);
    expect((await ping(h!.lab, "lan", cn, { count: 3 })).received).toBe(3);
  }, 40_000);

  test("a blackholed primary is detected by the in-tunnel probes and traffic moves to the other uplink", async () => {
    const { primary, other, cutAt, down, handover } = await blackholePrimary(h!);
    try {
      expect(down).toBeDefined();
      expect(handover).toBeDefined();
      console.log(`[h18] IKEv2 device: blackhole on ${primary} detected in ${down!.at - cutAt} ms, traffic moved in ${handover!.at - cutAt} ms`);
      await h!.waitForStatus((s) => (s.bindings as Json[]).some((b) => b.linkId === other && b.state === "active"), 8_000, `binding on ${other}`);
      // Primary mode with IKEv2: the IKE SA followed by the BU's K bit (RFC 4877 §7.4) to the other uplink's care-of address.
      const otherCareOf = ipv6Of(h!.lab.topology.access[other].router);
      await h!.waitForStatus((s) => ((s.ike as { ike?: { local?: { address?: string } } }).ike?.local?.address ?? "") === otherCareOf, 8_000, `IKE SA on ${other}`);
      // The IKE SA followed the traffic (MOBIKE) and the tunnel carries it again.
      const deadline = performance.now() + 8_000;
      let received = 0;
      while (performance.now() < deadline && received === 0) received = (await ping(h!.lab, "lan", cn, { count: 3 })).received;
      expect(received).toBeGreaterThan(0);
    } finally {
      await h!.lab.restore(primary);
    }
  }, 60_000);
});
