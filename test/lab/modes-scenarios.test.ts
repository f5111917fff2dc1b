// Every multi-CoA design × scenario with real router and home agent processes (root): the router's own link engine (netlink
// carrier/addresses, in-tunnel probes) detects the event and drives the design; traffic recovers, nothing protected
// leaves in clear, the binding cache and the design end in the expected state. Two runs at a time; the whole matrix with
// MONAMI_MODES_FULL=1 (CI runs the designs and scenarios below: make-before-break, break, blackhole, address change;
// the IKEv2-keyed designs `mobike` and `per-coa` only make-before-break and break).
import { describe, expect, test } from "bun:test";
import { cpus, loadavg } from "node:os";
import { requireRoot } from "../../board/lab/lab.ts";
import { type ModeRunResult, runModeScenario } from "../../board/lab/modes-lab.ts";
import { SCENARIOS } from "../../board/lab/scenarios.ts";
import type { MultiCoaMode } from "../../firmware/config/schema.ts";

const canRun = requireRoot("multi-CoA designs in the lab");
const FULL = process.env.MONAMI_MODES_FULL === "1";
export const LAB_MODES: readonly MultiCoaMode[] = ["simultaneous", "primary", "mobike", "per-coa"];
const QUICK = new Set(["make-before-break", "break", "blackhole", "address-change"]);
/** Designs keyed by IKEv2 in the lab (longer start-up): the quick set is (a) and (b) only. */
const QUICK_IKE = new Set(["make-before-break", "break"]);
const IKE_MODES = new Set<MultiCoaMode>(["mobike", "per-coa"]);
const scenariosOf = (mode: MultiCoaMode) => SCENARIOS.filter((s) => s.unavailable === undefined && (FULL || (IKE_MODES.has(mode) ? QUICK_IKE : QUICK).has(s.name)));

/**
 * Runs the matrix two at a time (the machine has two cores; each run is mostly waiting on timed events), one at
 * a time while the host is already loaded (1-minute load average above the core count): the links are emulated
 * by user-space processes, and a starved emulator is a real outage the designs cannot help.
 */
const results = new Map<string, Promise<ModeRunResult>>();
const queue: (() => Promise<void>)[] = [];
let running = 0;
function schedule(mode: MultiCoaMode, name: string): Promise<ModeRunResult> {
  const key = `${mode}/${name}`;
  const existing = results.get(key);
  if (existing) return existing;
  const promise = new Promise<ModeRunResult>((resolve, reject) => {
    queue.push(async () => {
      try {
        resolve(await runModeScenario({ mode, scenario: SCENARIOS.find((s) => s.name === name)!, tag: "mdl" }));
      } catch (e) {
        reject(e);
      }
    });
  });
  results.set(key, promise);
  pump();
  return promise;
}
function pump(): void {
  const parallel = loadavg()[0]! > cpus().length ? 1 : 2;
  while (running < parallel && queue.length > 0) {
    running++;
    void queue.shift()!().finally(() => {
      running--;
      pump();
    });
  }
}

describe.skipIf(!canRun)("multi-CoA designs × scenarios (real daemons, lab)", () => {
  if (canRun) for (const mode of LAB_MODES) for (const s of scenariosOf(mode)) void schedule(mode, s.name).catch(() => {});

  for (const mode of LAB_MODES) {
    for (const s of scenariosOf(mode)) {
      test(`${mode} × (${s.letter}) ${s.name}: ${s.title}`, async () => {
        const r = await schedule(mode, s.name);
        const summary = JSON.stringify({ lostUp: r.lostUp, lostDown: r.lostDown, outageMs: r.outageMs, detectionMs: r.detectionMs, decisions: r.decisions, router: r.routerStatus.multiCoa });
        // Traffic recovers: the last second of the stream arrived in both directions.
        expect(r.up.highest, summary).toBeGreaterThan(r.up.sent - 100);
        expect(r.down.highest, summary).toBeGreaterThan(r.down.sent - 100);
        if (s.expect.lossless) {
          expect(r.lostUp, summary).toBe(0);
          expect(r.lostDown, summary).toBe(0);
        } else if (s.name !== "degraded") {
          // A break costs at most a second of traffic each way (detection + one BU round trip, with margin).
          expect(r.lostUp, summary).toBeLessThan(1000);
          expect(r.lostDown, summary).toBeLessThan(1000);
        }
        // The router's link engine saw the event itself (netlink or its probes), and said so in its decision records.
        if (s.expect.detectedBy.length > 0) {
          expect(r.detectionMs, summary).toBeDefined();
          const first = r.decisions.find((d) => d.atMs >= s.steps[0]!.atMs && s.expect.detectedBy.includes(d.rule) && d.to === "wifi");
          expect(first, summary).toBeDefined();
          // Detection is bounded: carrier and addresses at once, silence within the probes' timeout and N-of-M (loaded CI: generous).
          expect(r.detectionMs!, summary).toBeLessThan(s.name === "make-before-break" ? 3000 : 1500);
        }
        // Nothing protected in clear on either uplink, and ESP was really there.
        expect(r.plaintextLeaks, summary).toBe(0);
        expect(r.espPackets, summary).toBeGreaterThan(r.up.sent);
        // End state: the router's default uplink and the home agent's bindings.
        expect(r.routerStatus.activeUplink, summary).toBe(s.expect.finalUplink);
        expect([...r.registeredAtEnd].sort(), summary).toEqual([...s.expect.registered].sort());
        // IKE-keyed designs: the expected IKE state, MOBIKE moves without K-bit BUs.
        if (mode === "mobike") {
          expect(r.ikeSAs, summary).toBe(1);
          expect(r.routerStatus.multiCoa, summary).toMatchObject({ inUse: s.expect.finalUplink });
          const inUse = Object.values((r.homeAgentStatus.multiCoa as { inUse: Record<string, string> }).inUse);
          expect(inUse.map((a) => ({ "2001:db8:1::2": "lte", "2001:db8:2::2": "wifi" })[a] ?? a), summary).toEqual([s.expect.finalUplink]);
          expect(r.ikeMessages, summary).toBeGreaterThanOrEqual(2); // UPDATE_SA_ADDRESSES request and response
        }
        if (mode === "per-coa") {
          // One IKE SA per care-of address used (the one the router started on stays until liveness removes it), each with its own tunnel SA.
          expect(r.ikeSAs, summary).toBeGreaterThanOrEqual(2);
          const sas = Object.values((r.homeAgentStatus.multiCoa as { sas: Record<string, Record<string, string>> }).sas)[0] ?? {};
          for (const coa of s.expect.registered) expect(Object.keys(sas).map((a) => ({ "2001:db8:1::2": "lte", "2001:db8:2::2": "wifi" })[a] ?? a), summary).toContain(coa);
          expect(new Set(Object.values(sas)).size, summary).toBe(Object.keys(sas).length);
        }
        // No replayed or forged packet got through, and reordering stayed inside the replay window.
        for (const c of [r.homeAgentCounters, r.routerCounters]) {
          expect(c["esp.drop.replay-too-old"] ?? 0, summary).toBe(0);
          expect(c["esp.drop.icv"] ?? 0, summary).toBe(0);
        }
      }, 120_000);
    }
  }
});
