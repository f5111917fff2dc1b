// What the device reports: per-link metrics, bindings, SA counters, decisions, system health (telemetry and status).

import type { DeviceConfig } from "../config/schema.ts";

export interface LinkMetrics {
  readonly id: string;
  readonly up: boolean;
  readonly primary: boolean;
  readonly careOfAddress?: string;
  readonly rttMs?: number;
  readonly lossPercent?: number;
  readonly signalDbm?: number;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface BindingState {
  readonly bindingId: number;
  readonly linkId: string;
  readonly careOfAddress: string;
  readonly state: "registering" | "active" | "refreshing" | "expired";
  readonly lifetimeRemainingSeconds: number;
}

export interface SecurityAssociationState {
  /** SPI as 8 hex digits. */
  readonly spi: string;
  readonly direction: "inbound" | "outbound";
  readonly linkId?: string;
  readonly bytes: number;
  readonly packets: number;
  /** Drops by reason (replay, auth, lifetime, selector…). */
  readonly drops: Readonly<Record<string, number>>;
}

/** One uplink decision with its reason, as the selection core explains it. */
export interface DecisionRecord {
  /** Unix time in milliseconds. */
  readonly at: number;
  readonly kind: "handover" | "decision";
  readonly from?: string;
  readonly to: string;
  readonly rule: string;
  readonly reason: string;
  readonly inputs?: Readonly<Record<string, unknown>>;
}

export interface SystemHealth {
  readonly firmwareVersion: string;
  readonly slot?: "a" | "b";
  readonly uptimeSeconds: number;
  readonly cpuPercent?: number;
  readonly memoryUsedBytes: number;
  readonly memoryTotalBytes: number;
}

/** Everything the subsystems know right now; the runtime gathers it from the roles each interval. */
export interface DeviceSnapshot {
  readonly links: readonly LinkMetrics[];
  readonly bindings: readonly BindingState[];
  readonly securityAssociations: readonly SecurityAssociationState[];
  readonly decisions: readonly DecisionRecord[];
  readonly system: SystemHealth;
}

export type MqttConnectionState = "connecting" | "connected" | "waiting" | "stopped";

export interface MqttStatus {
  readonly state: MqttConnectionState;
  readonly protocol: "5" | "3.1.1" | null;
  readonly broker: string;
  readonly clientId: string;
  readonly session: number;
  readonly reconnects: number;
  readonly lastError?: string;
  readonly outbox: { readonly messages: number; readonly bytes: number; readonly dropped: number; readonly maxBytes: number };
}

/** The technician's view served on the control socket (`monami status`). */
export interface StatusDocument extends DeviceSnapshot {
  readonly deviceId: string;
  readonly mqtt: MqttStatus;
  readonly config: { readonly version: number; readonly transaction: "idle" | "watching" };
  readonly counters: Readonly<Record<string, number>>;
}

/** The telemetry body for the configured content selection (`telemetry.include`). */
export function selectTelemetry(snapshot: DeviceSnapshot, include: DeviceConfig["telemetry"]["include"]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (include.links) body.links = snapshot.links;
  if (include.bindings) body.bindings = snapshot.bindings;
  if (include.securityAssociations) body.securityAssociations = snapshot.securityAssociations;
  if (include.decisions) body.decisions = snapshot.decisions;
  if (include.system) body.system = snapshot.system;
  return body;
}
