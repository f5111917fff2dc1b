// Long Mobility Header fuzz run: 10 million random and mutated inputs (MH_FUZZ_RUNS to change), seeded, reproducible.
// usage: bun bench/mh-fuzz.ts [--runs N] [--seed S]
import { parseArgs } from "node:util";
import { MobilityHeaderView, parseMobilityMessage } from "../firmware/wire/mobility-header.ts";
import { mobilityCorpus, mutate, prng } from "../test/fuzz/mobility-fuzz-corpus.ts";

const { values } = parseArgs({ args: process.argv.slice(2), options: { runs: { type: "string" }, seed: { type: "string" } } });
const runs = Number(values.runs ?? process.env.MH_FUZZ_RUNS ?? 10_000_000);
const seed = Number(values.seed ?? 0x5648);
const corpus = mobilityCorpus();
const random = prng(seed);
const byKind = new Map<string, number>();
let accepted = 0;
let slowest = 0;
const started = performance.now();
for (let i = 0; i < runs; i++) {
  let input: Uint8Array;
  if (i % 4 === 0) {
    input = new Uint8Array(Math.floor(random() * 96));
    for (let j = 0; j < input.length; j++) input[j] = Math.floor(random() * 256);
    if (input.length > 2 && random() < 0.5) input[0] = 59;
  } else {
    input = mutate(corpus[i % corpus.length]!, random);
  }
  const t0 = i % 1000 === 0 ? performance.now() : 0;
  let r;
  try {
    r = MobilityHeaderView.parse(input);
    if (r.ok) parseMobilityMessage(r.value);
  } catch (e) {
    console.error(`input ${i} (seed ${seed}) threw: ${(e as Error).stack}\n${Buffer.from(input).toString("hex")}`);
    process.exit(1);
  }
  if (t0) slowest = Math.max(slowest, performance.now() - t0);
  if (r.ok) accepted++;
  else byKind.set(r.error.kind, (byKind.get(r.error.kind) ?? 0) + 1);
}
const seconds = (performance.now() - started) / 1000;
console.log(`mh-fuzz: ${runs} inputs, seed ${seed}, ${seconds.toFixed(1)} s (${Math.round(runs / seconds)} inputs/s), no exception`);
console.log(`  accepted ${accepted}, rejected ${runs - accepted}: ${JSON.stringify(Object.fromEntries([...byKind].sort()))}`);
console.log(`  slowest sampled input ${slowest.toFixed(3)} ms`);
