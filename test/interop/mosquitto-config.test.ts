// Interop with a real Mosquitto: signed desired configs refused, committed or rolled back; secrets never published.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { readFileSync } from "node:fs";
import type { MqttClient } from "mqtt";
import { toHex } from "../../firmware/core/hex.ts";
import { signDesired } from "../../firmware/fleet/desired-codec.ts";
import { FleetLink } from "../../firmware/runtime/fleet-link.ts";
import { freePort, hasMosquitto, Inbox, MosquittoBroker, publish, subscribe } from "./mosquitto-broker.ts";
import { fakeSnapshot, makeDeviceFiles, type DeviceFiles } from "./mosquitto-device.ts";

describe.skipIf(!hasMosquitto)("configuration over the air against Mosquitto", () => {
  const fleetKey = ed25519.utils.randomSecretKey();
  const otherKey = ed25519.utils.randomSecretKey();
  let broker: MosquittoBroker;
  let device: DeviceFiles;
  let link: FleetLink;
  let observer: MqttClient;
  let inbox: Inbox;
  const logs: string[] = [];
  let homeAgentHealthy = true;
  let base: Record<string, any>;

  const topic = (name: string) => `monami/${device.deviceId}/${name}`;
  const storedText = () => readFileSync(device.configPath, "utf8");

  /** A valid config (input form) with `edit` applied. */
  function configWith(edit: (c: Record<string, any>) => void = () => {}): Record<string, any> {
    const c = structuredClone(base);
    edit(c);
    return c;
  }

  function signedDoc(version: number, config: unknown, key = fleetKey): string {
    return JSON.stringify({ version, config, clientToken: `t${version}`, signature: signDesired(version, config, key) });
  }

  async function send(payload: string | Uint8Array, resultMatch: (r: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
    const since = inbox.messages.length;
    await publish(observer, topic("config/desired"), payload);
    return inbox.waitFor((m) => m.topic === topic("config/result") && resultMatch(m.json), 10_000, what, since);
  }

  beforeAll(async () => {
    broker = await MosquittoBroker.start();
    device = makeDeviceFiles(broker, `config-${process.pid}`, (c) => {
      c.ota.config = { watchSeconds: 1, requireSignature: true, signingPublicKeyHex: toHex(ed25519.getPublicKey(fleetKey)) };
    });
    base = JSON.parse(storedText()) as Record<string, any>;
    observer = await broker.observer();
    inbox = new Inbox(observer);
    await subscribe(observer, `monami/${device.deviceId}/#`);
    link = await FleetLink.start({
      configPath: device.configPath,
      firmware: "test",
      snapshot: fakeSnapshot,
      health: { "home-agent": () => homeAgentHealthy, bindings: () => true },
      log: (line) => logs.push(line),
    });
    await inbox.waitFor((m) => m.topic === topic("presence") && m.json.state === "online", 10_000, "device online");
  });

  afterAll(async () => {
    await link?.stop();
    observer?.end(true);
    broker?.cleanup();
    device?.cleanup();
  });

  test("a valid signed document is applied, watched, committed, stored and reported", async () => {
    const before = storedText();
    const config = configWith((c) => {
      c.telemetry.intervalSeconds = 1800;
    });
    await publish(observer, topic("config/desired"), signedDoc(10, config));
    const applied = await inbox.waitFor((m) => m.topic === topic("config/result") && m.json.version === 10 && m.json.status === "applied", 10_000, "applied");
    expect(applied.clientToken).toBe("t10");
    const committed = await inbox.waitFor((m) => m.topic === topic("config/result") && m.json.version === 10 && m.json.status === "committed", 10_000, "committed");
    expect(committed.runningVersion).toBe(10);
    expect(link.running.version).toBe(10);
    expect(JSON.parse(storedText()).telemetry.intervalSeconds).toBe(1800);
    expect(JSON.parse(readFileSync(device.configPath.replace(/\.json$/, ".last-good.json"), "utf8"))).toEqual(JSON.parse(before));
    const reported = await inbox.waitFor((m) => m.topic === topic("state/reported") && m.json.version === 10, 5000, "reported v10");
    expect((reported.config as any).telemetry.intervalSeconds).toBe(1800);
  }, 20_000);

  const refusals: [string, () => string | Uint8Array, string, number | null][] = [
    ["malformed JSON", () => '{"version": 11, "config": {', "malformed-json", null],
    ["wrong types", () => signedDoc(12, configWith((c) => (c.mqtt.keepaliveSeconds = "45"))), "wrong-type", 12],
    ["unknown fields", () => signedDoc(13, configWith((c) => (c.mqtt.keepAlive = 30))), "unknown-field", 13],
    ["an oversized payload", () => signedDoc(14, configWith((c) => (c.device.site = "x".repeat(70_000)))), "oversized", null],
    ["a wrong signature", () => signedDoc(15, configWith(), otherKey), "bad-signature", 15],
    ["a missing signature", () => JSON.stringify({ version: 16, config: configWith() }), "missing-signature", 16],
    ["a stale version", () => signedDoc(9, configWith((c) => (c.telemetry.intervalSeconds = 60))), "stale-version", 9],
    ["a replayed version with other content", () => signedDoc(10, configWith((c) => (c.telemetry.intervalSeconds = 61))), "stale-version", 10],
  ];

  for (const [name, payload, kind, version] of refusals) {
    test(`${name} is refused with a ${kind} result and the running config untouched`, async () => {
      const stored = storedText();
      const running = link.running;
      const result = await send(payload(), (r) => r.status === "rejected" && (r.error as { kind: string }).kind === kind, `${kind} result`);
      expect(result.version).toBe(version);
      expect(result.runningVersion).toBe(10);
      expect(link.running.config).toBe(running.config);
      expect(link.running.version).toBe(running.version);
      expect(storedText()).toBe(stored);
      expect(link.counters.get(`fleet.desired.${kind}`)).toBeGreaterThanOrEqual(1);
    }, 15_000);
  }

  test("schema refusals carry path-precise issues", () => {
    const results = inbox.json(topic("config/result")) as { error?: { kind: string; issues?: { path: string; kind: string }[] } }[];
    const wrongType = results.find((r) => r.error?.kind === "wrong-type");
    expect(wrongType?.error?.issues).toContainEqual(expect.objectContaining({ path: "config.mqtt.keepaliveSeconds", kind: "wrong-type" }));
    const unknown = results.find((r) => r.error?.kind === "unknown-field");
    expect(unknown?.error?.issues).toContainEqual(expect.objectContaining({ path: "config.mqtt.keepAlive", kind: "unknown-field" }));
  });

  test("a config that breaks the broker connection is rolled back automatically and reported", async () => {
    const stored = storedText();
    const deadPort = freePort();
    const broken = configWith((c) => {
      c.telemetry.intervalSeconds = 1800;
      c.mqtt.url = `mqtts://127.0.0.1:${deadPort}`;
    });
    await publish(observer, topic("config/desired"), signedDoc(20, broken));
    // The result is queued while the device is cut off and delivered after the rollback reconnects it.
    const rolledBack = await inbox.waitFor((m) => m.topic === topic("config/result") && m.json.version === 20 && m.json.status === "rolled-back", 15_000, "rolled-back");
    expect(rolledBack.failedChecks).toEqual(["broker"]);
    expect(rolledBack.runningVersion).toBe(10);
    expect(String(rolledBack.reason)).toContain("broker");
    expect(link.running.version).toBe(10);
    expect(storedText()).toBe(stored);
    expect(link.session?.connected).toBe(true);
    expect(link.status().mqtt.broker).toBe(broker.tlsUrl);
    expect(link.counters.get("fleet.config.rolled-back")).toBeGreaterThanOrEqual(1);
  }, 20_000);

  test("a config after which the home agent is unreachable is rolled back", async () => {
    homeAgentHealthy = false;
    try {
      const result = await send(
        signedDoc(21, configWith((c) => (c.selection = { policy: "lowest-rtt" }))),
        (r) => r.version === 21 && r.status === "rolled-back",
        "rolled-back for home-agent",
      );
      expect(result.failedChecks).toEqual(["home-agent"]);
      expect(link.running.version).toBe(10);
    } finally {
      homeAgentHealthy = true;
    }
  }, 15_000);

  test("secrets (PSK, MQTT password, TLS key, inline attempts) never appear in published messages, logs or status", async () => {
    const inline = `inline-secret-${crypto.randomUUID()}`;
    await send(
      signedDoc(30, configWith((c) => (c.mqtt.password = inline))),
      (r) => r.version === 30 && r.status === "rejected",
      "inline password refused",
    );
    link.publishTelemetry();
    await inbox.waitFor((m) => m.topic === topic("telemetry"), 5000, "telemetry");
    // Everything the device published (the test's own desired documents excluded).
    const published = inbox.messages.filter((m) => m.topic !== topic("config/desired")).map((m) => m.payload).join("\n");
    const everything = [published, logs.join("\n"), JSON.stringify(link.status()), broker.log].join("\n");
    const keyBody = readFileSync(broker.clientKeyFile, "utf8").split("\n").filter((l) => l && !l.startsWith("-----"))[0]!;
    for (const secret of [device.psk, broker.password, keyBody, inline]) expect(everything).not.toContain(secret);
    // References are fine to show: they say where a secret lives, not what it is.
    expect(published).toContain("file:");
  }, 15_000);
});
