// Parser for `mmcli -m N --signal-get -K` (ModemManager extended signal, key/value output).

import type { Counters } from "../../firmware/core/counters.ts";
import { ok, type Result } from "../../firmware/core/result.ts";
import type { CellularAccess, CellularRadio, LinkMetricsError } from "../api/link-metrics.ts";
import { compact, decimal, hasSignal, metricsFailure, RANGE, within } from "./text.ts";

export interface MmcliSignal {
  readonly radio: CellularRadio;
  /** `modem.signal.refresh.rate` in seconds; 0 means polling was never set up (`--signal-setup=N`). */
  readonly refreshRateS?: number | undefined;
  /** Field-level problems (a value that is neither a number nor `--`); each one was counted. */
  readonly warnings: readonly LinkMetricsError[];
}

/** mmcli prints `--` for MM_SIGNAL_UNKNOWN. */
const UNKNOWN = "--";

/**
 * Parses the `-K` (key/value) form. ModemManager's own table names the NR dictionary `5g`
 * (`modem.signal.5g.rsrp`) while some tools and older builds use `nr5g`: both are accepted.
 * Values print with two decimals in dBm (rssi, rsrp, rscp) or dB (rsrq, snr, ecio).
 */
export function parseMmcliSignal(text: string, counters?: Counters): Result<MmcliSignal, LinkMetricsError> {
  if (text.trim() === "") return metricsFailure("mmcli", "empty", 0, "no output", counters);
  const lines = text.split(/\r?\n/);
  const firstError = lines.findIndex((l) => /^\s*error:/i.test(l));
  if (firstError >= 0) {
    return metricsFailure("mmcli", "tool-failed", firstError + 1, lines[firstError]!.trim().slice(0, 200), counters);
  }
  const values = new Map<string, { raw: string; line: number }>();
  for (const [i, line] of lines.entries()) {
    const m = /^\s*modem\.signal\.([a-z0-9.-]+)\s*:\s*(.*?)\s*$/.exec(line);
    if (m) values.set(m[1]!, { raw: m[2]!, line: i + 1 });
  }
  if (values.size === 0) return metricsFailure("mmcli", "malformed", 0, "no modem.signal.* keys", counters);

  const warnings: LinkMetricsError[] = [];
  const read = (key: string, range: readonly [number, number]): number | undefined => {
    const entry = values.get(key);
    if (entry === undefined || entry.raw === UNKNOWN || entry.raw === "") return undefined;
    const value = within(decimal(entry.raw), range[0], range[1]);
    if (value === undefined) {
      const failure = metricsFailure("mmcli", "bad-value", entry.line, `${key} = '${entry.raw.slice(0, 40)}'`, counters);
      warnings.push(failure.error);
    }
    return value;
  };
  const nr = (field: string, range: readonly [number, number]) => read(`5g.${field}`, range) ?? read(`nr5g.${field}`, range);

  const lte = {
    rssiDbm: read("lte.rssi", RANGE.rssiDbm),
    rsrqDb: read("lte.rsrq", RANGE.rsrqDb),
    rsrpDbm: read("lte.rsrp", RANGE.rsrpDbm),
    sinrDb: read("lte.snr", RANGE.sinrDb),
  };
  const umts = { rssiDbm: read("umts.rssi", RANGE.rssiDbm), rscpDbm: read("umts.rscp", RANGE.rscpDbm), ecioDb: read("umts.ecio", RANGE.ecioDb) };
  const gsmRssi = read("gsm.rssi", RANGE.rssiDbm);
  const nrLeg = { nrRsrpDbm: nr("rsrp", RANGE.rsrpDbm), nrRsrqDb: nr("rsrq", RANGE.rsrqDb), nrSinrDb: nr("snr", RANGE.sinrDb) };

  const hasLte = Object.values(lte).some((v) => v !== undefined);
  const hasNr = Object.values(nrLeg).some((v) => v !== undefined);
  const hasUmts = Object.values(umts).some((v) => v !== undefined);
  const access: CellularAccess | undefined = hasNr
    ? hasLte
      ? "nr5g-nsa"
      : "nr5g-sa"
    : hasLte
      ? "lte"
      : hasUmts
        ? "umts"
        : gsmRssi !== undefined
          ? "gsm"
          : undefined;
  const radio: CellularRadio = compact({
    kind: "cellular" as const,
    access,
    ...lte,
    rssiDbm: lte.rssiDbm ?? umts.rssiDbm ?? gsmRssi,
    rscpDbm: umts.rscpDbm,
    ecioDb: umts.ecioDb,
    ...nrLeg,
  });
  const refreshEntry = values.get("refresh.rate");
  const refreshRateS = refreshEntry ? decimal(refreshEntry.raw) : undefined;
  if (!hasSignal(radio)) {
    const hint = refreshRateS === 0 ? "signal polling is off (refresh rate 0): run --signal-setup" : "every value is unknown";
    return metricsFailure("mmcli", "no-data", 0, hint, counters);
  }
  return ok({ radio, refreshRateS, warnings });
}
