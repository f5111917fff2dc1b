// Seeded generator of the synthetic drive traces in bench/traces/ (see TRACES.md for the models and the format).
// Usage: bun run bench/traces/generate.ts [--out DIR]

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { linkId, type LinkId } from "../../board/api/link-metrics.ts";
import { formatTracePoint, seededRandom, TRACE_FORMAT, TRACE_VERSION, type TraceLink, type TracePoint } from "../../board/sim/link-trace-replay.ts";

const STEP_MS = 1000;

type Rng = () => number;

function gaussian(rng: Rng): number {
  const u = Math.max(1e-12, rng());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** First-order autoregressive shadowing: correlated noise with standard deviation `sigma`. */
function shadowing(rng: Rng, sigma: number, correlation: number): () => number {
  let x = gaussian(rng) * sigma;
  return () => (x = correlation * x + Math.sqrt(1 - correlation * correlation) * sigma * gaussian(rng));
}

const clamp = (x: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, x));
const lerp = (x: number, x0: number, x1: number, y0: number, y1: number) => y0 + ((clamp(x, Math.min(x0, x1), Math.max(x0, x1)) - x0) / (x1 - x0)) * (y1 - y0);

/** Cellular path from radio margin = min(RSRP + 115, SINR + 3): loss and RTT grow as the margin shrinks. */
function cellularPath(rng: Rng, rsrp: number, sinr: number, baseRtt: number): { up: boolean; rtt: number; loss: number } {
  const margin = Math.min(rsrp + 115, sinr + 3);
  if (margin < -12) return { up: false, rtt: 0, loss: 1 };
  const loss = margin >= 6 ? 0.003 : margin >= 0 ? lerp(margin, 6, 0, 0.003, 0.06) : margin >= -6 ? lerp(margin, 0, -6, 0.06, 0.6) : lerp(margin, -6, -12, 0.6, 1);
  const rtt = baseRtt + Math.max(0, 10 - margin) * 22 + Math.abs(gaussian(rng)) * 8;
  return { up: true, rtt: Math.round(rtt), loss: round3(loss) };
}

/** Wi-Fi path from margin = signal + 78 dBm, over a backhaul with its own RTT and loss. */
function wifiPath(rng: Rng, signal: number, backhaulRtt: number, backhaulLoss: number): { rtt: number; loss: number } {
  const margin = signal + 78;
  const air = margin >= 8 ? 0.002 : margin >= 0 ? lerp(margin, 8, 0, 0.002, 0.08) : lerp(margin, 0, -8, 0.08, 0.7);
  const loss = 1 - (1 - air) * (1 - backhaulLoss);
  const rtt = backhaulRtt + 4 + Math.max(0, 8 - margin) * 12 + Math.abs(gaussian(rng)) * 5;
  return { rtt: Math.round(rtt), loss: round3(clamp(loss, 0, 1)) };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Association state machine of a Wi-Fi client: joins after `assocMs` above −80 dBm, leaves below −88 dBm for 3 s. */
function associator(): (signal: number | undefined) => boolean {
  let associated = false;
  let above = 0;
  let below = 0;
  return (signal) => {
    if (signal === undefined) {
      associated = false;
      above = below = 0;
      return false;
    }
    if (!associated) {
      above = signal > -80 ? above + STEP_MS : 0;
      if (above >= 3000) {
        associated = true;
        below = 0;
      }
    } else {
      below = signal < -88 ? below + STEP_MS : 0;
      if (below >= 3000) {
        associated = false;
        above = 0;
      }
    }
    return associated;
  };
}

/** Log-distance path loss from an access point: −30 dBm at 1 m, exponent 3. */
const apSignal = (distanceM: number) => -30 - 30 * Math.log10(Math.max(1, distanceM));

interface Built {
  readonly name: string;
  readonly description: string;
  readonly seed: number;
  readonly durationMs: number;
  readonly demandKbps: number;
  readonly links: readonly TraceLink[];
  readonly rows: string[];
}

function builder(name: string, description: string, seed: number, durationS: number, demandKbps: number, links: TraceLink[]) {
  const rows: string[] = [];
  return {
    rng: seededRandom(seed),
    point(link: LinkId, p: TracePoint) {
      rows.push(formatTracePoint(link, p));
    },
    demand(t: number, kbps: number) {
      rows.push(JSON.stringify({ t, demandKbps: kbps }));
    },
    done(): Built {
      return { name, description, seed, durationMs: durationS * 1000, demandKbps, links, rows };
    },
  };
}

const LTE = linkId("lte0");
const WIFI = linkId("wifi0");
const LTE_A = linkId("lte-a");
const LTE_B = linkId("lte-b");

/** A cellular link sample from RSRP/SINR, or "no service". */
function cellPoint(rng: Rng, t: number, rsrp: number, sinr: number, baseRtt: number, forcedDown = false): TracePoint {
  const path = cellularPath(rng, rsrp, sinr, baseRtt);
  if (forcedDown || !path.up) return { t, up: false, rttMs: 0, loss: 1 };
  return { t, up: true, rttMs: path.rtt, loss: path.loss, rsrpDbm: Math.round(rsrp), sinrDb: Math.round(sinr), rsrqDb: Math.round(clamp(-20 + (sinr + 10) / 2.5, -20, -3)) };
}

function urbanHotspots(): Built {
  const b = builder(
    "urban-hotspots",
    "City bus, 25 min: LTE with urban shadowing and building dips; stop-side Wi-Fi hotspots (one with a dead backhaul, one overloaded).",
    101,
    1500,
    2000,
    [
      { id: LTE, kind: "cellular", preference: 0, costPerGb: 5 },
      { id: WIFI, kind: "wifi", preference: 15, costPerGb: 0 },
    ],
  );
  const rng = b.rng;
  const lteShadow = shadowing(rng, 5, 0.92);
  const sinrShadow = shadowing(rng, 3, 0.85);
  const wifiFade = shadowing(rng, 3, 0.7);
  const assoc = associator();
  // Hotspots: centre time (s), closest distance (m), stop length (s), backhaul RTT (ms) and loss.
  const hotspots = [
    { at: 120, d0: 15, stop: 70, rtt: 25, loss: 0.002 },
    { at: 330, d0: 25, stop: 40, rtt: 30, loss: 0.005 },
    { at: 520, d0: 12, stop: 90, rtt: 1, loss: 1 }, // associates, but the backhaul is dead
    { at: 760, d0: 20, stop: 60, rtt: 900, loss: 0.25 }, // overloaded café uplink
    { at: 990, d0: 10, stop: 120, rtt: 20, loss: 0.002 },
    { at: 1300, d0: 30, stop: 30, rtt: 35, loss: 0.01 },
  ];
  const dips = [
    { from: 240, to: 262 },
    { from: 640, to: 655 },
    { from: 1180, to: 1210 },
  ];
  for (let s = 0; s < 1500; s++) {
    const t = s * 1000;
    const dip = dips.find((d) => s >= d.from && s < d.to);
    const depth = dip ? 24 * Math.sin((Math.PI * (s - dip.from)) / (dip.to - dip.from)) : 0;
    b.point(LTE, cellPoint(rng, t, -94 + lteShadow() - depth, 9 + sinrShadow() - depth * 0.6, 38));
    // Distance to the nearest hotspot: stopped next to it for `stop` seconds, 9 m/s before and after.
    let signal: number | undefined;
    let hs: (typeof hotspots)[number] | undefined;
    for (const h of hotspots) {
      const dt = Math.max(0, Math.abs(s - h.at) - h.stop / 2);
      const d = Math.hypot(dt * 9, h.d0);
      const sig = apSignal(d) + wifiFade();
      if (d < 250 && (signal === undefined || sig > signal)) {
        signal = sig;
        hs = h;
      }
    }
    const up = assoc(signal);
    if (up && hs && signal !== undefined) {
      const path = wifiPath(rng, signal, hs.rtt, hs.loss);
      b.point(WIFI, { t, up: true, rttMs: path.rtt, loss: path.loss, signalDbm: Math.round(signal) });
    } else b.point(WIFI, { t, up: false, rttMs: 0, loss: 1 });
  }
  return b.done();
}

function motorwayCellEdges(): Built {
  const b = builder(
    "motorway-cell-edges",
    "Motorway at 33 m/s, 25 min, two LTE carriers on offset site grids; deep cell edges with radio-link failures; carrier A has a 3 km coverage gap.",
    202,
    1500,
    3000,
    [
      { id: LTE_A, kind: "cellular", preference: 5, costPerGb: 3 },
      { id: LTE_B, kind: "cellular", preference: 0, costPerGb: 5 },
    ],
  );
  const rng = b.rng;
  const speed = 33;
  const sitesA: number[] = [];
  const sitesB: number[] = [];
  for (let x = 0; x < 60_000; x += 4200 + rng() * 1600) if (!(x > 21_000 && x < 24_500)) sitesA.push(x);
  for (let x = 1900; x < 60_000; x += 3800 + rng() * 1600) sitesB.push(x);
  const carriers = [
    { id: LTE_A, sites: sitesA, shadow: shadowing(rng, 5, 0.9), serving: 0, rlfUntil: -1 },
    { id: LTE_B, sites: sitesB, shadow: shadowing(rng, 5, 0.9), serving: 0, rlfUntil: -1 },
  ];
  const rsrpAt = (d: number) => -72 - 30 * Math.log10(Math.max(100, d) / 100);
  for (let s = 0; s < 1500; s++) {
    const t = s * 1000;
    const x = s * speed;
    for (const c of carriers) {
      const levels = c.sites.map((site) => rsrpAt(Math.abs(x - site)));
      let best = 0;
      for (let i = 1; i < levels.length; i++) if (levels[i]! > levels[best]!) best = i;
      const shadow = c.shadow();
      // A3 handover with 3 dB hysteresis; at a deep edge the handover fails 40 % of the time (RLF, 2–6 s re-establishment).
      if (best !== c.serving && levels[best]! > levels[c.serving]! + 3) {
        if (levels[c.serving]! + shadow < -113 && rng() < 0.4) c.rlfUntil = s + 2 + Math.floor(rng() * 5);
        c.serving = best;
      }
      const serving = levels[c.serving]!;
      const neighbour = Math.max(...levels.filter((_, i) => i !== c.serving));
      const rsrp = serving + shadow;
      const sinr = clamp(serving - neighbour - 1 + shadow * 0.3, -8, 25);
      b.point(c.id, cellPoint(rng, t, rsrp, sinr, 45, s < c.rlfUntil));
    }
  }
  return b.done();
}

function tunnelOutage(): Built {
  const b = builder(
    "tunnel-outage",
    "Urban motorway, 15 min: a 2.4 km road tunnel where carrier A has no coverage and carrier B a leaky feeder; later a short underpass that cuts both.",
    303,
    900,
    2500,
    [
      { id: LTE_A, kind: "cellular", preference: 5, costPerGb: 3 },
      { id: LTE_B, kind: "cellular", preference: 0, costPerGb: 5 },
    ],
  );
  const rng = b.rng;
  const shadowA = shadowing(rng, 4, 0.9);
  const shadowB = shadowing(rng, 4, 0.9);
  const tunnel = { from: 300, to: 420 };
  const underpass = { from: 700, to: 712 };
  for (let s = 0; s < 900; s++) {
    const t = s * 1000;
    // Portal: carrier A fades about 4 dB/s over the first 12 s in, recovers over 8 s out.
    let lossA = 0;
    if (s >= tunnel.from - 2 && s < tunnel.to) lossA = Math.min(60, (s - tunnel.from + 2) * 4.5);
    if (s >= tunnel.to && s < tunnel.to + 8) lossA = 60 - (s - tunnel.to) * 7.5;
    let lossB = 0;
    if (s >= tunnel.from && s < tunnel.to) lossB = 8; // leaky feeder: weaker but steady
    const under = s >= underpass.from - 2 && s < underpass.to ? Math.min(50, (s - underpass.from + 2) * 12) : 0;
    b.point(LTE_A, cellPoint(rng, t, -92 + shadowA() - lossA - under, 10 + shadowA() * 0.5 - lossA * 0.5 - under * 0.6, 40));
    b.point(LTE_B, cellPoint(rng, t, -97 + shadowB() - lossB - under, 8 + shadowB() * 0.5 - lossB * 0.3 - under * 0.6, 48));
  }
  return b.done();
}

function depot(): Built {
  const b = builder(
    "depot-arrival-departure",
    "Bus returns to its depot, 25 min: LTE drive in, depot Wi-Fi joins at the gate, 15 min parked with bulk upload (one 20 s depot backhaul outage), sticky Wi-Fi on the way out.",
    404,
    1500,
    1500,
    [
      { id: LTE, kind: "cellular", preference: 0, costPerGb: 5 },
      { id: WIFI, kind: "wifi", preference: 15, costPerGb: 0 },
    ],
  );
  const rng = b.rng;
  const lteShadow = shadowing(rng, 4, 0.92);
  const fade = shadowing(rng, 2.5, 0.8);
  const assoc = associator();
  const arriveAt = 180;
  const parkFrom = 260;
  const leaveAt = 1160;
  for (let s = 0; s < 1500; s++) {
    const t = s * 1000;
    if (s === parkFrom) b.demand(t, 8000);
    if (s === leaveAt) b.demand(t, 1500);
    // Indoors in the depot hall LTE is weaker.
    const inHall = s >= parkFrom && s < leaveAt;
    b.point(LTE, cellPoint(rng, t, -97 + lteShadow() - (inHall ? 10 : 0), 7 + lteShadow() * 0.5 - (inHall ? 4 : 0), 40));
    let distance: number | undefined;
    if (s >= arriveAt - 40 && s < parkFrom) distance = Math.max(8, (parkFrom - s) * 5);
    else if (s >= parkFrom && s < leaveAt) distance = 8;
    else if (s >= leaveAt && s < leaveAt + 120) distance = 8 + (s - leaveAt) * 4; // slow roll out of the yard
    const signal = distance === undefined ? undefined : apSignal(distance) - 8 + fade();
    const up = assoc(signal);
    if (up && signal !== undefined) {
      const backhaulDown = s >= 700 && s < 720;
      const path = wifiPath(rng, signal, 18, backhaulDown ? 1 : 0.001);
      b.point(WIFI, { t, up: true, rttMs: path.rtt, loss: path.loss, signalDbm: Math.round(signal) });
    } else b.point(WIFI, { t, up: false, rttMs: 0, loss: 1 });
  }
  return b.done();
}

function trafficLightFlap(): Built {
  const b = builder(
    "traffic-light-flap",
    "Stop-and-go queue at a traffic light, 12 min: four 60–90 s stops at the edge of a shop hotspot whose signal fades around −80 dBm, so the association comes and goes.",
    505,
    720,
    2000,
    [
      { id: LTE, kind: "cellular", preference: 0, costPerGb: 5 },
      { id: WIFI, kind: "wifi", preference: 15, costPerGb: 0 },
    ],
  );
  const rng = b.rng;
  const lteShadow = shadowing(rng, 3, 0.9);
  const fastFade = shadowing(rng, 4.5, 0.55);
  const assoc = associator();
  const stops = [
    { from: 60, to: 140, d: 62 },
    { from: 200, to: 270, d: 55 },
    { from: 330, to: 420, d: 60 },
    { from: 480, to: 545, d: 50 },
  ];
  for (let s = 0; s < 720; s++) {
    const t = s * 1000;
    b.point(LTE, cellPoint(rng, t, -93 + lteShadow(), 11 + lteShadow() * 0.5, 40));
    const stop = stops.find((x) => s >= x.from && s < x.to);
    const signal = stop ? apSignal(stop.d) + 4 + fastFade() : undefined;
    const up = assoc(signal);
    if (up && signal !== undefined) {
      const path = wifiPath(rng, signal, 30, 0.01);
      b.point(WIFI, { t, up: true, rttMs: path.rtt, loss: path.loss, signalDbm: Math.round(signal) });
    } else b.point(WIFI, { t, up: false, rttMs: 0, loss: 1 });
  }
  return b.done();
}

export const GENERATORS: readonly (() => Built)[] = [urbanHotspots, motorwayCellEdges, tunnelOutage, depot, trafficLightFlap];

export function render(built: Built): string {
  const header = {
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    name: built.name,
    description: built.description,
    seed: built.seed,
    durationMs: built.durationMs,
    demandKbps: built.demandKbps,
    links: built.links,
  };
  return `${JSON.stringify(header)}\n${built.rows.join("\n")}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Bun.argv.slice(2), options: { out: { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log("usage: bun run bench/traces/generate.ts [--out DIR]   (default: bench/traces)");
    process.exit(0);
  }
  const out = resolve(values.out ?? import.meta.dir);
  for (const generate of GENERATORS) {
    const built = generate();
    const path = `${out}/${built.name}.jsonl`;
    await Bun.write(path, render(built));
    console.log(`${path}: ${built.rows.length} lines, ${(built.durationMs / 60000).toFixed(0)} min, seed ${built.seed}`);
  }
}
