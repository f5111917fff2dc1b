// Trace point → what the lab's link emulator does to that uplink (delay, loss, rate, or a cut), applied only when it changes.

import type { LinkKind } from "../../api/link-metrics.ts";
import type { TracePoint } from "../../sim/link-trace-replay.ts";
import type { CutMode, Lab } from "../lab.ts";
import type { LinkProfile, PathProfile } from "../profiles.ts";
import type { AccessLinkName } from "../topology.ts";

/** Downlink rate at a full radio margin; the uplink gets a third (cellular) or half (Wi-Fi) of it. */
const PEAK_DOWNLINK_BPS: Record<LinkKind, number> = { cellular: 16_000_000, wifi: 30_000_000, wired: 50_000_000 };
const MIN_SHARE = 0.08;
/** Queue of the shaper: about 60 ms at the peak cellular rate, so a full queue shows as delay and then drops. */
const QUEUE_BYTES = 128 * 1024;
const BURST_BYTES = 16 * 1024;

/** The emulator's state for one uplink: a cut (no carrier / nothing passes) or a shaped path. */
export type LinkShape =
  | { readonly kind: "cut"; readonly mode: CutMode; readonly why: string }
  | { readonly kind: "shaped"; readonly profile: LinkProfile; readonly rateBps: number; readonly rttMs: number; readonly loss: number };

/** 0..1: how much of the peak rate the radio allows (RSRP −120…−85 dBm, Wi-Fi −85…−55 dBm), unknown = full. */
function radioShare(kind: LinkKind, p: TracePoint): number {
  const scale = (v: number, low: number, high: number) => Math.min(1, Math.max(MIN_SHARE, (v - low) / (high - low)));
  if (kind === "cellular" && p.rsrpDbm !== undefined) return scale(p.rsrpDbm, -120, -85);
  if (kind === "wifi" && p.signalDbm !== undefined) return scale(p.signalDbm, -85, -55);
  return 1;
}

function path(oneWayMs: number, loss: number, rateBps: number): PathProfile {
  return {
    delayMs: oneWayMs,
    jitterMs: Math.min(20, Math.round(oneWayMs * 0.1)),
    lossProbability: loss,
    rateBitsPerSecond: rateBps,
    burstBytes: BURST_BYTES,
    queueBytes: QUEUE_BYTES,
    reorderProbability: 0,
  };
}

/**
 * What the emulator should do for a trace point. The trace's `rtt` is the round trip through the tunnel, so
 * each direction gets half; its `loss` is per packet on the path, split so a round trip loses `loss` (1 − (1 − l)²).
 * A link that is not up is cut: Wi-Fi loses its carrier (disassociated), a modem without service keeps its
 * interface up while nothing passes (blackhole). An absent point (no such link in the scene) is a carrier cut.
 */
export function shapeFor(kind: LinkKind, point: TracePoint | undefined): LinkShape {
  if (point === undefined) return { kind: "cut", mode: "carrier", why: "no link here" };
  if (!point.up) return kind === "cellular" ? { kind: "cut", mode: "blackhole", why: "no service" } : { kind: "cut", mode: "carrier", why: "not associated" };
  const loss = Math.min(1, Math.max(0, point.loss));
  const perDirection = loss >= 1 ? 1 : round(1 - Math.sqrt(1 - loss), 4);
  const oneWay = Math.max(1, Math.round(point.rttMs / 2));
  const down = Math.round((PEAK_DOWNLINK_BPS[kind] * radioShare(kind, point)) / 250_000) * 250_000;
  const up = Math.round(down / (kind === "cellular" ? 3 : 2));
  return {
    kind: "shaped",
    profile: { uplink: path(oneWay, perDirection, up), downlink: path(oneWay, perDirection, down) },
    rateBps: down,
    rttMs: oneWay * 2,
    loss,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Whether two shapes differ enough to tell the emulator (5 ms, 0.5 % loss, 0.5 Mbit/s steps). */
export function shapeChanged(a: LinkShape | undefined, b: LinkShape): boolean {
  if (a === undefined || a.kind !== b.kind) return true;
  if (a.kind === "cut" && b.kind === "cut") return a.mode !== b.mode;
  if (a.kind !== "shaped" || b.kind !== "shaped") return true;
  return Math.abs(a.rttMs - b.rttMs) >= 10 || Math.abs(a.loss - b.loss) >= 0.005 || Math.abs(a.rateBps - b.rateBps) >= 500_000;
}

/** Keeps the lab's emulator in step with the drive; only changes reach the emulator. */
export class LinkShaper {
  readonly #lab: Lab;
  readonly #applied = new Map<AccessLinkName, LinkShape>();
  /** Called after a carrier comes back (mr's routes via that uplink must be put back). */
  readonly #onCarrierRestored: (name: AccessLinkName) => Promise<void>;
  commands = 0;

  constructor(lab: Lab, onCarrierRestored: (name: AccessLinkName) => Promise<void>) {
    this.#lab = lab;
    this.#onCarrierRestored = onCarrierRestored;
  }

  current(name: AccessLinkName): LinkShape | undefined {
    return this.#applied.get(name);
  }

  /** Applies `shape` to uplink `name` if it differs from what is in force; returns whether anything changed. */
  async apply(name: AccessLinkName, shape: LinkShape): Promise<boolean> {
    const before = this.#applied.get(name);
    if (!shapeChanged(before, shape)) return false;
    this.#applied.set(name, shape);
    this.commands++;
    if (shape.kind === "cut") {
      await this.#lab.cut(name, shape.mode);
      return true;
    }
    const wasCarrierCut = before?.kind === "cut" && before.mode === "carrier";
    if (before?.kind === "cut") await this.#lab.restore(name);
    await this.#lab.setProfile(name, shape.profile);
    if (wasCarrierCut) await this.#onCarrierRestored(name);
    return true;
  }
}
