// bench:modes — every multi-CoA design × scenario in the lab (root), 1000 packets/s each way: loss, outage, signalling, SAs, router CPU.
//
//   bun run bench:modes [--json] [--markdown] [--modes simultaneous,primary,auth-option,auth-option+esp,mobike,per-coa,bypass-flows] [--scenarios break,blackhole]
//
// Scenarios (a)–(g) in the order; (f) is `nat-rebind-port` and `nat-rebind-address`, with LTE IPv4-only
// behind the lab NAT carrying the stream (RFC 5555; IKEv2-keyed, as static keys have no NAT-T).
//
// `auth-option+esp` is `auth-option` with encryptPayload (ESP keyed from the MN-HA key); `bypass-flows` is
// `simultaneous` with one bypass selector (UDP to correspondent port 5000) and a second 1000 packets/s flow on
// it, both ways, beside the measured one: that flow crosses in clear (IPv6-in-IPv6) and is not a leak.
//
// Not a test: it prints figures (a table, or `--json` with `rows` and `headline`). docs/modes.md keeps the latest table.

import { parseArgs } from "node:util";
import { labUnavailableReason } from "../board/lab/lab.ts";
import { type ModeRunResult, runModeScenario } from "../board/lab/modes-lab.ts";
import { ALL_SCENARIOS } from "../board/lab/scenarios.ts";
import type { MultiCoaMode } from "../firmware/config/schema.ts";

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    markdown: { type: "boolean", default: false },
    modes: { type: "string", default: "simultaneous,primary,auth-option,auth-option+esp,mobike,per-coa,bypass-flows" },
    scenarios: { type: "string" },
    parallel: { type: "string", default: "2" },
    verbose: { type: "boolean", default: false },
    /** Namespace tag of the labs (lowercase alphanumerics; the pid is added). */
    tag: { type: "string", default: "mdlb" },
  },
});

const reason = labUnavailableReason();
if (reason !== undefined) {
  console.error(`bench:modes: ${reason}`);
  process.exit(2);
}

/** A row's mode name: a design, `auth-option+esp` (auth-option with encryptPayload) or `bypass-flows` (with its second flow). */
const modes = values.modes.split(",");
/** `bypass-flows` rows: the scenarios that show the bypass flow through a move (unless `--scenarios` says otherwise). */
const BYPASS_SCENARIOS = ["make-before-break", "break", "blackhole", "nat-rebind-port", "nat-rebind-address"];
const BYPASS_PORT = 5000;
const design = (name: string) => ({
  mode: name.split("+")[0] as MultiCoaMode,
  ...(name === "auth-option+esp" ? { authOption: { encryptPayload: true } } : {}),
  ...(name === "bypass-flows"
    ? {
        multiCoa: { bypass: [{ name: "bulk-clear", protocol: 17, remotePorts: { from: BYPASS_PORT, to: BYPASS_PORT } }] },
        clearAllowed: `udp.port == ${BYPASS_PORT}`,
        secondFlow: { lanPort: BYPASS_PORT + 1, cnPort: BYPASS_PORT },
      }
    : {}),
});
const wanted = values.scenarios?.split(",");
const scenarios = ALL_SCENARIOS.filter((s) => s.unavailable === undefined && (wanted === undefined || wanted.includes(s.name)));
const jobs = modes.flatMap((mode) => scenarios.filter((s) => mode !== "bypass-flows" || wanted !== undefined || BYPASS_SCENARIOS.includes(s.name)).map((scenario) => ({ mode, scenario })));
const results: (ModeRunResult & { readonly name: string })[] = [];
const failures: string[] = [];
let next = 0;
async function worker(): Promise<void> {
  while (next < jobs.length) {
    const job = jobs[next++]!;
    const started = performance.now();
    try {
      results.push({ ...(await runModeScenario({ ...job, ...design(job.mode), tag: values.tag, ...(values.verbose ? { log: (l: string) => console.error(`[${job.mode}/${job.scenario.name}] ${l}`) } : {}) })), name: job.mode });
      console.error(`${job.mode} × ${job.scenario.name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } catch (e) {
      failures.push(`${job.mode} × ${job.scenario.name}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
      console.error(failures.at(-1));
    }
  }
}
await Promise.all(Array.from({ length: Number(values.parallel) }, worker));
results.sort((a, b) => modes.indexOf(a.name) - modes.indexOf(b.name) || scenarios.findIndex((s) => s.name === a.scenario) - scenarios.findIndex((s) => s.name === b.scenario));

const rows = results.map((r) => ({
  mode: r.name,
  scenario: r.scenario,
  lostUp: r.lostUp,
  lostDown: r.lostDown,
  outageMs: r.outageMs,
  signallingMessages: r.signallingMessages,
  signallingBytes: r.signallingBytes,
  ikeSAs: r.ikeSAs,
  childSAs: r.childSAs,
  routerCpuPct: r.routerCpuPct,
  detectionMs: r.detectionMs ?? null,
  maxReorderDepth: Math.max(r.up.maxReorderDepth, r.down.maxReorderDepth),
  plaintextLeaks: r.plaintextLeaks,
  /** `bypass-flows`: the bypass flow's losses (uplink/downlink) and its packets in clear on mr's uplinks. */
  bypassLost: r.second ? `${r.second.down.sent - r.second.up.received}/${r.second.up.sent - r.second.down.received}` : null,
}));
const find = (mode: string, scenario: string) => results.find((r) => r.name === mode && r.scenario === scenario);
const mbb = results.filter((r) => r.scenario === "make-before-break");
const simBreak = find("simultaneous", "break");
const headline = {
  makeBeforeBreakLost: mbb.length === 0 ? null : Math.max(...mbb.map((r) => r.lostUp + r.lostDown)),
  simultaneousBreakOutageMs: simBreak?.outageMs ?? null,
  detectionMs: simBreak?.detectionMs ?? null,
  /** The round trip to the home agent over LTE (the path the traffic moves to) in the same run: the router's in-tunnel probes. */
  rttMs: simBreak?.rttMs.lte ?? null,
  /** The same over the bare network (ping), for comparison: the probes add both daemons' processing. */
  pingRttMs: simBreak?.pingRttMs.lte ?? null,
  reorderDepthMakeBeforeBreak: find("simultaneous", "make-before-break") ? Math.max(find("simultaneous", "make-before-break")!.up.maxReorderDepth, find("simultaneous", "make-before-break")!.down.maxReorderDepth) : null,
  rttMsByUplink: simBreak?.rttMs ?? null,
};

if (values.json) {
  console.log(JSON.stringify({ rows, headline, failures }, null, 2));
} else {
  const columns = ["mode", "scenario", "lostUp", "lostDown", "outageMs", "detectionMs", "signallingMessages", "signallingBytes", "ikeSAs", "childSAs", "routerCpuPct", "maxReorderDepth", "plaintextLeaks", "bypassLost"] as const;
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? "–")));
  if (values.markdown) {
    console.log(`| ${columns.join(" | ")} |`);
    console.log(`|${columns.map(() => "---").join("|")}|`);
    for (const row of cells) console.log(`| ${row.join(" | ")} |`);
  } else {
    const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
    console.log(columns.map((c, i) => c.padEnd(widths[i]!)).join("  "));
    for (const row of cells) console.log(row.map((v, i) => v.padEnd(widths[i]!)).join("  "));
  }
  console.log(`\nheadline: ${JSON.stringify(headline)}`);
  for (const f of failures) console.log(`failed: ${f}`);
}
process.exit(failures.length === 0 ? 0 : 1);
