// The live view fits an 80×24 terminal exactly, with or without color, and degrades to plain lines.
import { describe, expect, test } from "bun:test";
import { type LiveFrame, LiveView, renderFrame, statusLine, VIEW_HEIGHT, VIEW_WIDTH } from "../../../board/lab/demo/live-view.ts";
import type { Sample } from "../../../board/lab/demo/timeline.ts";

const sample: Sample = {
  tMs: 42_500,
  driveMs: 85_000,
  scene: 1,
  active: "wifi",
  uplinks: {
    lte: { up: true, rttMs: 412, lossPercent: 59.5, rateMbps: 2, rsrpDbm: -119, emulator: "ok", upMbps: 0.1, downMbps: 0.4, binding: "registered", atHomeAgent: false, probeRttMs: 420, probeLossPercent: 55, health: "down" },
    wifi: { up: false, emulator: "cut:carrier", upMbps: 0, downMbps: 0, atHomeAgent: true },
  },
  voice: { up: { lossPercent: 2.5, jitterMs: 3.1, delayMs: 40, maxGapMs: 260 }, down: { lossPercent: 0, jitterMs: 1, delayMs: 20, maxGapMs: 20 } },
  downloadMbps: 5.5,
  esp: { txPackets: 123_456, rxPackets: 234_567, txBytes: 20e6, rxBytes: 300e6 },
};

const frame = (events: number): LiveFrame => ({
  header: {
    scenario: "drive",
    mode: "primary",
    durationMs: 120_000,
    speed: 2,
    scenes: [
      { title: "One", caption: "first" },
      { title: "LTE cell edge", caption: "LTE sinks to −120 dBm with 50 % loss and drops out; a depot-side hotspot is in range and then some more text" },
    ],
    uplinks: { lte: { label: "LTE", careOfAddress: "2001:db8:1::2" }, wifi: { label: "Wi-Fi", careOfAddress: "2001:db8:2::2" } },
    reportPath: "/tmp/monami-demo/a-rather-long-directory-name/for-the-report/report.html",
  },
  sample,
  events: Array.from({ length: events }, (_, i) => ({ tMs: i * 1000, driveMs: i * 2000, kind: i % 2 === 0 ? ("handover" as const) : ("fleet" as const), text: `event ${i} ${"x".repeat(120)}` })),
  signalling: { bindingUpdates: 7, bindingAcks: 7, mqtt: 53 },
  handovers: 3,
  downloadBytes: 12_345_678,
  spis: { outbound: "0x00001001", inbound: "0x00002001" },
});

const visible = (line: string) => [...line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")].length;

describe("live view", () => {
  test.each([[0], [5], [40]])("%i events: exactly 24 lines of 80 columns, colored or not", (events) => {
    for (const color of [true, false]) {
      const lines = renderFrame(frame(events), color);
      expect(lines).toHaveLength(VIEW_HEIGHT);
      for (const line of lines) expect(visible(line)).toBe(VIEW_WIDTH);
    }
  });

  test("the frame shows the active uplink, a cut, the probes, the tunnel counters and the newest events", () => {
    const text = renderFrame(frame(40), false).join("\n");
    expect(text).toContain("▶wifi");
    expect(text).toContain("no carrier");
    expect(text).toContain("420ms");
    expect(text).toContain("SPI 0x1001 123456 pkt");
    expect(text).toContain("event 39");
    expect(text).not.toContain("event 20 ");
  });

  test("plain mode prints each event once and a status line every 5 s; quiet prints nothing", () => {
    const out: string[] = [];
    const view = new LiveView("plain", (t) => out.push(t));
    view.update(frame(3));
    view.update(frame(4));
    expect(out.filter((l) => l.includes("event 0 "))).toHaveLength(1);
    expect(out.filter((l) => l.includes("event 3 "))).toHaveLength(1);
    expect(out.filter((l) => l === `${statusLine(frame(3))}\n`)).toHaveLength(1);
    expect(statusLine(frame(0))).toContain("*wifi cut:carrier (HA)");
    const quiet: string[] = [];
    new LiveView("quiet", (t) => quiet.push(t)).update(frame(3));
    expect(quiet).toEqual([]);
  });
});
