// Parsers for `iw dev X link` and `iw dev X station dump` (nl80211 text; pin the iw version, its output is not an API).

import type { Counters } from "../../firmware/core/counters.ts";
import { ok, type Result } from "../../firmware/core/result.ts";
import type { LinkMetricsError } from "../api/link-metrics.ts";
import { compact, metricsFailure } from "../modem/text.ts";

export interface IwLink {
  readonly associated: boolean;
  readonly bssid?: string | undefined;
  readonly ssid?: string | undefined;
  readonly frequencyMhz?: number | undefined;
  readonly signalDbm?: number | undefined;
  readonly txBitrateMbps?: number | undefined;
  readonly rxBitrateMbps?: number | undefined;
}

export interface IwStation {
  readonly mac: string;
  readonly inactiveMs?: number | undefined;
  readonly rxBytes?: number | undefined;
  readonly rxPackets?: number | undefined;
  readonly txBytes?: number | undefined;
  readonly txPackets?: number | undefined;
  readonly txRetries?: number | undefined;
  readonly txFailed?: number | undefined;
  readonly beaconLoss?: number | undefined;
  readonly signalDbm?: number | undefined;
  readonly signalAvgDbm?: number | undefined;
  readonly txBitrateMbps?: number | undefined;
  readonly rxBitrateMbps?: number | undefined;
  readonly expectedThroughputMbps?: number | undefined;
  readonly connectedSeconds?: number | undefined;
  readonly authorized?: boolean | undefined;
}

/** `-61 dBm`, `-52 [-54, -56] dBm` (combined first, per-chain in brackets): the combined value. */
export function signalDbm(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^(-\d{1,3})(?:\s*\[[^\]]*\])?\s*dBm$/.exec(value.trim());
  const n = m ? Number(m[1]) : undefined;
  return n !== undefined && n > -150 && n < 0 ? n : undefined;
}

/** `48.0 MBit/s`, `866.7 MBit/s VHT-MCS 9 80MHz short GI VHT-NSS 2`: the rate in Mbit/s. */
export function bitrateMbps(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^(\d{1,6}(?:\.\d{1,3})?)\s*MBit\/s/.exec(value.trim());
  return m ? Number(m[1]) : undefined;
}

/** `47.698Mbps` (iw prints no space) or `47.698 Mbps`. */
function throughputMbps(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^(\d{1,6}(?:\.\d{1,4})?)\s*Mbps$/.exec(value.trim());
  return m ? Number(m[1]) : undefined;
}

function count(value: string | undefined, unit = ""): number | undefined {
  const m = value === undefined ? null : new RegExp(`^(\\d{1,15})${unit ? `\\s*${unit}` : ""}$`).exec(value.trim());
  return m ? Number(m[1]) : undefined;
}

/** `key: value` lines under a header, keyed by lower-case key; the first occurrence wins (top level before MLO links). */
function fields(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    const m = /^\s+([A-Za-z][A-Za-z0-9 ._-]*?):\s*(.*?)\s*$/.exec(line);
    if (m && !out.has(m[1]!.toLowerCase())) out.set(m[1]!.toLowerCase(), m[2]!);
  }
  return out;
}

export function parseIwLink(text: string, counters?: Counters): Result<IwLink, LinkMetricsError> {
  const t = text.trim();
  if (t === "") return metricsFailure("iw-link", "empty", 0, "no output", counters);
  if (/^Not connected\.?$/m.test(t)) return ok({ associated: false });
  const lines = text.split(/\r?\n/);
  const head = lines.findIndex((l) => /^Connected to ([0-9a-f:]{17})/i.test(l));
  if (head < 0) {
    const kind = /^(command failed|nl80211 not found|failed to)/im.test(t) ? "tool-failed" : "malformed";
    return metricsFailure("iw-link", kind, 1, t.split("\n")[0]!.slice(0, 80), counters);
  }
  const f = fields(lines.slice(head + 1));
  return ok(
    compact({
      associated: true,
      bssid: /^Connected to ([0-9a-f:]{17})/i.exec(lines[head]!)![1]!.toLowerCase(),
      ssid: f.get("ssid"),
      frequencyMhz: count(f.get("freq")?.replace(/\.0+$/, "")),
      signalDbm: signalDbm(f.get("signal")),
      txBitrateMbps: bitrateMbps(f.get("tx bitrate")),
      rxBitrateMbps: bitrateMbps(f.get("rx bitrate")),
    }),
  );
}

/**
 * One entry per `Station <mac> (on <iface>)` block. Wi-Fi 7 MLO nests `Link N:` blocks; the station's
 * own lines come first, so top-level values win and per-link values only fill gaps.
 */
export function parseIwStationDump(text: string, counters?: Counters): Result<IwStation[], LinkMetricsError> {
  if (text.trim() === "") return ok([]); // no station: not associated
  const lines = text.split(/\r?\n/);
  const starts = lines.flatMap((l, i) => (/^Station ([0-9a-f:]{17})\b/i.test(l) ? [i] : []));
  if (starts.length === 0) {
    return metricsFailure("iw-station", "malformed", 1, lines[0]!.slice(0, 80), counters);
  }
  const out: IwStation[] = [];
  for (const [k, start] of starts.entries()) {
    const f = fields(lines.slice(start + 1, starts[k + 1] ?? lines.length));
    out.push(
      compact({
        mac: /^Station ([0-9a-f:]{17})/i.exec(lines[start]!)![1]!.toLowerCase(),
        inactiveMs: count(f.get("inactive time"), "ms"),
        rxBytes: count(f.get("rx bytes")),
        rxPackets: count(f.get("rx packets")),
        txBytes: count(f.get("tx bytes")),
        txPackets: count(f.get("tx packets")),
        txRetries: count(f.get("tx retries")),
        txFailed: count(f.get("tx failed")),
        beaconLoss: count(f.get("beacon loss")),
        signalDbm: signalDbm(f.get("signal")),
        signalAvgDbm: signalDbm(f.get("signal avg")),
        txBitrateMbps: bitrateMbps(f.get("tx bitrate")),
        rxBitrateMbps: bitrateMbps(f.get("rx bitrate")),
        expectedThroughputMbps: throughputMbps(f.get("expected throughput")),
        connectedSeconds: count(f.get("connected time"), "seconds"),
        authorized: f.get("authorized") === "yes" ? true : f.get("authorized") === "no" ? false : undefined,
      }),
    );
  }
  return ok(out);
}

/** Retransmissions per transmitted frame between two dumps; undefined when the counters went back or nothing was sent. */
export function retryRatio(previous: IwStation | undefined, current: IwStation): number | undefined {
  if (!previous || previous.mac !== current.mac) return undefined;
  const { txRetries: r0, txPackets: p0 } = previous;
  const { txRetries: r1, txPackets: p1 } = current;
  if (r0 === undefined || p0 === undefined || r1 === undefined || p1 === undefined) return undefined;
  const sent = p1 - p0;
  const retries = r1 - r0;
  if (sent <= 0 || retries < 0) return undefined;
  return Math.min(1, retries / (sent + retries));
}
