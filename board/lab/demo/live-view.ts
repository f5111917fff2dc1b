// The demo's live view: an 80×24 terminal frame redrawn in place (ANSI) on a TTY, plain log lines otherwise.

import { type AccessLinkName, ACCESS_LINKS } from "../topology.ts";
import type { DemoEvent, Sample } from "./timeline.ts";
import type { VoiceDirection } from "./traffic.ts";

export const VIEW_WIDTH = 80;
export const VIEW_HEIGHT = 24;

export interface LiveHeader {
  readonly scenario: string;
  readonly mode: string;
  readonly durationMs: number;
  readonly speed: number;
  readonly scenes: readonly { readonly title: string; readonly caption: string }[];
  readonly uplinks: Readonly<Record<AccessLinkName, { readonly label: string; readonly careOfAddress: string }>>;
  readonly reportPath: string;
}

export interface LiveFrame {
  readonly header: LiveHeader;
  readonly sample: Sample | undefined;
  readonly events: readonly DemoEvent[];
  readonly signalling: { readonly bindingUpdates: number; readonly bindingAcks: number; readonly mqtt: number };
  readonly handovers: number;
  readonly downloadBytes: number;
  /** The ESP SPIs, outbound and inbound, shown with the counters. */
  readonly spis: { readonly outbound: string; readonly inbound: string };
}

const ANSI = {
  reset: "\x1b[0m",
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  inverse: "\x1b[7m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  blue: "\x1b[34m",
  magenta: "\x1b[35m",
  cyan: "\x1b[36m",
};
type Color = keyof typeof ANSI;

/** A line of the frame: text segments with an optional color each; the renderer fits it to the width. */
type Segment = readonly [string, (Color | undefined)?];
type Line = readonly Segment[];

const clock = (ms: number) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};
const fixed = (x: number | undefined, digits: number, width: number) => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits)).padStart(width);
/** A percentage in 4 columns: one decimal below 10, none above. */
const percent = (x: number | undefined) => (x === undefined ? "—" : x < 10 ? x.toFixed(1) : x.toFixed(0)).padStart(4);
export const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

const EVENT_COLOR: Record<DemoEvent["kind"], Color> = { scene: "cyan", link: "dim", decision: "blue", handover: "yellow", fleet: "magenta", note: "dim" };
const EVENT_MARK: Record<DemoEvent["kind"], string> = { scene: "▸", link: "·", decision: "?", handover: "⇄", fleet: "✉", note: " " };

export function formatEvent(e: DemoEvent): string {
  return `${fixed(e.tMs / 1000, 1, 6)}s ${EVENT_MARK[e.kind]} ${e.text}`;
}

/** Column titles, built with the widths of `uplinkLine`. */
const UPLINK_HEADER =
  " " + "LINK".padEnd(5) + "RADIO".padStart(7) + " " + "  path loss%" + " probe loss%" + "Mb/s " + "CARE-OF".padEnd(15) + "BINDING".padEnd(11) + "↑Mb/s".padStart(5) + "↓Mb/s".padStart(6);
const shortSpi = (spi: string) => `0x${Number.parseInt(spi, 16).toString(16)}`;

function uplinkLine(name: AccessLinkName, frame: LiveFrame): Line {
  const s = frame.sample?.uplinks[name];
  const active = frame.sample?.active === name;
  const radio = s?.rsrpDbm !== undefined ? `${s.rsrpDbm.toFixed(0)}dBm` : s?.signalDbm !== undefined ? `${s.signalDbm.toFixed(0)}dBm` : "—";
  const cut = s !== undefined && s.emulator !== "ok";
  const path = cut ? (s.emulator === "cut:carrier" ? "no carrier" : "no service").padStart(12) : `${fixed(s?.rttMs, 0, 5)}ms${percent(s?.lossPercent)}%`;
  const probe = s?.probeRttMs === undefined && s?.probeLossPercent === undefined ? "—".padStart(12) : `${fixed(s?.probeRttMs, 0, 5)}ms${percent(s?.probeLossPercent)}%`;
  const probeBad = s?.health === "down" || s?.health === "degraded";
  const binding = s?.binding === undefined ? "—" : s.binding;
  return [
    [active ? "▶" : " ", "green"],
    [`${name.padEnd(5)}`, active ? "bold" : undefined],
    [`${radio.padStart(7)} `],
    [path, cut ? "red" : undefined],
    [probe, probeBad ? "yellow" : undefined],
    [`${fixed(s?.rateMbps, 0, 4)} `],
    [`${frame.header.uplinks[name].careOfAddress.padEnd(14)} `],
    [`${binding.slice(0, 10).padEnd(10)}`, binding === "registered" ? "green" : binding === "—" ? "dim" : "yellow"],
    [s?.atHomeAgent ? "★" : " ", "yellow"],
    [`${fixed(s?.upMbps, 1, 5)}${fixed(s?.downMbps, 1, 6)}`],
  ];
}

function voiceLine(direction: VoiceDirection, frame: LiveFrame): Line {
  const v = frame.sample?.voice[direction];
  const name = direction === "up" ? "voice ↑ lan→cn " : "voice ↓ cn→lan ";
  const gapColor: Color | undefined = v && v.maxGapMs >= 200 ? "red" : undefined;
  return [
    [` ${name} `],
    [`loss ${fixed(v?.lossPercent, 1, 5)} %`, v && v.lossPercent > 1 ? "red" : undefined],
    [`  jitter ${fixed(v?.jitterMs, 1, 5)} ms  delay ${fixed(v?.delayMs, 0, 4)} ms  `],
    [`gap ${fixed(v?.maxGapMs, 0, 5)} ms`, gapColor],
  ];
}

/** The frame's lines (without color codes when `color` is false), each exactly VIEW_WIDTH columns. */
export function renderFrame(frame: LiveFrame, color: boolean): string[] {
  const h = frame.header;
  const s = frame.sample;
  const sceneIndex = s?.scene ?? 0;
  const scene = h.scenes[sceneIndex];
  const lines: Line[] = [];
  lines.push([
    [" monami demo ", "inverse"],
    [` ${h.scenario} · mode ${h.mode} · ${clock(s?.tMs ?? 0)}/${clock(h.durationMs)} ×${h.speed.toFixed(1)} · scene ${sceneIndex + 1}/${h.scenes.length} `],
    [scene?.title ?? "", "cyan"],
  ]);
  lines.push([[` ${scene?.caption ?? ""}`, "dim"]]);
  lines.push([[UPLINK_HEADER, "bold"]]);
  for (const name of ACCESS_LINKS) lines.push(uplinkLine(name, frame));
  lines.push([[` ▶ carries traffic ★ home agent's cache · ${ACCESS_LINKS.map((n) => `${n}: ${h.uplinks[n].label}`).join(" · ")}`, "dim"]]);
  const esp = s?.esp;
  lines.push([
    [" TUNNEL ", "bold"],
    [`ESP ↑ SPI ${shortSpi(frame.spis.outbound)} ${esp?.txPackets ?? 0} pkt ${megabytes(esp?.txBytes ?? 0)} · ↓ SPI ${shortSpi(frame.spis.inbound)} ${esp?.rxPackets ?? 0} pkt ${megabytes(esp?.rxBytes ?? 0)}`],
  ]);
  lines.push([
    [" SIGNAL ", "bold"],
    [`BU ${frame.signalling.bindingUpdates} · BA ${frame.signalling.bindingAcks} · handovers ${frame.handovers} · MQTT messages ${frame.signalling.mqtt}`],
  ]);
  lines.push([[" FLOWS", "bold"]]);
  lines.push(voiceLine("up", frame));
  lines.push(voiceLine("down", frame));
  lines.push([[` download cn→lan  ${fixed(s?.downloadMbps, 2, 6)} Mbit/s   total ${megabytes(frame.downloadBytes)}`]]);
  lines.push([[" ── decisions · handovers · links · fleet (monami/#) " + "─".repeat(VIEW_WIDTH), "dim"]]);
  const logRows = VIEW_HEIGHT - lines.length - 1;
  const recent = frame.events.slice(-logRows);
  for (const e of recent) lines.push([[` ${formatEvent(e)}`, EVENT_COLOR[e.kind]]]);
  while (lines.length < VIEW_HEIGHT - 1) lines.push([[""]]);
  lines.push([[` Ctrl-C stops and tears everything down · report → ${h.reportPath}`, "dim"]]);
  return lines.map((line) => fit(line, color));
}

/** Joins segments, cut or padded to exactly VIEW_WIDTH visible columns. */
function fit(line: Line, color: boolean): string {
  let out = "";
  let used = 0;
  for (const [text, c] of line) {
    if (used >= VIEW_WIDTH) break;
    const chars = [...text];
    const room = VIEW_WIDTH - used;
    const part = chars.length > room ? chars.slice(0, room).join("") : text;
    used += Math.min(chars.length, room);
    out += color && c ? `${ANSI[c]}${part}${ANSI.reset}` : part;
  }
  return out + " ".repeat(VIEW_WIDTH - used);
}

export type ViewMode = "tty" | "plain" | "quiet";

/** Writes frames (TTY) or lines (plain); `quiet` writes nothing until the end. */
export class LiveView {
  readonly mode: ViewMode;
  readonly #write: (text: string) => void;
  #printed = 0;
  #lastStatusMs = -Infinity;
  #started = false;

  constructor(mode: ViewMode, write: (text: string) => void) {
    this.mode = mode;
    this.#write = write;
  }

  /** Shows the frame now (TTY), or prints new events and a status line every 5 s (plain). */
  update(frame: LiveFrame): void {
    if (this.mode === "quiet") return;
    if (this.mode === "tty") {
      if (!this.#started) {
        this.#started = true;
        this.#write("\x1b[?25l\x1b[2J");
      }
      this.#write(`\x1b[H${renderFrame(frame, true).join("\x1b[K\n")}\x1b[K`);
      return;
    }
    for (const e of frame.events.slice(this.#printed)) this.#write(`${formatEvent(e)}\n`);
    this.#printed = frame.events.length;
    const t = frame.sample?.tMs ?? 0;
    if (frame.sample && t - this.#lastStatusMs >= 5000) {
      this.#lastStatusMs = t;
      this.#write(`${statusLine(frame)}\n`);
    }
  }

  /** Leaves the terminal as it was (cursor shown, below the frame). */
  close(): void {
    if (this.mode === "tty" && this.#started) this.#write("\x1b[?25h\n");
    this.#started = false;
  }
}

/** One plain line: time, active uplink, each uplink's path, voice loss and download rate. */
export function statusLine(frame: LiveFrame): string {
  const s = frame.sample!;
  const links = ACCESS_LINKS.map((n) => {
    const u = s.uplinks[n];
    const state = u.emulator !== "ok" ? u.emulator : `${u.rttMs ?? "?"}ms/${(u.lossPercent ?? 0).toFixed(1)}%`;
    return `${s.active === n ? "*" : ""}${n} ${state}${u.atHomeAgent ? " (HA)" : ""}`;
  });
  const v = (d: VoiceDirection) => (s.voice[d] ? `${s.voice[d]!.lossPercent.toFixed(1)}%` : "—");
  return `${fixed(s.tMs / 1000, 1, 6)}s   ${links.join("  ")}  voice loss ↑${v("up")} ↓${v("down")}  download ${s.downloadMbps.toFixed(2)} Mbit/s`;
}
