// Known packets for the wire codecs, built by hand from the RFC layouts; checksums as tshark 4.0.17 calculated them.

import { fromHex } from "../../../firmware/core/hex.ts";

const hex = (s: string): Uint8Array => {
  const b = fromHex(s);
  if (!b) throw new Error(`bad hex in vector: ${s}`);
  return b;
};

/**
 * IPv6 2001:db8:1::a -> 2001:db8:1::b, hop limit 61, carrying Hop-by-Hop (Router Alert), Type 2
 * routing header (2001:db8:c::2), Destination Options (PadN, HAO 2001:db8:a::1 at 8n+6), Fragment
 * (offset 0, id 0x1234) and an ICMPv6 echo request (id 0x42, seq 7, "hello"). tshark reports the
 * checksum e011, over the HoA and the Type 2 address, as good; e013, over the header's addresses, as bad.
 */
export const IPV6_CHAIN_ECHO = hex(
  [
    "60000000 004d 00 3d", // fixed header: payload length 77, next header 0 (HBH), hop limit 61
    "20010db80001000000000000 0000000a", // source 2001:db8:1::a
    "20010db80001000000000000 0000000b", // destination 2001:db8:1::b
    "2b 00 05 02 0000 01 00", // HBH: next 43, len 0; Router Alert (type 5, value 0); PadN(0)
    "3c 02 02 01 00000000 20010db8000c0000000000000000 0002", // RH type 2: next 60, len 2, segments left 1
    "2c 02 01 02 0000 c9 10 20010db8000a0000000000000000 0001", // DestOpt: next 44; PadN(2); HAO at offset 6
    "3a 00 0000 00001234", // Fragment: next 58, offset 0, M 0, identification 0x1234
    "80 00 e011 0042 0007 68656c6c6f", // ICMPv6 echo request
  ].join(""),
);

/** UDP 40000 -> 40001 "monami" over IPv6 2001:db8::1 -> 2001:db8::2 (tshark: checksum 0x22a1). */
export const UDP_IPV6 = hex(
  "60000000 000e 11 40 20010db8000000000000000000000001 20010db8000000000000000000000002 9c40 9c41 000e 22a1 6d6f6e616d69",
);

/** The same datagram over IPv4 192.0.2.1 -> 198.51.100.2, id 0x1c46, DF (tshark: header 0x324e, UDP 0x91de). */
export const UDP_IPV4 = hex("45 00 0022 1c46 4000 40 11 324e c0000201 c6336402 9c40 9c41 000e 91de 6d6f6e616d69");

/** ICMPv6 Packet Too Big (MTU 1400) from 2001:db8::ff to 2001:db8::1, quoting UDP_IPV6 (tshark: checksum 0x2a6e). */
export const PACKET_TOO_BIG = hex(
  "60000000 003e 3a ff 20010db80000000000000000000000ff 20010db8000000000000000000000001 02 00 2a6e 00000578" +
    "60000000000e114020010db800000000000000000000000120010db80000000000000000000000029c409c41000e22a16d6f6e616d69",
);

/** ICMPv6 echo reply id 0xbeef seq 3 "ping" from 2001:db8::2 to 2001:db8::1 (tshark: checksum 0x8580). */
export const ECHO_REPLY = hex("60000000 000c 3a 40 20010db8000000000000000000000002 20010db8000000000000000000000001 81 00 8580 beef 0003 70696e67");
