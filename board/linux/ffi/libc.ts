// Typed bun:ffi bindings over libc (one dlopen): file descriptors, ioctl, poll, fcntl; errno as a typed SysError.
//
// This is the only place, with its siblings in board/linux/ffi/, where bun:ffi may be imported.
// Sockets (socket/bind/setsockopt, sendmsg/recvmsg, sendmmsg/recvmmsg) share the same table; their
// struct layouts (msghdr, mmsghdr, sockaddr, cmsg) live beside this file in socket-structs.ts.

import { dlopen, FFIType, ptr, read as peek, type Pointer } from "bun:ffi";
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
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64_fast },
    sendmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64_fast },
    recvmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64_fast },
    sendmmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
    recvmmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    readv: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64_fast },
    writev: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64_fast },
    if_nametoindex: { args: [FFIType.cstring], returns: FFIType.u32 },
    eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 },
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

/** The calling thread's errno (each Worker has its own); read it right after the failing call, before any other libc call. */
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

/** ioctl whose argument is an integer passed by value (e.g. TUNSETOFFLOAD). */
export function ioctlValue(fd: Fd, request: number, value: number): SysResult<number> {
  const r = libc.ioctl(fd, request, value as Pointer);
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

// ---- sockets ------------------------------------------------------------------------------------

export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_PACKET = 17;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = O_NONBLOCK;
export const SOCK_CLOEXEC = O_CLOEXEC;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_BINDTODEVICE = 25;
export const SO_ATTACH_FILTER = 26;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SOL_IP = 0;
export const IP_TTL = 2;
export const IP_PKTINFO = 8;
export const IP_MTU_DISCOVER = 10;
export const IP_PMTUDISC_DONT = 0;
export const IP_PMTUDISC_PROBE = 3;
export const SOL_IPV6 = 41;
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MTU_DISCOVER = 23;
export const IPV6_PMTUDISC_DONT = 0;
export const IPV6_PMTUDISC_PROBE = 3;
export const IPV6_HDRINCL = 36;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_DONTFRAG = 62;
export const SOL_PACKET = 263;
export const IPPROTO_UDP = 17;
/** IPv6 encapsulated in IPv6 (RFC 2473): a raw socket of this protocol sends and receives the inner packet. */
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ESP = 50;
export const IPPROTO_RAW = 255;
export const ETH_P_IPV6 = 0x86dd;
export const MSG_DONTWAIT = 0x40;
export const EFD_NONBLOCK = O_NONBLOCK;
export const EFD_CLOEXEC = O_CLOEXEC;

/**
 * The address of a buffer's first byte, for structs that hold pointers. The buffer must be backed by
 * its own ArrayBuffer (`new Uint8Array(new ArrayBuffer(n))`) and stay referenced as long as the address is
 * used; reading `.buffer` first makes JSC move inline bytes out of the GC heap before the address is taken.
 */
export function addressOf(buffer: Uint8Array | Uint32Array | Int32Array | DataView): number {
  void buffer.buffer;
  return ptr(buffer);
}

/** socket(2); `type` may include SOCK_NONBLOCK | SOCK_CLOEXEC. */
export function socket(domain: number, type: number, protocol: number): SysResult<Fd> {
  const fd = libc.socket(domain, type, protocol);
  return fd < 0 ? err(failure("socket")) : ok(fd as Fd);
}

/** bind(2) with a ready-made sockaddr (see socket-structs.ts). */
export function bind(fd: Fd, address: Uint8Array): SysResult<void> {
  return libc.bind(fd, address, address.length) < 0 ? err(failure("bind")) : ok(undefined);
}

/** setsockopt(2) with the option value as bytes. */
export function setsockopt(fd: Fd, level: number, name: number, value: Uint8Array): SysResult<void> {
  return libc.setsockopt(fd, level, name, value, value.length) < 0 ? err(failure(`setsockopt(${level},${name})`)) : ok(undefined);
}

/** setsockopt(2) with an `int` value. */
export function setsockoptInt(fd: Fd, level: number, name: number, value: number): SysResult<void> {
  const bytes = new Uint8Array(new ArrayBuffer(4));
  new DataView(bytes.buffer).setInt32(0, value, true);
  return setsockopt(fd, level, name, bytes);
}

/** getsockopt(2) for an `int` option. */
export function getsockoptInt(fd: Fd, level: number, name: number): SysResult<number> {
  const value = new Int32Array(new ArrayBuffer(8));
  const length = new Uint32Array(new ArrayBuffer(4));
  length[0] = 4;
  return libc.getsockopt(fd, level, name, value, length) < 0 ? err(failure(`getsockopt(${level},${name})`)) : ok(value[0]!);
}

/** Pins a socket to one interface (SO_BINDTODEVICE): its sends leave there, it receives only what arrived there. */
export function bindToDevice(fd: Fd, interfaceName: string): SysResult<void> {
  return setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, cString(interfaceName));
}

/** sendto(2); resolves to the octets sent. */
export function sendto(fd: Fd, data: Uint8Array, flags: number, destination: Uint8Array): SysResult<number> {
  const n = Number(libc.sendto(fd, data, data.length, flags, destination, destination.length));
  return n < 0 ? err(failure("sendto")) : ok(n);
}

/**
 * The hot-path calls: pointers are addresses the caller took once (`addressOf`) of preallocated
 * structs; the result is the syscall's value, or −errno on failure, so nothing is allocated per call.
 */
export function sendmsgRaw(fd: Fd, message: number, flags: number): number {
  const n = Number(libc.sendmsg(fd, message as Pointer, flags));
  return n < 0 ? -lastErrno() : n;
}

export function recvmsgRaw(fd: Fd, message: number, flags: number): number {
  const n = Number(libc.recvmsg(fd, message as Pointer, flags));
  return n < 0 ? -lastErrno() : n;
}

export function sendmmsgRaw(fd: Fd, vector: number, count: number, flags: number): number {
  const n = libc.sendmmsg(fd, vector as Pointer, count, flags);
  return n < 0 ? -lastErrno() : n;
}

export function recvmmsgRaw(fd: Fd, vector: number, count: number, flags: number): number {
  const n = libc.recvmmsg(fd, vector as Pointer, count, flags, null);
  return n < 0 ? -lastErrno() : n;
}

/** read(2) into `[address, address+length)`; the count read or −errno. */
export function readRaw(fd: Fd, address: number, length: number): number {
  const n = Number(libc.read(fd, address as Pointer, length));
  return n < 0 ? -lastErrno() : n;
}

/** write(2) from `[address, address+length)`; the count written or −errno. */
export function writeRaw(fd: Fd, address: number, length: number): number {
  const n = Number(libc.write(fd, address as Pointer, length));
  return n < 0 ? -lastErrno() : n;
}

export function readvRaw(fd: Fd, iovecs: number, count: number): number {
  const n = Number(libc.readv(fd, iovecs as Pointer, count));
  return n < 0 ? -lastErrno() : n;
}

export function writevRaw(fd: Fd, iovecs: number, count: number): number {
  const n = Number(libc.writev(fd, iovecs as Pointer, count));
  return n < 0 ? -lastErrno() : n;
}

/** if_nametoindex(3); ENODEV when the interface does not exist in this namespace. */
export function interfaceIndex(name: string): SysResult<number> {
  const index = libc.if_nametoindex(cString(name));
  return index === 0 ? err(failure("if_nametoindex")) : ok(index);
}

/** eventfd(2): a counter another thread can write to wake a `ppoll` on this descriptor. */
export function eventfd(initial: number, flags: number): SysResult<Fd> {
  const fd = libc.eventfd(initial, flags);
  return fd < 0 ? err(failure("eventfd")) : ok(fd as Fd);
}
