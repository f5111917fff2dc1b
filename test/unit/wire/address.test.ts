// Address text: RFC 4291 §2.2 forms in, RFC 5952 canonical text out; IPv4 dotted quads; prefixes and matching.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  canonicalIpv6,
  formatIpv4,
  formatIpv6,
  maskBytes,
  parseIpv4,
  parseIpv6,
  parsePrefix,
  prefixMatches,
} from "../../../firmware/wire/address.ts";

describe("RFC 5952 canonical IPv6 text", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"], // §4.1 no leading zeros
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // §4.2.3 first of equal runs
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // §4.2.3 longest run
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // §4.2.2 a single zero group is not compressed
    ["2001:DB8::AbCd", "2001:db8::abcd"], // §4.3 lower case
    ["0:0:0:0:0:0:0:0", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["fe80::1%eth0", "fe80::1"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"], // §5 IPv4-mapped keeps the dotted tail
    ["0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"], // not mapped: hex
    ["::192.0.2.1", "::c000:201"],
  ];
  for (const [input, canonical] of cases) {
    test(`${input} -> ${canonical}`, () => expect(canonicalIpv6(input)).toBe(canonical));
  }

  test("rejects malformed text", () => {
    for (const bad of ["", ":", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1", ":1::", "1:::2", "1::2:3:4:5:6:7:8", "::1.2.3", "::1.2.3.4:5", "1.2.3.4", "::256.1.1.1"]) {
      expect(parseIpv6(bad)).toBeUndefined();
    }
  });

  test("format(parse(format(b))) is stable and parse inverts format for any 16 octets (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const text = formatIpv6(b);
        expect(parseIpv6(text)).toEqual(b);
        expect(canonicalIpv6(text)).toBe(text);
        expect(text).toBe(text.toLowerCase());
        expect(text.split("::").length).toBeLessThanOrEqual(2);
      }),
      { numRuns: 1000, seed: 5952 },
    );
  });
});

describe("IPv4 text", () => {
  test("dotted quads in and out", () => {
    expect(parseIpv4("192.0.2.1")).toEqual(Uint8Array.from([192, 0, 2, 1]));
    expect(formatIpv4(Uint8Array.from([10, 0, 0, 255]))).toBe("10.0.0.255");
  });
  test("rejects leading zeros, out-of-range and short forms", () => {
    for (const bad of ["01.2.3.4", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 ", "0x1.2.3.4", ""]) {
      expect(parseIpv4(bad)).toBeUndefined();
    }
  });
});

describe("prefixes", () => {
  test("host bits are cleared and the text is canonical", () => {
    expect(parsePrefix("2001:DB8:AB:CD::1/48")).toEqual({ address: "2001:db8:ab::", length: 48 });
    expect(parsePrefix("192.0.2.77/26")).toEqual({ address: "192.0.2.64", length: 26 });
    expect(parsePrefix("::/0")).toEqual({ address: "::", length: 0 });
  });
  test("rejects bad lengths and missing slashes", () => {
    for (const bad of ["2001:db8::/129", "10.0.0.0/33", "10.0.0.0", "10.0.0.0/", "10.0.0.0/a", "nope/8"]) expect(parsePrefix(bad)).toBeUndefined();
  });
  test("maskBytes keeps the first bits only", () => {
    expect(maskBytes(Uint8Array.from([0xff, 0xff, 0xff]), 12)).toEqual(Uint8Array.from([0xff, 0xf0, 0x00]));
  });
  test("prefixMatches compares whole and partial octets", () => {
    const a = parseIpv6("2001:db8:ab::1")!;
    expect(prefixMatches(a, parseIpv6("2001:db8:ab::")!, 48)).toBe(true);
    expect(prefixMatches(a, parseIpv6("2001:db8:ac::")!, 45)).toBe(true); // ab = 10101011, ac = 10101100
    expect(prefixMatches(a, parseIpv6("2001:db8:ac::")!, 46)).toBe(false);
    expect(prefixMatches(a, parseIpv6("::")!, 0)).toBe(true);
    expect(prefixMatches(a, a, 129)).toBe(false);
    expect(prefixMatches(a, Uint8Array.from([32, 1, 13, 184]), 16)).toBe(false);
  });
  test("a negative or fractional length matches nothing (and returns at once)", () => {
    const a = parseIpv6("2001:db8::1")!;
    expect(prefixMatches(a, a, -1)).toBe(false);
    expect(prefixMatches(a, a, 7.5)).toBe(false);
  });
});
