// Parsers for the 3GPP TS 27.007 signal commands AT+CSQ (§8.5) and AT+CESQ (§8.69), with their dBm/dB mappings.

import type { Counters } from "../../firmware/core/counters.ts";
import { ok, type Result } from "../../firmware/core/result.ts";
import type { CellularRadio, LinkMetricsError, MetricsSourceName } from "../api/link-metrics.ts";
import { compact, hasSignal, integerIn, metricsFailure } from "./text.ts";

/** The reply line of `command` (`+CSQ`), skipping echo, blank lines and the final `OK`; or the AT error. */
export function findAtReply(
  text: string,
  prefix: string,
  source: MetricsSourceName,
  counters?: Counters,
): Result<{ fields: string[]; line: number }, LinkMetricsError> {
  if (text.trim() === "") return metricsFailure(source, "empty", 0, "no reply", counters);
  const lines = text.split(/\r\n|\r|\n/);
  for (const [i, line] of lines.entries()) {
    const t = line.trim();
    if (/^(\+CME ERROR|\+CMS ERROR|ERROR)\b/.test(t)) return metricsFailure(source, "tool-failed", i + 1, t.slice(0, 80), counters);
    if (t.toUpperCase().startsWith(`${prefix}:`)) {
      return ok({ fields: t.slice(prefix.length + 1).split(",").map((f) => f.trim()), line: i + 1 });
    }
  }
  return metricsFailure(source, "malformed", 0, `no ${prefix}: line`, counters);
}

/** `<rssi>` of +CSQ (27.007 §8.5): 0 → ≤ −113 dBm, 1 → −111, 2..30 → −109..−53 (−113 + 2n), 31 → ≥ −51; 99 unknown. */
export function csqRssiDbm(n: number): number | undefined {
  return n >= 0 && n <= 31 ? -113 + 2 * n : undefined;
}

export interface CsqReading {
  readonly radio: CellularRadio;
  /** `<ber>` RXQUAL class 0..7 (GSM only); undefined for 99. */
  readonly bitErrorClass?: number | undefined;
}

/** `+CSQ: <rssi>,<ber>`, e.g. `+CSQ: 14,99` → −85 dBm. */
export function parseCsq(text: string, counters?: Counters): Result<CsqReading, LinkMetricsError> {
  const reply = findAtReply(text, "+CSQ", "at-csq", counters);
  if (!reply.ok) return reply;
  const { fields, line } = reply.value;
  if (fields.length !== 2) return metricsFailure("at-csq", "malformed", line, `expected 2 fields, got ${fields.length}`, counters);
  const rssi = integerIn(fields[0], 0, 99);
  const ber = integerIn(fields[1], 0, 99);
  if (rssi === undefined || (rssi > 31 && rssi !== 99)) return metricsFailure("at-csq", "bad-value", line, `rssi '${fields[0]}'`, counters);
  if (ber === undefined || (ber > 7 && ber !== 99)) return metricsFailure("at-csq", "bad-value", line, `ber '${fields[1]}'`, counters);
  const rssiDbm = csqRssiDbm(rssi);
  if (rssiDbm === undefined) return metricsFailure("at-csq", "no-data", line, "rssi 99 (not known or not detectable)", counters);
  return ok({ radio: { kind: "cellular", rssiDbm }, bitErrorClass: ber === 99 ? undefined : ber });
}

/*
 * +CESQ mappings (27.007 §8.69; the ranges come from 45.008, 25.133 and 36.133). Each index n is the
 * lower edge of a 1 dB (or 0.5 dB) bin; index 0 is "below the first edge", reported as that edge minus one step.
 */
/** `<rxlev>` 0..63: −111 + n dBm (0 = < −110, 63 = ≥ −48); 99 unknown. */
export const cesqRxlevDbm = (n: number): number | undefined => (n >= 0 && n <= 63 ? -111 + n : undefined);
/** `<rscp>` 0..96: −121 + n dBm (0 = < −120, 96 = ≥ −25); 255 unknown. */
export const cesqRscpDbm = (n: number): number | undefined => (n >= 0 && n <= 96 ? -121 + n : undefined);
/** `<ecno>` 0..49: −24.5 + n/2 dB (0 = < −24, 49 = ≥ 0); 255 unknown. */
export const cesqEcnoDb = (n: number): number | undefined => (n >= 0 && n <= 49 ? -24.5 + n / 2 : undefined);
/** `<rsrq>` 0..34: −20 + n/2 dB (0 = < −19.5, 34 = ≥ −3); 255 unknown. */
export const cesqRsrqDb = (n: number): number | undefined => (n >= 0 && n <= 34 ? -20 + n / 2 : undefined);
/** `<rsrp>` 0..97: −141 + n dBm (0 = < −140, 97 = ≥ −44); 255 unknown. */
export const cesqRsrpDbm = (n: number): number | undefined => (n >= 0 && n <= 97 ? -141 + n : undefined);
/** NR `<ss_rsrq>` 0..127: −43.5 + n/2 dB (0 = < −43; 38.133 SS-RSRQ table); 255 unknown. */
export const cesqSsRsrqDb = (n: number): number | undefined => (n >= 0 && n <= 127 ? -43.5 + n / 2 : undefined);
/** NR `<ss_rsrp>` 0..127: −157 + n dBm (0 = < −156; 38.133 SS-RSRP table); 255 unknown. */
export const cesqSsRsrpDbm = (n: number): number | undefined => (n >= 0 && n <= 127 ? -157 + n : undefined);
/** NR `<ss_sinr>` 0..127: −23.5 + n/2 dB (0 = < −23; 38.133 SS-SINR table); 255 unknown. */
export const cesqSsSinrDb = (n: number): number | undefined => (n >= 0 && n <= 127 ? -23.5 + n / 2 : undefined);

/**
 * `+CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>` and the Rel-15 form with
 * `,<ss_rsrq>,<ss_rsrp>,<ss_sinr>` appended for NR. Exactly one RAT block is normally known.
 */
export function parseCesq(text: string, counters?: Counters): Result<{ radio: CellularRadio }, LinkMetricsError> {
  const reply = findAtReply(text, "+CESQ", "at-cesq", counters);
  if (!reply.ok) return reply;
  const { fields, line } = reply.value;
  if (fields.length !== 6 && fields.length !== 9) {
    return metricsFailure("at-cesq", "malformed", line, `expected 6 or 9 fields, got ${fields.length}`, counters);
  }
  const limits = [99, 99, 255, 255, 255, 255, 255, 255, 255];
  const raw: number[] = [];
  for (const [i, f] of fields.entries()) {
    const n = integerIn(f, 0, 255);
    if (n === undefined || (n > limits[i]! && n !== 255) || (i < 2 && n > 99)) {
      return metricsFailure("at-cesq", "bad-value", line, `field ${i + 1} '${f.slice(0, 20)}'`, counters);
    }
    raw.push(n);
  }
  const [rxlev, , rscp, ecno, rsrq, rsrp, ssRsrq, ssRsrp, ssSinr] = raw as [number, number, number, number, number, number, ...number[]];
  const nr = ssRsrp !== undefined ? { nrRsrqDb: cesqSsRsrqDb(ssRsrq!), nrRsrpDbm: cesqSsRsrpDbm(ssRsrp), nrSinrDb: cesqSsSinrDb(ssSinr!) } : {};
  const lteKnown = cesqRsrpDbm(rsrp) !== undefined || cesqRsrqDb(rsrq) !== undefined;
  const nrKnown = nr.nrRsrpDbm !== undefined;
  const radio: CellularRadio = compact({
    kind: "cellular" as const,
    access: nrKnown ? (lteKnown ? "nr5g-nsa" : "nr5g-sa") : lteKnown ? "lte" : cesqRscpDbm(rscp) !== undefined ? "umts" : cesqRxlevDbm(rxlev) !== undefined ? "gsm" : undefined,
    rssiDbm: cesqRxlevDbm(rxlev),
    rscpDbm: cesqRscpDbm(rscp),
    ecioDb: cesqEcnoDb(ecno),
    rsrqDb: cesqRsrqDb(rsrq),
    rsrpDbm: cesqRsrpDbm(rsrp),
    ...nr,
  } satisfies CellularRadio);
  if (!hasSignal(radio)) return metricsFailure("at-cesq", "no-data", line, "every field is 'not known'", counters);
  return ok({ radio });
}
