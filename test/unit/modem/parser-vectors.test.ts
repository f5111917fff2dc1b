// Every modem parser against the fixture files in test/vectors/modem (real captures, variants, spec-built and garbage).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Counters } from "../../../firmware/core/counters.ts";
import type { Result } from "../../../firmware/core/result.ts";
import type { CellularRadio, LinkMetricsError } from "../../../board/api/link-metrics.ts";
import { parseCesq, parseCsq } from "../../../board/modem/at-signal.ts";
import { parseMmcliSignal } from "../../../board/modem/mmcli-signal.ts";
import { parseQmicliSignal } from "../../../board/modem/qmicli-signal.ts";
import { parseQuectelQeng } from "../../../board/modem/quectel-qeng.ts";
import { parseSierraGstatus } from "../../../board/modem/sierra-gstatus.ts";

const dir = resolve(import.meta.dir, "../../vectors/modem");

type Parser = (text: string, counters: Counters) => Result<{ radio: CellularRadio }, LinkMetricsError>;
const parsers: Record<string, Parser> = {
  mmcli: parseMmcliSignal,
  qmicli: parseQmicliSignal,
  csq: parseCsq,
  cesq: parseCesq,
  qeng: (t, c) => parseQuectelQeng(t, c),
  gstatus: parseSierraGstatus,
};

interface Case {
  file: string;
  parser: string;
  ok: boolean;
  kind?: string;
  radio?: CellularRadio;
  counter?: string;
  count?: number;
}
const cases = JSON.parse(readFileSync(resolve(dir, "cases.json"), "utf8")) as Case[];

describe("modem parser vectors", () => {
  for (const c of cases) {
    const names = c.parser === "*" ? Object.keys(parsers) : [c.parser];
    for (const name of names) {
      test(`${name}: ${c.file}`, () => {
        const counters = new Counters();
        const text = readFileSync(resolve(dir, c.file), "latin1");
        const r = parsers[name]!(text, counters);
        expect(r.ok).toBe(c.ok);
        if (r.ok) {
          expect(r.value.radio).toEqual(c.radio!);
          // Unknown stays unknown: no parser invents a 0.
          for (const v of Object.values(r.value.radio)) expect(v).not.toBe(0);
        } else {
          if (c.kind) expect(r.error.kind).toBe(c.kind as LinkMetricsError["kind"]);
          expect(r.error.detail ?? "").not.toBe("");
          expect(counters.total("board.metrics.")).toBeGreaterThanOrEqual(1);
        }
        if (c.counter) expect(counters.get(c.counter)).toBe(c.count!);
      });
    }
  }
});

describe("3GPP 27.007 mappings at the range edges", () => {
  test("+CSQ rssi: 0 → −113, 1 → −111, 30 → −53, 31 → −51, 99 unknown", async () => {
    const { csqRssiDbm } = await import("../../../board/modem/at-signal.ts");
    expect([0, 1, 2, 30, 31].map(csqRssiDbm)).toEqual([-113, -111, -109, -53, -51]);
    expect(csqRssiDbm(99)).toBeUndefined();
  });
  test("+CESQ rsrp 0..97 → −141..−44 dBm, rsrq 0..34 → −20..−3 dB, 255 unknown", async () => {
    const m = await import("../../../board/modem/at-signal.ts");
    expect([m.cesqRsrpDbm(0), m.cesqRsrpDbm(1), m.cesqRsrpDbm(97), m.cesqRsrpDbm(255)]).toEqual([-141, -140, -44, undefined]);
    expect([m.cesqRsrqDb(0), m.cesqRsrqDb(1), m.cesqRsrqDb(34), m.cesqRsrqDb(35)]).toEqual([-20, -19.5, -3, undefined]);
    expect([m.cesqRscpDbm(0), m.cesqRscpDbm(96), m.cesqEcnoDb(0), m.cesqEcnoDb(49), m.cesqRxlevDbm(63)]).toEqual([-121, -25, -24.5, 0, -48]);
  });
});
