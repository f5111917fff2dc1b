// Interop with a real Mosquitto: no telemetry lost across a broker restart, outbox across kill -9, bounded outbox in a long outage.

import { afterEach, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import { FleetLink } from "../../firmware/runtime/fleet-link.ts";
import { SqliteOutbox } from "../../firmware/runtime/outbox-sqlite.ts";
import { DeviceChild } from "./mosquitto-child.ts";
import { hasMosquitto, Inbox, MosquittoBroker, subscribe } from "./mosquitto-broker.ts";
import { fakeSnapshot, makeDeviceFiles, type DeviceFiles } from "./mosquitto-device.ts";
import { join } from "node:path";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Sequence numbers seen on the device's outbox topics (telemetry, events, reported state, config results). */
function seqs(inbox: Inbox, deviceId: string): number[] {
  const out: number[] = [];
  for (const m of inbox.messages) {
    if (!m.topic.startsWith(`monami/${deviceId}/`) || m.topic.endsWith("/presence")) continue;
    const seq = (JSON.parse(m.payload) as { seq?: unknown }).seq;
    if (typeof seq === "number") out.push(seq);
  }
  return out;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(20);
  }
}

async function setup(options: { persistence: boolean; edit?: (c: Record<string, any>) => void }): Promise<{ broker: MosquittoBroker; device: DeviceFiles; observer: MqttClient; inbox: Inbox }> {
  const broker = await MosquittoBroker.start({ persistence: options.persistence });
  cleanups.push(() => broker.cleanup());
  const device = makeDeviceFiles(broker, `outbox-${process.pid}-${Math.floor(Math.random() * 1e6)}`, options.edit);
  cleanups.push(() => device.cleanup());
  // The back-end keeps a persistent session, so what the broker accepted while it was away is queued for it.
  const observer = await broker.observer({ clientId: `backend-${device.deviceId}`, clean: false, reconnectPeriod: 100 });
  cleanups.push(() => void observer.end(true));
  const inbox = new Inbox(observer);
  await subscribe(observer, `monami/${device.deviceId}/#`);
  return { broker, device, observer, inbox };
}

describe.skipIf(!hasMosquitto)("durable outbox against Mosquitto", () => {
  test("broker restart mid-stream: every telemetry sequence number arrives", async () => {
    const { broker, device, inbox } = await setup({ persistence: true });
    const link = await FleetLink.start({ configPath: device.configPath, firmware: "test", snapshot: fakeSnapshot, log: () => {} });
    cleanups.push(() => link.stop());
    await until(() => link.session?.connected === true, 10_000, "device connected");

    let appended = 0;
    const stream = setInterval(() => {
      link.publishTelemetry();
      appended++;
    }, 10);
    await Bun.sleep(400);
    await broker.stopProcess(); // mid-stream: the device keeps appending while the broker is gone
    await Bun.sleep(600);
    expect(link.session?.connected).toBe(false);
    await broker.startProcess();
    await Bun.sleep(400);
    clearInterval(stream);

    await until(() => link.status().mqtt.outbox.messages === 0, 15_000, "outbox drained");
    const last = Math.max(...seqs(inbox, device.deviceId), 0);
    await until(() => new Set(seqs(inbox, device.deviceId)).size >= last, 15_000, "observer caught up");
    const seen = [...new Set(seqs(inbox, device.deviceId))].sort((a, b) => a - b);
    expect(appended).toBeGreaterThan(50);
    expect(seen).toEqual(range(1, last));
    expect(inbox.json(`monami/${device.deviceId}/telemetry`).length).toBeGreaterThanOrEqual(appended);
    expect(link.counters.get("mqtt.disconnected")).toBeGreaterThanOrEqual(1);
  }, 40_000);

  test("outbox across kill -9: messages appended while offline are delivered in order by the restarted process", async () => {
    const { broker, device, inbox } = await setup({ persistence: true });
    await broker.stopProcess(); // a long outage: the device cannot reach the broker at all
    const first = new DeviceChild(device.configPath, 30);
    cleanups.push(() => first.kill());
    await first.waitFor((e) => e.appendedAll === 30, 15_000, "30 appends");
    await first.kill();

    const outboxPath = join(device.dir, "outbox.db");
    const stored = new SqliteOutbox(outboxPath, 4 * 1024 * 1024);
    const pending = stored.peek(0, 1000).map((m) => m.seq);
    const telemetryStored = stored.peek(0, 1000).filter((m) => m.topic.endsWith("/telemetry")).length;
    stored.close();
    expect(telemetryStored).toBe(30); // every append that returned survived kill -9

    await broker.startProcess();
    const second = new DeviceChild(device.configPath);
    cleanups.push(() => second.kill());
    const last = pending[pending.length - 1]!;
    await until(() => seqs(inbox, device.deviceId).includes(last), 15_000, "last stored message delivered");
    const received = seqs(inbox, device.deviceId);
    for (const seq of pending) expect(received).toContain(seq);
    // In order: the first delivery of each stored message follows sequence order.
    const firstDelivery = received.filter((s, i) => pending.includes(s) && received.indexOf(s) === i);
    expect(firstDelivery).toEqual(pending);
  }, 40_000);

  test("bounded outbox in a long outage: the oldest are dropped and counted, the newest arrive without gaps", async () => {
    // The back-end's persistent session (subscribed before the outage, kept by the broker across its
    // restart) receives whatever the device drains, however fast the device reconnects: a back-end that
    // subscribed only after the restart could miss a drain that beat its SUBSCRIBE.
    const { broker, device, inbox } = await setup({
      persistence: true,
      edit: (c) => {
        c.telemetry.outbox.maxBytes = 4096;
      },
    });
    await broker.stopProcess();
    const link = await FleetLink.start({ configPath: device.configPath, firmware: "test", snapshot: fakeSnapshot, log: () => {} });
    cleanups.push(() => link.stop());
    for (let i = 0; i < 100; i++) link.publishTelemetry();
    const stats = link.status().mqtt.outbox;
    expect(stats.bytes).toBeLessThanOrEqual(4096);
    expect(stats.dropped).toBeGreaterThan(80);
    expect(link.counters.get("fleet.outbox.dropped")).toBe(stats.dropped);
    const total = stats.dropped + stats.messages; // 100 telemetry + the start event + reported state

    await broker.startProcess();
    await until(() => seqs(inbox, device.deviceId).includes(total), 15_000, "newest message delivered");
    const received = [...new Set(seqs(inbox, device.deviceId))].sort((a, b) => a - b);
    expect(received).toEqual(range(stats.dropped + 1, total));
    // The gap before the first received seq is exactly what the telemetry reports as dropped.
    const lastTelemetry = inbox.json(`monami/${device.deviceId}/telemetry`).at(-1) as { outbox: { dropped: number } };
    // (each snapshot reports the outbox as it was just before that snapshot was appended)
    expect(lastTelemetry.outbox.dropped).toBeGreaterThanOrEqual(stats.dropped - 1);
    expect(lastTelemetry.outbox.dropped).toBeLessThanOrEqual(stats.dropped);
  }, 40_000);
});
