// Anti-replay window cases, numbered (RFC 4303 §3.4.3 and Appendix A2; RFC 6479 bitmap).
import { describe, expect, test } from "bun:test";
import { ReplayWindow, type ReplayVerdict } from "../../../firmware/ipsec/replay-window.ts";

/** Feeds (high, low) pairs through check+update the way the datapath does; returns each verdict. */
function feed(window: ReplayWindow, packets: readonly (readonly [number, number])[]): ReplayVerdict[] {
  return packets.map(([high, low]) => {
    const verdict = window.check(high, low);
    if (verdict === "fresh") window.update(high, low);
    return verdict;
  });
}

const W = 1024;

describe("replay window (32-bit sequence numbers)", () => {
  test("case 1: in order 1..3000 all fresh, then each a duplicate", () => {
    const w = new ReplayWindow(W);
    const seq = Array.from({ length: 3000 }, (_, i) => [0, i + 1] as const);
    expect(feed(w, seq).every((v) => v === "fresh")).toBe(true);
    expect(w.check(0, 3000)).toBe("duplicate");
    expect(w.check(0, 3000 - W + 1)).toBe("duplicate");
  });

  test("case 2: reordered within the window is fresh once", () => {
    const w = new ReplayWindow(W);
    expect(feed(w, [[0, 1], [0, 1000], [0, 500], [0, 2], [0, 999]])).toEqual(["fresh", "fresh", "fresh", "fresh", "fresh"]);
    expect(feed(w, [[0, 500], [0, 2]])).toEqual(["duplicate", "duplicate"]);
  });

  test("case 3: duplicates right away", () => {
    const w = new ReplayWindow(W);
    expect(feed(w, [[0, 7], [0, 7], [0, 7]])).toEqual(["fresh", "duplicate", "duplicate"]);
  });

  test("case 4: too old is exactly `size` behind the top", () => {
    const w = new ReplayWindow(W);
    feed(w, [[0, 5000]]);
    expect(w.check(0, 5000 - W + 1)).toBe("fresh"); // the oldest number still in the window
    expect(w.check(0, 5000 - W)).toBe("too-old");
    expect(w.check(0, 1)).toBe("too-old");
  });

  test("case 5: sequence number 0 is never valid", () => {
    const w = new ReplayWindow(W);
    expect(w.check(0, 0)).toBe("too-old");
  });

  test("case 6: a jump far ahead clears the old bits (RFC 6479 block reuse)", () => {
    const w = new ReplayWindow(W);
    feed(w, Array.from({ length: 200 }, (_, i) => [0, i + 1] as const));
    feed(w, [[0, 100_000]]);
    // Numbers congruent to the old ones modulo the bitmap must read as fresh, not as stale bits.
    expect(w.check(0, 100_000 - 1)).toBe("fresh");
    expect(w.check(0, 100_000 - W + 1)).toBe("fresh");
    expect(w.check(0, 100_000)).toBe("duplicate");
  });

  test("case 7: advancing by less than a block keeps the bits inside the window", () => {
    const w = new ReplayWindow(W);
    feed(w, [[0, 10], [0, 20], [0, 33], [0, 40]]);
    expect(feed(w, [[0, 10], [0, 20], [0, 33], [0, 39]])).toEqual(["duplicate", "duplicate", "duplicate", "fresh"]);
  });

  test("case 8: check does not mark (a forged packet must not block the genuine one)", () => {
    const w = new ReplayWindow(W);
    expect(w.check(0, 42)).toBe("fresh");
    expect(w.check(0, 42)).toBe("fresh");
  });

  test("case 9: window sizes below 32 or above the maximum are refused", () => {
    expect(() => new ReplayWindow(16)).toThrow(RangeError);
    expect(() => new ReplayWindow(1 << 20)).toThrow(RangeError);
    expect(new ReplayWindow(64).size).toBe(64);
  });

  test("case 10: random order over a long run agrees with a set-based model", () => {
    const w = new ReplayWindow(W);
    const seen = new Set<number>();
    let top = 0;
    let state = 12345;
    const rand = () => (state = (state * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 50_000; i++) {
      const seq = Math.max(1, top + 64 - (rand() % 1300));
      const model: ReplayVerdict = seq + W <= top ? "too-old" : seen.has(seq) ? "duplicate" : "fresh";
      expect(w.check(0, seq)).toBe(model);
      if (model === "fresh") {
        w.update(0, seq);
        seen.add(seq);
        top = Math.max(top, seq);
      }
    }
  });
});

describe("replay window with ESN (RFC 4303 Appendix A2)", () => {
  test("case 11: the high half is inferred as 0 at the start (window spans two subspaces, case B)", () => {
    const w = new ReplayWindow(W);
    expect(w.inferHigh(1)).toBe(0);
    expect(w.inferHigh(0xffffffff)).toBe(-1); // below sequence number 0: only a replay or garbage
    expect(w.check(w.inferHigh(0xffffffff), 0xffffffff)).toBe("too-old");
  });

  test("case 12: rollover of the low 32 bits moves to the next high half", () => {
    const w = new ReplayWindow(W);
    feed(w, [[0, 0xffffff00]]);
    expect(w.inferHigh(0xffffff80)).toBe(0);
    expect(w.inferHigh(0x00000005)).toBe(1); // case A: below the window's bottom means wrapped
    feed(w, [[0, 0xffffffff], [1, 0], [1, 1]]);
    expect([w.topHigh, w.topLow]).toEqual([1, 1]);
  });

  test("case 13: after the rollover, late packets from the old subspace are still accepted (case B)", () => {
    const w = new ReplayWindow(W);
    feed(w, [[0, 0xfffffff0], [1, 3]]);
    const high = w.inferHigh(0xfffffff8);
    expect(high).toBe(0);
    expect(feed(w, [[high, 0xfffffff8]])).toEqual(["fresh"]);
    expect(feed(w, [[w.inferHigh(0xfffffff0), 0xfffffff0]])).toEqual(["duplicate"]);
    // Below the window in the old subspace reads as ahead in the new one (A2.2); the ICV then fails (A2.3).
    expect(w.inferHigh(0xfffffff0 - W)).toBe(1);
  });

  test("case 14: duplicates across the rollover are caught", () => {
    const w = new ReplayWindow(W);
    feed(w, [[0, 0xfffffffe], [0, 0xffffffff], [1, 0], [1, 2]]);
    expect(w.check(w.inferHigh(0), 0)).toBe("duplicate");
    expect(w.check(w.inferHigh(0xffffffff), 0xffffffff)).toBe("duplicate");
    expect(w.check(w.inferHigh(1), 1)).toBe("fresh");
  });
});
