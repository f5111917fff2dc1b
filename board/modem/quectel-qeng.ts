// Parser for Quectel `AT+QENG="servingcell"`: single-line LTE/NR5G-SA/WCDMA forms and the multi-line EN-DC form.

import type { Counters } from "../../firmware/core/counters.ts";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { CellularAccess, CellularRadio, LinkMetricsError } from "../api/link-metrics.ts";
import { compact, decimal, metricsFailure, RANGE, within } from "./text.ts";

export type QengState = "SEARCH" | "LIMSRV" | "NOCONN" | "CONNECT";

/**
 * How a module encodes SINR. The LTE value is dB on RM500Q and on the EC-series samples we hold
 * (cross-checked against qmicli in the same session); some EC2x manuals document raw 0..250 for −20..+30 dB.
 * The NR5G value on RM500Q tracks qmicli's SNR at 0.1 dB per unit (180 ↔ 18.5 dB). Choose per module model.
 */
export interface QengScales {
  readonly lteSinr: "db" | "fifth-db-minus-20";
  readonly nrSinr: "db" | "tenth-db";
}

export const DEFAULT_QENG_SCALES: QengScales = { lteSinr: "db", nrSinr: "tenth-db" };

export interface QengReading {
  readonly radio: CellularRadio;
  readonly state?: QengState | undefined;
  readonly duplex?: "FDD" | "TDD" | undefined;
  readonly band?: number | undefined;
  /** The undecoded SINR fields, so a caller that knows its module better can re-scale them. */
  readonly rawLteSinr?: number | undefined;
  readonly rawNrSinr?: number | undefined;
}

const RATS = ["LTE", "NR5G-NSA", "NR5G-SA", "WCDMA", "GSM"] as const;
type Rat = (typeof RATS)[number];

function tokens(line: string): string[] {
  const body = line.replace(/^\s*\+QENG:\s*/i, "");
  return body.split(",").map((t) => t.trim().replace(/^"(.*)"$/, "$1"));
}

/** Field positions after the RAT token (Quectel AT manuals; LTE and NSA verified on real captures). */
const OFFSET = {
  LTE: { minFields: 14, rsrp: 11, rsrq: 12, rssi: 13, sinr: 14, band: 7 },
  "NR5G-NSA": { minFields: 6, rsrp: 4, sinr: 5, rsrq: 6 },
  "NR5G-SA": { minFields: 12, rsrp: 10, rsrq: 11, sinr: 12, band: 8 },
  WCDMA: { minFields: 11, rscp: 10, ecio: 11 },
} as const;

export function parseQuectelQeng(
  text: string,
  counters?: Counters,
  scales: QengScales = DEFAULT_QENG_SCALES,
): Result<QengReading, LinkMetricsError> {
  if (text.trim() === "") return metricsFailure("quectel-qeng", "empty", 0, "no reply", counters);
  const lines = text.split(/\r\n|\r|\n/);
  const failed = lines.findIndex((l) => /^\s*(\+CME ERROR|ERROR)\b/.test(l));
  if (failed >= 0) return metricsFailure("quectel-qeng", "tool-failed", failed + 1, lines[failed]!.trim().slice(0, 80), counters);

  let state: QengState | undefined;
  let sawServingCell = false;
  let duplex: "FDD" | "TDD" | undefined;
  let band: number | undefined;
  const values: { -readonly [K in Exclude<keyof CellularRadio, "kind" | "access">]?: number | undefined } = {};
  let rawLteSinr: number | undefined;
  let rawNrSinr: number | undefined;
  const rats = new Set<Rat>();


  for (const [i, line] of lines.entries()) {
    if (!/^\s*\+QENG:/i.test(line)) continue;
    const t = tokens(line);
    let at = 0;
    if (t[0] === "servingcell") {
      sawServingCell = true;
      const s = t[1];
      if (s === "SEARCH" || s === "LIMSRV" || s === "NOCONN" || s === "CONNECT") state = s;
      else return metricsFailure("quectel-qeng", "malformed", i + 1, `unknown state '${(s ?? "").slice(0, 20)}'`, counters);
      at = 2;
    }
    const rat = t[at] as Rat | undefined;
    if (rat === undefined || !RATS.includes(rat)) {
      if (at === 2 && t.length === 2) continue; // the EN-DC header line or SEARCH/LIMSRV with no cell
      return metricsFailure("quectel-qeng", "malformed", i + 1, `no radio access token in '${line.trim().slice(0, 60)}'`, counters);
    }
    const after = t.slice(at + 1);
    const lineNo = i + 1;
    if (rat === "GSM") {
      rats.add(rat);
      continue;
    }
    const need = OFFSET[rat].minFields;
    if (after.length < need) {
      return metricsFailure("quectel-qeng", "malformed", lineNo, `${rat}: ${after.length} fields, need at least ${need}`, counters);
    }
    rats.add(rat);
    let bad: LinkMetricsError | undefined;
    /** Field `offset` (1-based after the RAT token); `-` is unknown; out of range fails the reply. */
    const pick = (name: string, offset: number, range: readonly [number, number]): number | undefined => {
      const raw = after[offset - 1];
      if (raw === undefined || raw === "-" || raw === "") return undefined;
      const value = within(decimal(raw), range[0], range[1]);
      if (value === undefined) bad ??= metricsFailure("quectel-qeng", "bad-value", lineNo, `${rat} ${name} '${raw.slice(0, 20)}'`, counters).error;
      return value;
    };
    switch (rat) {
      case "LTE": {
        const o = OFFSET.LTE;
        duplex = after[0] === "TDD" ? "TDD" : after[0] === "FDD" ? "FDD" : undefined;
        band = decimal(after[o.band - 1]);
        values.rsrpDbm = pick("rsrp", o.rsrp, RANGE.rsrpDbm);
        values.rsrqDb = pick("rsrq", o.rsrq, RANGE.rsrqDb);
        values.rssiDbm = pick("rssi", o.rssi, RANGE.rssiDbm);
        rawLteSinr = decimal(after[o.sinr - 1]);
        values.sinrDb = rawLteSinr === undefined ? undefined : scaleLteSinr(rawLteSinr, scales, lineNo, counters);
        break;
      }
      case "NR5G-NSA": {
        const o = OFFSET["NR5G-NSA"];
        values.nrRsrpDbm = pick("nr rsrp", o.rsrp, RANGE.rsrpDbm);
        values.nrRsrqDb = pick("nr rsrq", o.rsrq, RANGE.rsrqDb);
        rawNrSinr = decimal(after[o.sinr - 1]);
        values.nrSinrDb = rawNrSinr === undefined ? undefined : scaleNrSinr(rawNrSinr, scales, lineNo, counters);
        break;
      }
      case "NR5G-SA": {
        const o = OFFSET["NR5G-SA"];
        duplex = after[0] === "TDD" ? "TDD" : after[0] === "FDD" ? "FDD" : undefined;
        band = decimal(after[o.band - 1]);
        values.nrRsrpDbm = pick("nr rsrp", o.rsrp, RANGE.rsrpDbm);
        values.nrRsrqDb = pick("nr rsrq", o.rsrq, RANGE.rsrqDb);
        rawNrSinr = decimal(after[o.sinr - 1]);
        values.nrSinrDb = rawNrSinr === undefined ? undefined : scaleNrSinr(rawNrSinr, scales, lineNo, counters);
        break;
      }
      case "WCDMA": {
        const o = OFFSET.WCDMA;
        values.rscpDbm = pick("rscp", o.rscp, RANGE.rscpDbm);
        values.ecioDb = pick("ecio", o.ecio, RANGE.ecioDb);
        break;
      }
    }
    if (bad !== undefined) return err(bad);
  }
  if (!sawServingCell && rats.size === 0) return metricsFailure("quectel-qeng", "malformed", 0, "no +QENG: servingcell reply", counters);

  const access: CellularAccess | undefined = rats.has("NR5G-SA")
    ? "nr5g-sa"
    : rats.has("NR5G-NSA")
      ? "nr5g-nsa"
      : rats.has("LTE")
        ? "lte"
        : rats.has("WCDMA")
          ? "umts"
          : rats.has("GSM")
            ? "gsm"
            : state === "SEARCH" || state === "LIMSRV"
              ? "none"
              : undefined;
  return ok(compact({ radio: compact({ kind: "cellular" as const, access, ...values }), state, duplex, band, rawLteSinr, rawNrSinr }));
}

function scaleLteSinr(raw: number, scales: QengScales, line: number, counters?: Counters): number | undefined {
  const db = scales.lteSinr === "db" ? raw : raw / 5 - 20;
  const value = within(db, RANGE.sinrDb[0], RANGE.sinrDb[1]);
  if (value === undefined) metricsFailure("quectel-qeng", "bad-value", line, `lte sinr ${raw} outside the ${scales.lteSinr} scale`, counters);
  return value;
}

function scaleNrSinr(raw: number, scales: QengScales, line: number, counters?: Counters): number | undefined {
  const db = scales.nrSinr === "db" ? raw : raw / 10;
  const value = within(db, RANGE.sinrDb[0], RANGE.sinrDb[1]);
  if (value === undefined) metricsFailure("quectel-qeng", "bad-value", line, `nr sinr ${raw} outside the ${scales.nrSinr} scale`, counters);
  return value;
}
