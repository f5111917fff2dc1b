// Resumable ranged download (sans-IO): which byte ranges to ask for next, in-order reassembly, timeouts, allowance and rate cap.

import type { Counters } from "../core/counters.ts";
import { earliest, later, type Duration, type Instant } from "../core/instant.ts";

export interface OtaFetchOptions {
  /** Image length: the download ends at this offset. */
  readonly size: number;
  /** Where to resume: bytes `[0, offset)` are already stored. */
  readonly offset: number;
  /** Largest range asked for at once (an MQTT chunk, an HTTP Range request). */
  readonly rangeBytes: number;
  /** Ranges asked for and not yet answered, at most. */
  readonly window: number;
  /** A range not fully answered by then is asked for again (with everything after it). */
  readonly requestTimeoutMs: Duration;
  readonly counters?: Counters;
}

export interface RangeRequest {
  readonly offset: number;
  readonly length: number;
}

interface Outstanding {
  readonly offset: number;
  readonly end: number;
  readonly deadline: Instant;
}

/** Bytes buffered ahead of the write offset (replies arriving out of order), at most this many windows' worth. */
const AHEAD_LIMIT_WINDOWS = 2;

/**
 * Inputs: `handleData(offset, bytes)` for every reply (whatever transport), `handleTimeout(now)` when
 * `pollTimeout()` is due, `handleDisconnect()` when replies in flight can no longer arrive, and
 * `setAllowance(bytes, rate)` from the link policy. Outputs: `pollTransmit(now)` gives the next range to ask
 * for; `handleData` returns the bytes that continue the stored prefix, in order, for the caller to append.
 * Ranges are asked for contiguously; on a timeout or disconnect everything from the write offset is asked for
 * again (go-back-N), so duplicates are possible and are dropped here. The allowance counts *requested* bytes,
 * so a budget is never overrun by asking.
 */
export class OtaFetch {
  readonly #size: number;
  readonly #rangeBytes: number;
  readonly #window: number;
  readonly #timeoutMs: Duration;
  readonly #counters: Counters | undefined;
  #offset: number;
  #requestedUpTo: number;
  #outstanding: Outstanding[] = [];
  readonly #ahead = new Map<number, Uint8Array>();
  #aheadBytes = 0;
  /** Undefined = unlimited; 0 = paused. */
  #allowance: number | undefined = 0;
  #bytesPerSecond: number | undefined;
  #nextSendAt: Instant | undefined;
  #transferred = 0;
  #requested = 0;

  constructor(options: OtaFetchOptions) {
    if (!(options.size > 0) || options.offset < 0 || options.offset > options.size) throw new RangeError("fetch: offset must lie within the image");
    if (!(options.rangeBytes > 0) || !(options.window >= 1)) throw new RangeError("fetch: range size and window must be positive");
    this.#size = options.size;
    this.#offset = options.offset;
    this.#requestedUpTo = options.offset;
    this.#rangeBytes = options.rangeBytes;
    this.#window = options.window;
    this.#timeoutMs = options.requestTimeoutMs;
    this.#counters = options.counters;
  }

  /** Bytes stored in order: the resume point. */
  get offset(): number {
    return this.#offset;
  }

  get complete(): boolean {
    return this.#offset >= this.#size;
  }

  /** Every data byte received, duplicates included (what the link carried). */
  get transferredBytes(): number {
    return this.#transferred;
  }

  /** Every byte asked for, repeats included. */
  get requestedBytes(): number {
    return this.#requested;
  }

  get paused(): boolean {
    return this.#allowance === 0;
  }

  /**
   * From the link policy: how many more bytes may be requested (undefined = unlimited, 0 = pause) and the rate
   * cap. Replies to ranges already asked for are still taken while paused.
   */
  setAllowance(bytes: number | undefined, bytesPerSecond: number | undefined): void {
    this.#allowance = bytes === undefined ? undefined : Math.max(0, Math.floor(bytes));
    this.#bytesPerSecond = bytesPerSecond !== undefined && bytesPerSecond > 0 ? bytesPerSecond : undefined;
    if (this.#bytesPerSecond === undefined) this.#nextSendAt = undefined;
  }

  /** The next range to ask for now, or undefined (window full, paused, rate-limited or everything asked for). */
  pollTransmit(now: Instant): RangeRequest | undefined {
    if (this.complete || this.#outstanding.length >= this.#window || this.#requestedUpTo >= this.#size) return undefined;
    if (this.#allowance === 0) return undefined;
    if (this.#nextSendAt !== undefined && now < this.#nextSendAt) return undefined;
    let length = Math.min(this.#rangeBytes, this.#size - this.#requestedUpTo);
    if (this.#allowance !== undefined) length = Math.min(length, this.#allowance);
    const request = { offset: this.#requestedUpTo, length };
    this.#outstanding.push({ offset: request.offset, end: request.offset + length, deadline: later(now, this.#timeoutMs) });
    this.#requestedUpTo += length;
    this.#requested += length;
    if (this.#allowance !== undefined) this.#allowance -= length;
    if (this.#bytesPerSecond !== undefined) this.#nextSendAt = later(now, (length * 1000) / this.#bytesPerSecond);
    this.#counters?.increment("ota.fetch.request");
    return request;
  }

  /**
   * A reply carrying image bytes at `offset`. Returns the pieces that extend the stored prefix, in order
   * (empty when the reply was a duplicate or arrived early and was buffered). Progress pushes the deadlines
   * of the ranges still outstanding back by a full timeout (a slow but moving HTTP body is not re-asked).
   */
  handleData(offset: number, bytes: Uint8Array, now?: Instant): Uint8Array[] {
    this.#transferred += bytes.length;
    const end = Math.min(offset + bytes.length, this.#size);
    if (end <= this.#offset || bytes.length === 0) {
      this.#counters?.increment("ota.fetch.duplicate");
      return [];
    }
    if (offset > this.#offset) {
      this.#stashAhead(offset, bytes.subarray(0, end - offset));
      return [];
    }
    const out = [bytes.subarray(this.#offset - offset, end - offset)];
    this.#offset = end;
    for (let next = this.#takeAhead(); next; next = this.#takeAhead()) out.push(next);
    this.#outstanding = this.#outstanding
      .filter((o) => o.end > this.#offset)
      .map((o) => (now === undefined ? o : { ...o, deadline: later(now, this.#timeoutMs) }));
    if (this.#requestedUpTo < this.#offset) this.#requestedUpTo = this.#offset;
    return out;
  }

  /** Replies in flight are lost (the connection dropped, the care-of address changed): ask again from the offset. */
  handleDisconnect(): void {
    if (this.#outstanding.length === 0) return;
    this.#counters?.increment("ota.fetch.lost-in-flight");
    this.#restartFromOffset();
  }

  pollTimeout(): Instant | undefined {
    let at: Instant | undefined;
    for (const o of this.#outstanding) at = earliest(at, o.deadline);
    if (this.#nextSendAt !== undefined && this.#allowance !== 0 && !this.complete) at = earliest(at, this.#nextSendAt);
    return at;
  }

  handleTimeout(now: Instant): void {
    if (this.#outstanding.some((o) => now >= o.deadline)) {
      this.#counters?.increment("ota.fetch.timeout");
      this.#restartFromOffset();
    }
  }

  #restartFromOffset(): void {
    // Asked-for bytes stay spent: a metered budget counts requests, and the reply may still arrive late.
    this.#outstanding = [];
    this.#requestedUpTo = this.#offset;
    this.#ahead.clear();
    this.#aheadBytes = 0;
  }

  #stashAhead(offset: number, bytes: Uint8Array): void {
    const limit = AHEAD_LIMIT_WINDOWS * this.#window * this.#rangeBytes;
    if (offset >= this.#requestedUpTo || this.#ahead.has(offset) || this.#aheadBytes + bytes.length > limit) {
      this.#counters?.increment("ota.fetch.dropped-ahead");
      return;
    }
    this.#ahead.set(offset, bytes.slice());
    this.#aheadBytes += bytes.length;
  }

  /** A buffered piece that now continues the prefix (trimmed), removing pieces made obsolete. */
  #takeAhead(): Uint8Array | undefined {
    for (const [offset, bytes] of this.#ahead) {
      const end = offset + bytes.length;
      if (end <= this.#offset) {
        this.#ahead.delete(offset);
        this.#aheadBytes -= bytes.length;
        continue;
      }
      if (offset <= this.#offset) {
        this.#ahead.delete(offset);
        this.#aheadBytes -= bytes.length;
        const piece = bytes.subarray(this.#offset - offset);
        this.#offset = end;
        return piece;
      }
    }
    return undefined;
  }
}
