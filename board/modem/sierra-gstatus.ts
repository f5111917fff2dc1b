// Parser for Sierra Wireless `AT!GSTATUS?`: tab-separated "Label: value" cells whose labels differ by firmware.

import type { Counters } from "../../firmware/core/counters.ts";
import { ok, type Result } from "../../firmware/core/result.ts";
import type { CellularAccess, CellularRadio, LinkMetricsError } from "../api/link-metrics.ts";
import { compact, decimal, hasSignal, metricsFailure, RANGE, within } from "./text.ts";

export interface GstatusReading {
  readonly radio: CellularRadio;
  /** `Mode:` (ONLINE, LOW POWER MODE, …) and `System mode:` (LTE, NR5G, WCDMA, Unknown …) as printed. */
  readonly mode?: string | undefined;
  readonly systemMode?: string | undefined;
  readonly band?: string | undefined;
  readonly warnings: readonly LinkMetricsError[];
}

type Carrier = "PCC" | "SCC" | "NR5G" | "none";

interface Cell {
  readonly carrier: Carrier;
  readonly label: string;
  readonly value: string;
  readonly line: number;
}

/** A tab run, or 2+ spaces before something shaped like a label (`PS state:`), separates two cells. */
const CELL_SEPARATOR = /\t+|\s{2,}(?=[A-Za-z][A-Za-z0-9()/.#-]*(?: [A-Za-z0-9()/.#-]+)*:)/;

/**
 * Splits each line on tab runs (or wide space runs before a label) into `Label: value` cells. A label may carry
 * its carrier (`PCC RxM RSSI`, `SCC RxM RSSI`, `NR5G RSRP (dBm)`); an unprefixed cell inherits the
 * carrier of the first cell on its line (EM7565 prints `PCC RxM RSSI: -45\t\tRSRP (dBm): -81`).
 */
function cells(text: string): Cell[] {
  const out: Cell[] = [];
  for (const [i, line] of text.split(/\r\n|\r|\n/).entries()) {
    let lineCarrier: Carrier = "none";
    for (const [j, part] of line.split(CELL_SEPARATOR).entries()) {
      const m = /^\s*([A-Za-z0-9 ()/.#-]+?):\s*(.*?)\s*$/.exec(part);
      if (!m) continue;
      const label = m[1]!.trim();
      const own = /^(PCC|SCC|NR5G)\b/.exec(label)?.[1] as Carrier | undefined;
      if (j === 0 || own !== undefined) lineCarrier = j === 0 ? (own ?? "none") : lineCarrier;
      out.push({ carrier: own ?? lineCarrier, label, value: m[2]!, line: i + 1 });
    }
  }
  return out;
}

function accessOf(systemMode: string | undefined): CellularAccess | undefined {
  if (systemMode === undefined) return undefined;
  const s = systemMode.toUpperCase();
  if (s.startsWith("NR5G")) return "nr5g-sa";
  if (s.includes("ENDC") || s.includes("EN-DC")) return "nr5g-nsa";
  if (s.startsWith("LTE")) return "lte";
  if (s.startsWith("WCDMA") || s.startsWith("UMTS") || s.startsWith("HSPA")) return "umts";
  if (s.startsWith("GSM")) return "gsm";
  if (s === "UNKNOWN" || s.startsWith("NO SERVICE") || s.startsWith("NONE")) return "none";
  return undefined;
}

/**
 * Reads the primary (PCC) carrier's RSSI/RSRP from the main and diversity chains (the best chain is
 * what the receiver effectively gets), RSRQ and SINR, and the NR5G block of EM919x-class modules.
 */
export function parseSierraGstatus(text: string, counters?: Counters): Result<GstatusReading, LinkMetricsError> {
  if (text.trim() === "") return metricsFailure("sierra-gstatus", "empty", 0, "no reply", counters);
  const errorLine = text.split(/\r\n|\r|\n/).findIndex((l) => /^\s*(\+CME ERROR|ERROR)\b/.test(l));
  if (errorLine >= 0) return metricsFailure("sierra-gstatus", "tool-failed", errorLine + 1, "modem answered ERROR", counters);
  const all = cells(text);
  const known = all.filter((c) => /RSSI|RSRP|RSRQ|SINR|System mode|^Mode$|Tx Power|Cell ID|TAC/i.test(c.label));
  if (known.length === 0) return metricsFailure("sierra-gstatus", "malformed", 0, "no !GSTATUS fields", counters);

  const warnings: LinkMetricsError[] = [];
  const numbers = (carrier: Carrier | "any", label: RegExp, range: readonly [number, number]): number[] => {
    const out: number[] = [];
    for (const c of all) {
      if ((carrier !== "any" && c.carrier !== carrier) || !label.test(c.label)) continue;
      if (c.value === "--" || c.value === "") continue;
      const first = /^(-?\d+(?:\.\d+)?)/.exec(c.value)?.[1];
      const v = within(decimal(first), range[0], range[1]);
      if (v === undefined) warnings.push(metricsFailure("sierra-gstatus", "bad-value", c.line, `${c.label} = '${c.value.slice(0, 30)}'`, counters).error);
      else out.push(v);
    }
    return out;
  };
  const best = (xs: number[]) => (xs.length === 0 ? undefined : Math.max(...xs));
  const first = (xs: number[]) => xs[0];
  const labelValue = (re: RegExp) => all.find((c) => re.test(c.label))?.value;

  const systemMode = labelValue(/^System mode$/i);
  const mode = labelValue(/^Mode$/i);
  const lteCarrier: Carrier | "any" = all.some((c) => c.carrier === "PCC") ? "PCC" : "any";
  const radio: CellularRadio = compact({
    kind: "cellular" as const,
    access: accessOf(systemMode),
    rssiDbm: best(numbers(lteCarrier, /^(PCC )?Rx[MD] RSSI$|^RSSI \(dBm\)$/i, RANGE.rssiDbm)),
    rsrpDbm: best(numbers(lteCarrier, /^(PCC )?Rx[MD] RSRP$|^RSRP \(dBm\)$/i, RANGE.rsrpDbm)),
    rsrqDb: first(numbers("any", /^RSRQ \(dB\)$/i, RANGE.rsrqDb)),
    sinrDb: first(numbers("any", /^SINR \(dB\)$/i, RANGE.sinrDb)),
    nrRsrpDbm: first(numbers("NR5G", /^NR5G RSRP \(dBm\)$/i, RANGE.rsrpDbm)),
    nrRsrqDb: first(numbers("NR5G", /^NR5G RSRQ \(dB\)$/i, RANGE.rsrqDb)),
    nrSinrDb: first(numbers("NR5G", /^NR5G SINR \(dB\)$/i, RANGE.sinrDb)),
  } satisfies CellularRadio);
  const band = labelValue(/^(LTE band|Band)$/i);
  if (!hasSignal(radio)) {
    if (radio.access === "none" || /LOW POWER/i.test(mode ?? "")) {
      return ok(compact({ radio: { kind: "cellular" as const, access: "none" as const }, mode, systemMode, band, warnings }));
    }
    return metricsFailure("sierra-gstatus", "no-data", 0, "no signal values", counters);
  }
  return ok(compact({ radio, mode, systemMode, band, warnings }));
}
