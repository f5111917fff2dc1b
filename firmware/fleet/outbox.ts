// The durable outbox contract: messages that must reach the broker, in order, bounded by bytes, acknowledged before deletion.

import { err, ok, type Result } from "../core/result.ts";

export type Qos = 0 | 1;

export interface OutboxMessage {
  /** Per-device sequence number, strictly increasing across restarts; a gap means messages were dropped. */
  readonly seq: number;
  readonly topic: string;
  readonly qos: Qos;
  readonly retain: boolean;
  readonly payload: Uint8Array;
}

export interface OutboxStats {
  readonly messages: number;
  readonly bytes: number;
  /** Messages dropped (oldest first) to stay within `maxBytes`, since the outbox was created. */
  readonly dropped: number;
  readonly maxBytes: number;
}

export type OutboxError = { readonly kind: "too-large"; readonly bytes: number; readonly maxBytes: number };

/**
 * A FIFO of outgoing messages. Implementations must keep appended messages across process restarts (the
 * SQLite one does; the memory one is for tests), and must:
 * - give each message the next sequence number (never reused, even after deletion or restart);
 * - bound the stored bytes (topic + payload) by `maxBytes`, dropping and counting the oldest messages first;
 * - return messages from `peek` in sequence order, and delete one only when `acknowledge` names it.
 */
export interface Outbox {
  /** Appends a message; `build` receives its sequence number and returns the payload. */
  append(topic: string, qos: Qos, retain: boolean, build: (seq: number) => Uint8Array): Result<OutboxMessage, OutboxError>;
  /** Up to `limit` messages with `seq > afterSeq`, oldest first. */
  peek(afterSeq: number, limit: number): OutboxMessage[];
  /** Removes a delivered message (a no-op when it is already gone). */
  acknowledge(seq: number): void;
  stats(): OutboxStats;
  /** A small durable key/value store beside the queue, for the session counter and shadow record. */
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  close(): void;
}

/** Bytes a message counts against the bound. */
export function messageBytes(topic: string, payload: Uint8Array): number {
  return Buffer.byteLength(topic) + payload.length;
}

/** The outbox contract in memory: for unit tests and the simulated board (nothing survives a restart). */
export class MemoryOutbox implements Outbox {
  readonly #messages: OutboxMessage[] = [];
  readonly #meta = new Map<string, string>();
  #nextSeq = 1;
  #bytes = 0;
  #dropped = 0;

  constructor(readonly maxBytes: number) {}

  append(topic: string, qos: Qos, retain: boolean, build: (seq: number) => Uint8Array): Result<OutboxMessage, OutboxError> {
    const seq = this.#nextSeq;
    const payload = build(seq);
    const bytes = messageBytes(topic, payload);
    if (bytes > this.maxBytes) return err({ kind: "too-large", bytes, maxBytes: this.maxBytes });
    this.#nextSeq++;
    while (this.#bytes + bytes > this.maxBytes) {
      const oldest = this.#messages.shift()!;
      this.#bytes -= messageBytes(oldest.topic, oldest.payload);
      this.#dropped++;
    }
    const message = { seq, topic, qos, retain, payload };
    this.#messages.push(message);
    this.#bytes += bytes;
    return ok(message);
  }

  peek(afterSeq: number, limit: number): OutboxMessage[] {
    return this.#messages.filter((m) => m.seq > afterSeq).slice(0, limit);
  }

  acknowledge(seq: number): void {
    const at = this.#messages.findIndex((m) => m.seq === seq);
    if (at < 0) return;
    const [gone] = this.#messages.splice(at, 1);
    this.#bytes -= messageBytes(gone!.topic, gone!.payload);
  }

  stats(): OutboxStats {
    return { messages: this.#messages.length, bytes: this.#bytes, dropped: this.#dropped, maxBytes: this.maxBytes };
  }

  getMeta(key: string): string | undefined {
    return this.#meta.get(key);
  }

  setMeta(key: string, value: string): void {
    this.#meta.set(key, value);
  }

  close(): void {}
}
