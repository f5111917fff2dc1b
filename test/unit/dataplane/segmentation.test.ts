// TCP segmentation and coalescing across the tunnel interface: every cut segment is a valid packet, and gluing them back restores the stream.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { GSO_NONE, GSO_TCPV6, completeChecksum, readVnetHeader, sumRange, TcpCoalescer, TcpSegmenter, type VnetHeader, VNET_F_NEEDS_CSUM, VNET_HEADER_LEN } from "../../../firmware/dataplane/segmentation.ts";
import { ipv6UpperLayerChecksum } from "../../../firmware/wire/checksum.ts";
import { parseIpv6 } from "../../../firmware/wire/address.ts";

const SOURCE = parseIpv6("2001:db8:20::2")!;
const DESTINATION = parseIpv6("2001:db8:30::2")!;

/** An IPv6 TCP segment with a timestamp option; checksum complete unless `partial`. */
function tcpPacket(o: { sequence: number; payload: Uint8Array; flags?: number; window?: number }): Uint8Array {
  const headerLength = 40 + 32;
  const p = new Uint8Array(headerLength + o.payload.length);
  p[0] = 0x60;
  new DataView(p.buffer).setUint16(4, p.length - 40);
  p[6] = 6;
  p[7] = 64;
  p.set(SOURCE, 8);
  p.set(DESTINATION, 24);
  const t = new DataView(p.buffer, 40);
  t.setUint16(0, 40000);
  t.setUint16(2, 5201);
  t.setUint32(4, o.sequence >>> 0);
  t.setUint32(8, 777);
  p[52] = 8 << 4;
  p[53] = o.flags ?? 0x10;
  t.setUint16(14, o.window ?? 512);
  p.set([1, 1, 8, 10, 0, 0, 0, 42, 0, 0, 0, 7], 60); // NOP NOP TS
  p.set(o.payload, headerLength);
  const sum = ipv6UpperLayerChecksum(SOURCE, DESTINATION, 6, p.subarray(40));
  t.setUint16(16, sum);
  return p;
}

function tcpChecksumOk(p: Uint8Array): boolean {
  return ipv6UpperLayerChecksum(p.subarray(8, 24), p.subarray(24, 40), 6, p.subarray(40)) === 0;
}

function superSegment(payload: Uint8Array, mss: number, sequence: number, flags = 0x18): { buffer: Uint8Array; header: VnetHeader } {
  const packet = tcpPacket({ sequence, payload, flags });
  const buffer = new Uint8Array(VNET_HEADER_LEN + packet.length);
  buffer.set(packet, VNET_HEADER_LEN);
  buffer.set([VNET_F_NEEDS_CSUM, GSO_TCPV6, 72, 0, mss & 0xff, mss >> 8, 40, 0, 16, 0], 0);
  const header: VnetHeader = { flags: 0, gsoType: 0, headerLength: 0, gsoSize: 0, checksumStart: 0, checksumOffset: 0 };
  readVnetHeader(buffer, 0, header);
  return { buffer, header };
}

describe("checksums", () => {
  test("sumRange equals the plain RFC 1071 sum for odd and even lengths and offsets", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), (bytes, skip) => {
        const start = Math.min(skip, bytes.length);
        let plain = 0;
        for (let i = start; i < bytes.length; i += 2) plain += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
        while (plain > 0xffff) plain = (plain & 0xffff) + (plain >>> 16);
        expect(sumRange(bytes, start, bytes.length, 0)).toBe(plain);
      }),
    );
  });

  test("completing a partial checksum gives the full TCP checksum", () => {
    const p = tcpPacket({ sequence: 1, payload: new Uint8Array(100).fill(3) });
    const want = new DataView(p.buffer).getUint16(56);
    // The kernel's partial form: the field holds the pseudo-header sum.
    let pseudo = sumRange(p, 8, 40, 0) + (p.length - 40) + 6;
    while (pseudo > 0xffff) pseudo = (pseudo & 0xffff) + (pseudo >>> 16);
    new DataView(p.buffer).setUint16(56, pseudo);
    expect(completeChecksum(p, 0, p.length, 40, 16)).toBe(true);
    expect(new DataView(p.buffer).getUint16(56)).toBe(want);
    expect(completeChecksum(p, 0, p.length, p.length, 16)).toBe(false);
  });
});

describe("TcpSegmenter", () => {
  test("a 10 000-octet super-segment becomes 7 valid packets: lengths, sequence numbers, PSH only on the last", () => {
    const payload = Uint8Array.from({ length: 10_000 }, (_, i) => i * 31);
    const { buffer, header } = superSegment(payload, 1428, 0xfffff000);
    const s = new TcpSegmenter();
    expect(s.load(buffer, VNET_HEADER_LEN, buffer.length - VNET_HEADER_LEN, header)).toBe(true);
    expect(s.count).toBe(8);
    const out = new Uint8Array(2048);
    const glued: number[] = [];
    for (let i = 0; i < s.count; i++) {
      const n = s.write(i, out, 0);
      const p = out.slice(0, n);
      expect(new DataView(p.buffer).getUint16(4)).toBe(n - 40);
      expect(new DataView(p.buffer).getUint32(44)).toBe((0xfffff000 + i * 1428) >>> 0);
      expect(p[53]! & 0x08).toBe(i === s.count - 1 ? 0x08 : 0);
      expect(tcpChecksumOk(p)).toBe(true);
      glued.push(...p.subarray(72));
    }
    expect(Uint8Array.from(glued)).toEqual(payload);
  });

  test("refuses what it cannot cut", () => {
    const { buffer, header } = superSegment(new Uint8Array(100), 50, 1);
    const s = new TcpSegmenter();
    expect(s.load(buffer, VNET_HEADER_LEN, buffer.length - VNET_HEADER_LEN, { ...header, gsoType: GSO_NONE })).toBe(false);
    expect(s.load(buffer, VNET_HEADER_LEN, buffer.length - VNET_HEADER_LEN, { ...header, gsoSize: 0 })).toBe(false);
    expect(s.load(buffer, VNET_HEADER_LEN, 50, header)).toBe(false);
  });
});

describe("TcpCoalescer", () => {
  /** What the kernel would do with the super-segment: cut it with gso_size and complete each checksum. */
  function kernelSegments(super_: Uint8Array): Uint8Array[] {
    const header: VnetHeader = { flags: 0, gsoType: 0, headerLength: 0, gsoSize: 0, checksumStart: 0, checksumOffset: 0 };
    readVnetHeader(super_, 0, header);
    const packet = super_.slice(VNET_HEADER_LEN);
    // The segmenter recomputes every checksum, as the kernel does for CHECKSUM_PARTIAL super-segments.
    const s = new TcpSegmenter();
    expect(s.load(packet, 0, packet.length, header)).toBe(true);
    return Array.from({ length: s.count }, (_, i) => {
      const out = new Uint8Array(2048);
      return out.slice(0, s.write(i, out, 0));
    });
  }

  test("in-order full segments glue into one GSO_TCPV6 write whose segments are the originals", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 1, max: 1428 }), fc.integer({ min: 0, max: 0xffffffff }), (count, last, sequence) => {
        const segments = Array.from({ length: count }, (_, i) =>
          tcpPacket({ sequence: (sequence + i * 1428) >>> 0, payload: new Uint8Array(i === count - 1 ? last : 1428).fill(i & 0xff), flags: i === count - 1 ? 0x18 : 0x10 }),
        );
        const c = new TcpCoalescer();
        c.start(segments[0]!, 0, segments[0]!.length);
        for (const s of segments.slice(1)) expect(c.append(s, 0, s.length)).toBe(true);
        const n = c.finish();
        const written = c.buffer.slice(0, n);
        expect(written[1]).toBe(GSO_TCPV6);
        expect(written[4]! | (written[5]! << 8)).toBe(1428);
        const again = kernelSegments(written);
        expect(again.length).toBe(count);
        again.forEach((p, i) => {
          expect(tcpChecksumOk(p)).toBe(true);
          expect(p.subarray(72)).toEqual(segments[i]!.subarray(72));
          expect(new DataView(p.buffer).getUint32(44)).toBe(new DataView(segments[i]!.buffer).getUint32(44));
        });
      }),
      { numRuns: 100 },
    );
  });

  test("a gap, a short segment, a different ack or options end the group; one segment stays a plain packet", () => {
    const a = tcpPacket({ sequence: 100, payload: new Uint8Array(1000) });
    const c = new TcpCoalescer();
    c.start(a, 0, a.length);
    expect(c.append(tcpPacket({ sequence: 1200, payload: new Uint8Array(1000) }), 0, a.length)).toBe(false); // gap
    const otherAck = tcpPacket({ sequence: 1100, payload: new Uint8Array(1000) });
    otherAck[50] = 5; // acknowledgment number 777 → 0x0509
    expect(c.append(otherAck, 0, otherAck.length)).toBe(false);
    const otherOption = tcpPacket({ sequence: 1100, payload: new Uint8Array(1000) });
    otherOption[67] = 43;
    expect(c.append(otherOption, 0, otherOption.length)).toBe(false);
    const short = tcpPacket({ sequence: 1100, payload: new Uint8Array(500) });
    expect(c.append(short, 0, short.length)).toBe(true);
    expect(c.append(tcpPacket({ sequence: 1600, payload: new Uint8Array(500) }), 0, short.length)).toBe(false); // after a short one
    expect(c.finish()).toBeGreaterThan(VNET_HEADER_LEN + a.length);
    c.start(a, 0, a.length);
    const n = c.finish();
    expect(c.buffer[1]).toBe(GSO_NONE);
    expect([...c.buffer.subarray(VNET_HEADER_LEN, n)]).toEqual([...a]);
  });

  test("only plain ACK/PSH IPv6 TCP data segments are candidates", () => {
    const data = tcpPacket({ sequence: 1, payload: new Uint8Array(10) });
    expect(TcpCoalescer.candidate(data, 0, data.length)).toBe(true);
    const syn = tcpPacket({ sequence: 1, payload: new Uint8Array(10), flags: 0x12 });
    expect(TcpCoalescer.candidate(syn, 0, syn.length)).toBe(false);
    const bare = tcpPacket({ sequence: 1, payload: new Uint8Array(0) });
    expect(TcpCoalescer.candidate(bare, 0, bare.length)).toBe(false);
  });
});
