// UDP sockets over bun:ffi, for ESP in UDP (RFC 3948, port 4500): bound to an address and port, batch I/O like the raw ones.

import { ok } from "../../firmware/core/result.ts";
import { AF_INET, AF_INET6, bind, close, IPPROTO_UDP, SO_REUSEADDR, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, setsockoptInt, socket, SOL_SOCKET, type SysResult } from "./ffi/libc.ts";
import { sockaddrIn, sockaddrIn6 } from "./ffi/socket-structs.ts";
import { configureSocket, DatagramSocket, type SocketOptions } from "./raw-socket.ts";

/** Opens a non-blocking UDP socket bound to `address` (16 or 4 octets; all zeros = any) and `port`. */
export function openUdpSocket(address: Uint8Array, port: number, options: SocketOptions = {}): SysResult<DatagramSocket> {
  const family = address.length === 16 ? 6 : 4;
  const fd = socket(family === 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (!fd.ok) return fd;
  const reuse = setsockoptInt(fd.value, SOL_SOCKET, SO_REUSEADDR, 1);
  if (!reuse.ok) {
    close(fd.value);
    return reuse;
  }
  const configured = configureSocket(fd.value, family, options);
  if (!configured.ok) return configured;
  const bound = bind(fd.value, family === 6 ? sockaddrIn6(address, port) : sockaddrIn(address, port));
  if (!bound.ok) {
    close(fd.value);
    return bound;
  }
  return ok(new DatagramSocket(fd.value, family));
}
