// Drive scenarios: every named scenario loads, scenes lie end to end, `at` reads the right trace at the right offset.
import { describe, expect, test } from "bun:test";
import { DriveScript, findScenario, SCENARIO_NAMES } from "../../../board/lab/demo/scenarios.ts";

function script(name: string): DriveScript {
  const found = findScenario(name);
  if (!found.ok) throw new Error(found.error);
  const s = DriveScript.create(found.value.scenario, found.value.traces);
  if (!s.ok) throw new Error(s.error);
  return s.value;
}

describe("scenarios", () => {
  test.each(SCENARIO_NAMES.map((n) => [n]))("%s loads, its scenes are contiguous, every uplink has a role", (name) => {
    const s = script(name);
    expect(s.scenario.scenes.length).toBeGreaterThan(0);
    expect(s.sceneStarts[0]).toBe(0);
    expect(s.durationMs).toBe(s.scenario.scenes.reduce((a, sc) => a + sc.durationMs, 0));
    for (const name of ["lte", "wifi"] as const) expect(s.scenario.uplinks[name].label.length).toBeGreaterThan(0);
  });

  test("the default drive covers a hotspot, a cell edge, a blackout and a flapping Wi-Fi", () => {
    const s = script("drive");
    expect(s.scenario.scenes.map((sc) => sc.title)).toEqual(["Hotspot at a bus stop", "LTE cell edge", "Tunnel blackout", "Flapping Wi-Fi at a light"]);
    // Blackout: at some moment of scene 3 no uplink is usable.
    const start = s.sceneStarts[2]!;
    const dark = [...Array(34).keys()].some((i) => {
      const m = s.at(start + i * 1000);
      return !(m.uplinks.lte.point?.up ?? false) && !(m.uplinks.wifi.point?.up ?? false);
    });
    expect(dark).toBe(true);
    // Scene 1 reads urban-hotspots from 84 s: 10 s in is 94 s of that trace, where the hotspot is associated.
    const m = s.at(10_000);
    expect(m.sceneIndex).toBe(0);
    expect(m.uplinks.wifi.source).toBe("urban-hotspots/wifi0 @ 94.0 s");
    expect(m.uplinks.wifi.point?.up).toBe(true);
    expect(s.at(start + 1).uplinks.wifi).toEqual({ point: undefined, source: "absent" });
  });

  test("unknown names and missing files are clear errors", () => {
    const unknown = findScenario("moon-base");
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.error).toContain("drive");
    const missing = findScenario("/nonexistent/trace.jsonl");
    expect(missing.ok).toBe(false);
  });

  test("a trace file plays whole, its first cellular link on lte", () => {
    const s = script(`${import.meta.dir}/../../../bench/traces/tunnel-outage.jsonl`);
    expect(s.durationMs).toBe(900_000);
    expect(s.scenario.uplinks.lte.label).toContain("lte-a");
    expect(s.scenario.uplinks.wifi.kind).toBe("cellular");
  });
});
