// Fuzz: random and mutated packets through every wire parser; nothing throws, time stays bounded, what parses re-emits.
// MONAMI_FUZZ_RUNS scales the input count (default 100 000); MONAMI_FUZZ_SEED picks another deterministic run.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { emitIcmpv6, buildIcmpv6Error, icmpv6Repr as reprOfIcmpv6View, Icmpv6View, parseIcmpv6 } from "../../firmware/wire/icmpv6.ts";
import { emitIpv4Packet, ipv4ReprChecksumAddresses, ipv4UpperChecksumAddresses, parseIpv4Packet } from "../../firmware/wire/ipv4.ts";
import { emitIpv6Packet, ipv6ReprChecksumAddresses, ipv6UpperChecksumAddresses, parseIpv6Packet } from "../../firmware/wire/ipv6.ts";
import { emitUdp, parseUdp, UdpView } from "../../firmware/wire/udp.ts";
import { readPcap } from "../../firmware/pcap/pcap-reader.ts";
import { ECHO_REPLY, IPV6_CHAIN_ECHO, PACKET_TOO_BIG, UDP_IPV4, UDP_IPV6 } from "../vectors/wire/known-packets.ts";
import { icmpv6Repr, ipv4PacketRepr, ipv6PacketRepr } from "../unit/wire/arbitraries.ts";
import { PcapWriter } from "../../firmware/pcap/pcap-writer.ts";

const RUNS = Number(process.env.MONAMI_FUZZ_RUNS ?? 100_000);
const SEED = Number(process.env.MONAMI_FUZZ_SEED ?? 0x5eed);

/** mulberry32: a small deterministic PRNG, so a failing input can be replayed from its seed and index. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeds: the known vectors and emitted packets covering every header and message kind. */
function corpus(): Uint8Array[] {
  const seeds = [IPV6_CHAIN_ECHO, UDP_IPV6, UDP_IPV4, PACKET_TOO_BIG, ECHO_REPLY];
  for (const repr of fc.sample(ipv6PacketRepr, { numRuns: 150, seed: SEED })) seeds.push(emitIpv6Packet(repr));
  for (const repr of fc.sample(ipv4PacketRepr, { numRuns: 50, seed: SEED })) seeds.push(emitIpv4Packet(repr));
  const icmps = fc.sample(icmpv6Repr, { numRuns: 50, seed: SEED });
  fc.sample(ipv6PacketRepr, { numRuns: 50, seed: SEED + 1 }).forEach((base, i) => {
    const packet = { ...base, upperProtocol: 58 };
    seeds.push(emitIpv6Packet({ ...packet, upperPayload: emitIcmpv6(icmps[i]!, ipv6ReprChecksumAddresses(packet)) }));
    const udp = { ...base, upperProtocol: 17 };
    seeds.push(emitIpv6Packet({ ...udp, upperPayload: emitUdp({ sourcePort: i, destinationPort: 4500, payload: base.upperPayload }, ipv6ReprChecksumAddresses(udp)) }));
  });
  fc.sample(ipv4PacketRepr, { numRuns: 30, seed: SEED + 2 }).forEach((base, i) => {
    const udp = { ...base, upperProtocol: 17, fragmentOffset: 0, moreFragments: false };
    seeds.push(emitIpv4Packet({ ...udp, upperPayload: emitUdp({ sourcePort: i, destinationPort: 53, payload: base.upperPayload }, ipv4ReprChecksumAddresses(udp)) }));
  });
  return seeds;
}

const INTERESTING = [0x00, 0x01, 0x02, 0x04, 0x07, 0x08, 0x10, 0x2b, 0x2c, 0x3a, 0x3b, 0x3c, 0x40, 0x45, 0x60, 0x7f, 0x80, 0xc9, 0xfe, 0xff];

function mutate(input: Uint8Array, rnd: () => number, pool: Uint8Array[]): Uint8Array {
  let out = Uint8Array.from(input);
  const pick = (n: number) => Math.floor(rnd() * n);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    switch (pick(7)) {
      case 0: // flip a bit
        if (out.length) out[pick(out.length)]! ^= 1 << pick(8);
        break;
      case 1: // an interesting value (lengths, next headers, versions, option types)
        if (out.length) out[pick(out.length)] = INTERESTING[pick(INTERESTING.length)]!;
        break;
      case 2: // truncate
        out = out.subarray(0, pick(out.length + 1));
        break;
      case 3: {
        // append random octets
        const extra = new Uint8Array(1 + pick(32)).map(() => pick(256));
        const grown = new Uint8Array(out.length + extra.length);
        grown.set(out);
        grown.set(extra, out.length);
        out = grown;
        break;
      }
      case 4: {
        // splice in a piece of another seed at the same offset
        const other = pool[pick(pool.length)]!;
        const at = pick(Math.min(out.length, other.length) + 1);
        const len = pick(Math.min(out.length, other.length) - at + 1);
        out.set(other.subarray(at, at + len), at);
        break;
      }
      case 5: {
        // delete a run
        const at = pick(out.length + 1);
        const len = Math.min(pick(9), out.length - at);
        const shrunk = new Uint8Array(out.length - len);
        shrunk.set(out.subarray(0, at));
        shrunk.set(out.subarray(at + len), at);
        out = shrunk;
        break;
      }
      default: // 16-bit field set to a random value (payload length, total length, UDP length)
        if (out.length >= 2) {
          const at = pick(out.length - 1);
          out[at] = pick(256);
          out[at + 1] = pick(256);
        }
    }
  }
  return out;
}

interface Tally {
  inputs: number;
  ipv6: number;
  ipv4: number;
  udp: number;
  icmpv6: number;
  slowestMs: number;
}

/** Every parser over one input; throws only if a parser did (the test then reports the input). */
function exercise(input: Uint8Array, tally: Tally): void {
  const v6 = parseIpv6Packet(input);
  if (v6.ok) {
    tally.ipv6++;
    const p = v6.value;
    expect(p.upperOffset + p.upperPayload.length).toBe(40 + p.header.payloadLength);
    // What parses re-emits, and re-parses to the same meaning.
    const again = parseIpv6Packet(emitIpv6Packet({ ...p.header, extensionHeaders: p.extensionHeaders, upperProtocol: p.upperProtocol, upperPayload: p.upperPayload }));
    expect(again.ok && again.value.extensionHeaders).toEqual(p.extensionHeaders);
    const addresses = ipv6UpperChecksumAddresses(p);
    if (p.upperProtocol === 17 && parseUdp(p.upperPayload, addresses).ok) tally.udp++;
    if (p.upperProtocol === 58) {
      const m = parseIcmpv6(p.upperPayload, addresses);
      if (m.ok) {
        tally.icmpv6++;
        expect(emitIcmpv6(m.value, addresses)).toEqual(p.upperPayload);
      }
    }
  }
  const v4 = parseIpv4Packet(input);
  if (v4.ok) {
    tally.ipv4++;
    const addresses = ipv4UpperChecksumAddresses(v4.value);
    if (v4.value.upperProtocol === 17 && parseUdp(v4.value.upperPayload, addresses).ok) tally.udp++;
  }
  // The upper-layer parsers straight on the input, with fixed addresses of both families.
  const a6 = { source: input.subarray(0, 16).length === 16 ? input.subarray(0, 16) : new Uint8Array(16), destination: new Uint8Array(16) };
  const a4 = { source: new Uint8Array(4), destination: new Uint8Array(4) };
  parseUdp(input, a6);
  parseUdp(input, a4);
  const uv = UdpView.parse(input);
  if (uv.ok) void [uv.value.sourcePort, uv.value.destinationPort, uv.value.checksum, uv.value.payload.length];
  parseIcmpv6(input, a6);
  const iv = Icmpv6View.parse(input);
  if (iv.ok) reprOfIcmpv6View(iv.value);
  buildIcmpv6Error({ kind: "parameter-problem", code: 0, pointer: 6 }, input, { source: "2001:db8::1" });
  readPcap(input);
}

describe("wire parsers under fuzzing", () => {
  test(`${RUNS} random and mutated inputs: no throw, bounded time, re-emission agrees`, () => {
    const rnd = prng(SEED);
    const pool = corpus();
    const tally: Tally = { inputs: 0, ipv6: 0, ipv4: 0, udp: 0, icmpv6: 0, slowestMs: 0 };
    const started = performance.now();
    for (let i = 0; i < RUNS; i++) {
      const input =
        rnd() < 0.15
          ? new Uint8Array(Math.floor(rnd() * 160)).map(() => Math.floor(rnd() * 256))
          : mutate(pool[Math.floor(rnd() * pool.length)]!, rnd, pool);
      const t0 = performance.now();
      try {
        exercise(input, tally);
      } catch (error) {
        throw new Error(`input ${i} (seed ${SEED}) ${Buffer.from(input).toString("hex")}: ${String(error)}`);
      }
      tally.slowestMs = Math.max(tally.slowestMs, performance.now() - t0);
      tally.inputs++;
    }
    const elapsed = performance.now() - started;
    console.log(`fuzz: ${JSON.stringify(tally)} in ${Math.round(elapsed)} ms`);
    expect(tally.inputs).toBe(RUNS);
    // The mutations keep enough structure that every layer is reached, not only rejected.
    if (RUNS >= 10_000) {
      for (const layer of ["ipv6", "ipv4", "udp", "icmpv6"] as const) expect(tally[layer]).toBeGreaterThan(RUNS / 200);
    }
    expect(tally.slowestMs).toBeLessThan(500); // a hang or a quadratic walk shows here; GC pauses stay well below
  }, 120_000);

  test("pcap reader over mutated captures", () => {
    const rnd = prng(SEED + 7);
    const w = new PcapWriter();
    corpus().slice(0, 40).forEach((p, i) => w.add(p, i));
    const file = w.bytes();
    let parsed = 0;
    for (let i = 0; i < Math.max(1000, RUNS / 20); i++) {
      const r = readPcap(mutate(file, rnd, [file]));
      if (r.ok) parsed++;
    }
    expect(parsed).toBeGreaterThan(0);
  });
});
