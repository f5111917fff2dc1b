// Security of the multi-CoA designs with real daemons (root): in `simultaneous` a third host's ESP with a valid SPI from
// an unregistered address is dropped and counted, replays are dropped; in `primary` ESP from a registered non-primary
// care-of address is refused.
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { requireRoot } from "../../board/lab/lab.ts";
import { type LiveRun, runModeScenario } from "../../board/lab/modes-lab.ts";
import type { Scenario } from "../../board/lab/scenarios.ts";
import { ipv6Of } from "../../board/lab/topology.ts";

const canRun = requireRoot("multi-CoA security in the lab");
const TOOLS = resolve(import.meta.dir, "dataplane-tools.ts");
const bun = /(^|\/)bun[^/]*$/.test(process.execPath) ? process.execPath : "bun";

/** Both uplinks up, nothing happens: a short steady run, then the checks. */
const STEADY: Scenario = {
  name: "break",
  letter: "-",
  title: "steady",
  initiallyUp: ["lte", "wifi"],
  durationMs: 1000,
  steps: [],
  expect: { finalUplink: "wifi", registered: ["lte", "wifi"], lossless: true, detectedBy: [] },
};

async function counter(run: LiveRun, name: string): Promise<number> {
  return Number((await run.homeAgentCommand("counters"))[name] ?? 0);
}

/** Sends `count` ESP packets sealed with the router → home agent tunnel SA (lab keys), sequence numbers from `sequence`. */
async function sendEsp(run: LiveRun, node: "mr" | "net", device: string, sequence: number, count: number): Promise<void> {
  const t = run.lab.topology;
  const r = await run.lab.exec(node, [bun, TOOLS, "esp", device, run.homeAgentAddress, String(sequence), String(count), ipv6Of(t.lanHost), ipv6Of(t.correspondent)]);
  expect(r.stdout.trim()).toBe(String(count));
}

describe.skipIf(!canRun)("multi-CoA designs: security (real daemons, lab)", () => {
  test("simultaneous: valid SPI from an unregistered address → dropped and counted after decryption; replays dropped; registered CoAs accepted", async () => {
    let checked = false;
    await runModeScenario({
      mode: "simultaneous",
      scenario: STEADY,
      tag: "mdls",
      after: async (run) => {
        const t = run.lab.topology;
        const delivered = await counter(run, "tun.tx.packets");
        const unregistered = await counter(run, "dataplane.drop.unregistered-care-of");
        const duplicates = await counter(run, "esp.drop.replay-duplicate");
        const icv = await counter(run, "esp.drop.icv");
        // Sequence numbers just ahead of the router's own (inside the replay window): a far jump would make the
        // home agent refuse the router's later packets as too old, its in-tunnel probes too (links judged down).
        const base = Number((await run.routerCommand("counters"))["esp.tx.packets"] ?? 0) + 1000;
        // Both registered care-of addresses may carry the SA (RFC 5648 §9.3.2): LTE and Wi-Fi.
        await sendEsp(run, "mr", t.access.lte.router.name, base, 5);
        await sendEsp(run, "mr", t.access.wifi.router.name, base + 10, 5);
        // A third host (net's core address) with the valid SPI, fresh sequence numbers and ICV.
        await sendEsp(run, "net", t.coreNet.name, base + 20, 5);
        // The LTE packets again: same sequence numbers.
        await sendEsp(run, "mr", t.access.lte.router.name, base, 5);
        await Bun.sleep(300);
        expect((await counter(run, "tun.tx.packets")) - delivered).toBeGreaterThanOrEqual(10);
        expect((await counter(run, "dataplane.drop.unregistered-care-of")) - unregistered).toBe(5);
        expect((await counter(run, "esp.drop.replay-duplicate")) - duplicates).toBe(5);
        expect(await counter(run, "esp.drop.icv")).toBe(icv);
        checked = true;
      },
    });
    expect(checked).toBe(true);
  }, 90_000);

  test("primary: ESP from the registered non-primary CoA is refused (not-primary-care-of); the primary's is accepted", async () => {
    let checked = false;
    await runModeScenario({
      mode: "primary",
      scenario: STEADY,
      tag: "mdls",
      after: async (run) => {
        const t = run.lab.topology;
        const status = await run.homeAgentCommand("status");
        const table = status.table as { careOfAddresses: string[]; idleCareOfAddresses?: string[] }[];
        expect(table[0]!.careOfAddresses).toEqual([ipv6Of(t.access.wifi.router)]);
        expect(table[0]!.idleCareOfAddresses).toEqual([ipv6Of(t.access.lte.router)]);
        const delivered = await counter(run, "tun.tx.packets");
        const refused = await counter(run, "dataplane.drop.not-primary-care-of");
        await sendEsp(run, "mr", t.access.lte.router.name, 3_000_000_000, 5);
        await sendEsp(run, "mr", t.access.wifi.router.name, 3_000_000_010, 5);
        await Bun.sleep(300);
        expect((await counter(run, "dataplane.drop.not-primary-care-of")) - refused).toBe(5);
        expect((await counter(run, "tun.tx.packets")) - delivered).toBeGreaterThanOrEqual(5);
        checked = true;
      },
    });
    expect(checked).toBe(true);
  }, 90_000);
});
