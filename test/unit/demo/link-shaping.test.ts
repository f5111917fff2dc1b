// Trace point → emulator settings: cuts by link kind, RTT split per direction, loss split per round trip, radio-scaled rate.
import { describe, expect, test } from "bun:test";
import { shapeChanged, shapeFor } from "../../../board/lab/demo/link-shaping.ts";
import type { TracePoint } from "../../../board/sim/link-trace-replay.ts";

const point = (p: Partial<TracePoint>): TracePoint => ({ t: 0, up: true, rttMs: 60, loss: 0, ...p });

describe("shapeFor", () => {
  test("a link that is not up is cut: Wi-Fi loses its carrier, a modem without service blackholes; absent = carrier", () => {
    expect(shapeFor("wifi", point({ up: false }))).toMatchObject({ kind: "cut", mode: "carrier" });
    expect(shapeFor("cellular", point({ up: false }))).toMatchObject({ kind: "cut", mode: "blackhole" });
    expect(shapeFor("cellular", undefined)).toMatchObject({ kind: "cut", mode: "carrier" });
  });

  test("half the RTT each way; the round trip loses what the trace says", () => {
    const s = shapeFor("cellular", point({ rttMs: 120, loss: 0.19, rsrpDbm: -85 }));
    if (s.kind !== "shaped") throw new Error("expected a shaped link");
    expect(s.profile.uplink.delayMs).toBe(60);
    expect(s.profile.downlink.delayMs).toBe(60);
    const each = s.profile.uplink.lossProbability;
    expect(1 - (1 - each) ** 2).toBeCloseTo(0.19, 3);
    expect(s.rttMs).toBe(120);
  });

  test("the rate follows the radio: a weak LTE gets a small share, the uplink a third of the downlink", () => {
    const strong = shapeFor("cellular", point({ rsrpDbm: -80 }));
    const weak = shapeFor("cellular", point({ rsrpDbm: -115 }));
    if (strong.kind !== "shaped" || weak.kind !== "shaped") throw new Error("expected shaped links");
    expect(strong.rateBps).toBe(16_000_000);
    expect(weak.rateBps).toBeLessThan(strong.rateBps / 4);
    expect(strong.profile.uplink.rateBitsPerSecond).toBe(Math.round(16_000_000 / 3));
    expect(shapeFor("wifi", point({ loss: 1 }))).toMatchObject({ kind: "shaped", loss: 1 });
  });

  test("only changes that matter reach the emulator", () => {
    const a = shapeFor("wifi", point({ rttMs: 40, signalDbm: -60 }));
    expect(shapeChanged(undefined, a)).toBe(true);
    expect(shapeChanged(a, shapeFor("wifi", point({ rttMs: 44, signalDbm: -60 })))).toBe(false);
    expect(shapeChanged(a, shapeFor("wifi", point({ rttMs: 80, signalDbm: -60 })))).toBe(true);
    expect(shapeChanged(a, shapeFor("wifi", point({ up: false })))).toBe(true);
    const cut = shapeFor("cellular", point({ up: false }));
    expect(shapeChanged(cut, shapeFor("cellular", point({ up: false })))).toBe(false);
  });
});
