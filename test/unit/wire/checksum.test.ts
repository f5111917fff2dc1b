// Internet checksum (RFC 1071) and pseudo-headers, against the RFC's own example and an independent bit-by-bit reference.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { fromHex } from "../../../firmware/core/hex.ts";
import {
  internetChecksum,
  ipv4UpperLayerChecksum,
  ipv6PseudoHeaderSum,
  ipv6UpperLayerChecksum,
  onesComplementSum,
} from "../../../firmware/wire/checksum.ts";
import { ECHO_REPLY, UDP_IPV4, UDP_IPV6 } from "../../vectors/wire/known-packets.ts";

const hex = (s: string): Uint8Array => fromHex(s)!;

/** A reference written differently: 32-bit accumulation with BigInt, end-around carry at the end. */
function referenceChecksum(...parts: Uint8Array[]): number {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length + (p.length & 1), 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length + (p.length & 1); // each part is padded on its own, as the pseudo-header fields are even
  }
  let sum = 0n;
  for (let i = 0; i < all.length; i += 2) sum += BigInt(all[i]! * 256 + all[i + 1]!);
  while (sum > 0xffffn) sum = (sum & 0xffffn) + (sum >> 16n);
  return Number(~sum & 0xffffn);
}

describe("RFC 1071 §3 example", () => {
  const data = hex("0001f203f4f5f6f7");
  test("the one's-complement sum is ddf2 and the checksum 220d", () => {
    expect(onesComplementSum(data)).toBe(0xddf2);
    expect(internetChecksum(data)).toBe(0x220d);
  });
  test("appending the checksum makes the sum all ones (the receiver's check gives 0)", () => {
    const withChecksum = hex("0001f203f4f5f6f7 220d");
    expect(onesComplementSum(withChecksum)).toBe(0xffff);
    expect(internetChecksum(withChecksum)).toBe(0);
  });
  test("byte order independence (RFC 1071 §2(B)): swapped input gives the swapped sum", () => {
    const swapped = hex("0100 03f2 f5f4 f7f6");
    expect(onesComplementSum(swapped)).toBe(0xf2dd);
  });
});

describe("odd lengths, carries, incremental sums", () => {
  test("an odd trailing octet is padded with zero on the right", () => {
    expect(onesComplementSum(hex("ab"))).toBe(0xab00);
    expect(internetChecksum(hex("0001f2"))).toBe(internetChecksum(hex("0001f200")));
  });
  test("carries fold back in", () => {
    expect(onesComplementSum(hex("ffff ffff ffff"))).toBe(0xffff);
    expect(onesComplementSum(hex("ffff 0001"))).toBe(0x0001);
  });
  test("sums continue across parts (even-length first part)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }).map((a) => (a.length & 1 ? a.subarray(1) : a)), fc.uint8Array({ maxLength: 64 }), (a, b) => {
        const joined = new Uint8Array(a.length + b.length);
        joined.set(a);
        joined.set(b, a.length);
        expect(internetChecksum(b, onesComplementSum(a))).toBe(internetChecksum(joined));
      }),
      { numRuns: 300, seed: 1071 },
    );
  });
  test("matches the BigInt reference on random data, up to 64 KiB", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => {
        const c = internetChecksum(data);
        expect(c === referenceChecksum(data) || (c === 0xffff && referenceChecksum(data) === 0) || (c === 0 && referenceChecksum(data) === 0xffff)).toBe(true);
      }),
      { numRuns: 300, seed: 1072 },
    );
    const big = new Uint8Array(65535).fill(0xff);
    expect(onesComplementSum(big)).toBe(0xff00); // 32767 words of ffff vanish (ffff is -0), the padded ff00 stays
    expect(internetChecksum(big)).toBe(referenceChecksum(big));
  });
});

describe("pseudo-headers against tshark-checked packets", () => {
  test("UDP over IPv6 verifies (sum to 0) and recomputes to 0x22a1", () => {
    const src = UDP_IPV6.subarray(8, 24);
    const dst = UDP_IPV6.subarray(24, 40);
    const udp = UDP_IPV6.subarray(40);
    expect(ipv6UpperLayerChecksum(src, dst, 17, udp)).toBe(0);
    const zeroed = Uint8Array.from(udp);
    zeroed[6] = 0;
    zeroed[7] = 0;
    expect(ipv6UpperLayerChecksum(src, dst, 17, zeroed)).toBe(0x22a1);
    const pseudo = new Uint8Array(40);
    pseudo.set(src, 0);
    pseudo.set(dst, 16);
    pseudo.set(hex("0000000e 00000011"), 32);
    expect(referenceChecksum(pseudo, zeroed)).toBe(0x22a1);
  });
  test("UDP over IPv4 recomputes to 0x91de; the IPv4 header to 0x324e", () => {
    const zeroed = Uint8Array.from(UDP_IPV4.subarray(20));
    zeroed[6] = 0;
    zeroed[7] = 0;
    expect(ipv4UpperLayerChecksum(UDP_IPV4.subarray(12, 16), UDP_IPV4.subarray(16, 20), 17, zeroed)).toBe(0x91de);
    const header = Uint8Array.from(UDP_IPV4.subarray(0, 20));
    header[10] = 0;
    header[11] = 0;
    expect(internetChecksum(header)).toBe(0x324e);
    expect(referenceChecksum(header)).toBe(0x324e);
  });
  test("ICMPv6 echo reply recomputes to 0x8580", () => {
    const zeroed = Uint8Array.from(ECHO_REPLY.subarray(40));
    zeroed[2] = 0;
    zeroed[3] = 0;
    expect(ipv6UpperLayerChecksum(ECHO_REPLY.subarray(8, 24), ECHO_REPLY.subarray(24, 40), 58, zeroed)).toBe(0x8580);
  });
  test("the IPv6 pseudo-header carries a 32-bit length (RFC 8200 §8.1)", () => {
    const z = new Uint8Array(16);
    expect(ipv6PseudoHeaderSum(z, z, 0x12345, 17)).toBe(0x2345 + 0x1 + 17);
  });
});
