// The durable outbox on bun:sqlite: WAL with synchronous=FULL, so an appended message survives a crash or power cut.

import { Database, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { err, ok, type Result } from "../core/result.ts";
import { messageBytes, type Outbox, type OutboxError, type OutboxMessage, type OutboxStats, type Qos } from "../fleet/outbox.ts";

interface Row {
  seq: number;
  topic: string;
  qos: number;
  retain: number;
  payload: Uint8Array;
}

/**
 * The `Outbox` contract on SQLite. Each append is one transaction (sequence number, drops of the oldest
 * messages, insert), committed with an fsync before `append` returns. Sequence numbers live in the `meta`
 * table, so they keep growing across deletions and restarts.
 */
export class SqliteOutbox implements Outbox {
  readonly #db: Database;
  readonly #insert: Statement;
  readonly #oldest: Statement<{ seq: number; bytes: number }, []>;
  readonly #delete: Statement;
  readonly #peek: Statement<Row, [number, number]>;
  readonly #getMeta: Statement<{ value: string }, [string]>;
  readonly #setMeta: Statement;
  #bytes: number;
  #messages: number;

  constructor(path: string, readonly maxBytes: number) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    this.#db = new Database(path, { create: true, strict: true });
    this.#db.run("PRAGMA journal_mode = WAL");
    this.#db.run("PRAGMA synchronous = FULL");
    this.#db.run(
      "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, payload BLOB NOT NULL, bytes INTEGER NOT NULL)",
    );
    this.#db.run("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    this.#insert = this.#db.prepare("INSERT INTO outbox (seq, topic, qos, retain, payload, bytes) VALUES (?, ?, ?, ?, ?, ?)");
    this.#oldest = this.#db.prepare("SELECT seq, bytes FROM outbox ORDER BY seq LIMIT 1");
    this.#delete = this.#db.prepare("DELETE FROM outbox WHERE seq = ?");
    this.#peek = this.#db.prepare("SELECT seq, topic, qos, retain, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
    this.#getMeta = this.#db.prepare("SELECT value FROM meta WHERE key = ?");
    this.#setMeta = this.#db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    const totals = this.#db.query<{ n: number; b: number | null }, []>("SELECT COUNT(*) AS n, SUM(bytes) AS b FROM outbox").get();
    this.#messages = totals?.n ?? 0;
    this.#bytes = totals?.b ?? 0;
  }

  #meta(key: string): number {
    return Number(this.#getMeta.get(key)?.value ?? "0");
  }

  append(topic: string, qos: Qos, retain: boolean, build: (seq: number) => Uint8Array): Result<OutboxMessage, OutboxError> {
    const lastSeq = this.#db.query<{ m: number | null }, []>("SELECT MAX(seq) AS m FROM outbox").get()?.m ?? 0;
    const seq = Math.max(this.#meta("next_seq"), lastSeq + 1, 1);
    const payload = build(seq);
    const bytes = messageBytes(topic, payload);
    if (bytes > this.maxBytes) return err({ kind: "too-large", bytes, maxBytes: this.maxBytes });
    let dropped = 0;
    let freed = 0;
    this.#db.transaction(() => {
      while (this.#bytes - freed + bytes > this.maxBytes) {
        const oldest = this.#oldest.get();
        if (!oldest) break;
        this.#delete.run(oldest.seq);
        freed += oldest.bytes;
        dropped++;
      }
      this.#insert.run(seq, topic, qos, retain ? 1 : 0, payload, bytes);
      this.#setMeta.run("next_seq", String(seq + 1));
      if (dropped > 0) this.#setMeta.run("dropped", String(this.#meta("dropped") + dropped));
    })();
    this.#bytes += bytes - freed;
    this.#messages += 1 - dropped;
    return ok({ seq, topic, qos, retain, payload });
  }

  peek(afterSeq: number, limit: number): OutboxMessage[] {
    return this.#peek.all(afterSeq, limit).map((r) => ({
      seq: r.seq,
      topic: r.topic,
      qos: (r.qos === 1 ? 1 : 0) as Qos,
      retain: r.retain === 1,
      payload: r.payload,
    }));
  }

  acknowledge(seq: number): void {
    const row = this.#db.query<{ bytes: number }, [number]>("SELECT bytes FROM outbox WHERE seq = ?").get(seq);
    if (!row) return;
    this.#delete.run(seq);
    this.#bytes -= row.bytes;
    this.#messages--;
  }

  stats(): OutboxStats {
    return { messages: this.#messages, bytes: this.#bytes, dropped: this.#meta("dropped"), maxBytes: this.maxBytes };
  }

  getMeta(key: string): string | undefined {
    return this.#getMeta.get(`user:${key}`)?.value;
  }

  setMeta(key: string, value: string): void {
    this.#setMeta.run(`user:${key}`, value);
  }

  close(): void {
    this.#db.close();
  }
}
