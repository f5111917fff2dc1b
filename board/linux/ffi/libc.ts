// Typed bun:ffi bindings over libc (one dlopen): file descriptors, ioctl, poll, fcntl; errno as a typed SysError.
//
// This is the only place, with its siblings in board/linux/ffi/, where bun:ffi may be imported.
// Later bindings (sockets, sendmsg/recvmsg) join the `symbols` table below and reuse `call`.

import { dlopen, FFIType, read as peek, type Pointer } from "bun:ffi";
import { err, ok, type Result } from "../../../firmware/core/result.ts";

/** A file descriptor returned by the kernel. */
export type Fd = number & { readonly __brand: "Fd" };

/** The errno names monami reacts to by name; anything else is reported as `errno<N>`. */
const ERRNO_NAMES = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  25: "ENOTTY",
  28: "ENOSPC",
  32: "EPIPE",
  90: "EMSGSIZE",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  105: "ENOBUFS",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
} as const satisfies Record<number, string>;

export type ErrnoName = (typeof ERRNO_NAMES)[keyof typeof ERRNO_NAMES];

/** A failed system call: which call, the raw errno and its name. */
export interface SysError {
  readonly call: string;
  readonly errno: number;
  readonly code: ErrnoName | `errno${number}`;
}

export type SysResult<T> = Result<T, SysError>;

export function errnoName(errno: number): SysError["code"] {
  return (ERRNO_NAMES as Record<number, ErrnoName>)[errno] ?? `errno${errno}`;
}

export function formatSysError(error: SysError): string {
  return `${error.call}: ${error.code} (${error.errno})`;
}

// Linux constants shared by x86_64 and aarch64 (asm-generic values).
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;

const LIBC_CANDIDATES = ["libc.so.6", "libc.so"];

function openLibc() {
  const symbols = {
    open: { args: [FFIType.cstring, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
    write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
    // ioctl and fcntl are variadic; integer and pointer arguments pass in the same registers on x86_64 and aarch64 Linux.
    ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i64], returns: FFIType.i32 },
    ppoll: { args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  } as const;
  let lastError: unknown;
  for (const path of LIBC_CANDIDATES) {
    try {
      return dlopen(path, symbols).symbols;
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`cannot load libc (${LIBC_CANDIDATES.join(", ")}): ${String(lastError)}`);
}

const libc = openLibc();

/** The calling thread's errno; read it right after the failing call, before any other libc call. */
function lastErrno(): number {
  const location = libc.__errno_location() as Pointer | null;
  return location === null ? 0 : peek.i32(location, 0);
}

function failure(call: string): SysError {
  const errno = lastErrno();
  return { call, errno, code: errnoName(errno) };
}

function cString(text: string): Buffer {
  return Buffer.from(`${text}\0`, "utf8");
}

export function open(path: string, flags: number, mode = 0): SysResult<Fd> {
  const fd = libc.open(cString(path), flags, mode);
  return fd < 0 ? err(failure("open")) : ok(fd as Fd);
}

export function close(fd: Fd): SysResult<void> {
  return libc.close(fd) < 0 ? err(failure("close")) : ok(undefined);
}

/** Reads at most `into.length` bytes into `into` (from its first byte); resolves to the count read. */
export function read(fd: Fd, into: Uint8Array): SysResult<number> {
  const n = Number(libc.read(fd, into, into.length));
  return n < 0 ? err(failure("read")) : ok(n);
}

/** Writes all of `from` in one call; resolves to the count the kernel took. */
export function write(fd: Fd, from: Uint8Array): SysResult<number> {
  const n = Number(libc.write(fd, from, from.length));
  return n < 0 ? err(failure("write")) : ok(n);
}

/** ioctl with a pointer argument (`arg` is read and written in place by the kernel). */
export function ioctl(fd: Fd, request: number, arg: Uint8Array): SysResult<number> {
  const r = libc.ioctl(fd, request, arg);
  return r < 0 ? err(failure("ioctl")) : ok(r);
}

/** fcntl with an integer argument. */
export function fcntl(fd: Fd, command: number, arg = 0): SysResult<number> {
  const r = libc.fcntl(fd, command, arg);
  return r < 0 ? err(failure("fcntl")) : ok(r);
}

export function setNonBlocking(fd: Fd, on = true): SysResult<void> {
  const flags = fcntl(fd, F_GETFL);
  if (!flags.ok) return flags;
  const wanted = on ? flags.value | O_NONBLOCK : flags.value & ~O_NONBLOCK;
  if (wanted === flags.value) return ok(undefined);
  const set = fcntl(fd, F_SETFL, wanted);
  return set.ok ? ok(undefined) : set;
}

/**
 * A reusable `struct pollfd[]` (int fd; short events; short revents). Entries are fixed once added;
 * after `poll` returns, read each entry's `revents(index)`.
 */
export class PollSet {
  readonly #buffer: ArrayBuffer;
  readonly #ints: Int32Array;
  readonly #shorts: Int16Array;
  readonly #bytes: Uint8Array;
  /** struct timespec { time_t tv_sec; long tv_nsec; } for ppoll. */
  readonly #timeout = new BigInt64Array(2);
  #count = 0;

  constructor(capacity: number) {
    this.#buffer = new ArrayBuffer(8 * capacity);
    this.#ints = new Int32Array(this.#buffer);
    this.#shorts = new Int16Array(this.#buffer);
    this.#bytes = new Uint8Array(this.#buffer);
  }

  get size(): number {
    return this.#count;
  }

  /** Adds a descriptor watched for `events`; returns its index. */
  add(fd: Fd, events: number): number {
    const index = this.#count;
    if (8 * (index + 1) > this.#buffer.byteLength) throw new RangeError("PollSet is full");
    this.#ints[2 * index] = fd;
    this.#shorts[4 * index + 2] = events;
    this.#shorts[4 * index + 3] = 0;
    this.#count++;
    return index;
  }

  revents(index: number): number {
    return this.#shorts[4 * index + 3] ?? 0;
  }

  /**
   * Blocks up to `timeoutMs` (fractions count, to the nanosecond; negative: forever); resolves to the
   * number of entries with events. Uses ppoll(2) so sub-millisecond timeouts are not rounded up.
   */
  poll(timeoutMs: number): SysResult<number> {
    let timeout: BigInt64Array | null = null;
    if (timeoutMs >= 0) {
      const ns = Math.round(timeoutMs * 1e6);
      this.#timeout[0] = BigInt(Math.floor(ns / 1e9));
      this.#timeout[1] = BigInt(ns % 1e9);
      timeout = this.#timeout;
    }
    const r = libc.ppoll(this.#bytes, this.#count, timeout, null);
    return r < 0 ? err(failure("ppoll")) : ok(r);
  }
}
