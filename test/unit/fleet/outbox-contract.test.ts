// The outbox contract, run against the memory outbox and the SQLite one (which must also survive reopening).

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryOutbox, type Outbox } from "../../../firmware/fleet/outbox.ts";
import { SqliteOutbox } from "../../../firmware/runtime/outbox-sqlite.ts";

const dir = mkdtempSync(join(tmpdir(), "monami-h7-outbox-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const payload = (size: number) => (seq: number) => new TextEncoder().encode(JSON.stringify({ seq }).padEnd(size, " "));

const implementations: [string, (maxBytes: number) => Outbox][] = [
  ["memory", (max) => new MemoryOutbox(max)],
  ["sqlite", (max) => new SqliteOutbox(join(dir, `o${n++}.db`), max)],
];

for (const [name, make] of implementations) {
  describe(`outbox contract: ${name}`, () => {
    test("sequence numbers grow, peek is ordered, acknowledge deletes one", () => {
      const o = make(10_000);
      const seqs = [1, 2, 3].map(() => {
        const r = o.append("t/x", 1, false, payload(10));
        if (!r.ok) throw new Error("append");
        return r.value.seq;
      });
      expect(seqs).toEqual([1, 2, 3]);
      expect(o.peek(0, 10).map((m) => m.seq)).toEqual([1, 2, 3]);
      expect(o.peek(1, 1).map((m) => m.seq)).toEqual([2]);
      o.acknowledge(2);
      o.acknowledge(2);
      expect(o.peek(0, 10).map((m) => m.seq)).toEqual([1, 3]);
      expect(o.stats()).toEqual({ messages: 2, bytes: 2 * (3 + 10), dropped: 0, maxBytes: 10_000 });
      const m = o.peek(0, 1)[0]!;
      expect([m.topic, m.qos, m.retain, new TextDecoder().decode(m.payload).trim()]).toEqual(["t/x", 1, false, '{"seq":1}']);
      // Deleted numbers are never reused.
      o.acknowledge(3);
      const next = o.append("t/x", 0, true, payload(10));
      expect(next.ok && next.value.seq).toBe(4);
      o.close();
    });

    test("bounded by bytes: the oldest are dropped and counted; a message above the bound is refused", () => {
      const o = make(1000);
      for (let i = 0; i < 50; i++) o.append("t", 1, false, payload(99)); // 100 bytes each
      const s = o.stats();
      expect(s.messages).toBe(10);
      expect(s.bytes).toBe(1000);
      expect(s.dropped).toBe(40);
      expect(o.peek(0, 100).map((m) => m.seq)).toEqual([41, 42, 43, 44, 45, 46, 47, 48, 49, 50]);
      const big = o.append("t", 1, false, payload(2000));
      expect(big.ok).toBe(false);
      expect(o.stats().messages).toBe(10);
      o.close();
    });

    test("meta values", () => {
      const o = make(1000);
      expect(o.getMeta("k")).toBeUndefined();
      o.setMeta("k", "1");
      o.setMeta("k", "2");
      expect(o.getMeta("k")).toBe("2");
      o.close();
    });
  });
}

describe("sqlite outbox durability", () => {
  test("messages, sequence numbers, drop count and meta survive reopening", () => {
    const path = join(dir, "durable.db");
    const a = new SqliteOutbox(path, 1000);
    for (let i = 0; i < 12; i++) a.append("t", 1, false, payload(99));
    a.acknowledge(11);
    a.setMeta("mqtt.session", "7");
    a.close();
    const b = new SqliteOutbox(path, 1000);
    expect(b.stats()).toEqual({ messages: 9, bytes: 900, dropped: 2, maxBytes: 1000 });
    expect(b.peek(0, 100).map((m) => m.seq)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 12]);
    expect(b.getMeta("mqtt.session")).toBe("7");
    b.acknowledge(12);
    const r = b.append("t", 1, false, payload(99));
    expect(r.ok && r.value.seq).toBe(13);
    b.close();
  });
});
