// Link score: radio margin and its trend, probe quality, static preference, price, data-bucket pressure and damping.

import type { CellularRadio, LinkSample, WifiRadio } from "../../board/api/link-metrics.ts";
import type { Instant } from "../core/instant.ts";
import type { DataBucket, LinkConfig, LinkPolicyConfig, RadioConfig } from "./config.ts";
import type { ProbeStats } from "./probe-scheduler.ts";

/**
 * Radio margin in dB above the level where the link stops carrying traffic reliably; undefined
 * when the sample has no usable radio value (wired links, or every metric unknown).
 */
export function radioMarginDb(radio: CellularRadio | WifiRadio | undefined, config: RadioConfig): number | undefined {
  if (radio === undefined) return undefined;
  if (radio.kind === "wifi") {
    const signal = radio.signalAvgDbm ?? radio.signalDbm;
    if (signal === undefined) return undefined;
    const retryPenalty = radio.retryRatio !== undefined && radio.retryRatio > config.wifiRetryRatioBad ? config.wifiRetryPenaltyDb : 0;
    return signal - config.wifiSignalFloorDbm - retryPenalty;
  }
  const rsrp = radio.rsrpDbm ?? radio.nrRsrpDbm;
  const sinr = radio.sinrDb ?? radio.nrSinrDb;
  const parts = [rsrp === undefined ? undefined : rsrp - config.rsrpFloorDbm, sinr === undefined ? undefined : sinr - config.sinrFloorDb].filter(
    (v): v is number => v !== undefined,
  );
  return parts.length === 0 ? undefined : Math.min(...parts);
}

export interface TrendPoint {
  readonly at: Instant;
  readonly marginDb: number;
}

/** Least-squares slope in dB per second over the points, or undefined with fewer than `minPoints`. */
export function slopeDbPerSecond(points: readonly TrendPoint[], minPoints: number): number | undefined {
  if (points.length < Math.max(2, minPoints)) return undefined;
  const t0 = points[0]!.at;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    const x = (p.at - t0) / 1000;
    sx += x;
    sy += p.marginDb;
    sxx += x * x;
    sxy += x * p.marginDb;
  }
  const n = points.length;
  const denominator = n * sxx - sx * sx;
  return denominator === 0 ? undefined : (n * sxy - sx * sy) / denominator;
}

/** Probe quality in 0..1: loss dominates (multiplies), RTT and jitter share the rest. Undefined without outcomes. */
export function probeQuality(stats: ProbeStats | undefined, config: LinkPolicyConfig): number | undefined {
  if (stats === undefined || stats.lossRatio === undefined) return undefined;
  const h = config.health;
  const ramp = (value: number | undefined, good: number, bad: number) =>
    value === undefined ? 1 : Math.max(0, Math.min(1, (bad - value) / (bad - good)));
  const loss = ramp(stats.lossRatio, 0, h.failLossRatio);
  const rtt = ramp(stats.rttMs, h.recoverRttMs / 5, h.failRttMs);
  const jitter = ramp(stats.jitterMs, h.recoverJitterMs / 5, h.failJitterMs);
  return loss * (0.6 * rtt + 0.4 * jitter);
}

/**
 * Bucket pressure in 0..1. With a reset date: projected use until the reset over what remains
 * (1 = it will run out). Without (pay-as-you-go): how far below the low-water mark the bucket is.
 */
export function bucketPressure(bucket: DataBucket | undefined, bytesPerSecond: number, now: Instant): number {
  if (bucket === undefined) return 0;
  if (bucket.remainingBytes <= 0) return 1;
  if (bucket.resetsAtMs !== undefined) {
    const projected = (Math.max(0, bucket.resetsAtMs - now) / 1000) * bytesPerSecond;
    return Math.max(0, Math.min(1, (projected / bucket.remainingBytes - 0.5) / 0.5));
  }
  if (bucket.remainingBytes >= bucket.lowWaterBytes) return 0;
  return 1 - bucket.remainingBytes / bucket.lowWaterBytes;
}

export interface ScoreBreakdown {
  readonly total: number;
  readonly preference: number;
  /** Quality points (radio and probes, weighted over what is known). */
  readonly quality: number;
  readonly radio?: number | undefined;
  readonly probe?: number | undefined;
  readonly cost: number;
  readonly bucket: number;
  readonly damping: number;
}

export interface ScoreInputs {
  readonly link: LinkConfig;
  readonly sample?: LinkSample | undefined;
  /** Margin predicted at the horizon (the trend applied); the score uses the lower of now and predicted. */
  readonly marginDb?: number | undefined;
  readonly predictedMarginDb?: number | undefined;
  readonly probe?: ProbeStats | undefined;
  readonly penalty: number;
  readonly bytesPerSecond: number;
  readonly now: Instant;
}

export function scoreLink(input: ScoreInputs, config: LinkPolicyConfig): ScoreBreakdown {
  const w = config.weights;
  const margin =
    input.marginDb === undefined ? undefined : input.predictedMarginDb === undefined ? input.marginDb : Math.min(input.marginDb, input.predictedMarginDb);
  const radio = margin === undefined ? undefined : Math.max(0, Math.min(1, margin / config.radio.fullScoreMarginDb));
  const probe = probeQuality(input.probe, config);
  const parts: [number, number][] = [];
  if (radio !== undefined) parts.push([w.radio, radio]);
  if (probe !== undefined) parts.push([w.probe, probe]);
  const weight = parts.reduce((a, [wt]) => a + wt, 0);
  const quality = w.qualityPoints * (weight === 0 ? 0.5 : parts.reduce((a, [wt, v]) => a + wt * v, 0) / weight);
  const cost = input.link.costPerGb * w.costPointsPerCurrencyPerGb;
  const bucket = w.bucketPressurePoints * bucketPressure(input.link.bucket, input.bytesPerSecond, input.now);
  const damping = (input.penalty / config.damping.penaltyPerFailure) * w.dampingPointsPerFailure;
  const preference = input.link.preference;
  return {
    total: round(preference + quality - cost - bucket - damping),
    preference,
    quality: round(quality),
    radio: radio === undefined ? undefined : round(radio),
    probe: probe === undefined ? undefined : round(probe),
    cost: round(cost),
    bucket: round(bucket),
    damping: round(damping),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
