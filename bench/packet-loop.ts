// Chooses the packet loop's design by measurement: Worker thread vs main thread, batch 1 vs 64 (lab, root; not a test).
//
// For each variant: iperf3 TCP lan→cn through the router and home agent (emulation off), while each daemon's
// main thread runs a 10 ms interval timer; its lateness is what MQTT, the control socket and protocol timers
// would suffer. `--json` prints the same figures as JSON; `--seconds N` sets the iperf3 duration.

import { parseArgs } from "node:util";
import { iperf3 } from "../board/lab/probes.ts";
import { ipv6Of } from "../board/lab/topology.ts";
import type { LoopPlacement } from "../firmware/dataplane/dataplane-handle.ts";
import { startDataplaneLab } from "../test/lab/dataplane-harness.ts";

interface Lateness {
  samples: number;
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoopVariantResult {
  readonly placement: LoopPlacement;
  readonly batchSize: number;
  readonly mbps: number;
  readonly routerLateness: Lateness;
  readonly homeAgentLateness: Lateness;
  readonly routerIdleLateness: Lateness;
}

export async function measureLoopVariant(placement: LoopPlacement, batchSize: number, seconds: number): Promise<LoopVariantResult> {
  const h = await startDataplaneLab({ tag: "h9bench", placement, batchSize });
  try {
    await h.routerCommand("lateness");
    await Bun.sleep(1000);
    const routerIdleLateness = (await h.routerCommand("lateness")) as unknown as Lateness;
    await h.homeAgentCommand("lateness");
    const r = await iperf3(h.lab, { server: "cn", address: ipv6Of(h.lab.topology.correspondent), client: "lan", seconds });
    const routerLateness = (await h.routerCommand("lateness")) as unknown as Lateness;
    const homeAgentLateness = (await h.homeAgentCommand("lateness")) as unknown as Lateness;
    return { placement, batchSize, mbps: r.bitsPerSecond / 1e6, routerLateness, homeAgentLateness, routerIdleLateness };
  } finally {
    await h.destroy();
  }
}

function row(r: LoopVariantResult): string {
  const l = (x: Lateness) => `${x.p99Ms.toFixed(1)} / ${x.maxMs.toFixed(1)}`;
  return `| ${r.placement.padEnd(11)} | ${String(r.batchSize).padStart(5)} | ${r.mbps.toFixed(0).padStart(6)} | ${l(r.routerIdleLateness).padStart(13)} | ${l(r.routerLateness).padStart(13)} | ${l(r.homeAgentLateness).padStart(13)} |`;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Bun.argv.slice(2), options: { json: { type: "boolean" }, seconds: { type: "string" } } });
  const seconds = Number(values.seconds ?? 5);
  const variants: [LoopPlacement, number][] = [
    ["worker", 64],
    ["main-thread", 64],
    ["worker", 1],
  ];
  const results: LoopVariantResult[] = [];
  for (const [placement, batch] of variants) results.push(await measureLoopVariant(placement, batch, seconds));
  if (values.json) {
    console.log(JSON.stringify({ seconds, results }, null, 2));
  } else {
    console.log(`packet loop variants, iperf3 TCP lan→cn ${seconds} s; main-thread 10 ms timer lateness p99 / max in ms`);
    console.log("| placement   | batch | Mbit/s | router idle   | router load   | HA load       |");
    console.log("|-------------|-------|--------|---------------|---------------|---------------|");
    for (const r of results) console.log(row(r));
  }
}
