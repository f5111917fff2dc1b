// Seeds and mutators for Mobility Header fuzzing (shared by the CI fuzz test and bench/mh-fuzz.ts).
import { encodeMobilityMessage } from "../../firmware/wire/mobility-header.ts";
import { selftestExchange } from "../../firmware/mobility/selftest-exchange.ts";
import { transmitPseudoHeader } from "../../firmware/mobility/types.ts";

/** Our own emitted messages: every type and option monami handles. */
export function mobilityCorpus(): Uint8Array[] {
  return selftestExchange().map((r) => encodeMobilityMessage(r.transmit.message, transmitPseudoHeader(r.transmit)));
}

/** Mulberry32, seeded: every fuzz run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bit flips, byte sets (lengths and types favoured), truncation, extension and splices. */
export function mutate(seed: Uint8Array, random: () => number): Uint8Array {
  let b = Uint8Array.from(seed);
  const rounds = 1 + Math.floor(random() * 4);
  for (let r = 0; r < rounds; r++) {
    const choice = random();
    const at = Math.floor(random() * Math.max(1, b.length));
    if (choice < 0.35 && b.length > 0) b[at] = b[at]! ^ (1 << Math.floor(random() * 8));
    else if (choice < 0.6 && b.length > 0) b[at] = [0, 1, 2, 4, 6, 8, 18, 20, 35, 59, 128, 255][Math.floor(random() * 12)]!;
    else if (choice < 0.75) b = b.subarray(0, Math.floor(random() * (b.length + 1)));
    else if (choice < 0.85) {
      const extra = new Uint8Array(b.length + 8);
      extra.set(b);
      for (let i = b.length; i < extra.length; i++) extra[i] = Math.floor(random() * 256);
      b = extra;
    } else if (b.length > 2) {
      b[1] = Math.floor(random() * 16); // Header Len
    }
  }
  return b;
}
