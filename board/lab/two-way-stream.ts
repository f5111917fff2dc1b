// A sequenced UDP stream each way between lan and cn (stream-tool.ts at both ends), with one event at a set time into it; losses per direction.

import { resolve } from "node:path";
import type { Lab } from "./lab.ts";
import { bunExecutable } from "./role-daemons.ts";
import type { StreamReport } from "./stream-tool.ts";

const STREAM_TOOL = resolve(import.meta.dir, "stream-tool.ts");

export interface StreamLoss {
  readonly lost: number;
  /** The longest silence at the receiver. */
  readonly outageMs: number;
}

/** Lost packets and the longest silence of one direction of a stream. */
export function streamLoss(r: StreamReport): StreamLoss {
  return { lost: r.sent - r.received, outageMs: Math.round(Math.max(0, ...r.gaps.map((g) => g.ms))) };
}

export interface TwoWayStreamOptions {
  readonly lan: string;
  readonly cn: string;
  readonly pps: number;
  readonly seconds: number;
  /** When `event` runs, from the stream's start. */
  readonly atMs: number;
  readonly event: () => Promise<unknown>;
  /** UDP ports of the lan and cn ends. */
  readonly lanPort: number;
  readonly cnPort: number;
}

/** Runs both directions from one start time (400 ms ahead); `up` is what cn received (lan → cn), `down` what lan received. */
export async function twoWayStream(lab: Lab, o: TwoWayStreamOptions): Promise<{ up: StreamReport; down: StreamReport }> {
  const startAt = performance.timeOrigin + performance.now() + 400;
  const spawn = (node: "lan" | "cn", local: string, port: number, peer: string, peerPort: number) =>
    lab.spawn(node, [bunExecutable(), STREAM_TOOL, "--local", local, "--port", String(port), "--peer", peer, "--peer-port", String(peerPort), "--pps", String(o.pps), "--seconds", String(o.seconds), "--start-at", String(startAt)]);
  const cnSide = spawn("cn", o.cn, o.cnPort, o.lan, o.lanPort);
  const lanSide = spawn("lan", o.lan, o.lanPort, o.cn, o.cnPort);
  const read = async (p: ReturnType<typeof spawn>) => JSON.parse(await new Response(p.process.stdout).text()) as StreamReport;
  const reports = Promise.all([read(lanSide), read(cnSide)]);
  await Bun.sleep(startAt - performance.timeOrigin - performance.now() + o.atMs);
  await o.event();
  const [atLan, atCn] = await reports;
  return { up: atCn, down: atLan };
}
