// The lab's link monitor for the mobile router: carrier and address events from netlink, liveness from fast probes per uplink.
//
// It plays the part of the router's link detection in the multi-CoA scenarios (board/lab/scenarios.ts):
// carrier loss is seen at once (`ip monitor link`), a silent blackhole when an uplink's probes
// (ICMPv6 echo to the home agent's core address, bound to the uplink, every `probeIntervalMs`) stay
// unanswered for `silenceMs`; an uplink comes back after `upReplies` answers in a row. A new global
// address on an uplink (SLAAC, DHCPv6) is reported as an address change. Decisions go to `onChange`.

import type { Lab, LabProcess } from "./lab.ts";
import { type AccessLinkName, ACCESS_LINKS } from "./topology.ts";

export interface LinkMonitorOptions {
  readonly probeIntervalMs?: number;
  readonly silenceMs?: number;
  readonly upReplies?: number;
  /** The address probed through each uplink (the home agent's address on the core link). */
  readonly target: string;
  readonly onChange: (link: AccessLinkName, up: boolean, reason: string) => void;
  readonly onAddress?: (link: AccessLinkName, address: string) => void;
  /** Links that are up at start (default: both). */
  readonly initiallyUp?: readonly AccessLinkName[];
}

interface LinkState {
  up: boolean;
  carrier: boolean;
  lastReplyAt: number;
  repliesInRow: number;
  lastSeq: number;
  probe: LabProcess | undefined;
}

export interface LinkMonitor {
  readonly state: Readonly<Record<AccessLinkName, { up: boolean; carrier: boolean }>>;
  /** Decisions so far: link, up/down, why, and when (performance.now()). */
  readonly decisions: readonly { link: AccessLinkName; up: boolean; reason: string; at: number }[];
  stop(): Promise<void>;
}

export async function startLinkMonitor(lab: Lab, o: LinkMonitorOptions): Promise<LinkMonitor> {
  const interval = o.probeIntervalMs ?? 20;
  const silence = o.silenceMs ?? 200;
  const upReplies = o.upReplies ?? 3;
  const t = lab.topology;
  const byInterface = new Map(ACCESS_LINKS.map((l) => [t.access[l].router.name, l]));
  const initiallyUp = new Set(o.initiallyUp ?? ACCESS_LINKS);
  const states = Object.fromEntries(
    ACCESS_LINKS.map((l) => [l, { up: initiallyUp.has(l), carrier: initiallyUp.has(l), lastReplyAt: performance.now(), repliesInRow: 0, lastSeq: -1, probe: undefined }]),
  ) as Record<AccessLinkName, LinkState>;
  const decisions: { link: AccessLinkName; up: boolean; reason: string; at: number }[] = [];
  let stopped = false;

  const decide = (link: AccessLinkName, up: boolean, reason: string) => {
    const s = states[link];
    if (s.up === up) return;
    s.up = up;
    s.repliesInRow = 0;
    decisions.push({ link, up, reason, at: performance.now() });
    o.onChange(link, up, reason);
  };

  const startProbe = (link: AccessLinkName) => {
    const s = states[link];
    const proc = lab.spawn("mr", ["ping", "-6", "-n", "-I", t.access[link].router.name, "-i", String(interval / 1000), "-W", "1", o.target]);
    s.probe = proc;
    void readLines(proc.process.stdout, (line) => {
      const m = /icmp_seq=(\d+)/.exec(line);
      if (m === null || !line.includes("bytes from")) return;
      const seq = Number(m[1]);
      const st = states[link];
      st.repliesInRow = seq === st.lastSeq + 1 ? st.repliesInRow + 1 : 1;
      st.lastSeq = seq;
      st.lastReplyAt = performance.now();
      if (!st.up && st.carrier && st.repliesInRow >= upReplies) decide(link, true, `${upReplies} probe replies`);
    });
    void proc.process.exited.then(() => {
      if (!stopped) setTimeout(() => !stopped && startProbe(link), 100);
    });
  };
  for (const l of ACCESS_LINKS) startProbe(l);

  const netlink = lab.spawn("mr", ["ip", "-o", "monitor", "link", "address"]);
  void readLines(netlink.process.stdout, (line) => {
    const m = /^(Deleted )?\d+:\s+([^\s:@]+)/.exec(line);
    const link = m ? byInterface.get(m[2]!) : undefined;
    if (link === undefined) return;
    const s = states[link];
    if (line.includes("<")) {
      const carrier = line.includes("LOWER_UP") && !line.includes("NO-CARRIER");
      if (carrier === s.carrier) return;
      s.carrier = carrier;
      if (!carrier) decide(link, false, "carrier lost");
      return;
    }
    const a = /inet6 ([0-9a-f:]+)\/\d+ scope global/.exec(line);
    if (a && m![1] === undefined && o.onAddress) o.onAddress(link, a[1]!);
  });

  const ticker = setInterval(() => {
    const now = performance.now();
    for (const l of ACCESS_LINKS) {
      const s = states[l];
      // Before a link's first reply (probe start-up), allow a second of grace.
      const limit = s.lastSeq < 0 ? Math.max(silence, 1000) : silence;
      if (s.up && now - s.lastReplyAt > limit) decide(l, false, `no probe reply for ${limit} ms`);
    }
  }, 5);

  return {
    get state() {
      return Object.fromEntries(ACCESS_LINKS.map((l) => [l, { up: states[l].up, carrier: states[l].carrier }])) as Record<AccessLinkName, { up: boolean; carrier: boolean }>;
    },
    decisions,
    async stop() {
      stopped = true;
      clearInterval(ticker);
      await netlink.stop("SIGTERM", 1000);
      for (const l of ACCESS_LINKS) await states[l].probe?.stop("SIGTERM", 1000);
    },
  };
}

async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const line of lines) if (line.trim() !== "") onLine(line);
  }
}
