// Turns what a demo run recorded into the report document: per-flow figures, handover gaps and the summary table.

import type { LinkDecision } from "../../../../firmware/links/explain.ts";
import { type AccessLinkName, ACCESS_LINKS } from "../../topology.ts";
import type { FleetMessage } from "../fleet-broker.ts";
import type { DriveScript, Scenario } from "../scenarios.ts";
import {
  count,
  type DecisionEntry,
  type DemoEvent,
  type DemoReport,
  downloadStalls,
  type FlowSummary,
  type Handover,
  mean,
  median,
  REPORT_FORMAT,
  REPORT_VERSION,
  type Sample,
  type SummaryRow,
  type UplinkCheck,
} from "../timeline.ts";
import type { VoiceDirection, VoiceTotals } from "../traffic.ts";
import type { VoiceOutage } from "../voice-stats.ts";

export interface ReportInput {
  readonly scenario: Scenario;
  readonly script: DriveScript;
  readonly requestedMode: string;
  readonly mode: string;
  readonly modeNote?: string | undefined;
  readonly durationSeconds: number;
  readonly speed: number;
  readonly daemons: string;
  readonly steering: string;
  readonly careOf: Readonly<Record<AccessLinkName, string>>;
  readonly homeAgent: string;
  readonly homeAddress: string;
  readonly mobileNetworkPrefix: string;
  readonly samples: readonly Sample[];
  readonly events: readonly DemoEvent[];
  readonly handovers: readonly Handover[];
  readonly decisions: readonly LinkDecision[];
  /** Decision records the router reported itself, when it steered. */
  readonly routerDecisions?: readonly DecisionEntry[];
  readonly fleetMessages: readonly FleetMessage[];
  readonly fleetUrl?: string | undefined;
  readonly voice: Readonly<Record<VoiceDirection, VoiceTotals | undefined>>;
  /** The voice tools' clock (CLOCK_MONOTONIC, ms) when the demo's time axis started. */
  readonly hrStartMs: number;
  readonly downloadBytes: number;
  readonly counters: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly uplinkCheck?: UplinkCheck | undefined;
  readonly spis: { readonly outbound: string; readonly inbound: string };
  readonly startedAt?: Date;
}

const VOICE_NAMES: Record<VoiceDirection, string> = { up: "voice ↑ lan → cn", down: "voice ↓ cn → lan" };

function voiceFlow(direction: VoiceDirection, totals: VoiceTotals | undefined, samples: readonly Sample[]): FlowSummary {
  const outages = totals?.outages ?? [];
  const sent = totals?.sent ?? 0;
  const received = totals?.received ?? 0;
  const jitter = samples.flatMap((s) => (s.voice[direction] ? [s.voice[direction]!.jitterMs] : []));
  const delay = samples.flatMap((s) => (s.voice[direction]?.delayMs !== undefined ? [s.voice[direction]!.delayMs!] : []));
  return {
    name: VOICE_NAMES[direction],
    sent,
    received,
    lost: Math.max(0, sent - received),
    lossPercent: sent > 0 ? ((sent - received) / sent) * 100 : 0,
    outages: outages.length,
    outageSeconds: outages.reduce((a, o) => a + o.durationMs, 0) / 1000,
    longestOutageMs: outages.reduce((a, o) => Math.max(a, o.durationMs), 0),
    meanJitterMs: mean(jitter),
    medianDelayMs: median(delay),
  };
}

function downloadFlow(bytes: number, samples: readonly Sample[], seconds: number): FlowSummary {
  const stalls = downloadStalls(samples).filter((s) => s.durationMs >= 1000);
  return {
    name: "download cn → lan (TCP)",
    sent: bytes,
    received: bytes,
    lost: 0,
    lossPercent: 0,
    outages: stalls.length,
    outageSeconds: stalls.reduce((a, s) => a + s.durationMs, 0) / 1000,
    longestOutageMs: stalls.reduce((a, s) => Math.max(a, s.durationMs), 0),
    meanGoodputMbps: seconds > 0 ? (bytes * 8) / 1e6 / seconds : 0,
  };
}

/** The longest voice silence that overlaps the few seconds around a handover, in ms (0 when the call went on). */
export function gapAround(h: Handover, outages: readonly VoiceOutage[]): number {
  let worst = 0;
  for (const o of outages) {
    const end = o.startMs + o.durationMs;
    if (end >= h.tMs - 3000 && o.startMs <= h.tMs + 5000) worst = Math.max(worst, o.durationMs);
  }
  return worst;
}

const sum = (c: Readonly<Record<string, number>> | undefined, re: RegExp) => Object.entries(c ?? {}).reduce((a, [k, v]) => (re.test(k) ? a + v : a), 0);
const pct = (x: number) => `${x.toFixed(x > 0 && x < 0.1 ? 2 : 1)} %`;

export function buildReport(input: ReportInput): DemoReport {
  const samples = input.samples;
  const seconds = samples.length > 1 ? (samples[samples.length - 1]!.tMs - samples[0]!.tMs) / 1000 : input.durationSeconds;
  const toAxis = (o: VoiceOutage): VoiceOutage => ({ startMs: Math.round(o.startMs - input.hrStartMs), durationMs: Math.round(o.durationMs) });
  const voiceOutages: Partial<Record<VoiceDirection, VoiceOutage[]>> = {};
  for (const d of ["up", "down"] as const) if (input.voice[d]) voiceOutages[d] = input.voice[d]!.outages.map(toAxis);
  const flows = [voiceFlow("up", input.voice.up && { ...input.voice.up, outages: voiceOutages.up ?? [] }, samples), voiceFlow("down", input.voice.down && { ...input.voice.down, outages: voiceOutages.down ?? [] }, samples), downloadFlow(input.downloadBytes, samples, seconds)];
  const allVoiceOutages = [...(voiceOutages.up ?? []), ...(voiceOutages.down ?? [])];
  const handovers = input.handovers.map((h) => ({ ...h, voiceGapMs: gapAround(h, allVoiceOutages) }));

  const router = input.counters.router;
  const homeAgent = input.counters.homeAgent;
  const emulator = input.counters.emulator;
  const onLink = new Map<AccessLinkName | undefined, number>();
  for (let i = 1; i < samples.length; i++) onLink.set(samples[i - 1]!.active, (onLink.get(samples[i - 1]!.active) ?? 0) + samples[i]!.tMs - samples[i - 1]!.tMs);
  const total = [...onLink.values()].reduce((a, b) => a + b, 0) || 1;
  const rules = new Map<string, number>();
  for (const h of handovers) rules.set(h.rule, (rules.get(h.rule) ?? 0) + 1);
  const bindingUpdates = router?.["router.bu.sent"] ?? 0;
  const bindingAcks = homeAgent?.["homeagent.ba.sent"] ?? 0;
  const ike = sum(router, /^ike\.(tx|sent)|ike\.messages\.sent/);
  const voice = flows.slice(0, 2);
  const dl = flows[2]!;
  const check = input.uplinkCheck;
  const summary: SummaryRow[] = [
    { label: "Drive", value: `${input.scenario.name}: ${input.scenario.scenes.length} scenes, ${(input.script.durationMs / 1000).toFixed(0)} s of trace in ${input.durationSeconds} s (×${input.speed.toFixed(1)})` },
    { label: "Multi-CoA mode", value: input.mode === input.requestedMode ? input.mode : `${input.mode} (asked for ${input.requestedMode})` },
    {
      label: "Handovers",
      value: handovers.length === 0 ? "none" : `${handovers.length} (${[...rules].map(([r, n]) => `${r} ×${n}`).join(", ")})`,
    },
    {
      label: "Handover time at the home agent",
      value: (() => {
        const times = handovers.flatMap((h) => (h.homeAgentMs !== undefined ? [h.homeAgentMs - h.tMs] : []));
        return times.length === 0 ? "—" : `median ${median(times)!.toFixed(0)} ms, worst ${Math.max(...times).toFixed(0)} ms (decision → binding cache points at the new care-of address)`;
      })(),
    },
    { label: "Time on each uplink", value: ACCESS_LINKS.map((l) => `${l} ${pct(((onLink.get(l) ?? 0) / total) * 100)}`).join(" · ") + (onLink.has(undefined) ? ` · none ${pct(((onLink.get(undefined) ?? 0) / total) * 100)}` : "") },
    {
      label: "Voice outages (silences ≥ 200 ms)",
      value: voice.map((f) => `${f.name.split(" ")[1]} ${f.outages} (${f.outageSeconds.toFixed(1)} s, longest ${f.longestOutageMs.toFixed(0)} ms)`).join(" · "),
    },
    { label: "Voice packets lost", value: voice.map((f) => `${f.name.split(" ")[1]} ${count(f.lost)} of ${count(f.sent)} (${pct(f.lossPercent)})`).join(" · ") },
    { label: "Download", value: `${(dl.sent / 1e6).toFixed(1)} MB, ${dl.meanGoodputMbps!.toFixed(2)} Mbit/s mean, stalled ${dl.outages}× for ${dl.outageSeconds.toFixed(1)} s` },
    {
      label: "Signalling messages",
      value: `${bindingUpdates} BU, ${bindingAcks} BA (Mobility Header under ESP)${ike > 0 ? `, ${ike} IKE` : ""}; ${input.fleetMessages.length} MQTT messages seen on monami/#`,
    },
    {
      label: "ESP (router)",
      value: `out ${input.spis.outbound}: ${count(router?.["esp.tx.packets"] ?? 0)} packets · in ${input.spis.inbound}: ${count(router?.["esp.rx.packets"] ?? 0)} packets · drops ${count(sum(router, /^esp\.drop\./))}`,
    },
    { label: "Lost in the emulated radio", value: `${count(sum(emulator, /\.drop\.loss$/))} random loss, ${count(sum(emulator, /\.drop\.queue$/))} queue, ${count(sum(emulator, /\.drop\.cut$/))} while cut` },
  ];
  if (check) {
    summary.push({
      label: "Plaintext on the uplinks",
      value: check.ok
        ? `none: ${count(check.packets)} packets captured (${check.mode}), all ${count(check.betweenCareOfAndHomeAgent)} between care-of addresses and home agent were ESP/IKE`
        : `FOUND ${check.plaintext} packets in clear, ${check.betweenCareOfAndHomeAgent - check.protectedPackets} unprotected: ${check.offenders.join("; ")}`,
    });
  }
  const startedAt = input.startedAt ?? new Date();
  return {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    meta: {
      scenario: input.scenario.name,
      description: input.scenario.description,
      requestedMode: input.requestedMode,
      mode: input.mode,
      modeNote: input.modeNote,
      startedAt: startedAt.toISOString(),
      durationSeconds: input.durationSeconds,
      speed: input.speed,
      daemons: input.daemons,
      steering: input.steering,
      keying: "static ESP keys from the lab's key files (AES-GCM-128)",
      uplinks: {
        lte: { ...input.scenario.uplinks.lte, careOfAddress: input.careOf.lte },
        wifi: { ...input.scenario.uplinks.wifi, careOfAddress: input.careOf.wifi },
      },
      homeAgent: input.homeAgent,
      homeAddress: input.homeAddress,
      mobileNetworkPrefix: input.mobileNetworkPrefix,
      scenes: input.scenario.scenes.map((s, i) => ({ title: s.title, caption: s.caption, startMs: Math.round(input.script.sceneStarts[i]! / input.speed) })),
      fleet: input.fleetUrl,
    },
    samples,
    events: input.events,
    handovers,
    decisions: [...input.decisions.map((d) => ({ tMs: Math.round(d.at / input.speed), driveMs: d.at, rule: d.rule, link: d.link, summary: d.summary })), ...(input.routerDecisions ?? [])],
    fleetMessages: input.fleetMessages,
    voiceOutages,
    flows,
    counters: input.counters,
    uplinkCheck: check,
    summary,
  };
}

