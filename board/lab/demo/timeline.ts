// What a demo run recorded, as plain data: samples over time, events, handovers, fleet messages and the summary (the JSON report).

import type { AccessLinkName } from "../topology.ts";
import type { FleetMessage } from "./fleet-broker.ts";
import type { VoiceDirection } from "./traffic.ts";
import type { VoiceOutage } from "./voice-stats.ts";

export const REPORT_FORMAT = "monami-demo-report";
export const REPORT_VERSION = 1;

/** One uplink at one sample. */
export interface UplinkSample {
  /** The trace says the link is usable (carrier, association, service). */
  readonly up: boolean;
  /** Path RTT and loss the emulator applies (from the trace); undefined while cut. */
  readonly rttMs?: number | undefined;
  readonly lossPercent?: number | undefined;
  readonly rateMbps?: number | undefined;
  /** Radio: LTE RSRP or Wi-Fi signal, dBm. */
  readonly rsrpDbm?: number | undefined;
  readonly sinrDb?: number | undefined;
  readonly signalDbm?: number | undefined;
  /** `ok`, `cut:carrier` (no carrier at mr) or `cut:blackhole` (nothing passes). */
  readonly emulator: string;
  /** Bytes per second through the emulator on this uplink since the last sample (Mbit/s), each direction. */
  readonly upMbps: number;
  readonly downMbps: number;
  /** The router's binding for this uplink's care-of address: registered, pending, … or undefined. */
  readonly binding?: string | undefined;
  /** The home agent's binding cache steers traffic to this uplink's care-of address. */
  readonly atHomeAgent: boolean;
  /** The router's in-tunnel probes (when its own link engine runs): RTT, loss over the window, health. */
  readonly probeRttMs?: number | undefined;
  readonly probeLossPercent?: number | undefined;
  readonly health?: string | undefined;
}

export interface VoiceSample {
  readonly lossPercent: number;
  readonly jitterMs: number;
  readonly delayMs?: number | undefined;
  readonly maxGapMs: number;
}

export interface Sample {
  /** ms since the drive started (wall clock). */
  readonly tMs: number;
  /** Drive (trace) time, ms. */
  readonly driveMs: number;
  readonly scene: number;
  /** The uplink the router carries traffic on (its status). */
  readonly active?: AccessLinkName | undefined;
  readonly uplinks: Readonly<Record<AccessLinkName, UplinkSample>>;
  readonly voice: Partial<Record<VoiceDirection, VoiceSample>>;
  readonly downloadMbps: number;
  /** The router's ESP counters (cumulative). */
  readonly esp: { readonly txPackets: number; readonly rxPackets: number; readonly txBytes: number; readonly rxBytes: number };
}

export type EventKind = "scene" | "link" | "decision" | "handover" | "fleet" | "note";

export interface DemoEvent {
  readonly tMs: number;
  readonly driveMs: number;
  readonly kind: EventKind;
  readonly text: string;
}

export interface Handover {
  readonly tMs: number;
  readonly driveMs: number;
  readonly from?: AccessLinkName | undefined;
  readonly to: AccessLinkName;
  /** The link policy's rule (firmware/links/explain.ts), or `router` when the router decided on its own. */
  readonly rule: string;
  readonly reason: string;
  /** When the home agent's binding pointed at the new care-of address (ms since start), if seen. */
  readonly homeAgentMs?: number | undefined;
  /** The longest voice silence around the handover (either direction), ms. */
  readonly voiceGapMs?: number | undefined;
}

/** A link-policy decision record, on the report's time axes. */
export interface DecisionEntry {
  readonly tMs: number;
  readonly driveMs: number;
  readonly rule: string;
  readonly link?: string | undefined;
  readonly summary: string;
}

export interface FlowSummary {
  readonly name: string;
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly lossPercent: number;
  /** Silences of at least 200 ms (voice) or seconds without a byte (download). */
  readonly outages: number;
  readonly outageSeconds: number;
  readonly longestOutageMs: number;
  readonly meanJitterMs?: number | undefined;
  readonly medianDelayMs?: number | undefined;
  readonly meanGoodputMbps?: number | undefined;
}

export interface SummaryRow {
  readonly label: string;
  readonly value: string;
}

export interface UplinkCheck {
  readonly mode: "full" | "light";
  /** Packets captured on both uplinks (light: all but plain ESP). */
  readonly packets: number;
  /** Packets between a care-of address and the home agent, and how many of those were ESP / ESP-in-UDP / IKE. */
  readonly betweenCareOfAndHomeAgent: number;
  readonly protectedPackets: number;
  /** Packets that showed an inner address (lan, cn, home address) or a Mobility Header in clear. */
  readonly plaintext: number;
  readonly offenders: readonly string[];
  readonly ok: boolean;
}

export interface DemoReport {
  readonly format: typeof REPORT_FORMAT;
  readonly version: typeof REPORT_VERSION;
  readonly meta: {
    readonly scenario: string;
    readonly description: string;
    readonly requestedMode: string;
    /** The mode the daemons ran, and why it differs from the request when it does. */
    readonly mode: string;
    readonly modeNote?: string | undefined;
    readonly startedAt: string;
    readonly durationSeconds: number;
    readonly speed: number;
    readonly daemons: string;
    readonly steering: string;
    readonly keying: string;
    readonly uplinks: Readonly<Record<AccessLinkName, { readonly label: string; readonly kind: string; readonly careOfAddress: string }>>;
    readonly homeAgent: string;
    readonly homeAddress: string;
    readonly mobileNetworkPrefix: string;
    readonly scenes: readonly { readonly title: string; readonly caption: string; readonly startMs: number }[];
    readonly fleet?: string | undefined;
  };
  readonly samples: readonly Sample[];
  readonly events: readonly DemoEvent[];
  readonly handovers: readonly Handover[];
  readonly decisions: readonly DecisionEntry[];
  readonly fleetMessages: readonly FleetMessage[];
  readonly voiceOutages: Readonly<Partial<Record<VoiceDirection, readonly VoiceOutage[]>>>;
  readonly flows: readonly FlowSummary[];
  readonly counters: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly uplinkCheck?: UplinkCheck | undefined;
  readonly summary: readonly SummaryRow[];
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function mean(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Sample intervals in which the download moved no byte at all, merged into outages (start, length). */
export function downloadStalls(samples: readonly Sample[]): { startMs: number; durationMs: number }[] {
  const stalls: { startMs: number; durationMs: number }[] = [];
  let from: number | undefined;
  for (let i = 1; i < samples.length; i++) {
    const s = samples[i]!;
    const stalled = s.downloadMbps === 0;
    if (stalled && from === undefined) from = samples[i - 1]!.tMs;
    if (!stalled && from !== undefined) {
      stalls.push({ startMs: from, durationMs: s.tMs - from });
      from = undefined;
    }
  }
  const last = samples[samples.length - 1];
  if (from !== undefined && last) stalls.push({ startMs: from, durationMs: last.tMs - from });
  return stalls;
}

/** Thousands separated by a thin space, as the reports print counts. */
export function count(n: number): string {
  return Math.round(n).toLocaleString("en-US").replaceAll(",", " ");
}
