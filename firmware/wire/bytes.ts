// Bounds-checked big-endian reader and writer over a Uint8Array (zero-copy: slices are subarrays).

import { ok, type Result } from "../core/result.ts";
import { wireError, type WireError, type WireLayer } from "./error.ts";

/**
 * A cursor that reads network-order fields. Every read checks bounds and returns a
 * `Result`; nothing throws. Views returned by `bytes()` share memory with the input.
 */
export class ByteReader {
  readonly #buf: Uint8Array;
  readonly #layer: WireLayer;
  #at: number;

  constructor(buf: Uint8Array, layer: WireLayer = "bytes", start = 0) {
    this.#buf = buf;
    this.#layer = layer;
    this.#at = start;
  }

  get offset(): number {
    return this.#at;
  }

  get remaining(): number {
    return this.#buf.length - this.#at;
  }

  #need(n: number): Result<number, WireError> {
    if (!Number.isInteger(n) || n < 0 || this.#at + n > this.#buf.length) {
      return wireError(this.#layer, "truncated", this.#at, `need ${n} byte(s), have ${this.remaining}`);
    }
    const at = this.#at;
    this.#at += n;
    return ok(at);
  }

  u8(): Result<number, WireError> {
    const r = this.#need(1);
    return r.ok ? ok(this.#buf[r.value]!) : r;
  }

  u16(): Result<number, WireError> {
    const r = this.#need(2);
    return r.ok ? ok(readU16(this.#buf, r.value)) : r;
  }

  u32(): Result<number, WireError> {
    const r = this.#need(4);
    return r.ok ? ok(readU32(this.#buf, r.value)) : r;
  }

  bytes(n: number): Result<Uint8Array, WireError> {
    const r = this.#need(n);
    return r.ok ? ok(this.#buf.subarray(r.value, r.value + n)) : r;
  }

  skip(n: number): Result<void, WireError> {
    const r = this.#need(n);
    return r.ok ? ok(undefined) : r;
  }

  rest(): Uint8Array {
    const out = this.#buf.subarray(this.#at);
    this.#at = this.#buf.length;
    return out;
  }
}

/**
 * A writer into a caller-provided buffer. Writing past the end is a programmer error
 * (the caller sized the buffer with the codec's `bufferLen`), so it throws RangeError.
 */
export class ByteWriter {
  readonly #buf: Uint8Array;
  #at: number;

  constructor(buf: Uint8Array, start = 0) {
    this.#buf = buf;
    this.#at = start;
  }

  get offset(): number {
    return this.#at;
  }

  #room(n: number): number {
    if (!Number.isInteger(n) || n < 0 || this.#at + n > this.#buf.length) {
      throw new RangeError(`ByteWriter: ${n} byte(s) at ${this.#at} overflow a ${this.#buf.length}-byte buffer`);
    }
    const at = this.#at;
    this.#at += n;
    return at;
  }

  u8(v: number): this {
    this.#buf[this.#room(1)] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    writeU16(this.#buf, this.#room(2), v);
    return this;
  }

  u32(v: number): this {
    writeU32(this.#buf, this.#room(4), v);
    return this;
  }

  bytes(src: Uint8Array): this {
    this.#buf.set(src, this.#room(src.length));
    return this;
  }

  zeros(n: number): this {
    this.#buf.fill(0, this.#room(n), this.#at);
    return this;
  }
}

export function readU16(b: Uint8Array, at: number): number {
  return ((b[at]! << 8) | b[at + 1]!) >>> 0;
}

export function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

export function writeU16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** Constant-length byte equality (not constant-time; use crypto's for tags). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
