// mmsghdr batches and sockaddrs laid out as Linux LP64 expects, and the signalling socket's BPF filter run on sample packets.
import { describe, expect, test } from "bun:test";
import { MOBILITY_SIGNALLING_FILTER, encodeFilter } from "../../../board/linux/packet-socket.ts";
import { CONTROL_SLOT, MessageBatch, PACKET_HOST, PACKET_OUTGOING, sockaddrIn, sockaddrIn6, SOCKADDR_SLOT } from "../../../board/linux/ffi/socket-structs.ts";
import { parseIpv4, parseIpv6 } from "../../../firmware/wire/address.ts";

function u64(bytes: Uint8Array, at: number): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x1_0000_0000;
}

describe("sockaddrs", () => {
  test("sockaddr_in6: family 10 (host order), port in network order, address at 8, scope at 24", () => {
    const s = sockaddrIn6(parseIpv6("2001:db8::1")!, 4500, 7);
    expect(s.length).toBe(28);
    expect([s[0], s[1], s[2], s[3]]).toEqual([10, 0, 0x11, 0x94]);
    expect(s.subarray(8, 24)).toEqual(parseIpv6("2001:db8::1")!);
    expect(s[24]).toBe(7);
  });

  test("sockaddr_in: family 2, port, address at 4, zero padding", () => {
    const s = sockaddrIn(parseIpv4("192.0.2.1")!, 4500);
    expect([...s]).toEqual([2, 0, 0x11, 0x94, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe("MessageBatch", () => {
  const batch = new MessageBatch(4, 2048);

  test("slots, names and control areas are where the header pointers say (checked through the kernel's view)", () => {
    expect(batch.data.length).toBe(4 * 2048);
    expect(batch.names.length).toBe(4 * SOCKADDR_SLOT);
    expect(batch.control.length).toBe(4 * CONTROL_SLOT);
    expect(batch.messageAddress(3) - batch.vectorAddress).toBe(3 * 64);
    expect(batch.iovecBytes.length).toBe(4 * 16);
    // iovec i points at slot i after prepareReceive, with the whole slot as length.
    batch.prepareReceive(4, true);
    for (let i = 0; i < 4; i++) {
      expect(u64(batch.iovecBytes, i * 16)).toBe(batch.dataAddress + i * 2048);
      expect(u64(batch.iovecBytes, i * 16 + 8)).toBe(2048);
    }
  });

  test("prepareSend points the iovec at an offset inside the slot with the given length", () => {
    batch.prepareSend(2, 8, 100, 28);
    expect(u64(batch.iovecBytes, 2 * 16)).toBe(batch.dataAddress + 2 * 2048 + 8);
    expect(u64(batch.iovecBytes, 2 * 16 + 8)).toBe(100);
  });

  test("an IPV6_PKTINFO source is a 36-octet cmsg at level 41 type 50, readable as received packet info", () => {
    const source = parseIpv6("2001:db8:1::2")!;
    batch.prepareSend(1, 0, 10, 28);
    batch.setSourceIpv6(1, source, 0, 5);
    const c = new DataView(batch.control.buffer, CONTROL_SLOT);
    expect(u64(batch.control, CONTROL_SLOT)).toBe(36);
    expect(c.getInt32(8, true)).toBe(41);
    expect(c.getInt32(12, true)).toBe(50);
    expect(batch.control.subarray(CONTROL_SLOT + 16, CONTROL_SLOT + 32)).toEqual(source);
    expect(c.getUint32(32, true)).toBe(5);
    // The same bytes, as if the kernel had delivered them (msg_controllen = CMSG_SPACE(20) = 40).
    expect(batch.receivedPacketInfo(1)).toBe(CONTROL_SLOT + 16);
  });

  test("capacity and slot size are checked", () => {
    expect(() => new MessageBatch(0, 2048)).toThrow(RangeError);
    expect(() => new MessageBatch(4, 100)).toThrow(RangeError);
  });
});

/** A classic BPF interpreter for the few instructions the filter uses. */
function runFilter(packet: Uint8Array, packetType: number): number {
  let a = 0;
  for (let pc = 0; pc < MOBILITY_SIGNALLING_FILTER.length; pc++) {
    const [code, jt, jf, k] = MOBILITY_SIGNALLING_FILTER[pc]!;
    if (code === 0x20) a = k === 0xfffff004 ? packetType : new DataView(packet.buffer).getUint32(k);
    else if (code === 0x30) a = packet[k] ?? 0;
    else if (code === 0x15) pc += a === k ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`unexpected BPF code ${code}`);
  }
  throw new Error("fell off the program");
}

describe("signalling packet filter", () => {
  const ipv6 = (nextHeader: number) => Uint8Array.from({ length: 48 }, (_, i) => (i === 0 ? 0x60 : i === 6 ? nextHeader : 0));

  test("keeps received IPv6 packets starting with Destination Options or a Routing header", () => {
    expect(runFilter(ipv6(60), PACKET_HOST)).toBe(0xffff);
    expect(runFilter(ipv6(43), PACKET_HOST)).toBe(0xffff);
  });

  test("drops plain ESP, other protocols and our own outgoing packets", () => {
    expect(runFilter(ipv6(50), PACKET_HOST)).toBe(0);
    expect(runFilter(ipv6(58), PACKET_HOST)).toBe(0);
    expect(runFilter(ipv6(60), PACKET_OUTGOING)).toBe(0);
  });

  test("encodes struct sock_filter as code (u16 LE), jt, jf, k (u32 LE)", () => {
    const bytes = encodeFilter([[0x15, 3, 1, 0x01020304]]);
    expect([...bytes]).toEqual([0x15, 0, 3, 1, 4, 3, 2, 1]);
  });
});
