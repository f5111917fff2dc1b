// Parser for /proc/net/wireless (kernel net/wireless/wext-proc.c): per-interface link quality, level, noise, discards.

import type { Counters } from "../../firmware/core/counters.ts";
import { ok, type Result } from "../../firmware/core/result.ts";
import type { LinkMetricsError } from "../api/link-metrics.ts";
import { compact, metricsFailure } from "../modem/text.ts";

export interface WirelessProcEntry {
  readonly iface: string;
  /** The hex `status` column as printed. */
  readonly status: string;
  readonly linkQuality?: number | undefined;
  /** Signal level in dBm; undefined when the driver reports nothing (0) or a positive (non-dBm) value. */
  readonly levelDbm?: number | undefined;
  /** Noise in dBm; −256 means "no noise figure" and becomes undefined. */
  readonly noiseDbm?: number | undefined;
  readonly discardedRetry?: number | undefined;
  readonly discardedMisc?: number | undefined;
  readonly missedBeacons?: number | undefined;
}

/** The value of a quality column: `49.`, `-61.`, `-256` (a trailing dot marks "updated since last read"). */
function column(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(-?\d{1,6})\.?$/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * Splits on whitespace rather than columns: the header widths do not line up with the rows and long
 * interface names (`wlP1p1s0`) push the fields right. Rows that do not have the 11 fields are counted and skipped.
 */
export function parseProcNetWireless(text: string, counters?: Counters): Result<WirelessProcEntry[], LinkMetricsError> {
  if (text.trim() === "") return metricsFailure("proc-net-wireless", "empty", 0, "empty file", counters);
  const lines = text.split("\n");
  if (!/^\s*Inter-\|/.test(lines[0] ?? "")) return metricsFailure("proc-net-wireless", "malformed", 1, "missing the 'Inter-|' header", counters);
  const out: WirelessProcEntry[] = [];
  for (const [i, line] of lines.entries()) {
    if (i < 2 || line.trim() === "") continue;
    const m = /^\s*([^\s:]+):\s+(.*)$/.exec(line);
    const f = m ? m[2]!.trim().split(/\s+/) : [];
    if (!m || f.length !== 10 || !/^[0-9a-f]{1,4}$/i.test(f[0]!)) {
      metricsFailure("proc-net-wireless", "malformed", i + 1, line.trim().slice(0, 60), counters);
      continue;
    }
    const quality = column(f[1]);
    const level = column(f[2]);
    const noise = column(f[3]);
    const count = (s: string | undefined) => (s !== undefined && /^\d{1,12}$/.test(s) ? Number(s) : undefined);
    const unassociated = quality === 0 && level === 0;
    out.push(
      compact({
        iface: m[1]!,
        status: f[0]!,
        linkQuality: unassociated ? undefined : quality,
        levelDbm: level !== undefined && level < 0 && level > -200 ? level : undefined,
        noiseDbm: noise !== undefined && noise < 0 && noise > -200 ? noise : undefined,
        discardedRetry: count(f[7]),
        discardedMisc: count(f[8]),
        missedBeacons: count(f[9]),
      }),
    );
  }
  return ok(out);
}
