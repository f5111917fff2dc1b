// Encoders of every payload the device publishes (presence, telemetry, metrics, events, reported state, config results).

import { redactSecrets } from "../config/redact.ts";
import type { DeviceConfig } from "../config/schema.ts";
import type { ConfigResult } from "./config-transaction.ts";

const encoder = new TextEncoder();

function encode(body: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(redactSecrets(body)));
}

export type OfflineReason = "lost" | "reboot" | "shutdown" | "ota";

/**
 * Presence (retained). `session` is the connection counter (Sparkplug bdSeq style): it grows on every
 * connection, the birth and the Will of one connection carry the same value, so a backend discards an
 * `offline` whose session is below the latest `online` it saw (a late Will after a reconnect).
 */
export function presencePayload(
  state: "online" | "offline",
  session: number,
  extra: { reason?: OfflineReason; firmware?: string; at?: number },
): Uint8Array {
  return encode({ state, session, ...extra });
}

/** The common header of every outbox message: `seq` for gap detection and dedupe, `session`, wall-clock `at`. */
export interface Stamp {
  readonly seq: number;
  readonly session: number;
  readonly at: number;
}

export function telemetryPayload(stamp: Stamp, body: Record<string, unknown>): Uint8Array {
  return encode({ ...stamp, ...body });
}

/** High-rate metrics (QoS 0, not stored): no seq, just the sample time. */
export function metricsPayload(at: number, body: Record<string, unknown>): Uint8Array {
  return encode({ at, ...body });
}

export type EventType = "handover" | "decision" | "config" | "outbox-dropped" | "started";

export function eventPayload(stamp: Stamp, type: EventType, data: unknown): Uint8Array {
  return encode({ ...stamp, type, data });
}

/** Reported state (device shadow `reported`): the running config (secrets only as references) and its version. */
export function reportedPayload(stamp: Stamp, version: number, config: DeviceConfig, firmware: string): Uint8Array {
  return encode({ ...stamp, version, firmware, config });
}

export function resultPayload(stamp: Stamp, result: ConfigResult): Uint8Array {
  return encode({ ...stamp, ...result });
}
