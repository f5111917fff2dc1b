// Wi-Fi parsers against test/vectors/wifi: /proc/net/wireless, `iw dev X link`, `iw dev X station dump`.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Counters } from "../../../firmware/core/counters.ts";
import type { Result } from "../../../firmware/core/result.ts";
import type { LinkMetricsError } from "../../../board/api/link-metrics.ts";
import { parseIwLink, parseIwStationDump, retryRatio } from "../../../board/wifi/iw.ts";
import { parseProcNetWireless } from "../../../board/wifi/proc-net-wireless.ts";

const dir = resolve(import.meta.dir, "../../vectors/wifi");
const parsers: Record<string, (t: string, c: Counters) => Result<unknown, LinkMetricsError>> = {
  "proc-net-wireless": parseProcNetWireless,
  "iw-link": parseIwLink,
  "iw-station": parseIwStationDump,
};
const cases = JSON.parse(readFileSync(resolve(dir, "cases.json"), "utf8")) as {
  file: string;
  parser: string;
  ok: boolean;
  kind?: string;
  value?: unknown;
  counter?: string;
  count?: number;
}[];

describe("wifi parser vectors", () => {
  for (const c of cases) {
    test(`${c.parser}: ${c.file}`, () => {
      const counters = new Counters();
      const r = parsers[c.parser]!(readFileSync(resolve(dir, c.file), "utf8"), counters);
      expect(r.ok).toBe(c.ok);
      if (r.ok) expect(r.value).toEqual(c.value);
      else {
        expect(r.error.kind).toBe(c.kind as LinkMetricsError["kind"]);
        expect(counters.total("board.metrics.")).toBe(1);
      }
      if (c.counter) expect(counters.get(c.counter)).toBe(c.count!);
    });
  }

  test("every parser answers garbage with a typed error or an empty list, never a throw", () => {
    for (const text of ["", "\u0000\u0001\u00ff", "<html>", "Inter-|\n", "Station zz\n", "Connected to nowhere"]) {
      for (const parse of Object.values(parsers)) expect(() => parse(text, new Counters())).not.toThrow();
    }
    expect(parseIwLink("", new Counters()).ok).toBe(false);
    expect(parseProcNetWireless("", new Counters()).ok).toBe(false);
  });
});

describe("retry ratio between two station dumps", () => {
  const base = { mac: "00:1f:90:b4:8a:80", txPackets: 1000, txRetries: 100 };
  test("retries over all transmission attempts", () => {
    expect(retryRatio(base, { ...base, txPackets: 1300, txRetries: 200 })).toBeCloseTo(100 / 400, 6);
  });
  test("unknown when counters go back, nothing was sent, or the AP changed", () => {
    expect(retryRatio(base, { ...base, txPackets: 900 })).toBeUndefined();
    expect(retryRatio(base, base)).toBeUndefined();
    expect(retryRatio(base, { ...base, mac: "00:00:00:00:00:01", txPackets: 2000 })).toBeUndefined();
    expect(retryRatio(undefined, base)).toBeUndefined();
  });
});
