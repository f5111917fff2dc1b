// Interop with a real Mosquitto (TLS + client certificate + password): retained birth, Will after kill -9, session counter, clean offline.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import { DeviceChild } from "./mosquitto-child.ts";
import { hasMosquitto, Inbox, MosquittoBroker, subscribe } from "./mosquitto-broker.ts";
import { makeDeviceFiles, type DeviceFiles } from "./mosquitto-device.ts";

describe.skipIf(!hasMosquitto)("presence against Mosquitto", () => {
  let broker: MosquittoBroker;
  let device: DeviceFiles;
  const children: DeviceChild[] = [];
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    broker = await MosquittoBroker.start();
    device = makeDeviceFiles(broker, `presence-${process.pid}`);
  });

  afterAll(async () => {
    for (const c of children) await c.kill().catch(() => {});
    for (const c of clients) c.end(true);
    broker?.cleanup();
    device?.cleanup();
  });

  const presence = () => `monami/${device.deviceId}/presence`;

  test("birth is retained; kill -9 publishes the retained Will with the same session counter; the next birth counts up", async () => {
    const first = new DeviceChild(device.configPath);
    children.push(first);
    const connected = await first.waitFor((e) => typeof e.connected === "number", 10_000, "first connection");
    const session = connected.connected as number;

    // A back-end that subscribes only now still gets the birth: it is retained.
    const late = await broker.observer();
    clients.push(late);
    const lateInbox = new Inbox(late);
    await subscribe(late, presence());
    const birth = await lateInbox.waitFor((m) => m.topic === presence() && m.json.state === "online", 5000, "retained birth");
    expect(birth.session).toBe(session);
    expect(lateInbox.messages[0]?.retain).toBe(true);

    await first.kill();
    const will = await lateInbox.waitFor((m) => m.topic === presence() && m.json.state === "offline", 10_000, "Will");
    expect(will).toEqual({ state: "offline", session, reason: "lost" });

    // The Will is retained too: a back-end arriving after the death sees it.
    const after = await broker.observer();
    clients.push(after);
    const afterInbox = new Inbox(after);
    await subscribe(after, presence());
    const retained = await afterInbox.waitFor((m) => m.topic === presence(), 5000, "retained Will");
    expect(retained.state).toBe("offline");
    expect(retained.session).toBe(session);

    // A restart connects with a larger counter (persisted in the outbox), so the old Will is recognisably older.
    const second = new DeviceChild(device.configPath);
    children.push(second);
    const rebirth = await lateInbox.waitFor((m) => m.topic === presence() && m.json.state === "online" && (m.json.session as number) > session, 10_000, "rebirth");
    expect(rebirth.session as number).toBeGreaterThan(session);

    // A planned stop publishes a clean retained offline (not the Will) with the current counter.
    await second.terminate();
    const clean = await lateInbox.waitFor((m) => m.topic === presence() && m.json.state === "offline" && m.json.session === rebirth.session, 5000, "clean offline");
    expect(clean.reason).toBe("shutdown");
  }, 40_000);
});
