// Interop: behind a gateway that only speaks MQTT 3.1.1, the session falls back from MQTT 5 and still delivers.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import type { MqttClient } from "mqtt";
import { FleetLink } from "../../firmware/runtime/fleet-link.ts";
import { hasMosquitto, Inbox, MosquittoBroker, subscribe } from "./mosquitto-broker.ts";
import { fakeSnapshot, makeDeviceFiles, type DeviceFiles } from "./mosquitto-device.ts";

/** The protocol level byte of an MQTT CONNECT (MQTT 5 §3.1.2.2): after the fixed header and "MQTT". */
function connectProtocolLevel(data: Uint8Array): number | undefined {
  if (data[0] !== 0x10) return undefined;
  let at = 1;
  while (at < data.length && (data[at]! & 0x80) !== 0) at++;
  return data[at + 7];
}

/**
 * A TCP gateway in front of Mosquitto's plain listener that answers an MQTT 5 CONNECT with the 3.1.1
 * refusal (CONNACK return code 1, MQTT 3.1.1 §3.2.2.3) and relays 3.1.1 connections unchanged.
 */
function only311Gateway(upstreamPort: number) {
  let refused = 0;
  const state = new WeakMap<Socket<undefined>, { upstream?: Socket<undefined>; pending: Uint8Array[] }>();
  const server = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(client, data) {
        let s = state.get(client);
        if (!s) {
          if (connectProtocolLevel(data) === 5) {
            refused++;
            client.end(Uint8Array.of(0x20, 0x02, 0x00, 0x01));
            return;
          }
          s = { pending: [Uint8Array.from(data)] };
          state.set(client, s);
          const entry = s;
          void Bun.connect<undefined>({
            hostname: "127.0.0.1",
            port: upstreamPort,
            socket: {
              open(upstream) {
                entry.upstream = upstream;
                for (const chunk of entry.pending.splice(0)) upstream.write(chunk);
              },
              data(_upstream, back) {
                client.write(back);
              },
              close() {
                client.end();
              },
              error() {
                client.end();
              },
            },
          }).catch(() => client.end());
          return;
        }
        if (s.upstream) s.upstream.write(data);
        else s.pending.push(Uint8Array.from(data));
      },
      close(client) {
        state.get(client)?.upstream?.end();
      },
    },
  });
  return { port: server.port, refused: () => refused, stop: () => server.stop(true) };
}

describe.skipIf(!hasMosquitto)("MQTT 3.1.1 fallback", () => {
  let broker: MosquittoBroker;
  let device: DeviceFiles;
  let gateway: ReturnType<typeof only311Gateway>;
  let observer: MqttClient;

  beforeAll(async () => {
    broker = await MosquittoBroker.start();
    gateway = only311Gateway(broker.plainPort);
    device = makeDeviceFiles(broker, `fallback-${process.pid}`, (c) => {
      c.mqtt.url = `mqtt://127.0.0.1:${gateway.port}`;
      delete c.mqtt.tls;
    });
    observer = await broker.observer();
  });

  afterAll(() => {
    observer?.end(true);
    gateway?.stop();
    broker?.cleanup();
    device?.cleanup();
  });

  test("a refused MQTT 5 CONNECT switches the session to 3.1.1, which connects, births and delivers", async () => {
    const inbox = new Inbox(observer);
    await subscribe(observer, `monami/${device.deviceId}/#`);
    const link = await FleetLink.start({ configPath: device.configPath, firmware: "test", snapshot: fakeSnapshot, log: () => {} });
    try {
      const birth = await inbox.waitFor((m) => m.topic.endsWith("/presence") && m.json.state === "online", 10_000, "birth over 3.1.1");
      expect(birth.session as number).toBeGreaterThanOrEqual(2);
      expect(gateway.refused()).toBe(1);
      expect(link.counters.get("mqtt.fallback-311")).toBe(1);
      expect(link.status().mqtt.protocol).toBe("3.1.1");
      link.publishTelemetry();
      const telemetry = await inbox.waitFor((m) => m.topic.endsWith("/telemetry"), 5000, "telemetry over 3.1.1");
      expect(typeof telemetry.seq).toBe("number");
    } finally {
      await link.stop();
    }
  }, 20_000);
});
