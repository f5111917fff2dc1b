// `bun run bench:links`: monami's link policy against an mwan3-like baseline on drive traces (table, or --json with a headline).

import { parseArgs } from "node:util";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import { parseLinkTrace, type LinkTrace } from "../board/sim/link-trace-replay.ts";
import { DEFAULT_LINK_POLICY_CONFIG } from "../firmware/links/config.ts";
import { formatDecision } from "../firmware/links/explain.ts";
import { lteProbeBudget, runMonami, runMwan3, TRUTH, type RunResult } from "./links-sim.ts";

const usage = `usage: bun run bench:links [-- options]
  --trace FILE   evaluate this trace file (repeatable; default: every bench/traces/*.jsonl)
  --json         print the figures as JSON with a headline object
  --explain      also print monami's decision records
  --seed N       seed for probe and packet fates (default 1)
  -h, --help`;

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    trace: { type: "string", multiple: true },
    json: { type: "boolean" },
    explain: { type: "boolean" },
    seed: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const seed = Number(values.seed ?? 1);
const dir = resolve(import.meta.dir, "traces");
const files = values.trace?.map((f) => resolve(f)) ?? readdirSync(dir).filter((f) => f.endsWith(".jsonl")).sort().map((f) => resolve(dir, f));

const traces: LinkTrace[] = [];
for (const file of files) {
  const parsed = parseLinkTrace(await Bun.file(file).text());
  if (!parsed.ok) {
    console.error(`${file}: ${parsed.error.kind} at line ${parsed.error.line}: ${parsed.error.detail ?? ""}`);
    process.exit(1);
  }
  traces.push(parsed.value);
}

const rows: RunResult[] = [];
for (const trace of traces) {
  const monami = runMonami(trace, DEFAULT_LINK_POLICY_CONFIG, seed, Boolean(values.explain));
  rows.push(monami, runMwan3(trace, undefined, seed));
  if (values.explain && !values.json) {
    for (const d of monami.decisions ?? []) console.log(`[${trace.header.name}] ${formatDecision(d)}`);
    for (const r of rows.slice(-2)) {
      const spans = r.deadIntervals.map(([from, to, link]) => `${(from / 1000).toFixed(1)}–${(to / 1000).toFixed(1)}s ${link}`);
      console.log(`[${trace.header.name}] ${r.policy} on a dead or degraded link: ${spans.join(", ") || "never"}`);
    }
  }
}

const sum = (policy: string, key: "deadLinkSeconds" | "flaps") =>
  Math.round(rows.filter((r) => r.policy === policy).reduce((a, r) => a + r[key], 0) * 10) / 10;
const headline = {
  deadLinkSecondsMonami: sum("monami", "deadLinkSeconds"),
  deadLinkSecondsBaseline: sum("mwan3", "deadLinkSeconds"),
  flapsMonami: sum("monami", "flaps"),
  flapsBaseline: sum("mwan3", "flaps"),
};
const budget = lteProbeBudget(DEFAULT_LINK_POLICY_CONFIG);

if (values.json) {
  const strip = rows.map(({ decisions: _, deadIntervals: __, ...r }) => r);
  console.log(JSON.stringify({ seed, truth: TRUTH, lteProbeBudget: budget, traces: strip, headline }, null, 2));
} else {
  const header = ["trace", "policy", "dead s", "switches", "flaps", "LTE MB", "probe MB", "hard fails", "outage/fail s", "worst s"];
  const table = rows.map((r) => [
    r.trace,
    r.policy,
    r.deadLinkSeconds.toFixed(1),
    String(r.switches),
    String(r.flaps),
    r.lteMegabytes.toFixed(1),
    r.probeMegabytes.toFixed(3),
    String(r.hardFailures),
    r.outagePerFailureS.toFixed(1),
    r.worstOutageS.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of table) console.log(line(row));
  console.log("");
  const ratio = headline.deadLinkSecondsMonami === 0 ? "∞" : (headline.deadLinkSecondsBaseline / headline.deadLinkSecondsMonami).toFixed(1);
  console.log(
    `total dead-link seconds: monami ${headline.deadLinkSecondsMonami}, mwan3 ${headline.deadLinkSecondsBaseline} (${ratio}× fewer); flaps: monami ${headline.flapsMonami}, mwan3 ${headline.flapsBaseline}`,
  );
  console.log(
    `LTE probe cost: ${budget.standbyMbPerDay} MB/day standby, ${budget.activeMbPerDay} MB/day while carrying traffic, ${budget.idleMbPerDay} MB/day parked`,
  );
}
