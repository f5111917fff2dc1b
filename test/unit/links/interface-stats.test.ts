// sysfs interface state: parsers, a fixture tree, and the real loopback interface.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Counters } from "../../../firmware/core/counters.ts";
import {
  counterDelta,
  InterfaceStatsReader,
  parseCounter,
  parseIfInet6,
  parseOperState,
  parseSysfsFlag,
} from "../../../board/linux/interface-stats.ts";

describe("sysfs parsers", () => {
  test("flags, operstate and counters; anything else is unknown", () => {
    expect([parseSysfsFlag("1\n"), parseSysfsFlag("0"), parseSysfsFlag(undefined), parseSysfsFlag("2")]).toEqual([true, false, undefined, undefined]);
    expect([parseOperState("up\n"), parseOperState("lowerlayerdown"), parseOperState("UP"), parseOperState("")]).toEqual(["up", "lowerlayerdown", undefined, undefined]);
    expect([parseCounter("12345\n"), parseCounter("-1"), parseCounter("1e5"), parseCounter("99999999999999999")]).toEqual([12345, undefined, undefined, undefined]);
  });

  test("counter deltas treat a decrease as a reset", () => {
    expect(counterDelta(100, 150)).toBe(50);
    expect(counterDelta(100, 20)).toBe(20);
    expect(counterDelta(undefined, 20)).toBeUndefined();
  });

  test("/proc/net/if_inet6 lines become RFC 5952 addresses of the asked interface; bad lines are counted", () => {
    const counters = new Counters();
    const text = [
      "00000000000000000000000000000001 01 80 10 80       lo",
      "fe800000000000000211223344556677 03 40 20 80   wwan0",
      "20010db8000000000000000000000042 03 40 00 00   wwan0",
      "garbage line",
    ].join("\n");
    expect(parseIfInet6(text, "wwan0", counters)).toEqual(["fe80::211:2233:4455:6677", "2001:db8::42"]);
    expect(counters.get("board.metrics.if-inet6.malformed")).toBe(1);
  });
});

describe("InterfaceStatsReader", () => {
  test("reads a fixture tree; a missing carrier file (down link) stays unknown", async () => {
    const root = mkdtempSync(join(tmpdir(), "monami-h5-sysfs-"));
    try {
      mkdirSync(join(root, "wwan0", "statistics"), { recursive: true });
      writeFileSync(join(root, "wwan0", "operstate"), "down\n");
      writeFileSync(join(root, "wwan0", "statistics", "rx_bytes"), "1000\n");
      writeFileSync(join(root, "wwan0", "statistics", "tx_bytes"), "2000\n");
      const inet6 = join(root, "if_inet6");
      writeFileSync(inet6, "20010db8000000000000000000000001 03 40 00 00   wwan0\n");
      const r = await new InterfaceStatsReader("wwan0", { sysfsNetRoot: root, ifInet6Path: inet6 }).read();
      expect(r).toEqual({ ok: true, value: { operState: "down", rxBytes: 1000, txBytes: 2000, ipv6Addresses: ["2001:db8::1"] } });
      const missing = await new InterfaceStatsReader("nope0", { sysfsNetRoot: root, counters: new Counters() }).read();
      expect(missing.ok ? undefined : missing.error.kind).toBe("io");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("reads the real loopback interface", async () => {
    const r = await new InterfaceStatsReader("lo").read();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.operState).toBe("unknown");
    expect(typeof r.value.rxBytes).toBe("number");
    expect(r.value.ipv6Addresses ?? ["::1"]).toContain("::1");
  });

  test("interface names are checked before any path is built", () => {
    expect(() => new InterfaceStatsReader("../etc")).toThrow(TypeError);
  });
});
