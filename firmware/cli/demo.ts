// `monami demo`: a vehicle driving between LTE and Wi-Fi in the namespace lab, live in the terminal, with an HTML/JSON report.

import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { labUnavailableReason } from "../../board/lab/lab.ts";
import { runDemo } from "../../board/lab/demo/runner.ts";
import { SCENARIO_NAMES } from "../../board/lab/demo/scenarios.ts";
import type { CaptureMode } from "../../board/lab/demo/uplink-check.ts";
import type { ViewMode } from "../../board/lab/demo/live-view.ts";
import { type MultiCoaMode, MultiCoaModes } from "../config/schema.ts";
import { ExitCode } from "./command.ts";

const DEFAULT_REPORT = join(tmpdir(), "monami-demo", "report.html");

const USAGE = `usage: monami demo [options]          (root: network namespaces, TUN, nftables)

Builds the namespace lab, starts a Mosquitto broker and the real monami homeagent and router, carries a
voice call (lan ↔ cn) and a TCP download (cn → lan) through the ESP tunnel while a scripted drive changes the
two uplinks (hotspots appearing and fading, an LTE cell edge, a tunnel blackout, a flapping Wi-Fi), shows it
live and writes a report. Everything is torn down at the end, on Ctrl-C and on SIGTERM.

options:
  --scenario NAME      ${SCENARIO_NAMES.join(" | ")} | FILE.jsonl   (default drive)
  --mode MODE          multi-CoA IPsec design: ${MultiCoaModes.join(" | ")}   (default simultaneous)
  --security KEYING    ikev2 (default: the daemons key their SAs with IKEv2 and a lab PSK) | static (fixed lab keys)
  --duration SECONDS   wall-clock length of the drive (default 120; the scenario is sped up to fit)
  --report PATH        the HTML report (default ${DEFAULT_REPORT}); the JSON goes beside it
  --capture MODE       check the uplinks for plaintext with tshark: light (default: all but plain ESP), full, off
  --steering WHO      router (its own link engine with in-tunnel probes, and its fleet link: needs a build with
                       device configs) | demo (the demo's link engine drives the router's \`uplink\` command) | auto
                       (default: router when it can)
  --daemons WHICH      auto (the compiled dist/ binary when it is newer than the sources, else Bun) | bun | PATH
  --download-rate MBIT the download's pace in Mbit/s (default 6; 0 = as fast as TCP goes)
  --plain              plain log lines instead of the full-screen view (the default when stdout is not a terminal)
  --quiet              no live output, only the summary at the end
  --seed N             seed of the emulator and the link engine's probe fates (default 1)
  --tag NAME           namespace tag (default demo)
  -v, --verbose        daemon and lab diagnostics on stderr
  -h, --help           show this help`;

function fail(message: string): number {
  console.error(`monami demo: ${message}\n\n${USAGE}`);
  return ExitCode.usage;
}

export async function run(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      allowPositionals: false,
      options: {
        scenario: { type: "string", default: "drive" },
        mode: { type: "string", default: "simultaneous" },
        security: { type: "string", default: "ikev2" },
        duration: { type: "string", default: "120" },
        report: { type: "string", default: DEFAULT_REPORT },
        capture: { type: "string", default: "light" },
        daemons: { type: "string", default: "auto" },
        steering: { type: "string", default: "auto" },
        "download-rate": { type: "string", default: "6" },
        plain: { type: "boolean", default: false },
        quiet: { type: "boolean", default: false },
        seed: { type: "string", default: "1" },
        tag: { type: "string", default: "demo" },
        verbose: { type: "boolean", short: "v", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    return fail((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return ExitCode.ok;
  }
  const duration = Number(values.duration);
  if (!Number.isFinite(duration) || duration < 10 || duration > 3600) return fail("--duration must be 10…3600 seconds");
  if (!(MultiCoaModes as readonly string[]).includes(values.mode)) return fail(`--mode must be one of ${MultiCoaModes.join(", ")}`);
  if (!["ikev2", "static"].includes(values.security)) return fail("--security must be ikev2 or static");
  if (!["light", "full", "off"].includes(values.capture)) return fail("--capture must be light, full or off");
  if (!["auto", "router", "demo"].includes(values.steering)) return fail("--steering must be auto, router or demo");
  const rate = Number(values["download-rate"]);
  if (!Number.isFinite(rate) || rate < 0 || rate > 1000) return fail("--download-rate must be 0…1000 Mbit/s");
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) return fail("--seed must be an integer");
  if (!/^[a-z0-9]+$/.test(values.tag)) return fail("--tag must be lowercase letters and digits");
  const unavailable = labUnavailableReason();
  if (unavailable !== undefined) {
    console.error(`monami demo: ${unavailable}`);
    return ExitCode.failure;
  }
  const view: ViewMode = values.quiet ? "quiet" : values.plain || !process.stdout.isTTY ? "plain" : "tty";
  try {
    const result = await runDemo({
      scenario: values.scenario,
      mode: values.mode as MultiCoaMode,
      security: values.security as "ikev2" | "static",
      durationSeconds: duration,
      reportPath: values.report,
      capture: values.capture as CaptureMode,
      daemons: values.daemons,
      steering: values.steering as "auto" | "router" | "demo",
      view,
      downloadRateBps: rate * 1e6,
      tag: values.tag,
      seed,
      write: (text) => process.stdout.write(text),
      ...(values.verbose ? { debug: (line: string) => console.error(`[debug] ${line}`) } : {}),
    });
    const rows = result.report.summary;
    const width = Math.max(...rows.map((r) => r.label.length));
    console.log("\nmonami demo — summary");
    for (const r of rows) console.log(`  ${r.label.padEnd(width)}  ${r.value}`);
    console.log(`\nreport: ${result.htmlPath}\n  json: ${result.jsonPath}`);
    const check = result.report.uplinkCheck;
    return check !== undefined && !check.ok ? ExitCode.failure : ExitCode.ok;
  } catch (e) {
    console.error(`monami demo failed: ${e instanceof Error ? e.message : String(e)}`);
    return ExitCode.failure;
  }
}
