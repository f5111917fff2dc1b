// Starts the demo's flows in the lab (a two-way voice call lan ↔ cn, a TCP download cn → lan) and collects their reports.

import { resolve } from "node:path";
import type { Lab, LabProcess } from "../lab.ts";
import { bunExecutable, drainLines } from "../role-daemons.ts";
import { ipv6Of } from "../topology.ts";
import type { VoiceOutage } from "./voice-stats.ts";

const TOOL = resolve(import.meta.dir, "traffic-tool.ts");
const VOICE_PORT_LAN = 4000;
const VOICE_PORT_CN = 4001;
const DOWNLOAD_PORT = 5001;

export type VoiceDirection = "up" | "down";

/** One voice receiver's report interval (traffic-tool.ts voice). */
export interface VoiceReport {
  readonly t: number;
  readonly sent: number;
  readonly received: number;
  readonly expected: number;
  readonly lost: number;
  readonly jitterMs: number;
  readonly delayMs?: number;
  readonly maxGapMs: number;
}

export interface VoiceFinal {
  readonly sent: number;
  readonly received: number;
  readonly duplicates: number;
  readonly outages: readonly VoiceOutage[];
}

export interface VoiceTotals {
  /** Packets the far end sent towards this receiver. */
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly outages: readonly VoiceOutage[];
}

/** The latest figures of every flow, updated as reports arrive. */
export interface FlowState {
  /** Latest interval per direction: `up` = lan → cn (received at cn), `down` = cn → lan (received at lan). */
  voice: Partial<Record<VoiceDirection, VoiceReport>>;
  /** Download bytes received so far, and when (tool clock, ms). */
  download: { bytes: number; t: number; connected: boolean; connects: number } | undefined;
}

export interface Traffic {
  readonly state: FlowState;
  /** Stops every flow and returns the end figures. */
  stop(): Promise<{ voice: Record<VoiceDirection, VoiceTotals | undefined>; downloadBytes: number }>;
}

export interface TrafficOptions {
  /** The download server's pace in bit/s (0 = as fast as TCP goes). */
  readonly downloadRateBps: number;
}

function parse(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the flows (server sides first) and resolves once all four programs run. */
export async function startTraffic(lab: Lab, options: TrafficOptions, log: (line: string) => void): Promise<Traffic> {
  const t = lab.topology;
  const lan = ipv6Of(t.lanHost);
  const cn = ipv6Of(t.correspondent);
  const bun = bunExecutable();
  const state: FlowState = { voice: {}, download: undefined };
  const finals: Partial<Record<"lan" | "cn" | "serve" | "fetch", Record<string, unknown>>> = {};
  const processes: LabProcess[] = [];
  const start = (node: "lan" | "cn", name: "lan" | "cn" | "serve" | "fetch", argv: string[], onReport: (r: Record<string, unknown>) => void) => {
    const p = lab.spawn(node, [bun, TOOL, ...argv]);
    processes.push(p);
    const listening = Promise.withResolvers<void>();
    void drainLines(p.process.stdout, (line) => {
      const r = parse(line);
      if (r === undefined) return;
      if (r.listening === true) listening.resolve();
      else if (r.final === true) finals[name] = r;
      else onReport(r);
    });
    void drainLines(p.process.stderr, (line) => log(`${name} traffic: ${line}`));
    return listening.promise;
  };
  const voiceReport = (direction: VoiceDirection) => (r: Record<string, unknown>) => {
    state.voice[direction] = r as unknown as VoiceReport;
  };
  const serving = start("cn", "serve", ["serve", cn, String(DOWNLOAD_PORT), String(options.downloadRateBps)], () => {});
  await Promise.race([serving, Bun.sleep(5000)]);
  void start("cn", "cn", ["voice", cn, String(VOICE_PORT_CN), lan, String(VOICE_PORT_LAN)], voiceReport("up"));
  void start("lan", "lan", ["voice", lan, String(VOICE_PORT_LAN), cn, String(VOICE_PORT_CN)], voiceReport("down"));
  void start("lan", "fetch", ["fetch", cn, String(DOWNLOAD_PORT)], (r) => {
    state.download = { bytes: Number(r.bytes), t: Number(r.t), connected: r.connected === true, connects: Number(r.connects) };
  });
  return {
    state,
    async stop() {
      // Hang up first and let what is in flight arrive, so only real losses count.
      const [cnVoice, lanVoice, serve, fetch] = [processes[1], processes[2], processes[0], processes[3]];
      for (const p of [cnVoice, lanVoice]) p?.process.kill("SIGUSR1");
      await Bun.sleep(1500);
      await Promise.all([cnVoice, lanVoice].map((p) => p?.stop("SIGTERM", 3000)));
      await Promise.all([fetch, serve].map((p) => p?.stop("SIGTERM", 3000)));
      await Bun.sleep(50);
      const totals = (receiver: "lan" | "cn", sender: "lan" | "cn"): VoiceTotals | undefined => {
        const r = finals[receiver];
        const s = finals[sender];
        if (r === undefined || s === undefined) return undefined;
        const sent = Number(s.sent);
        const received = Number(r.received);
        return { sent, received, lost: Math.max(0, sent - received), outages: (r.outages ?? []) as VoiceOutage[] };
      };
      return { voice: { up: totals("cn", "lan"), down: totals("lan", "cn") }, downloadBytes: Number(finals.fetch?.bytes ?? state.download?.bytes ?? 0) };
    },
  };
}
