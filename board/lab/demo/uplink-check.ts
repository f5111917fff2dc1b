// Captures both of mr's uplinks during the drive and checks that nothing crossed them in clear (tshark dissects the pcaps).
//
// Between a care-of address and the home agent only ESP (RFC 4303, possibly behind the Destination Options or
// Routing header of a BU/BA), ESP-in-UDP (RFC 3948, UDP 4500) or IKE (UDP 500/4500) may appear, and no packet may
// show an inner address (a LAN host, the correspondent, the home address) or a Mobility Header in clear.

import { join } from "node:path";
import type { Lab } from "../lab.ts";
import { ACCESS_LINKS, ipv6Of } from "../topology.ts";
import type { UplinkCheck } from "./timeline.ts";

export type CaptureMode = "full" | "light" | "off";

export interface UplinkCapture {
  readonly mode: Exclude<CaptureMode, "off">;
  /** Stops the captures and checks the pcaps. */
  finish(addresses: { homeAgent: string; homeAddress: string }): Promise<UplinkCheck>;
}

/**
 * `full` captures every IPv6 packet; `light` leaves out packets whose next header is ESP right after the fixed
 * header (the bulk of the traffic), which cannot be plaintext, and keeps everything else for the check.
 */
export async function startUplinkCapture(lab: Lab, mode: Exclude<CaptureMode, "off">): Promise<UplinkCapture> {
  const t = lab.topology;
  const filter = mode === "full" ? "ip6" : "ip6 and not ip6 proto 50";
  const files = ACCESS_LINKS.map((name) => join(lab.workDir, `uplink-${name}.pcap`));
  const stops: (() => Promise<void>)[] = [];
  try {
    for (const [i, name] of ACCESS_LINKS.entries()) stops.push(await lab.capture("mr", t.access[name].router.name, files[i]!, filter));
  } catch (e) {
    for (const stop of stops) await stop();
    throw e;
  }
  return {
    mode,
    async finish({ homeAgent, homeAddress }) {
      for (const stop of stops) await stop();
      const careOf = new Set(ACCESS_LINKS.map((name) => ipv6Of(t.access[name].router)));
      const inner = new Set([ipv6Of(t.lanHost), ipv6Of(t.correspondent), homeAddress]);
      let packets = 0;
      let between = 0;
      let protectedPackets = 0;
      let plaintext = 0;
      const offenders: string[] = [];
      for (const [i, file] of files.entries()) {
        for (const p of await dissect(file)) {
          packets++;
          const protocols = p.protocols.split(":");
          const isProtected = protocols.includes("esp") || protocols.includes("isakmp");
          const outer = [p.addresses[0], p.addresses[1]];
          const clear = p.addresses.some((a) => inner.has(a)) || protocols.includes("mipv6");
          if (outer.includes(homeAgent) && outer.some((a) => a !== undefined && careOf.has(a))) {
            between++;
            if (isProtected) protectedPackets++;
            else if (offenders.length < 10) offenders.push(`${ACCESS_LINKS[i]}: ${p.addresses.join(" → ")} ${p.protocols}`);
          }
          if (clear && !isProtected) {
            plaintext++;
            if (offenders.length < 10) offenders.push(`${ACCESS_LINKS[i]}: ${p.addresses.join(" → ")} ${p.protocols}`);
          }
        }
      }
      return { mode, packets, betweenCareOfAndHomeAgent: between, protectedPackets, plaintext, offenders, ok: between === protectedPackets && plaintext === 0 };
    },
  };
}

/** Every packet's IPv6 addresses (outer first, then any inner header tshark could see) and protocol chain, in one pass. */
async function dissect(file: string): Promise<{ addresses: string[]; protocols: string }[]> {
  const proc = Bun.spawn(["tshark", "-n", "-r", file, "-T", "fields", "-E", "separator=/t", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "frame.protocols"], { stdout: "pipe", stderr: "pipe" });
  const [out, errText, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`tshark -r ${file}: ${errText.trim()}`);
  const packets: { addresses: string[]; protocols: string }[] = [];
  for (const line of out.split("\n")) {
    if (line === "") continue;
    const [src = "", dst = "", protocols = ""] = line.split("\t");
    const sources = src.split(",");
    const destinations = dst.split(",");
    // Outer source and destination first, then inner ones (an IPv6-in-IPv6 packet in clear shows two of each).
    const addresses = sources.flatMap((a, k) => [a, destinations[k] ?? ""]).filter((a) => a !== "");
    packets.push({ addresses, protocols });
  }
  return packets;
}
