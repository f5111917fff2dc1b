// Fleet topic names: one device, eleven topics under `{topicPrefix}/{deviceId}/`.

import { err, ok, type Result } from "../core/result.ts";

/**
 * Every topic the device uses. QoS and retain are fixed per topic (see docs/fleet-topics.md):
 * presence (retained, QoS 1, also the Will), telemetry / events / config result (QoS 1, through the outbox),
 * metrics (QoS 0, never stored), reported state (retained, QoS 1, outbox), desired config (subscribed, QoS 1),
 * OTA: job (subscribed), status (retained, outbox), chunk request (QoS 0, direct), chunk (subscribed).
 */
export interface FleetTopics {
  readonly presence: string;
  readonly telemetry: string;
  readonly metrics: string;
  readonly events: string;
  readonly reported: string;
  readonly desired: string;
  readonly result: string;
  readonly otaJob: string;
  readonly otaStatus: string;
  readonly otaChunkRequest: string;
  readonly otaChunk: string;
}

const LEVEL = /^[A-Za-z0-9._-]+$/;

/** Builds the topics; refuses ids or prefixes with wildcards, separators inside a level, or empty levels. */
export function fleetTopics(topicPrefix: string, deviceId: string): Result<FleetTopics, string> {
  if (!LEVEL.test(deviceId)) return err(`device id '${deviceId}' is not a single topic level`);
  const levels = topicPrefix.split("/");
  if (levels.some((l) => !LEVEL.test(l))) return err(`topic prefix '${topicPrefix}' has an empty or wildcard level`);
  const base = `${topicPrefix}/${deviceId}`;
  return ok({
    presence: `${base}/presence`,
    telemetry: `${base}/telemetry`,
    metrics: `${base}/metrics`,
    events: `${base}/events`,
    reported: `${base}/state/reported`,
    desired: `${base}/config/desired`,
    result: `${base}/config/result`,
    otaJob: `${base}/ota/job`,
    otaStatus: `${base}/ota/status`,
    otaChunkRequest: `${base}/ota/chunk/request`,
    otaChunk: `${base}/ota/chunk`,
  });
}
