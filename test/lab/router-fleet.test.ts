// The router as a fleet device in the lab (root) with a real Mosquitto: birth and telemetry without secrets, `monami status`,
// desired config committed, a connectivity-breaking config rolled back, and a blackholed uplink detected by in-tunnel probes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:net";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { requireRoot } from "../../board/lab/lab.ts";
import { ping } from "../../board/lab/probes.ts";
import { ipv6Of } from "../../board/lab/topology.ts";
import { toHex } from "../../firmware/core/hex.ts";
import { formatPublicKeyFile, generateSigningKey } from "../../ota/sign/ed25519.ts";
import { encodeBootVariables, factoryBootState } from "../../ota/slots/boot-state.ts";
import { hasMosquitto, Inbox, MosquittoBroker } from "../interop/mosquitto-broker.ts";
import { HOME_ADDRESS, LAB_KEYS } from "./dataplane-harness.ts";
import { serveUnixToTcp } from "./fleet-relay.ts";
import { blackholePrimary, bunExecutable, type Decision, MAIN, otherOf, primaryOf, type RouterLab, startRouterLab } from "./router-lab.ts";

const canRun = requireRoot("router fleet lab") && hasMosquitto;
const DEVICE = "h13-mr1";
const BASE = `monami/${DEVICE}`;
const MQTT_PORT_IN_MR = 18_830;
const RELAY = join(import.meta.dir, "fleet-relay.ts");

type Json = Record<string, unknown>;

describe.skipIf(!canRun)("router as a fleet device", () => {
  let broker: MosquittoBroker;
  let relay: Server | undefined;
  let h: RouterLab | undefined;
  let observer: MqttClient;
  let inbox: Inbox;
  let device: Json;
  let devicePath: string;
  let cn: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    broker = await MosquittoBroker.start();
    observer = await broker.observer();
    inbox = new Inbox(observer);
    await observer.subscribeAsync(`${BASE}/#`, { qos: 1 });
    secrets.push(broker.password, ...Object.values(LAB_KEYS).map((k) => toHex(k.keymat)));
    h = await startRouterLab({
      tag: "h13fleet",
      routerEnv: (dir) => ({ MONAMI_BOARD: "simulated", MONAMI_SIM_ROOT: join(dir, "sim"), MONAMI_SIM_LINK_TRACE: join(dir, "radio.jsonl") }),
      beforeRouter: async (lab, dir) => {
        const socket = join(dir, "mqtt.sock");
        relay = await serveUnixToTcp(socket, "127.0.0.1", broker.plainPort);
        const p = lab.spawn("mr", [bunExecutable, RELAY, "127.0.0.1", String(MQTT_PORT_IN_MR), socket]);
        const reader = p.process.stdout.getReader();
        expect(new TextDecoder().decode((await reader.read()).value)).toContain("listening");
      },
      device: (lab, dir) => {
        const t = lab.topology;
        const secret = (name: string, text: string) => {
          writeFileSync(join(dir, name), text, { mode: 0o600 });
          return { ref: `file:${join(dir, name)}` };
        };
        const psk = `psk-${crypto.randomUUID()}`;
        secrets.push(psk);
        const key = generateSigningKey();
        writeFileSync(join(dir, "ota.pub"), formatPublicKeyFile(key.publicKey));
        key.secretKey.wipe();
        device = {
          device: { id: DEVICE, site: "h13 lab" },
          uplinks: [
            { id: "lte", driver: { kind: "cellular", interface: t.access.lte.router.name, apn: "lab" }, probeIntervalMs: 1000, probeTimeoutMs: 1000, costPerMegabyte: 0.01 },
            { id: "wifi", driver: { kind: "wifi", interface: t.access.wifi.router.name, ssid: "lab" }, probeIntervalMs: 1000, probeTimeoutMs: 1000 },
          ],
          selection: { minimumDwellMs: 2000, downCount: 3, upCount: 3 },
          ipsec: { multiCoaMode: "primary", auth: { method: "psk", psk: secret("ike.psk", psk) } },
          mobility: { homeAddress: HOME_ADDRESS, homeAgent: ipv6Of(t.homeAgentHome), mobileNetworkPrefixes: [t.mobileNetworkPrefix] },
          mqtt: {
            url: `mqtt://127.0.0.1:${MQTT_PORT_IN_MR}`,
            username: broker.username,
            password: secret("mqtt.password", broker.password),
            keepaliveSeconds: 10,
            reconnect: { initialDelayMs: 200, maxDelayMs: 2000 },
          },
          telemetry: { intervalSeconds: 2, metricsIntervalMs: 1000, outbox: { path: join(dir, "state", "outbox.db") } },
          ota: { config: { watchSeconds: 4 }, image: { publicKeyFile: join(dir, "ota.pub") } },
        };
        Bun.spawnSync(["mkdir", "-p", join(dir, "state"), join(dir, "sim")]);
        // Steady radio for both uplinks, replayed by the simulated board (no modem in the lab).
        const trace = [
          { format: "monami-link-trace", version: 1, name: "h13-steady", durationMs: 600_000, demandKbps: 100, links: [{ id: "lte", kind: "cellular" }, { id: "wifi", kind: "wifi" }] },
          { t: 0, link: "lte", up: true, rtt: 40, loss: 0, rsrp: -95, rsrq: -10, sinr: 12 },
          { t: 0, link: "wifi", up: true, rtt: 10, loss: 0, signal: -58 },
        ];
        writeFileSync(join(dir, "radio.jsonl"), `${trace.map((l) => JSON.stringify(l)).join("\n")}\n`);
        // The simulated board booted from slot A (factory state), so telemetry can name the slot.
        const boot = { ...encodeBootVariables(factoryBootState()), BOOTED: "A" };
        writeFileSync(join(dir, "sim", "boot-state"), `${Object.entries(boot).map(([k, v]) => `${k}=${v}`).join("\n")}\n`);
        devicePath = join(dir, "device.json");
        writeFileSync(devicePath, JSON.stringify(device, null, 2));
        return devicePath;
      },
    });
    cn = ipv6Of(h.lab.topology.correspondent);
    // The policy has chosen a primary from answered probes, and it carries traffic.
    await h.waitForStatus((s) => typeof s.activeUplink === "string" && (s.links as Json[]).some((l) => l.primary === true && l.up === true), 15_000, "primary link");
  }, 90_000);

  afterAll(async () => {
    await h?.destroy();
    relay?.close();
    await observer?.endAsync();
    broker?.cleanup();
  });


  test("birth, telemetry with links/bindings/SA counters/decisions/system, events; no secret anywhere", async () => {
    const presence = await inbox.waitFor((m) => m.topic === `${BASE}/presence` && m.json.state === "online", 10_000, "birth");
    expect(presence.firmware).toBeString();
    const telemetry = await inbox.waitFor((m) => m.topic === `${BASE}/telemetry` && Array.isArray(m.json.decisions) && (m.json.decisions as unknown[]).length > 0 && (m.json.bindings as Json[]).some((b) => b.state === "active") && (m.json.links as Json[]).some((l) => l.primary === true), 15_000, "telemetry");
    const links = telemetry.links as Json[];
    expect(links.map((l) => l.id).sort()).toEqual(["lte", "wifi"]);
    expect(links.filter((l) => l.primary === true)).toHaveLength(1);
    for (const l of links) {
      expect(l.careOfAddress).toBeString();
      expect(l.rxBytes).toBeNumber();
      expect((l.probe as Json).intervalMs).toBeGreaterThan(0);
    }
    expect(links.some((l) => typeof l.rttMs === "number")).toBe(true);
    const lte = links.find((l) => l.id === "lte")!;
    expect((lte.probe as Json).bytesPerDay).toBeGreaterThan(0);
    expect(lte.signalDbm).toBe(-95);
    expect(links.find((l) => l.id === "wifi")!.signalDbm).toBe(-58);
    const sas = telemetry.securityAssociations as Json[];
    expect(sas.map((a) => a.spi)).toContain(LAB_KEYS.tunnelToHomeAgent.spi.toString(16).padStart(8, "0"));
    for (const a of sas) expect(typeof a.drops).toBe("object");
    expect((sas[0]!.packets as number) > 0).toBe(true);
    const decision = (telemetry.decisions as Decision[])[0]!;
    expect(decision.rule).toBeString();
    expect(decision.reason.length).toBeGreaterThan(5);
    const system = telemetry.system as Json;
    expect(system.firmwareVersion).toBeString();
    expect(system.slot).toBe("a");
    expect(system.uptimeSeconds).toBeNumber();
    expect(system.memoryTotalBytes as number).toBeGreaterThan(system.memoryUsedBytes as number);
    await inbox.waitFor((m) => m.topic === `${BASE}/events` && m.json.type === "started", 5_000, "started event");
    await inbox.waitFor((m) => m.topic === `${BASE}/events` && (m.json.type === "handover" || m.json.type === "decision"), 5_000, "decision event");
    const reported = await inbox.waitFor((m) => m.topic === `${BASE}/state/reported`, 5_000, "reported");
    expect(((reported.config as Json).device as Json).id).toBe(DEVICE);
    const everything = inbox.messages.map((m) => m.payload).join("\n");
    for (const s of secrets) expect(everything).not.toContain(s);
  });

  test("`monami status --json` against the running router: links, bindings, SAs, MQTT state, last decisions", async () => {
    const proc = Bun.spawn([bunExecutable, MAIN, "status", "--socket", h!.routerControl, "--json"], { stdout: "pipe", stderr: "pipe" });
    const [text, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    const s = JSON.parse(text) as Json;
    expect(s.deviceId).toBe(DEVICE);
    expect((s.links as Json[]).length).toBe(2);
    expect((s.bindings as Json[]).some((b) => b.state === "active")).toBe(true);
    expect((s.securityAssociations as Json[]).length).toBe(4);
    expect((s.mqtt as Json).state).toBe("connected");
    expect((s.decisions as Json[]).length).toBeGreaterThan(0);
    expect(s.board).toBe("simulated");
    expect(s.watchdog).toBe("fed");
    for (const secret of secrets) expect(text).not.toContain(secret);
    const human = Bun.spawn([bunExecutable, MAIN, "status", "--socket", h!.routerControl], { stdout: "pipe" });
    const table = await new Response(human.stdout).text();
    expect(await human.exited).toBe(0);
    expect(table).toContain("links:");
    expect(table).toContain("last decisions:");
    expect(table).toMatch(/mqtt: connected/);
  });

  test("the OTA agent runs in the router: a malformed update job is refused on the OTA status topic", async () => {
    await observer.publishAsync(`${BASE}/ota/job`, JSON.stringify({ jobId: "h13-bad", version: "9.9.9" }), { qos: 1 });
    const status = await inbox.waitFor((m) => m.topic === `${BASE}/ota/status` && m.json.state === "failed", 10_000, "ota status");
    expect((status.reason as Json).kind).toBe("bad-job");
  });

  async function publishDesired(version: number, config: Json): Promise<void> {
    await observer.publishAsync(`${BASE}/config/desired`, JSON.stringify({ version, config, clientToken: `t${version}` }), { qos: 1 });
  }

  test("a desired config is applied, watched and committed (stored atomically, reported)", async () => {
    const candidate = { ...device, telemetry: { ...(device.telemetry as Json), intervalSeconds: 3 } };
    await publishDesired(2, candidate);
    await inbox.waitFor((m) => m.topic === `${BASE}/config/result` && m.json.version === 2 && m.json.status === "applied", 10_000, "applied");
    const committed = await inbox.waitFor((m) => m.topic === `${BASE}/config/result` && m.json.version === 2 && m.json.status !== "applied", 15_000, "commit");
    expect(committed.status).toBe("committed");
    await inbox.waitFor((m) => m.topic === `${BASE}/state/reported` && m.json.version === 2, 5_000, "reported v2");
    const stored = JSON.parse(readFileSync(devicePath, "utf8")) as Json;
    expect((stored.telemetry as Json).intervalSeconds).toBe(3);
    device = stored;
  });

  test("a config that breaks connectivity (primary disabled, the other uplink blackholed) is rolled back and traffic returns", async () => {
    const before = await h!.routerCommand("status");
    const primary = primaryOf(before)!;
    const other = otherOf(primary);
    await h!.lab.cut(other, "blackhole");
    try {
      const uplinks = (device.uplinks as Json[]).map((u) => (u.id === primary ? { ...u, enabled: false } : u));
      await publishDesired(3, { ...device, uplinks });
      const result = await inbox.waitFor((m) => m.topic === `${BASE}/config/result` && m.json.version === 3 && m.json.status !== "applied", 20_000, "rollback");
      expect(result.status).toBe("rolled-back");
      expect(result.failedChecks as string[]).toEqual(expect.arrayContaining(["home-agent", "bindings"]));
      expect(String(result.reason)).toContain("health checks failing");
      expect(result.runningVersion).toBe(2);
      // The stored config is still version 2's (primary enabled).
      const stored = JSON.parse(readFileSync(devicePath, "utf8")) as Json;
      expect((stored.uplinks as Json[]).every((u) => u.enabled !== false)).toBe(true);
      // The rollback re-enabled the uplink: the policy takes it back and traffic flows.
      await h!.waitForStatus((s) => s.activeUplink === primary && (s.bindings as Json[]).some((b) => b.linkId === primary && b.state === "active"), 20_000, `traffic back on ${primary}`);
      expect((await ping(h!.lab, "lan", cn, { count: 3 })).received).toBe(3);
    } finally {
      await h!.lab.restore(other);
    }
  }, 60_000);

  test("a blackholed primary uplink is detected by the in-tunnel probes within 5 s and traffic moves to the other uplink", async () => {
    // Both links answer probes again (the previous test blackholed one) before the cut.
    const { primary, other, cutAt, down, handover } = await blackholePrimary(h!);
    try {
      expect(down).toBeDefined();
      expect(handover).toBeDefined();
      const detectionMs = down!.at - cutAt;
      const handoverMs = handover!.at - cutAt;
      console.log(`[h13] blackhole on ${primary}: detected in ${detectionMs} ms (${down!.rule}: ${down!.reason}); traffic moved in ${handoverMs} ms (${handover!.rule}: ${handover!.reason})`);
      expect(detectionMs).toBeLessThan(5_000);
      expect(handoverMs).toBeLessThan(5_000);
      expect(handover!.reason).toContain(primary);
      const event = await inbox.waitFor((m) => m.topic === `${BASE}/events` && m.json.type === "handover" && (m.json.data as Json).from === primary, 5_000, "handover event");
      expect((event.data as Json).rule).toBe(handover!.rule);
      await h!.waitForStatus((s) => (s.bindings as Json[]).some((b) => b.linkId === other && b.state === "active"), 5_000, `binding on ${other}`);
      const p = await ping(h!.lab, "lan", cn, { count: 5 });
      expect(p.received).toBe(5);
    } finally {
      await h!.lab.restore(primary);
    }
  }, 40_000);
});
