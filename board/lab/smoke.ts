// The lab's self-check: RTT per access network against its profile, rate shaping, loss, and the NAT44 path.

import type { Lab } from "./lab.ts";
import { join } from "node:path";
import { iperf3, median, pcapField, ping } from "./probes.ts";
import { LINK_PROFILES, type PathProfile } from "./profiles.ts";
import { type AccessLinkName, ACCESS_LINKS, ipv4Of, ipv6Of } from "./topology.ts";

export interface SmokeCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

const mbit = (bps: number) => `${(bps / 1e6).toFixed(1)} Mbit/s`;

/** The RTT a ping sees through both directions of a profile: the delays add up, jitter spreads around them. */
export function expectedRtt(up: PathProfile, down: PathProfile): { readonly ms: number; readonly spreadMs: number } {
  return { ms: up.delayMs + down.delayMs, spreadMs: up.jitterMs + down.jitterMs };
}

/**
 * Runs every check on a lab built with the default profiles and prints one line per check through `say`.
 * Leaves the lab on its LTE uplink. Takes about 20 seconds.
 */
export async function runSmoke(lab: Lab, say: (line: string) => void): Promise<SmokeCheck[]> {
  const t = lab.topology;
  const cn = ipv6Of(t.correspondent);
  const checks: SmokeCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    say(`${ok ? "PASS" : "FAIL"}  ${name.padEnd(22)} ${detail}`);
  };
  const throughput: Partial<Record<AccessLinkName, number>> = {};
  for (const link of ACCESS_LINKS) {
    const profile = LINK_PROFILES[link];
    await lab.useUplink(link);
    const p = await ping(lab, "lan", cn, { count: 10 });
    const rtt = median(p.rttsMs);
    const want = expectedRtt(profile.uplink, profile.downlink);
    const tolerance = want.spreadMs + Math.max(3, want.ms * 0.15);
    check(
      `${link}: ping lan→cn`,
      p.received >= 8 && Math.abs(rtt - want.ms) <= tolerance,
      `${p.received}/${p.transmitted} replies, RTT median ${rtt.toFixed(1)} ms ` +
        `(min ${Math.min(...p.rttsMs).toFixed(1)}, max ${Math.max(...p.rttsMs).toFixed(1)}); ` +
        `profile ${want.ms} ms ± ${want.spreadMs}`,
    );
    const rate = profile.uplink.rateBitsPerSecond;
    const r = await iperf3(lab, { server: "cn", address: cn, client: "lan", seconds: 3 });
    throughput[link] = r.bitsPerSecond;
    check(
      `${link}: TCP lan→cn`,
      r.bitsPerSecond <= rate * 1.1 && r.bitsPerSecond >= rate * 0.3,
      `${mbit(r.bitsPerSecond)} (shaped to ${mbit(rate)}, ${r.retransmits ?? 0} retransmits)`,
    );
  }
  const counters = (await lab.emulatorCounters()).counters;
  for (const link of ACCESS_LINKS) {
    const lost = (counters[`${link}.uplink.drop.loss`] ?? 0) + (counters[`${link}.downlink.drop.loss`] ?? 0);
    const sent = (counters[`${link}.uplink.tx.packets`] ?? 0) + (counters[`${link}.downlink.tx.packets`] ?? 0);
    const measured = lost / (lost + sent);
    const want = LINK_PROFILES[link].uplink.lossProbability;
    check(
      `${link}: random loss`,
      lost > 0 && measured > want / 3 && measured < want * 3,
      `${lost} of ${lost + sent} packets lost by the emulator = ${(measured * 100).toFixed(2)} % (profile ${(want * 100).toFixed(2)} %)`,
    );
  }
  await lab.useUplink("lte");
  const pcap = join(lab.workDir, "nat44.pcap");
  const stop = await lab.capture("ha", t.coreHomeAgent.name, pcap, "icmp");
  const v4 = await ping(lab, "mr", ipv4Of(t.coreHomeAgent), { count: 3 });
  await stop();
  const sources = [...new Set(await pcapField(pcap, "ip.src", "icmp.type == 8"))];
  check(
    "lte: IPv4 via NAT44",
    v4.received === 3 && sources.length === 1 && sources[0] === t.natAddress4,
    `mr ${ipv4Of(t.access.lte.router)} → ha ${ipv4Of(t.coreHomeAgent)}: ${v4.received}/3 replies, ` +
      `RTT median ${median(v4.rttsMs).toFixed(1)} ms; source seen at ha: ${sources.join(", ") || "none"}`,
  );
  return checks;
}
