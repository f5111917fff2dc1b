// Raw IP sockets over bun:ffi: ESP (protocol 50) over IPv6 or IPv4, IPv6-in-IPv6 (41), and IPv6 with the header included (for Mobility Header packets).

import { ok } from "../../firmware/core/result.ts";
import type { MessageBatch } from "./ffi/socket-structs.ts";
import { sockaddrIn, sockaddrIn6 } from "./ffi/socket-structs.ts";
import {
  AF_INET,
  AF_INET6,
  bindToDevice,
  close,
  type Fd,
  IP_MTU_DISCOVER,
  IP_PKTINFO,
  IP_PMTUDISC_PROBE,
  IPPROTO_ESP,
  IPPROTO_IPV6,
  IPPROTO_RAW,
  IPV6_DONTFRAG,
  IPV6_RECVPKTINFO,
  IPV6_UNICAST_HOPS,
  MSG_DONTWAIT,
  recvmmsgRaw,
  sendmmsgRaw,
  sendto,
  setsockoptInt,
  SO_RCVBUFFORCE,
  SO_SNDBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  socket,
  SOL_IP,
  SOL_IPV6,
  SOL_SOCKET,
  type SysResult,
} from "./ffi/libc.ts";

export interface SocketOptions {
  /** SO_BINDTODEVICE: send only through, and receive only from, this interface. */
  readonly device?: string;
  /** Deliver each datagram's destination address and arrival interface (IPV6_RECVPKTINFO / IP_PKTINFO). */
  readonly receivePacketInfo?: boolean;
  /** SO_RCVBUFFORCE and SO_SNDBUFFORCE (needs CAP_NET_ADMIN), in octets. */
  readonly bufferBytes?: number;
  /** Unicast hop limit of sent packets (IPv6 sockets). */
  readonly hopLimit?: number;
}

/**
 * A datagram-style socket (raw or UDP) driven with preallocated `MessageBatch`es. Owns its descriptor:
 * `close` is idempotent and every failed `open` closes what it made.
 */
export class DatagramSocket {
  readonly #fd: Fd;
  readonly family: 4 | 6;
  #open = true;

  constructor(fd: Fd, family: 4 | 6) {
    this.#fd = fd;
    this.family = family;
  }

  get fd(): Fd {
    return this.#fd;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /**
   * sendmmsg of messages [start, start+count) of `batch` (armed with `prepareSend`); never blocks.
   * Resolves to the number the kernel took (which may be fewer: the caller skips the first refused
   * one and retries the rest) or −errno when the first failed.
   */
  sendBatch(batch: MessageBatch, start: number, count: number): number {
    return sendmmsgRaw(this.#fd, batch.messageAddress(start), count, MSG_DONTWAIT);
  }

  /** recvmmsg into messages [0, count) (armed with `prepareReceive`); never blocks; count or −errno (−EAGAIN: none). */
  receiveBatch(batch: MessageBatch, count: number): number {
    return recvmmsgRaw(this.#fd, batch.vectorAddress, count, MSG_DONTWAIT);
  }

  /** One datagram to `destination` (16 or 4 octets; `port` for UDP). Slow path: allocates a sockaddr. */
  sendTo(data: Uint8Array, destination: Uint8Array, port = 0): SysResult<number> {
    const address = destination.length === 16 ? sockaddrIn6(destination, port) : sockaddrIn(destination, port);
    return sendto(this.#fd, data, MSG_DONTWAIT, address);
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    close(this.#fd);
  }
}

/** Applies the common options; on failure closes `fd` and passes the error on. */
export function configureSocket(fd: Fd, family: 4 | 6, options: SocketOptions): SysResult<void> {
  const steps: (() => SysResult<void>)[] = [];
  if (options.device !== undefined) steps.push(() => bindToDevice(fd, options.device!));
  if (options.bufferBytes !== undefined) {
    steps.push(() => setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, options.bufferBytes!));
    steps.push(() => setsockoptInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, options.bufferBytes!));
  }
  if (options.receivePacketInfo) {
    steps.push(() => (family === 6 ? setsockoptInt(fd, SOL_IPV6, IPV6_RECVPKTINFO, 1) : setsockoptInt(fd, SOL_IP, IP_PKTINFO, 1)));
  }
  if (options.hopLimit !== undefined && family === 6) steps.push(() => setsockoptInt(fd, SOL_IPV6, IPV6_UNICAST_HOPS, options.hopLimit!));
  for (const step of steps) {
    const r = step();
    if (!r.ok) {
      close(fd);
      return r;
    }
  }
  return ok(undefined);
}

export type RawSocketKind =
  /** IPv6, protocol 50: send ESP (SPI onwards), the kernel adds the IPv6 header; receive ESP without it. */
  | "esp6"
  /** IPv4, protocol 50: send ESP, the kernel adds the IPv4 header; receive whole IPv4 packets. */
  | "esp4"
  /** IPv6, IPPROTO_RAW (implies IPV6_HDRINCL): send whole IPv6 packets built by the caller. Send only. */
  | "ipv6-header-included"
  /**
   * IPv6, protocol 41 (RFC 2473 IPv6-in-IPv6): send an inner packet, the kernel adds the outer header;
   * receive inner packets without it. With no tunnel driver for protocol 41 in the kernel, an open
   * socket is what keeps it from answering each packet with a Parameter Problem (measured: docs/modes.md).
   */
  | "ipv6-in-ipv6";

/** Opens a raw socket (CAP_NET_RAW), non-blocking and close-on-exec. ESP is never fragmented locally. */
export function openRawSocket(kind: RawSocketKind, options: SocketOptions = {}): SysResult<DatagramSocket> {
  const family = kind === "esp4" ? 4 : 6;
  const protocol = kind === "ipv6-header-included" ? IPPROTO_RAW : kind === "ipv6-in-ipv6" ? IPPROTO_IPV6 : IPPROTO_ESP;
  const fd = socket(family === 6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (!fd.ok) return fd;
  const configured = configureSocket(fd.value, family, options);
  if (!configured.ok) return configured;
  // RFC 4303 §3.3.5 lets the sender fragment after ESP; monami never does: an oversize packet fails (EMSGSIZE) instead.
  const noFragment =
    kind === "esp6" || kind === "ipv6-in-ipv6" ? setsockoptInt(fd.value, SOL_IPV6, IPV6_DONTFRAG, 1) : kind === "esp4" ? setsockoptInt(fd.value, SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE) : ok(undefined);
  if (!noFragment.ok) {
    close(fd.value);
    return noFragment;
  }
  return ok(new DatagramSocket(fd.value, family));
}
