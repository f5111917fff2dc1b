// The link emulator's other pure parts: release queue (timer heap), packet pool, seeded random, control protocol.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { parseEmulatorConfig, parseEmulatorRequest } from "../../board/lab/emulator-protocol.ts";
import { PacketPool } from "../../board/lab/packet-pool.ts";
import { LINK_PROFILES } from "../../board/lab/profiles.ts";
import { ReleaseQueue } from "../../board/lab/release-queue.ts";
import { seededRandom } from "../../board/lab/seeded-random.ts";

describe("ReleaseQueue", () => {
  test("pops in release-time order, ties in push order", () => {
    const q = new ReleaseQueue(8);
    q.push(3, 50);
    q.push(1, 10);
    q.push(5, 50);
    q.push(0, 30);
    q.push(7, 10);
    expect(q.peekAt()).toBe(10);
    expect([q.pop(), q.pop(), q.pop(), q.pop(), q.pop()]).toEqual([1, 7, 0, 3, 5]);
    expect(q.pop()).toBe(-1);
    expect(q.peekAt()).toBeUndefined();
  });

  test("property: pops are a permutation of pushes, sorted by (time, push order)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 64 }), (times) => {
        const q = new ReleaseQueue(64);
        times.forEach((at, slot) => q.push(slot, at));
        const out: number[] = [];
        while (q.size > 0) out.push(q.pop());
        const expected = times.map((at, slot) => ({ at, slot })).sort((a, b) => a.at - b.at || a.slot - b.slot);
        return JSON.stringify(out) === JSON.stringify(expected.map((e) => e.slot));
      }),
    );
  });

  test("interleaved push and pop keep the heap ordered", () => {
    const q = new ReleaseQueue(100);
    const random = seededRandom(5);
    const live = new Map<number, number>();
    let free = Array.from({ length: 100 }, (_, i) => i);
    let now = 0;
    for (let step = 0; step < 5000; step++) {
      if (free.length > 0 && random.next() < 0.55) {
        const slot = free.pop()!;
        const at = now + random.next() * 50;
        live.set(slot, at);
        q.push(slot, at);
      } else if (q.size > 0) {
        const at = q.peekAt()!;
        const slot = q.pop();
        expect(live.get(slot)).toBe(at);
        expect(at).toBe(Math.min(...live.values()));
        now = Math.max(now, at);
        live.delete(slot);
        free = [...free, slot];
      }
    }
    expect(q.size).toBe(live.size);
  });

  test("rejects a slot out of range and a push beyond capacity", () => {
    const q = new ReleaseQueue(2);
    expect(() => q.push(2, 0)).toThrow(RangeError);
    q.push(0, 0);
    q.push(1, 0);
    expect(() => q.push(0, 0)).toThrow(RangeError);
  });
});

describe("PacketPool", () => {
  test("hands out every slot once, then -1; freed slots come back", () => {
    const pool = new PacketPool(4, 2048);
    const slots = [pool.take(), pool.take(), pool.take(), pool.take()];
    expect(new Set(slots).size).toBe(4);
    expect(pool.take()).toBe(-1);
    pool.free(slots[2]!);
    expect(pool.available).toBe(1);
    expect(pool.take()).toBe(slots[2]!);
  });

  test("slots are disjoint views; packet() is the recorded length", () => {
    const pool = new PacketPool(3, 16);
    const a = pool.take();
    const b = pool.take();
    pool.buffer(a).fill(0xaa);
    pool.buffer(b).fill(0xbb);
    pool.setLength(a, 5);
    expect(pool.buffer(a).length).toBe(16);
    expect([...pool.packet(a)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
    expect(pool.packet(b).length).toBe(0);
    expect(pool.buffer(b)[0]).toBe(0xbb);
  });
});

describe("seededRandom", () => {
  test("is deterministic per seed, uniform-ish in [0, 1)", () => {
    const a = seededRandom(99);
    const b = seededRandom(99);
    const draws = Array.from({ length: 10_000 }, () => a.next());
    expect(draws.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => b.next()));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    const mean = draws.reduce((s, x) => s + x, 0) / draws.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(seededRandom(100).next()).not.toBe(seededRandom(99).next());
  });
});

describe("emulator control protocol", () => {
  test("accepts each request kind", () => {
    const profile = LINK_PROFILES.lte;
    for (const line of [
      `{"id":1,"op":"counters"}`,
      `{"id":2,"op":"cut","link":"lte"}`,
      `{"id":3,"op":"restore","link":"wifi"}`,
      JSON.stringify({ id: 4, op: "set-profile", link: "lte", profile }),
      `{"id":5,"op":"quit"}`,
    ]) {
      const r = parseEmulatorRequest(line);
      expect(r.ok).toBe(true);
    }
  });

  test("rejects bad lines without throwing", () => {
    const bad = [
      "",
      "not json",
      "[]",
      `{"op":"counters"}`,
      `{"id":1,"op":"explode"}`,
      `{"id":1,"op":"cut"}`,
      `{"id":1,"op":"cut","link":"lte","extra":true}`,
      JSON.stringify({ id: 1, op: "set-profile", link: "lte", profile: { uplink: { ...LINK_PROFILES.lte.uplink, lossProbability: 2 }, downlink: LINK_PROFILES.lte.downlink } }),
      JSON.stringify({ id: 1, op: "set-profile", link: "lte", profile: { uplink: LINK_PROFILES.lte.uplink } }),
    ];
    for (const line of bad) expect(parseEmulatorRequest(line).ok).toBe(false);
    // Never throws, whatever the line holds.
    fc.assert(fc.property(fc.string(), (s) => typeof parseEmulatorRequest(s).ok === "boolean"));
    fc.assert(fc.property(fc.jsonValue(), (j) => typeof parseEmulatorRequest(JSON.stringify(j) ?? "").ok === "boolean"));
  });

  test("validates the configuration file", () => {
    const link = { name: "lte", uplinkTun: "lte-up", downlinkTun: "lte-dn", profile: LINK_PROFILES.lte };
    expect(parseEmulatorConfig({ links: [link], seed: 1, slots: 1024, slotBytes: 2048 }).ok).toBe(true);
    expect(parseEmulatorConfig({ links: [], seed: 1, slots: 1024, slotBytes: 2048 }).ok).toBe(false);
    expect(parseEmulatorConfig({ links: [{ ...link, uplinkTun: "a-name-longer-than-15" }], seed: 1, slots: 1024, slotBytes: 2048 }).ok).toBe(false);
    const r = parseEmulatorConfig({ links: [link], seed: 1, slots: 1024, slotBytes: 100 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain("slotBytes");
  });
});
