// Link traces on the simulated board: the trace file format, a replay through LinkMetricsSource on virtual time, and probe fates.

import type { Instant } from "../../firmware/core/instant.ts";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { LinkId, LinkKind, LinkMetricsError, LinkMetricsSource, LinkSample } from "../api/link-metrics.ts";
import { linkId } from "../api/link-metrics.ts";

export const TRACE_FORMAT = "monami-link-trace";
export const TRACE_VERSION = 1;

export interface TraceLink {
  readonly id: LinkId;
  readonly kind: LinkKind;
  /** Optional policy hints a recorded trace may carry (preference points, price per GB). */
  readonly preference?: number | undefined;
  readonly costPerGb?: number | undefined;
}

export interface TraceHeader {
  readonly format: typeof TRACE_FORMAT;
  readonly version: typeof TRACE_VERSION;
  readonly name: string;
  readonly description?: string | undefined;
  readonly seed?: number | undefined;
  readonly durationMs: number;
  /** Traffic the vehicle offers (kbit/s) until a demand line changes it. */
  readonly demandKbps: number;
  readonly links: readonly TraceLink[];
}

/**
 * One link's state from `t` until its next point. `up` is the authoritative link state (carrier,
 * association, cellular service); `rttMs` and `loss` are the path as an in-tunnel probe would see it.
 * Radio fields absent = unknown.
 */
export interface TracePoint {
  readonly t: number;
  readonly up: boolean;
  readonly rttMs: number;
  readonly loss: number;
  readonly rsrpDbm?: number | undefined;
  readonly rsrqDb?: number | undefined;
  readonly sinrDb?: number | undefined;
  readonly rssiDbm?: number | undefined;
  readonly signalDbm?: number | undefined;
}

export interface LinkTrace {
  readonly header: TraceHeader;
  readonly points: ReadonlyMap<LinkId, readonly TracePoint[]>;
  /** Demand changes `{ t, kbps }`, in time order (the header's value applies before the first). */
  readonly demand: readonly { readonly t: number; readonly kbps: number }[];
}

function fail(line: number, detail: string): Result<never, LinkMetricsError> {
  return err({ source: "trace", kind: "malformed", line, detail });
}

const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const optNum = (v: unknown): boolean => v === undefined || num(v);

/** Parses a JSON Lines trace (TRACES.md). Never throws; the first bad line is reported with its number. */
export function parseLinkTrace(text: string): Result<LinkTrace, LinkMetricsError> {
  const lines = text.split("\n");
  let header: TraceHeader | undefined;
  const points = new Map<LinkId, TracePoint[]>();
  const demand: { t: number; kbps: number }[] = [];
  for (const [i, raw] of lines.entries()) {
    const lineNo = i + 1;
    if (raw.trim() === "" || raw.startsWith("#")) continue;
    let v: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return fail(lineNo, "not a JSON object");
      v = parsed as Record<string, unknown>;
    } catch {
      return fail(lineNo, "not JSON");
    }
    if (header === undefined) {
      if (v.format !== TRACE_FORMAT || v.version !== TRACE_VERSION) return fail(lineNo, `first line must be a ${TRACE_FORMAT} v${TRACE_VERSION} header`);
      if (typeof v.name !== "string" || !num(v.durationMs) || !num(v.demandKbps) || !Array.isArray(v.links) || v.links.length === 0) {
        return fail(lineNo, "header needs name, durationMs, demandKbps and links");
      }
      const links: TraceLink[] = [];
      for (const l of v.links as unknown[]) {
        const o = l as Record<string, unknown>;
        if (typeof o?.id !== "string" || !["cellular", "wifi", "wired"].includes(o.kind as string) || !optNum(o.preference) || !optNum(o.costPerGb)) {
          return fail(lineNo, "each link needs an id and a kind (cellular, wifi, wired)");
        }
        links.push({ id: linkId(o.id), kind: o.kind as LinkKind, preference: o.preference as number | undefined, costPerGb: o.costPerGb as number | undefined });
        points.set(linkId(o.id), []);
      }
      header = {
        format: TRACE_FORMAT,
        version: TRACE_VERSION,
        name: v.name,
        description: typeof v.description === "string" ? v.description : undefined,
        seed: num(v.seed) ? v.seed : undefined,
        durationMs: v.durationMs,
        demandKbps: v.demandKbps,
        links,
      };
      continue;
    }
    if (!num(v.t) || v.t < 0) return fail(lineNo, "t (ms) must be a non-negative number");
    if (v.link === undefined) {
      if (!num(v.demandKbps) || v.demandKbps < 0) return fail(lineNo, "a line without link must set demandKbps");
      if (demand.length > 0 && demand[demand.length - 1]!.t > v.t) return fail(lineNo, "demand lines out of time order");
      demand.push({ t: v.t, kbps: v.demandKbps });
      continue;
    }
    const list = typeof v.link === "string" ? points.get(linkId(v.link)) : undefined;
    if (list === undefined) return fail(lineNo, `link '${String(v.link)}' is not in the header`);
    if (typeof v.up !== "boolean" || !num(v.rtt) || v.rtt < 0 || !num(v.loss) || v.loss < 0 || v.loss > 1) {
      return fail(lineNo, "a link line needs up (boolean), rtt (ms ≥ 0) and loss (0..1)");
    }
    if (![v.rsrp, v.rsrq, v.sinr, v.rssi, v.signal].every(optNum)) return fail(lineNo, "radio fields must be numbers");
    const last = list[list.length - 1];
    if (last && last.t > v.t) return fail(lineNo, `points of ${String(v.link)} out of time order`);
    list.push({
      t: v.t,
      up: v.up,
      rttMs: v.rtt,
      loss: v.loss,
      rsrpDbm: v.rsrp as number | undefined,
      rsrqDb: v.rsrq as number | undefined,
      sinrDb: v.sinr as number | undefined,
      rssiDbm: v.rssi as number | undefined,
      signalDbm: v.signal as number | undefined,
    });
  }
  if (header === undefined) return fail(0, "empty trace");
  for (const [id, list] of points) if (list.length === 0) return fail(0, `link ${id} has no points`);
  return ok({ header, points, demand });
}

/** Serialises one link point as a trace line (the generator and recorders use this). */
export function formatTracePoint(link: LinkId, p: TracePoint): string {
  const o: Record<string, unknown> = { t: p.t, link, up: p.up, rtt: p.rttMs, loss: p.loss };
  if (p.rsrpDbm !== undefined) o.rsrp = p.rsrpDbm;
  if (p.rsrqDb !== undefined) o.rsrq = p.rsrqDb;
  if (p.sinrDb !== undefined) o.sinr = p.sinrDb;
  if (p.rssiDbm !== undefined) o.rssi = p.rssiDbm;
  if (p.signalDbm !== undefined) o.signal = p.signalDbm;
  return JSON.stringify(o);
}

/** Looks up trace state at any instant (step function: a point holds until the next one). */
export class LinkTraceReplay {
  readonly trace: LinkTrace;
  readonly #cursor = new Map<LinkId, number>();

  constructor(trace: LinkTrace) {
    this.trace = trace;
  }

  /** The point in force at `t` (the first point before the trace starts). Fast for increasing `t`. */
  at(link: LinkId, t: number): TracePoint {
    const list = this.trace.points.get(link);
    if (list === undefined) throw new RangeError(`unknown link ${link}`);
    let i = this.#cursor.get(link) ?? 0;
    if (i >= list.length || list[i]!.t > t) i = 0;
    while (i + 1 < list.length && list[i + 1]!.t <= t) i++;
    this.#cursor.set(link, i);
    return list[i]!;
  }

  demandKbps(t: number): number {
    let kbps = this.trace.header.demandKbps;
    for (const d of this.trace.demand) {
      if (d.t > t) break;
      kbps = d.kbps;
    }
    return kbps;
  }

  /** A LinkMetricsSource for one link of the trace, read at virtual time. */
  source(link: LinkId): LinkMetricsSource {
    const meta = this.trace.header.links.find((l) => l.id === link);
    if (meta === undefined) throw new RangeError(`unknown link ${link}`);
    return {
      link,
      kind: meta.kind,
      read: async (now: Instant) => ok(this.sample(link, meta.kind, now)),
    };
  }

  sample(link: LinkId, kind: LinkKind, now: Instant): LinkSample {
    const p = this.at(link, now);
    const iface = { carrier: p.up, operState: p.up ? ("up" as const) : ("lowerlayerdown" as const) };
    if (kind === "wifi") {
      return {
        link,
        at: now,
        interface: iface,
        radio: p.up ? { kind: "wifi", associated: true, signalDbm: p.signalDbm, signalAvgDbm: p.signalDbm } : { kind: "wifi", associated: false },
      };
    }
    if (kind === "cellular") {
      return {
        link,
        at: now,
        interface: { carrier: true, operState: "up" },
        radio: p.up
          ? { kind: "cellular", access: "lte", rsrpDbm: p.rsrpDbm, rsrqDb: p.rsrqDb, sinrDb: p.sinrDb, rssiDbm: p.rssiDbm }
          : { kind: "cellular", access: "none" },
      };
    }
    return { link, at: now, interface: iface };
  }
}

/** A small seeded generator (mulberry32) so replays, probe fates and generated traces are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What happens to a packet sent on `link` at `t`: lost, or answered after the path RTT (±10 % jitter). */
export function packetFate(replay: LinkTraceReplay, link: LinkId, t: number, random: () => number): { lost: true } | { lost: false; rttMs: number } {
  const p = replay.at(link, t);
  if (!p.up || random() < p.loss) return { lost: true };
  return { lost: false, rttMs: Math.max(1, p.rttMs * (0.9 + 0.2 * random())) };
}
