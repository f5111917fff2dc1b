// Wi-Fi LinkMetricsSource: `iw dev X link` + `station dump`, /proc/net/wireless for missed beacons, sysfs for the interface.

import type { Counters } from "../../firmware/core/counters.ts";
import type { Instant } from "../../firmware/core/instant.ts";
import { ok, type Result } from "../../firmware/core/result.ts";
import {
  metricsErrorCounter,
  type CommandRunner,
  type InterfaceState,
  type LinkId,
  type LinkMetricsError,
  type LinkMetricsSource,
  type LinkSample,
  type WifiRadio,
} from "../api/link-metrics.ts";
import type { InterfaceStatsReader, TextFileReader } from "../linux/interface-stats.ts";
import { compact } from "../modem/text.ts";
import { parseIwLink, parseIwStationDump, retryRatio, type IwStation } from "./iw.ts";
import { parseProcNetWireless } from "./proc-net-wireless.ts";

export interface WifiReaderOptions {
  readonly link: LinkId;
  readonly iface: string;
  readonly runner: CommandRunner;
  readonly counters: Counters;
  readonly files?: TextFileReader | undefined;
  readonly interfaceStats?: InterfaceStatsReader | undefined;
  readonly timeoutMs?: number | undefined;
}

export class WifiReader implements LinkMetricsSource {
  readonly kind = "wifi" as const;
  readonly link: LinkId;
  readonly #o: WifiReaderOptions;
  #previousStation: IwStation | undefined;
  #previousMissed: number | undefined;

  constructor(options: WifiReaderOptions) {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(options.iface)) throw new TypeError(`not an interface name: '${options.iface}'`);
    this.link = options.link;
    this.#o = options;
  }

  async read(now: Instant): Promise<Result<LinkSample, LinkMetricsError>> {
    const { runner, iface, counters } = this.#o;
    const timeout = this.#o.timeoutMs ?? 3000;
    const count = (e: LinkMetricsError) => counters.increment(metricsErrorCounter(e));

    const linkOut = await runner.run(["iw", "dev", iface, "link"], timeout);
    const link = parseIwLink(linkOut.stdout || linkOut.stderr, counters);
    let station: IwStation | undefined;
    if (link.ok && link.value.associated) {
      const dumpOut = await runner.run(["iw", "dev", iface, "station", "dump"], timeout);
      const dump = parseIwStationDump(dumpOut.stdout, counters);
      if (dump.ok) station = dump.value.find((s) => s.mac === link.value.bssid) ?? dump.value[0];
    }
    let missedBeacons: number | undefined;
    const proc = await (this.#o.files?.readText("/proc/net/wireless") ?? Promise.resolve(undefined));
    if (proc !== undefined) {
      const parsed = parseProcNetWireless(proc, counters);
      const missed = parsed.ok ? parsed.value.find((e) => e.iface === iface)?.missedBeacons : undefined;
      if (missed !== undefined && this.#previousMissed !== undefined && missed >= this.#previousMissed) missedBeacons = missed - this.#previousMissed;
      this.#previousMissed = missed;
    }
    let iface_: InterfaceState | undefined;
    if (this.#o.interfaceStats) {
      const r = await this.#o.interfaceStats.read();
      if (r.ok) iface_ = r.value;
      else count(r.error);
    }
    if (!link.ok && iface_ === undefined) return link;

    const radio: WifiRadio | undefined = link.ok
      ? compact({
          kind: "wifi" as const,
          associated: link.value.associated,
          signalDbm: station?.signalDbm ?? link.value.signalDbm,
          signalAvgDbm: station?.signalAvgDbm,
          txBitrateMbps: station?.txBitrateMbps ?? link.value.txBitrateMbps,
          rxBitrateMbps: station?.rxBitrateMbps ?? link.value.rxBitrateMbps,
          expectedThroughputMbps: station?.expectedThroughputMbps,
          retryRatio: station ? retryRatio(this.#previousStation, station) : undefined,
          missedBeacons,
          frequencyMhz: link.value.frequencyMhz,
        })
      : undefined;
    this.#previousStation = station;
    return ok({ link: this.link, at: now, interface: iface_, radio });
  }
}
