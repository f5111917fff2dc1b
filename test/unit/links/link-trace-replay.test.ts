// Trace format, replay through LinkMetricsSource on virtual time, and the shipped bench traces.
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import { linkId } from "../../../board/api/link-metrics.ts";
import { LinkTraceReplay, packetFate, parseLinkTrace, seededRandom } from "../../../board/sim/link-trace-replay.ts";
import { VirtualClock } from "../../../firmware/core/instant.ts";

const HEADER = JSON.stringify({
  format: "monami-link-trace",
  version: 1,
  name: "t",
  durationMs: 5000,
  demandKbps: 100,
  links: [
    { id: "lte0", kind: "cellular" },
    { id: "wifi0", kind: "wifi" },
  ],
});
const TEXT = [
  HEADER,
  '{"t":0,"link":"lte0","up":true,"rtt":40,"loss":0,"rsrp":-90,"sinr":12}',
  '{"t":0,"link":"wifi0","up":false,"rtt":0,"loss":1}',
  '{"t":2000,"link":"wifi0","up":true,"rtt":20,"loss":0.5,"signal":-60}',
  '{"t":3000,"demandKbps":5000}',
  '{"t":3000,"link":"lte0","up":false,"rtt":0,"loss":1}',
].join("\n");

describe("link trace format", () => {
  test("parses header, points and demand changes", () => {
    const r = parseLinkTrace(TEXT);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header.links.map((l) => l.id)).toEqual([linkId("lte0"), linkId("wifi0")]);
    expect(r.value.points.get(linkId("wifi0"))!.length).toBe(2);
    expect(r.value.demand).toEqual([{ t: 3000, kbps: 5000 }]);
  });

  test.each([
    ["", "empty trace"],
    ["{not json", "not JSON"],
    [`${HEADER}\n{"t":0,"link":"eth9","up":true,"rtt":1,"loss":0}`, "not in the header"],
    [`${HEADER}\n{"t":0,"link":"lte0","up":"yes","rtt":1,"loss":0}`, "up (boolean)"],
    [`${HEADER}\n{"t":0,"link":"lte0","up":true,"rtt":1,"loss":2}`, "loss (0..1)"],
    [`${HEADER}\n{"t":5,"link":"lte0","up":true,"rtt":1,"loss":0}\n{"t":1,"link":"lte0","up":true,"rtt":1,"loss":0}`, "out of time order"],
    ['{"format":"other","version":1}', "header"],
  ])("rejects %j with a line-numbered error", (text, detail) => {
    const r = parseLinkTrace(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.detail).toContain(detail);
  });

  test("replays through the LinkMetricsSource interface on virtual time", async () => {
    const trace = parseLinkTrace(TEXT);
    if (!trace.ok) throw new Error("fixture");
    const replay = new LinkTraceReplay(trace.value);
    const clock = new VirtualClock(0);
    const wifi = replay.source(linkId("wifi0"));
    const lte = replay.source(linkId("lte0"));
    expect(wifi.kind).toBe("wifi");
    const s0 = await wifi.read(clock.now());
    expect(s0.ok && s0.value.radio).toEqual({ kind: "wifi", associated: false });
    clock.advance(2500);
    const s1 = await wifi.read(clock.now());
    expect(s1.ok && s1.value.radio).toEqual({ kind: "wifi", associated: true, signalDbm: -60, signalAvgDbm: -60 });
    const l1 = await lte.read(clock.now());
    expect(l1.ok && l1.value.radio).toMatchObject({ access: "lte", rsrpDbm: -90, sinrDb: 12 });
    expect(l1.ok && "rsrqDb" in l1.value.radio! ? (l1.value.radio as { rsrqDb?: number }).rsrqDb : undefined).toBeUndefined();
    clock.advance(1000);
    const l2 = await lte.read(clock.now());
    expect(l2.ok && l2.value.radio).toEqual({ kind: "cellular", access: "none" });
    expect(replay.demandKbps(3500)).toBe(5000);
    // Packet fates follow the trace: always lost on a down link, about half lost at loss 0.5.
    const random = seededRandom(7);
    expect(packetFate(replay, linkId("lte0"), 3500, random).lost).toBe(true);
    let lost = 0;
    for (let i = 0; i < 1000; i++) if (packetFate(replay, linkId("wifi0"), 2500, random).lost) lost++;
    expect(lost).toBeGreaterThan(430);
    expect(lost).toBeLessThan(570);
  });

  test("every shipped bench trace parses and covers its duration", async () => {
    const dir = resolve(import.meta.dir, "../../../bench/traces");
    const files = readdirSync(dir).filter((f) => f.endsWith(".jsonl"));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const r = parseLinkTrace(await Bun.file(resolve(dir, f)).text());
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      for (const points of r.value.points.values()) expect(points.at(-1)!.t).toBeGreaterThanOrEqual(r.value.header.durationMs - 1000);
    }
  });
});
