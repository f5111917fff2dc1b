// The demo end to end (root): a 30 s drive through `monami demo` completes, its report holds a handover, nothing crossed
// the uplinks in clear (full capture on both), and no namespace or process of the run is left behind.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { requireRoot } from "../../board/lab/lab.ts";
import { listNamespaces } from "../../board/lab/netns.ts";
import type { DemoReport } from "../../board/lab/demo/timeline.ts";

const canRun = requireRoot("demo") && Bun.which("tshark") !== null;
const MAIN = resolve(import.meta.dir, "../../firmware/main.ts");
const TAG = "demotest";
const bun = /(^|\/)bun[^/]*$/.test(process.execPath) ? process.execPath : "bun";

/** Processes whose command line names something only a demo run starts. */
function demoProcesses(workDirPrefix: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue;
    }
    if (cmdline.includes(workDirPrefix) || cmdline.includes("demo/traffic-tool.ts")) found.push(`${pid}: ${cmdline.trim()}`);
  }
  return found;
}

describe.skipIf(!canRun)("monami demo", () => {
  const dir = mkdtempSync(join(tmpdir(), "monami-demo-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a 30 s drive completes with a handover, only ESP on the uplinks, and leaves nothing behind", async () => {
    const html = join(dir, "report.html");
    const proc = Bun.spawn([bun, MAIN, "demo", "--duration", "30", "--report", html, "--capture", "full", "--quiet", "--tag", TAG, "--daemons", "bun"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, errText, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, output: code === 0 ? "" : `${out}\n${errText}` }).toEqual({ code: 0, output: "" });
    expect(out).toContain("monami demo — summary");

    // The report: HTML with charts, and the JSON beside it.
    expect(existsSync(html)).toBe(true);
    const page = readFileSync(html, "utf8");
    expect(page).toContain("<svg");
    expect(page).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as DemoReport;
    expect(report.format).toBe("monami-demo-report");
    expect(report.handovers.length).toBeGreaterThanOrEqual(1);
    expect(report.handovers.some((h) => h.homeAgentMs !== undefined)).toBe(true);
    expect(report.samples.length).toBeGreaterThan(40);
    const [up, down, download] = report.flows;
    expect(up!.received).toBeGreaterThan(up!.sent * 0.5);
    expect(down!.received).toBeGreaterThan(down!.sent * 0.5);
    expect(download!.sent).toBeGreaterThan(1_000_000);

    // Every packet between a care-of address and the home agent was ESP (or ESP-in-UDP / IKE); nothing in clear.
    const check = report.uplinkCheck!;
    expect(check.mode).toBe("full");
    expect(check.offenders).toEqual([]);
    expect(check.plaintext).toBe(0);
    expect(check.betweenCareOfAndHomeAgent).toBeGreaterThan(1000);
    expect(check.protectedPackets).toBe(check.betweenCareOfAndHomeAgent);
    expect(report.counters.router?.["esp.tx.packets"] ?? 0).toBeGreaterThan(1000);
    // The demo's default keying is IKEv2 (--security ikev2): the router initiated an IKE SA, no static keys.
    expect(report.counters.router?.["router.ike.initiated"] ?? 0).toBeGreaterThanOrEqual(1);
    expect(report.events.some((e) => /^SAs keyed by IKEv2: tunnel CHILD_SA 0x[0-9a-f]{8}_o 0x[0-9a-f]{8}_i/.test(e.text))).toBe(true);
    // One IKE SA for the whole drive: an uplink declared "none" and back at start-up must not tear it down.
    expect(report.counters.router?.["router.ike.lost"] ?? 0).toBe(0);

    // Nothing left: no namespace of the run, no process it started.
    const prefix = `mnm-${TAG}-${proc.pid}-`;
    expect(listNamespaces().filter((n) => n.startsWith(prefix))).toEqual([]);
    expect(demoProcesses(`/tmp/${prefix}`)).toEqual([]);
  }, 90_000);
});
