// Traffic selectors: strongSwan syntax (with RFC 4877 Mobility Header types), narrowing and the initiator's subset check (RFC 7296 §2.9).
import { describe, expect, test } from "bun:test";
import { allWithin, formatSelector, intersect, narrow, selectorFromPrefix } from "../../../firmware/ike/traffic-selectors.ts";

const ts = (t: string) => {
  const s = selectorFromPrefix(t);
  if (!s) throw new Error(`bad selector ${t}`);
  return s;
};

describe("traffic selectors", () => {
  test("prefixes become address ranges; formatting gives the prefix back", () => {
    const s = ts("2001:db8:a::/64");
    expect([s.tsType, s.ipProtocol, s.startPort, s.endPort]).toEqual([8, 0, 0, 65535]);
    expect(formatSelector(s)).toBe("2001:db8:a::/64");
    expect(formatSelector(ts("192.0.2.7"))).toBe("192.0.2.7/32");
    expect(formatSelector(ts("10.0.0.0/8"))).toBe("10.0.0.0/8");
  });

  test("RFC 4877 BU/BA selectors: MH type in the upper 8 bits of the port fields", () => {
    const bu = ts("2001:db8:a::1/128[mh/5]");
    expect([bu.ipProtocol, bu.startPort, bu.endPort]).toEqual([135, 0x0500, 0x05ff]);
    expect(formatSelector(bu)).toBe("2001:db8:a::1/128[135/5]");
    const udp = ts("2001:db8:a::/64[udp/4500]");
    expect([udp.ipProtocol, udp.startPort, udp.endPort]).toEqual([17, 4500, 4500]);
    expect(ts("2001:db8:a::/64[tcp/1000-2000]").endPort).toBe(2000);
    for (const bad of ["2001:db8::/129", "nonsense", "2001:db8::/64[bogus]", "2001:db8::/64[mh/300]", "2001:db8::/64[tcp/9-3]"]) expect(selectorFromPrefix(bad)).toBeUndefined();
  });

  test("narrowing intersects address, protocol and port ranges", () => {
    const wide = ts("2001:db8::/32");
    const ours = ts("2001:db8:a::/64[tcp]");
    const n = intersect(wide, ours)!;
    expect(formatSelector(n)).toBe("2001:db8:a::/64[6]");
    expect(intersect(ts("2001:db8:a::/64"), ts("2001:db8:b::/64"))).toBeUndefined();
    expect(intersect(ts("2001:db8:a::/64[tcp]"), ts("2001:db8:a::/64[udp]"))).toBeUndefined();
    expect(intersect(ts("10.0.0.0/8"), ts("2001:db8::/32"))).toBeUndefined();
    expect(narrow([wide, ts("10.0.0.0/8")], [ours, ts("10.1.0.0/16")]).map(formatSelector)).toEqual(["2001:db8:a::/64[6]", "10.1.0.0/16"]);
  });

  test("the initiator accepts only selectors inside what it proposed", () => {
    expect(allWithin([ts("2001:db8:a::1/128")], [ts("2001:db8:a::/64")])).toBe(true);
    expect(allWithin([ts("2001:db8::/32")], [ts("2001:db8:a::/64")])).toBe(false);
    expect(allWithin([], [ts("2001:db8:a::/64")])).toBe(false);
  });
});
