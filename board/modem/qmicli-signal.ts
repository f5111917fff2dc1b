// Parser for libqmi's `qmicli --nas-get-signal-info` (and the older `--nas-get-signal-strength`) text output.

import type { Counters } from "../../firmware/core/counters.ts";
import { ok, type Result } from "../../firmware/core/result.ts";
import type { CellularAccess, CellularRadio, LinkMetricsError } from "../api/link-metrics.ts";
import { compact, decimal, hasSignal, metricsFailure, RANGE, within } from "./text.ts";

export interface QmiSignal {
  readonly radio: CellularRadio;
  readonly warnings: readonly LinkMetricsError[];
}

/** QMI NAS fills an inactive RAT's 16-bit fields with this sentinel (seen on the 5G TLV when NR is idle). */
const QMI_INVALID = -32768;

type Section = "lte" | "5g" | "wcdma" | "gsm" | "other";

function section(name: string): Section {
  const n = name.toLowerCase();
  if (n === "lte") return "lte";
  if (n === "5g" || n === "nr5g") return "5g";
  if (n === "wcdma" || n === "umts") return "wcdma";
  if (n === "gsm") return "gsm";
  return "other";
}

/**
 * Parses the section-per-RAT layout (`LTE:` / `5G:` / `WCDMA:` with `RSRP: '-70 dBm'` lines) and the
 * older per-network layout (`RSSI:` / `Network 'lte': '-70 dBm'`, `LTE RSRP: '…'`, `LTE SNR: '…'`).
 */
export function parseQmicliSignal(text: string, counters?: Counters): Result<QmiSignal, LinkMetricsError> {
  if (text.trim() === "") return metricsFailure("qmicli", "empty", 0, "no output", counters);
  const lines = text.split(/\r?\n/);
  const failed = lines.findIndex((l) => /^\s*error:/i.test(l));
  if (failed >= 0) return metricsFailure("qmicli", "tool-failed", failed + 1, lines[failed]!.trim().slice(0, 200), counters);

  const warnings: LinkMetricsError[] = [];
  const found = new Map<string, number>();
  let current: Section | "measure" = "other";
  let measure = "";
  let recognised = 0;
  let currentNetwork: string | undefined;

  const take = (key: string, raw: string, line: number, range: readonly [number, number]) => {
    const value = decimal(raw);
    if (value === QMI_INVALID || value === QMI_INVALID / 10) return; // the 0.1 dB fields print the sentinel scaled
    const inRange = within(value, range[0], range[1]);
    if (inRange === undefined) {
      warnings.push(metricsFailure("qmicli", "bad-value", line, `${key} = '${raw.slice(0, 40)}'`, counters).error);
      return;
    }
    if (!found.has(key)) found.set(key, inRange);
  };
  const rangeFor = (metric: string): readonly [number, number] | undefined => {
    switch (metric) {
      case "rssi":
        return RANGE.rssiDbm;
      case "rsrp":
        return RANGE.rsrpDbm;
      case "rsrq":
        return RANGE.rsrqDb;
      case "snr":
      case "sinr":
        return RANGE.sinrDb;
      case "ecio":
        return RANGE.ecioDb;
      case "rscp":
        return RANGE.rscpDbm;
      default:
        return undefined;
    }
  };

  for (const [i, raw] of lines.entries()) {
    const line = raw.trimEnd();
    if (/^\[[^\]]*\]\s+Successfully got signal (info|strength)/.test(line)) {
      recognised++;
      continue;
    }
    const header = /^\s*([A-Za-z0-9 ]+):\s*$/.exec(line);
    if (header) {
      const name = header[1]!.trim();
      const rat = section(name);
      if (rat !== "other") current = rat;
      else {
        current = "measure";
        measure = name.toLowerCase();
      }
      continue;
    }
    const network = /^\s*Network '([A-Za-z0-9-]+)':\s*'([^']*?)\s*(dBm|dB)?'\s*$/.exec(line);
    if (network && current === "measure") {
      recognised++;
      const rat = section(network[1]!);
      if (measure === "current") currentNetwork = rat;
      const metric = measure === "current" ? "rssi" : measure;
      const range = rangeFor(metric);
      if (range && rat !== "other") take(`${rat}.${metric}`, network[2]!, i + 1, range);
      continue;
    }
    const kv = /^\s*([A-Za-z0-9 ]+):\s*(?:\(\d+\)\s*)?'([^']*?)\s*(dBm|dB)?'\s*$/.exec(line);
    if (kv) {
      recognised++;
      const key = kv[1]!.trim().toLowerCase();
      const lteKey = /^lte (rsrp|snr|rsrq|rssi)$/.exec(key);
      if (lteKey) {
        take(`lte.${lteKey[1]}`, kv[2]!, i + 1, rangeFor(lteKey[1]!)!);
        continue;
      }
      const range = rangeFor(key);
      if (range && current !== "measure" && current !== "other") take(`${current}.${key}`, kv[2]!, i + 1, range);
    }
  }
  if (recognised === 0) return metricsFailure("qmicli", "malformed", 0, "no qmicli signal lines", counters);

  const get = (key: string) => found.get(key);
  const hasLte = ["lte.rssi", "lte.rsrp", "lte.rsrq", "lte.snr"].some((k) => found.has(k));
  const hasNr = ["5g.rsrp", "5g.rsrq", "5g.snr"].some((k) => found.has(k));
  const hasUmts = ["wcdma.rssi", "wcdma.ecio", "wcdma.rscp"].some((k) => found.has(k));
  const access: CellularAccess | undefined = hasNr
    ? hasLte
      ? "nr5g-nsa"
      : "nr5g-sa"
    : hasLte
      ? "lte"
      : hasUmts
        ? "umts"
        : currentNetwork === "gsm" || found.has("gsm.rssi")
          ? "gsm"
          : undefined;
  const radio: CellularRadio = compact({
    kind: "cellular" as const,
    access,
    rssiDbm: get("lte.rssi") ?? get("wcdma.rssi") ?? get("gsm.rssi"),
    rsrpDbm: get("lte.rsrp"),
    rsrqDb: get("lte.rsrq"),
    sinrDb: get("lte.snr") ?? get("lte.sinr"),
    rscpDbm: get("wcdma.rscp"),
    ecioDb: get("wcdma.ecio"),
    nrRsrpDbm: get("5g.rsrp"),
    nrRsrqDb: get("5g.rsrq"),
    nrSinrDb: get("5g.snr") ?? get("5g.sinr"),
  });
  if (!hasSignal(radio)) return metricsFailure("qmicli", "no-data", 0, "every value is unknown", counters);
  return ok({ radio, warnings });
}
