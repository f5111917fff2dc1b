// An IKE_SA_INIT flood against the responder (RFC 7296 §2.6): cookies engage, memory stays bounded, a real initiator still gets in.
import { describe, expect, test } from "bun:test";
import { instant } from "../../../firmware/core/instant.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { config, connect, eventsOf, seededRandom } from "./harness.ts";

const LIMITS = { cookieThreshold: 16, halfOpenLimit: 64, halfOpenTimeoutMs: 30_000, secretLifetimeMs: 120_000 };

describe("IKE_SA_INIT flood", () => {
  test("10 000 spoofed IKE_SA_INITs: half-open SAs stop at the cookie threshold, replies are stateless cookies", () => {
    const b = new IkeEndpoint({ random: seededRandom("flood-b"), responder: config({ local: "b.lab" }), responderLimits: LIMITS });
    // Each flood packet is a real IKE_SA_INIT from a fresh initiator on a spoofed source.
    const templates: Uint8Array[] = [];
    for (let k = 0; k < 8; k++) {
      const x = new IkeEndpoint({ random: seededRandom(`flood-${k}`) });
      x.initiate(config(), { address: "2001:db8:66::1", port: 500 }, { address: "2001:db8:1::b", port: 500 }, instant(0));
      templates.push(x.pollTransmit()!.bytes);
    }
    let cookies = 0;
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10_000; i++) {
      const bytes = templates[i % templates.length]!.slice();
      bytes[7] = i & 0xff; // a distinct SPIi per packet
      bytes[6] = (i >> 8) & 0xff;
      b.handleDatagram({ local: { address: "2001:db8:1::b", port: 500 }, remote: { address: `2001:db8:66::${(i % 4000) + 1}`, port: 500 }, bytes, nonEspMarker: false }, instant(i));
      for (let d = b.pollTransmit(); d; d = b.pollTransmit()) if (d.bytes.length < 100) cookies++;
      expect(b.halfOpenCount).toBeLessThanOrEqual(LIMITS.cookieThreshold);
    }
    expect(b.cookiesEngaged).toBe(true);
    expect(b.halfOpenCount).toBe(LIMITS.cookieThreshold);
    expect(b.ikeSas.length).toBe(LIMITS.cookieThreshold);
    expect(cookies).toBe(10_000 - LIMITS.cookieThreshold);
    expect(b.counters.get("ike.error.cookie-required.request")).toBe(10_000 - LIMITS.cookieThreshold);
    // Stateless: 10 000 requests must not grow the heap by more than a few MB.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);
  });

  test("under a flood a real initiator answers the COOKIE and is served; half-open SAs expire", () => {
    const b = new IkeEndpoint({ random: seededRandom("fb"), responder: config({ local: "b.lab", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64" }), responderLimits: LIMITS });
    for (let i = 0; i < LIMITS.cookieThreshold; i++) {
      const x = new IkeEndpoint({ random: seededRandom(`junk-${i}`) });
      x.initiate(config(), { address: `2001:db8:66::${i + 1}`, port: 500 }, { address: "2001:db8:1::b", port: 500 }, instant(0));
      const d = x.pollTransmit()!;
      b.handleDatagram({ local: d.remote, remote: d.local, bytes: d.bytes, nonEspMarker: false }, instant(0));
      while (b.pollTransmit()) {}
    }
    expect(b.cookiesEngaged).toBe(true);
    const a = new IkeEndpoint({ random: seededRandom("real-a") });
    const net = connect(a, b, ["2001:db8:1::a"], ["2001:db8:1::b"]);
    a.initiate(config({ remote: "b.lab" }), { address: "2001:db8:1::a", port: 500 }, { address: "2001:db8:1::b", port: 500 }, instant(0));
    net.run();
    expect(a.counters.get("ike.init.cookie-retry")).toBe(1);
    expect(eventsOf(net.events.get(a)!, "child-sa-installed")).toHaveLength(1);
    // The junk half-open SAs time out; the real one stays.
    net.now = instant(LIMITS.halfOpenTimeoutMs + 1);
    b.handleTimeout(net.now);
    expect(b.halfOpenCount).toBe(0);
    expect(b.ikeSas).toHaveLength(1);
    expect(b.counters.get("ike.half-open.expired")).toBe(LIMITS.cookieThreshold);
  });

  test("above the hard limit requests are dropped outright", () => {
    const b = new IkeEndpoint({ random: seededRandom("hl"), responder: config({ local: "b.lab" }), responderLimits: { ...LIMITS, cookieThreshold: 1000, halfOpenLimit: 5 } });
    for (let i = 0; i < 20; i++) {
      const x = new IkeEndpoint({ random: seededRandom(`hl-${i}`) });
      x.initiate(config(), { address: `2001:db8:77::${i + 1}`, port: 500 }, { address: "2001:db8:1::b", port: 500 }, instant(0));
      const d = x.pollTransmit()!;
      b.handleDatagram({ local: d.remote, remote: d.local, bytes: d.bytes, nonEspMarker: false }, instant(0));
      while (b.pollTransmit()) {}
    }
    expect(b.halfOpenCount).toBe(5);
    expect(b.counters.get("ike.error.half-open-limit.request")).toBe(15);
  });
});
