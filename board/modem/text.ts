// Shared helpers of the metric text parsers: strict number reading and the typed failure that also counts.

import type { Counters } from "../../firmware/core/counters.ts";
import { err, type Err } from "../../firmware/core/result.ts";
import {
  metricsErrorCounter,
  type CellularRadio,
  type LinkMetricsError,
  type MetricsErrorKind,
  type MetricsSourceName,
} from "../api/link-metrics.ts";

/** Builds the parser's error and bumps `board.metrics.<source>.<kind>` when counters are given. */
export function metricsFailure(
  source: MetricsSourceName,
  kind: MetricsErrorKind,
  line: number,
  detail: string,
  counters?: Counters,
): Err<LinkMetricsError> {
  const error: LinkMetricsError = { source, kind, line, detail };
  counters?.increment(metricsErrorCounter(error));
  return err(error);
}

/** A plain decimal (`-71`, `-71.00`, `+3.5`); anything else (`--`, `-`, `12dB`, ``) is undefined. */
export function decimal(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!/^[+-]?\d{1,9}(\.\d{1,9})?$/.test(t)) return undefined;
  return Number(t);
}

/** A plain integer in `[min, max]`, else undefined. */
export function integerIn(text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined || !/^\s*[+-]?\d{1,9}\s*$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

/** Keeps a physical value only when it lies in the range the quantity can take, else undefined. */
export function within(value: number | undefined, min: number, max: number): number | undefined {
  return value !== undefined && value >= min && value <= max ? value : undefined;
}

/** Physically possible ranges used to reject garbage that parses as a number. */
export const RANGE = {
  rssiDbm: [-130, -10],
  rsrpDbm: [-160, -30],
  rsrqDb: [-45, 25],
  sinrDb: [-30, 50],
  rscpDbm: [-130, -10],
  ecioDb: [-30, 0],
} as const satisfies Record<string, readonly [number, number]>;

/** True when at least one signal metric of the snapshot is known. */
export function hasSignal(radio: CellularRadio): boolean {
  return [
    radio.rssiDbm,
    radio.rsrpDbm,
    radio.rsrqDb,
    radio.sinrDb,
    radio.rscpDbm,
    radio.ecioDb,
    radio.nrRsrpDbm,
    radio.nrRsrqDb,
    radio.nrSinrDb,
  ].some((v) => v !== undefined);
}

/** Removes keys whose value is undefined, so snapshots compare and serialise cleanly. */
export function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out as T;
}
