// One short line per fleet message for the live view (the report keeps the payloads): what a fleet engineer would glance at.

import type { FleetMessage } from "./fleet-broker.ts";

type Json = Record<string, unknown>;

function parse(payload: string): Json | undefined {
  try {
    const v: unknown = JSON.parse(payload);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

const str = (x: unknown) => (typeof x === "string" ? x : typeof x === "number" ? String(x) : "");

/**
 * `…/events {handover}` → `events: handover wifi → lte (failover): primary wifi → lte: wifi is down`;
 * telemetry → the links with primary, health, RTT and loss; metrics → undefined (high rate: counted, not listed).
 */
export function summarizeFleetMessage(m: FleetMessage): string | undefined {
  const leaf = m.topic.split("/").slice(2).join("/") || m.topic;
  const json = parse(m.payload);
  if (leaf === "metrics") return undefined;
  if (json === undefined) return `${leaf}: ${m.payload.slice(0, 120)}`;
  if (leaf === "presence") return `presence: ${str(json.state)}${json.session !== undefined ? ` (session ${str(json.session)})` : ""}${json.reason ? `, ${str(json.reason)}` : ""}`;
  if (leaf === "events") {
    const data = (json.data ?? {}) as Json;
    if (json.type === "handover" || json.type === "decision") {
      const move = data.from && data.to && data.from !== data.to ? ` ${str(data.from)} → ${str(data.to)}` : data.to ? ` ${str(data.to)}` : "";
      return `events #${str(json.seq)}: ${str(json.type)}${move} (${str(data.rule)}): ${str(data.reason)}`;
    }
    return `events #${str(json.seq)}: ${str(json.type)}`;
  }
  if (leaf === "telemetry") {
    const links = Array.isArray(json.links) ? (json.links as Json[]) : [];
    const text = links.map((l) => `${l.primary ? "*" : ""}${str(l.id)} ${str(l.health)}${typeof l.rttMs === "number" ? ` ${l.rttMs} ms` : ""}${typeof l.lossPercent === "number" ? ` ${l.lossPercent} %` : ""}`).join(", ");
    const outbox = (json.outbox ?? {}) as Json;
    return `telemetry #${str(json.seq)}: ${text}${typeof outbox.messages === "number" && outbox.messages > 0 ? ` · outbox ${outbox.messages} queued` : ""}`;
  }
  if (leaf === "state/reported") return `state/reported: config v${str(json.version)}, firmware ${str(json.firmware)}`;
  return `${leaf}: ${m.payload.slice(0, 120)}`;
}
