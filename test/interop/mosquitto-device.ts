// Test helper: a device configuration pointing at a test broker, with its secrets in private files.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeviceSnapshot } from "../../firmware/fleet/telemetry.ts";
import type { MosquittoBroker } from "./mosquitto-broker.ts";

export interface DeviceFiles {
  readonly dir: string;
  readonly configPath: string;
  readonly deviceId: string;
  /** The IKE PSK written to the psk file: must never appear anywhere the device publishes or prints. */
  readonly psk: string;
  cleanup(): void;
}

/** A valid config document (input form) for `deviceId` talking to `broker` over mutual TLS + password. */
export function deviceConfig(broker: MosquittoBroker, dir: string, deviceId: string, port = broker.tlsPort): Record<string, any> {
  return {
    device: { id: deviceId },
    uplinks: [{ id: "lte1", driver: { kind: "simulated", name: "lte1" } }],
    ipsec: { auth: { method: "psk", psk: { ref: `file:${join(dir, "ike-psk")}` } } },
    mobility: { homeAddress: "2001:db8:0:1::42", homeAgent: "2001:db8:0:1::1", mobileNetworkPrefixes: ["2001:db8:42::/48"] },
    mqtt: {
      url: `mqtts://127.0.0.1:${port}`,
      username: broker.username,
      password: { ref: `file:${join(dir, "mqtt-password")}` },
      tls: { caFile: broker.caFile, certificateFile: broker.clientCertFile, privateKey: { ref: `file:${broker.clientKeyFile}` } },
      keepaliveSeconds: 5,
      connectTimeoutMs: 2000,
      reconnect: { initialDelayMs: 50, maxDelayMs: 400, multiplier: 2, jitterRatio: 0.5 },
    },
    telemetry: { intervalSeconds: 3600, metricsIntervalMs: 0, outbox: { path: join(dir, "outbox.db") } },
    ota: { config: { watchSeconds: 1 } },
    control: { socketPath: join(dir, "control.sock") },
  };
}

export function makeDeviceFiles(broker: MosquittoBroker, deviceId: string, edit: (c: Record<string, any>) => void = () => {}): DeviceFiles {
  const dir = mkdtempSync(join(tmpdir(), "monami-h7-device-"));
  mkdirSync(dir, { recursive: true });
  const psk = `psk-${crypto.randomUUID()}`;
  writeFileSync(join(dir, "ike-psk"), `${psk}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "mqtt-password"), `${broker.password}\n`, { mode: 0o600 });
  const config = deviceConfig(broker, dir, deviceId);
  edit(config);
  const configPath = join(dir, "config.json");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return { dir, configPath, deviceId, psk, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function fakeSnapshot(): DeviceSnapshot {
  return {
    links: [{ id: "lte1", up: true, primary: true, careOfAddress: "2001:db8:ffff::42", rttMs: 41, lossPercent: 0, rxBytes: 1000, txBytes: 2000 }],
    bindings: [{ bindingId: 1, linkId: "lte1", careOfAddress: "2001:db8:ffff::42", state: "active", lifetimeRemainingSeconds: 400 }],
    securityAssociations: [{ spi: "c0ffee01", direction: "outbound", linkId: "lte1", bytes: 1500, packets: 10, drops: { replay: 0 } }],
    decisions: [{ at: 1_700_000_000_000, kind: "decision", to: "lte1", rule: "priority", reason: "only uplink up" }],
    system: { firmwareVersion: "test", uptimeSeconds: 12, memoryUsedBytes: 1, memoryTotalBytes: 2 },
  };
}
