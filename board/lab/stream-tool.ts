// A paced, sequenced UDP stream between two lab hosts: each end sends N packets/s to the other and reports what it received (JSON on stdout).
//
//   bun board/lab/stream-tool.ts --local ADDR --port P --peer ADDR --peer-port Q [--pps 1000] [--seconds 8] [--drain 1.5] [--start-at EPOCH_MS]
//
// Both directions use the same address/port pair, so the two halves are one flow (what a voice call
// looks like, and what lets a home agent return each flow on the path it arrived by). The report has
// the gaps between arrivals longer than 20 ms with their time from the first packet (epoch ms clocks:
// both ends share the host's clock), the reordering depth (how far below the highest sequence number
// a late packet arrived), and duplicates.

import { parseArgs } from "node:util";

const HEADER = 16;
const PAYLOAD = 100;
const GAP_REPORT_MS = 20;

export interface StreamReport {
  readonly sent: number;
  /** Distinct sequence numbers received. */
  readonly received: number;
  readonly duplicates: number;
  /** Highest sequence number seen + 1 (what the peer had sent when the last packet arrived). */
  readonly highest: number;
  /** Packets that arrived below the highest sequence number seen before them. */
  readonly late: number;
  /** The largest (highest seen − sequence number) of a late packet. */
  readonly maxReorderDepth: number;
  /** Epoch ms of this end's first send. */
  readonly startedAt: number;
  /** Inter-arrival gaps over GAP_REPORT_MS: when (epoch ms of the last packet before) and how long. */
  readonly gaps: readonly { readonly at: number; readonly ms: number }[];
  /** One-way delay (ms) of the packets received: median and max (same host clock). */
  readonly delayMedianMs: number;
  readonly delayMaxMs: number;
}

const epochNow = () => performance.timeOrigin + performance.now();

export async function runStream(
  o: { local: string; port: number; peer: string; peerPort: number; pps: number; seconds: number; drainSeconds: number; startAt?: number },
  onBound: () => void = () => {},
): Promise<StreamReport> {
  const seen = new Uint8Array(Math.ceil(o.pps * o.seconds) + 16);
  let received = 0;
  let duplicates = 0;
  let highest = -1;
  let late = 0;
  let maxReorderDepth = 0;
  let lastArrival = 0;
  const gaps: { at: number; ms: number }[] = [];
  const delays: number[] = [];
  const socket = await Bun.udpSocket({
    hostname: o.local,
    port: o.port,
    socket: {
      data(_socket, data) {
        if (data.length < HEADER) return;
        const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
        const seq = view.getUint32(0);
        const sentAt = view.getFloat64(4);
        const now = epochNow();
        if (seq >= seen.length) return;
        if (seen[seq] === 1) {
          duplicates++;
          return;
        }
        seen[seq] = 1;
        received++;
        delays.push(now - sentAt);
        if (seq < highest) {
          late++;
          maxReorderDepth = Math.max(maxReorderDepth, highest - seq);
        } else {
          highest = seq;
        }
        if (lastArrival > 0 && now - lastArrival > GAP_REPORT_MS) gaps.push({ at: lastArrival, ms: now - lastArrival });
        lastArrival = now;
      },
    },
  });
  onBound();
  if (o.startAt !== undefined && o.startAt > epochNow()) await Bun.sleep(o.startAt - epochNow());
  const total = Math.floor(o.pps * o.seconds);
  const packet = new Uint8Array(HEADER + PAYLOAD);
  const view = new DataView(packet.buffer);
  const startedAt = epochNow();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((epochNow() - startedAt) * o.pps) / 1000) + 1);
      while (sent < due) {
        view.setUint32(0, sent);
        view.setFloat64(4, epochNow());
        socket.send(packet, o.peerPort, o.peer);
        sent++;
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await Bun.sleep(o.drainSeconds * 1000);
  socket.close();
  delays.sort((a, b) => a - b);
  return {
    sent,
    received,
    duplicates,
    highest: highest + 1,
    late,
    maxReorderDepth,
    startedAt,
    gaps,
    delayMedianMs: delays.length === 0 ? 0 : delays[delays.length >> 1]!,
    delayMaxMs: delays.length === 0 ? 0 : delays[delays.length - 1]!,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      local: { type: "string" },
      port: { type: "string" },
      peer: { type: "string" },
      "peer-port": { type: "string" },
      pps: { type: "string", default: "1000" },
      seconds: { type: "string", default: "8" },
      drain: { type: "string", default: "1.5" },
      "start-at": { type: "string" },
    },
  });
  if (!values.local || !values.port || !values.peer || !values["peer-port"]) {
    console.error("usage: stream-tool.ts --local ADDR --port P --peer ADDR --peer-port Q [--pps N] [--seconds S] [--drain S]");
    process.exit(2);
  }
  const report = await runStream({
    local: values.local,
    port: Number(values.port),
    peer: values.peer,
    peerPort: Number(values["peer-port"]),
    pps: Number(values.pps),
    seconds: Number(values.seconds),
    drainSeconds: Number(values.drain),
    ...(values["start-at"] ? { startAt: Number(values["start-at"]) } : {}),
  }, () => console.error("bound"));
  console.log(JSON.stringify(report));
}
