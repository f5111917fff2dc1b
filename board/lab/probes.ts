// Measurements across the lab: ping round-trip times and iperf3 throughput between namespaces, parsed into numbers.

import type { Lab } from "./lab.ts";
import type { LabNode } from "./topology.ts";

export interface PingResult {
  readonly transmitted: number;
  readonly received: number;
  /** Round-trip time of each reply, in milliseconds, in arrival order. */
  readonly rttsMs: readonly number[];
}

export interface PingOptions {
  readonly count?: number;
  readonly intervalSeconds?: number;
  /** Seconds to wait for the last reply. */
  readonly waitSeconds?: number;
  readonly payloadBytes?: number;
}

/** Parses iputils `ping` output; unknown lines are ignored, so a failed ping yields zero replies. */
export function parsePing(output: string): PingResult {
  const rttsMs = [...output.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const summary = /(\d+) packets transmitted, (\d+) received/.exec(output);
  return {
    transmitted: summary ? Number(summary[1]) : 0,
    received: summary ? Number(summary[2]) : rttsMs.length,
    rttsMs,
  };
}

export async function ping(lab: Lab, from: LabNode, to: string, options: PingOptions = {}): Promise<PingResult> {
  const argv = [
    "ping",
    to.includes(":") ? "-6" : "-4",
    "-n",
    "-c",
    String(options.count ?? 5),
    "-i",
    String(options.intervalSeconds ?? 0.2),
    "-W",
    String(options.waitSeconds ?? 1),
    "-s",
    String(options.payloadBytes ?? 56),
    to,
  ];
  return parsePing((await lab.exec(from, argv)).stdout);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Iperf3Options {
  readonly server: LabNode;
  /** Address the server binds and the client connects to. */
  readonly address: string;
  readonly client: LabNode;
  readonly seconds?: number;
  readonly port?: number;
  /** UDP at this offered rate (bits/s) with `lengthBytes` datagrams instead of TCP. */
  readonly udp?: { readonly bitsPerSecond: number; readonly lengthBytes: number };
  /** Server sends, client receives (the downlink, when the client is behind the mobile router). */
  readonly reverse?: boolean;
}

export interface Iperf3Result {
  /** Goodput measured at the receiver, in bits per second. */
  readonly bitsPerSecond: number;
  /** UDP only: datagrams lost, in percent. */
  readonly lostPercent?: number;
  readonly retransmits?: number;
}

interface Iperf3Json {
  error?: string;
  end?: {
    sum?: { bits_per_second?: number; lost_percent?: number };
    sum_received?: { bits_per_second?: number };
    sum_sent?: { retransmits?: number };
  };
}

/** Parses `iperf3 -J` client output. */
export function parseIperf3(json: string): Iperf3Result {
  const report = JSON.parse(json) as Iperf3Json;
  if (report.error) throw new Error(`iperf3: ${report.error}`);
  const end = report.end ?? {};
  const bitsPerSecond = end.sum_received?.bits_per_second ?? end.sum?.bits_per_second;
  if (bitsPerSecond !== undefined) {
    const retransmits = end.sum_sent?.retransmits;
    const lostPercent = end.sum?.lost_percent;
    return {
      bitsPerSecond,
      ...(retransmits === undefined ? {} : { retransmits }),
      ...(lostPercent === undefined ? {} : { lostPercent }),
    };
  }
  throw new Error("iperf3 report has no totals");
}

/** Runs one iperf3 test (server started for it and stopped after). */
export async function iperf3(lab: Lab, options: Iperf3Options): Promise<Iperf3Result> {
  const port = String(options.port ?? 5201);
  const server = lab.spawn(options.server, ["iperf3", "-s", "-1", "--forceflush", "-B", options.address, "-p", port]);
  try {
    await waitForOutput(server.process.stdout, "Server listening", 5000);
    const argv = ["iperf3", "-J", "-c", options.address, "-p", port, "-t", String(options.seconds ?? 2)];
    if (options.udp) argv.push("-u", "-b", String(options.udp.bitsPerSecond), "-l", String(options.udp.lengthBytes));
    if (options.reverse) argv.push("-R");
    const r = await lab.exec(options.client, argv);
    if (r.stdout.trim() === "") throw new Error(`iperf3 client failed: ${r.stderr.trim()}`);
    return parseIperf3(r.stdout);
  } finally {
    await server.stop();
  }
}

async function waitForOutput(stream: ReadableStream<Uint8Array>, text: string, timeoutMs: number): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  const deadline = performance.now() + timeoutMs;
  let seen = "";
  try {
    while (!seen.includes(text)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no '${text}' within ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no '${text}' within ${timeoutMs} ms`)), left);
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) throw new Error(`process ended before '${text}': ${seen.trim()}`);
      seen += decoder.decode(chunk.value);
    }
  } finally {
    reader.releaseLock();
  }
}

/** One tshark field (e.g. `ip.src`) of every packet in a pcap file, in order (runs in the caller's namespace). */
export async function pcapField(file: string, field: string, displayFilter?: string, decodeAs: readonly string[] = []): Promise<string[]> {
  const argv = ["tshark", "-n", "-r", file, ...decodeAs, "-T", "fields", "-e", field, ...(displayFilter ? ["-Y", displayFilter] : [])];
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const [out, errText, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`tshark -r ${file}: ${errText.trim()}`);
  return out.split("\n").filter((line) => line !== "");
}
