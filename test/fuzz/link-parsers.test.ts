// Fuzzing the link-metric parsers, the trace parser and the link-probe codec: they never throw, and what they return is sane.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseLinkTrace } from "../../board/sim/link-trace-replay.ts";
import { parseCesq, parseCsq } from "../../board/modem/at-signal.ts";
import { parseMmcliSignal } from "../../board/modem/mmcli-signal.ts";
import { parseQmicliSignal } from "../../board/modem/qmicli-signal.ts";
import { parseQuectelQeng } from "../../board/modem/quectel-qeng.ts";
import { parseSierraGstatus } from "../../board/modem/sierra-gstatus.ts";
import { parseIwLink, parseIwStationDump } from "../../board/wifi/iw.ts";
import { parseProcNetWireless } from "../../board/wifi/proc-net-wireless.ts";
import { parseIfInet6 } from "../../board/linux/interface-stats.ts";
import { Counters } from "../../firmware/core/counters.ts";
import { SecretBytes } from "../../firmware/core/secret.ts";
import { emitLinkProbe, LINK_PROBE_LEN, parseLinkProbe } from "../../firmware/wire/link-probe.ts";

const RUNS = Number(process.env.MONAMI_FUZZ_RUNS ?? 300);

const textParsers: Record<string, (t: string, c: Counters) => unknown> = {
  mmcli: parseMmcliSignal,
  qmicli: parseQmicliSignal,
  csq: parseCsq,
  cesq: parseCesq,
  qeng: (t, c) => parseQuectelQeng(t, c),
  gstatus: parseSierraGstatus,
  "proc-net-wireless": parseProcNetWireless,
  "iw-link": parseIwLink,
  "iw-station": parseIwStationDump,
  "if-inet6": (t, c) => parseIfInet6(t, "wlan0", c),
  trace: (t) => parseLinkTrace(t),
};

/** Real captures are the seeds: every fixture file of test/vectors/modem and test/vectors/wifi. */
const seeds = ["modem", "wifi"].flatMap((d) => {
  const dir = resolve(import.meta.dir, "../vectors", d);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".txt"))
    .map((f) => readFileSync(resolve(dir, f), "latin1"));
});

/** Mutations of a real capture: cut, duplicated lines, swapped characters, inserted junk. */
const mutated = fc
  .tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat(), fc.string({ maxLength: 12 }), fc.constantFrom("cut", "insert", "dupline", "digits"))
  .map(([s, a, b, junk, how]) => {
    const i = s.length === 0 ? 0 : a % s.length;
    switch (how) {
      case "cut":
        return s.slice(0, i);
      case "insert":
        return s.slice(0, i) + junk + s.slice(i);
      case "dupline": {
        const lines = s.split("\n");
        const k = b % lines.length;
        return [...lines.slice(0, k), lines[k], ...lines.slice(k)].join("\n");
      }
      default:
        return s.replace(/-?\d+/g, () => String((b % 2000) - 1000));
    }
  });

/** Every number a parser returns must be finite: no NaN, no Infinity, no silently invented value. */
function finiteEverywhere(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(finiteEverywhere);
  if (value && typeof value === "object") return Object.values(value).every(finiteEverywhere);
  return true;
}

describe("metric parsers under fuzzing", () => {
  for (const [name, parse] of Object.entries(textParsers)) {
    test(`${name}: arbitrary text never throws and returns only finite numbers`, () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: "binary", maxLength: 200 }), mutated), (text) => {
          const r = parse(text, new Counters());
          expect(finiteEverywhere(r)).toBe(true);
        }),
        { numRuns: RUNS },
      );
    });
  }

  test("cellular results stay physically plausible (dBm and dB within their ranges)", () => {
    fc.assert(
      fc.property(mutated, (text) => {
        for (const parse of [parseMmcliSignal, parseQmicliSignal, parseCsq, parseCesq, parseSierraGstatus]) {
          const r = parse(text, new Counters()) as { ok: boolean; value?: { radio: Record<string, unknown> } };
          if (!r.ok) continue;
          for (const [k, v] of Object.entries(r.value!.radio)) {
            if (typeof v !== "number") continue;
            if (k.endsWith("Dbm")) expect(v).toBeLessThan(-10);
            expect(v).not.toBe(0);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("link probe codec under fuzzing", () => {
  const key = SecretBytes.fromHex("11".repeat(32));

  test("parse never throws on arbitrary bytes, and random bytes never authenticate", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = parseLinkProbe(bytes, key, new Counters());
        if (bytes.length === LINK_PROBE_LEN) expect(r.ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  test("parse(emit(r)) = r", () => {
    fc.assert(
      fc.property(
        fc.record({
          type: fc.constantFrom("echo-request" as const, "echo-reply" as const),
          bindingId: fc.integer({ min: 0, max: 0xffff }),
          sequenceNumber: fc.integer({ min: 0, max: 0xffffffff }),
          originTimestampMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          responderDelayUs: fc.integer({ min: 0, max: 0xffffffff }),
        }),
        (repr) => {
          expect(parseLinkProbe(emitLinkProbe(repr, key), key)).toEqual({ ok: true, value: repr });
        },
      ),
      { numRuns: RUNS },
    );
  });
});
