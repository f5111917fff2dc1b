// Captures both of mr's uplinks during the drive and checks that nothing crossed them in clear (tshark dissects the pcaps).
//
// Between a care-of address and the home agent only ESP (RFC 4303, possibly behind the Destination Options or
// Routing header of a BU/BA), ESP-in-UDP (RFC 3948, UDP 4500) or IKE (UDP 500/4500) may appear, and no packet may
// show an inner address (a LAN host, the correspondent, the home address) or a Mobility Header in clear.

import { join } from "node:path";
import type { Lab } from "../lab.ts";
import { pcapField } from "../probes.ts";
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
      const careOf = ACCESS_LINKS.map((name) => ipv6Of(t.access[name].router));
      const between = `ipv6.addr == ${homeAgent} && (${careOf.map((a) => `ipv6.addr == ${a}`).join(" || ")})`;
      const protectedFilter = `(${between}) && (esp || isakmp)`;
      const clearFilter = [ipv6Of(t.lanHost), ipv6Of(t.correspondent), homeAddress].map((a) => `ipv6.addr == ${a}`).join(" || ") + " || mipv6";
      let packets = 0;
      let betweenCount = 0;
      let protectedCount = 0;
      const offenders: string[] = [];
      let plaintext = 0;
      for (const file of files) {
        packets += (await pcapField(file, "frame.number")).length;
        betweenCount += (await pcapField(file, "frame.number", between)).length;
        protectedCount += (await pcapField(file, "frame.number", protectedFilter)).length;
        const bad = await pcapField(file, "frame.protocols", `(${between}) && !(esp || isakmp)`);
        const clear = await pcapField(file, "frame.protocols", clearFilter);
        plaintext += clear.length;
        for (const p of [...bad, ...clear].slice(0, 5)) offenders.push(`${file.endsWith("wifi.pcap") ? "wlan0" : "lte0"}: ${p}`);
      }
      return {
        mode,
        packets,
        betweenCareOfAndHomeAgent: betweenCount,
        protectedPackets: protectedCount,
        plaintext,
        offenders,
        ok: betweenCount === protectedCount && plaintext === 0,
      };
    },
  };
}
