// A packet socket (AF_PACKET, SOCK_DGRAM) that receives the IPv6 packets the kernel cannot: Mobility signalling with extension headers.
//
// Without CONFIG_IPV6_MIP6 the kernel discards a packet with a Home Address option (option type 0xC9: "discard
// and send Parameter Problem", RFC 8200 §4.2) or a Type 2 routing header (unknown routing type with segments
// left, §4.4) before any socket sees it. A packet socket gets the frame first; a classic BPF filter keeps only
// received (not outgoing) IPv6 packets whose first Next Header is Destination Options (60) or Routing (43).

import { ok } from "../../firmware/core/result.ts";
import { AF_PACKET, bind, close, ETH_P_IPV6, interfaceIndex, setsockopt, SO_ATTACH_FILTER, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, socket, SOL_SOCKET, addressOf, type SysResult } from "./ffi/libc.ts";
import { PACKET_OUTGOING, sockaddrLl } from "./ffi/socket-structs.ts";
import { configureSocket, DatagramSocket } from "./raw-socket.ts";

/** One classic BPF instruction: code, jump-if-true, jump-if-false, constant. */
type Instruction = readonly [code: number, jt: number, jf: number, k: number];

const BPF_LD_W_ABS = 0x20;
const BPF_LD_B_ABS = 0x30;
const BPF_JEQ_K = 0x15;
const BPF_RET_K = 0x06;
/** SKF_AD_OFF + SKF_AD_PKTTYPE (linux/filter.h): loads skb->pkt_type. */
const LOAD_PACKET_TYPE = 0xfffff004;
/** IPv6 Next Header offset (RFC 8200 §3). */
const NEXT_HEADER_OFFSET = 6;

/** The filter: incoming IPv6 whose first Next Header is 60 or 43; exported for a unit test of its layout. */
export const MOBILITY_SIGNALLING_FILTER: readonly Instruction[] = [
  [BPF_LD_W_ABS, 0, 0, LOAD_PACKET_TYPE],
  [BPF_JEQ_K, 3, 0, PACKET_OUTGOING], // our own sends: reject
  [BPF_LD_B_ABS, 0, 0, NEXT_HEADER_OFFSET],
  [BPF_JEQ_K, 2, 0, 60], // Destination Options (Home Address option)
  [BPF_JEQ_K, 1, 0, 43], // Routing header (Type 2)
  [BPF_RET_K, 0, 0, 0],
  [BPF_RET_K, 0, 0, 0xffff],
];

/** struct sock_filter[] bytes for a program. */
export function encodeFilter(program: readonly Instruction[]): Uint8Array {
  const bytes = new Uint8Array(new ArrayBuffer(program.length * 8));
  const view = new DataView(bytes.buffer);
  program.forEach(([code, jt, jf, k], i) => {
    view.setUint16(i * 8, code, true);
    view.setUint8(i * 8 + 2, jt);
    view.setUint8(i * 8 + 3, jf);
    view.setUint32(i * 8 + 4, k >>> 0, true);
  });
  return bytes;
}

/**
 * Opens a non-blocking packet socket on `device` delivering whole IPv6 packets (from the IPv6 header)
 * that carry extension headers before their upper layer. Needs CAP_NET_RAW.
 */
export function openSignallingPacketSocket(device: string): SysResult<DatagramSocket> {
  const index = interfaceIndex(device);
  if (!index.ok) return index;
  // Protocol 0 first, so nothing queues before the filter is in place; bind then selects IPv6.
  const fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (!fd.ok) return fd;
  const instructions = encodeFilter(MOBILITY_SIGNALLING_FILTER);
  const program = new Uint8Array(new ArrayBuffer(16));
  const view = new DataView(program.buffer);
  view.setUint16(0, MOBILITY_SIGNALLING_FILTER.length, true);
  const address = addressOf(instructions);
  view.setUint32(8, address >>> 0, true);
  view.setUint32(12, Math.floor(address / 0x1_0000_0000), true);
  const attached = setsockopt(fd.value, SOL_SOCKET, SO_ATTACH_FILTER, program);
  void instructions; // the kernel copies the program during setsockopt; keep it referenced until then
  if (!attached.ok) {
    close(fd.value);
    return attached;
  }
  const configured = configureSocket(fd.value, 6, { bufferBytes: 256 * 1024 });
  if (!configured.ok) return configured;
  const bound = bind(fd.value, sockaddrLl(index.value, ETH_P_IPV6));
  if (!bound.ok) {
    close(fd.value);
    return bound;
  }
  return ok(new DatagramSocket(fd.value, 6));
}
