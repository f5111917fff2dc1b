// Cellular LinkMetricsSources: ModemManager (mmcli), libqmi (qmicli) and AT-command readers, plus sysfs interface state.

import type { Counters } from "../../firmware/core/counters.ts";
import type { Instant } from "../../firmware/core/instant.ts";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import {
  metricsErrorCounter,
  type CellularRadio,
  type CommandRunner,
  type InterfaceState,
  type LinkId,
  type LinkMetricsError,
  type LinkMetricsSource,
  type LinkSample,
  type MetricsSourceName,
} from "../api/link-metrics.ts";
import type { InterfaceStatsReader } from "../linux/interface-stats.ts";
import type { AtPort } from "./at-port.ts";
import { parseCesq, parseCsq } from "./at-signal.ts";
import { parseMmcliSignal } from "./mmcli-signal.ts";
import { parseQmicliSignal } from "./qmicli-signal.ts";
import { DEFAULT_QENG_SCALES, parseQuectelQeng, type QengScales } from "./quectel-qeng.ts";
import { parseSierraGstatus } from "./sierra-gstatus.ts";

export interface CellularReaderCommon {
  readonly link: LinkId;
  readonly counters: Counters;
  /** The uplink's data interface (wwan0), for carrier, counters and addresses. */
  readonly interfaceStats?: InterfaceStatsReader | undefined;
  readonly timeoutMs?: number | undefined;
}

/** Builds the sample from a radio reading and the interface reading (either may fail alone). */
async function sample(
  common: CellularReaderCommon,
  now: Instant,
  radio: Result<CellularRadio, LinkMetricsError>,
): Promise<Result<LinkSample, LinkMetricsError>> {
  let iface: InterfaceState | undefined;
  if (common.interfaceStats) {
    const r = await common.interfaceStats.read();
    if (r.ok) iface = r.value;
    else common.counters.increment(metricsErrorCounter(r.error));
  }
  if (!radio.ok && iface === undefined) return radio;
  return ok({ link: common.link, at: now, interface: iface, radio: radio.ok ? radio.value : undefined });
}

function toolFailure(source: MetricsSourceName, argv: readonly string[], out: { exitCode: number | undefined; stderr: string; timedOut: boolean }, counters: Counters) {
  const error: LinkMetricsError = {
    source,
    kind: out.timedOut ? "timeout" : "tool-failed",
    line: 0,
    detail: `${argv.join(" ")}: ${out.timedOut ? "timed out" : `exit ${out.exitCode ?? "?"}`} ${out.stderr.trim().slice(0, 160)}`.trim(),
  };
  counters.increment(metricsErrorCounter(error));
  return err(error);
}

/** Reads `mmcli -m <modem> --signal-get -K`; turns signal polling on (`--signal-setup`) the first time it finds it off. */
export class MmcliReader implements LinkMetricsSource {
  readonly kind = "cellular" as const;
  readonly link: LinkId;
  readonly #common: CellularReaderCommon;
  readonly #modem: string;
  readonly #runner: CommandRunner;
  readonly #refreshS: number;
  #setupTried = false;

  constructor(common: CellularReaderCommon & { readonly modem: string; readonly runner: CommandRunner; readonly refreshS?: number }) {
    this.link = common.link;
    this.#common = common;
    this.#modem = common.modem;
    this.#runner = common.runner;
    this.#refreshS = common.refreshS ?? 5;
  }

  async read(now: Instant): Promise<Result<LinkSample, LinkMetricsError>> {
    return sample(this.#common, now, await this.#radio());
  }

  async #radio(): Promise<Result<CellularRadio, LinkMetricsError>> {
    const argv = ["mmcli", "-m", this.#modem, "--signal-get", "-K"];
    const out = await this.#runner.run(argv, this.#common.timeoutMs ?? 5000);
    if (out.exitCode !== 0) return toolFailure("mmcli", argv, out, this.#common.counters);
    const parsed = parseMmcliSignal(out.stdout, this.#common.counters);
    if (!parsed.ok && parsed.error.kind === "no-data" && !this.#setupTried) {
      this.#setupTried = true;
      await this.#runner.run(["mmcli", "-m", this.#modem, `--signal-setup=${this.#refreshS}`], this.#common.timeoutMs ?? 5000);
    }
    return parsed.ok ? ok(parsed.value.radio) : parsed;
  }
}

/**
 * Reads `qmicli -d <device> -p --nas-get-signal-info` (through qmi-proxy, so ModemManager may share the
 * device). With `mbim`, QMI goes inside MBIM (`--device-open-mbim`; libqmi then opens the port through
 * mbim-proxy): only Qualcomm-based MBIM modems, which carry the QMI-over-MBIM service, answer.
 */
export class QmicliReader implements LinkMetricsSource {
  readonly kind = "cellular" as const;
  readonly link: LinkId;
  readonly #common: CellularReaderCommon;
  readonly #device: string;
  readonly #runner: CommandRunner;
  readonly #mbim: boolean;

  constructor(common: CellularReaderCommon & { readonly device: string; readonly runner: CommandRunner; readonly mbim?: boolean }) {
    this.link = common.link;
    this.#common = common;
    this.#device = common.device;
    this.#runner = common.runner;
    this.#mbim = common.mbim ?? false;
  }

  async read(now: Instant): Promise<Result<LinkSample, LinkMetricsError>> {
    const argv = ["qmicli", "-d", this.#device, "-p", ...(this.#mbim ? ["--device-open-mbim"] : []), "--nas-get-signal-info"];
    const out = await this.#runner.run(argv, this.#common.timeoutMs ?? 5000);
    if (out.exitCode !== 0) return sample(this.#common, now, toolFailure("qmicli", argv, out, this.#common.counters));
    const parsed = parseQmicliSignal(out.stdout, this.#common.counters);
    return sample(this.#common, now, parsed.ok ? ok(parsed.value.radio) : parsed);
  }
}

/** Which AT dialect a module speaks; the reader asks the richest command first and falls back to 3GPP ones. */
export type AtDialect = "quectel" | "sierra" | "3gpp";

/** Reads signal over an AT channel: Quectel `+QENG="servingcell"`, Sierra `!GSTATUS?`, then `+CESQ`, then `+CSQ`. */
export class AtModemReader implements LinkMetricsSource {
  readonly kind = "cellular" as const;
  readonly link: LinkId;
  readonly #common: CellularReaderCommon;
  readonly #port: AtPort;
  readonly #dialect: AtDialect;
  readonly #scales: QengScales;

  constructor(common: CellularReaderCommon & { readonly port: AtPort; readonly dialect: AtDialect; readonly qengScales?: QengScales }) {
    this.link = common.link;
    this.#common = common;
    this.#port = common.port;
    this.#dialect = common.dialect;
    this.#scales = common.qengScales ?? DEFAULT_QENG_SCALES;
  }

  async read(now: Instant): Promise<Result<LinkSample, LinkMetricsError>> {
    return sample(this.#common, now, await this.#radio());
  }

  async #radio(): Promise<Result<CellularRadio, LinkMetricsError>> {
    const c = this.#common.counters;
    const timeout = this.#common.timeoutMs ?? 3000;
    const attempts: [string, (text: string) => Result<{ radio: CellularRadio }, LinkMetricsError>][] = [];
    if (this.#dialect === "quectel") attempts.push(['AT+QENG="servingcell"', (t) => parseQuectelQeng(t, c, this.#scales)]);
    if (this.#dialect === "sierra") attempts.push(["AT!GSTATUS?", (t) => parseSierraGstatus(t, c)]);
    attempts.push(["AT+CESQ", (t) => parseCesq(t, c)], ["AT+CSQ", (t) => parseCsq(t, c)]);
    let last: LinkMetricsError | undefined;
    for (const [command, parse] of attempts) {
      const reply = await this.#port.transact(command, timeout);
      if (!reply.ok) {
        c.increment(metricsErrorCounter(reply.error));
        return reply;
      }
      const parsed = parse(reply.value);
      if (parsed.ok) return ok(parsed.value.radio);
      last = parsed.error;
    }
    return err(last!);
  }
}
