// ModemManager's modem for a port: parsers for `mmcli -L -K` and `mmcli -m X -K`, and a reader that finds its modem by port.

import type { Counters } from "../../firmware/core/counters.ts";
import type { Instant } from "../../firmware/core/instant.ts";
import { ok, type Result } from "../../firmware/core/result.ts";
import type { CommandRunner, LinkId, LinkMetricsError, LinkMetricsSource, LinkSample } from "../api/link-metrics.ts";
import { MmcliReader } from "./modem-reader.ts";
import { metricsFailure } from "./text.ts";

/** A modem's D-Bus object path as ModemManager lists it. */
const MODEM_PATH = /^\/org\/freedesktop\/ModemManager1\/Modem\/\d{1,6}$/;

/**
 * `mmcli -L -K`: `modem-list.length : N` and `modem-list.value[i] : <object path>`; with no modem
 * ModemManager prints `modem-list : 0`. Returns the object paths in list order.
 */
export function parseMmcliModemList(text: string, counters?: Counters): Result<string[], LinkMetricsError> {
  if (text.trim() === "") return metricsFailure("mmcli", "empty", 0, "no output", counters);
  const paths: string[] = [];
  let sawList = false;
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (/^\s*error:/i.test(line)) return metricsFailure("mmcli", "tool-failed", i + 1, line.trim().slice(0, 200), counters);
    const m = /^\s*modem-list(\.length|\.value\[\d+\])?\s*:\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    sawList = true;
    if (m[1]?.startsWith(".value")) {
      if (!MODEM_PATH.test(m[2]!)) return metricsFailure("mmcli", "bad-value", i + 1, `modem path '${m[2]!.slice(0, 80)}'`, counters);
      paths.push(m[2]!);
    }
  }
  if (!sawList) return metricsFailure("mmcli", "malformed", 0, "no modem-list keys", counters);
  return ok(paths);
}

export interface ModemPort {
  readonly name: string;
  /** ModemManager's port type: `qmi`, `mbim`, `at`, `net`, `gps`, `ignored`, … */
  readonly type: string;
}

/**
 * The ports of `mmcli -m X -K`: one `modem.generic.ports.value[i] : cdc-wdm0 (qmi)` line per port
 * (ModemManager ≥ 1.18), or all on one `modem.generic.ports : ttyUSB0 (at), wwan0 (net)` line (older).
 */
export function parseMmcliModemPorts(text: string, counters?: Counters): Result<ModemPort[], LinkMetricsError> {
  if (text.trim() === "") return metricsFailure("mmcli", "empty", 0, "no output", counters);
  const ports: ModemPort[] = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (/^\s*error:/i.test(line)) return metricsFailure("mmcli", "tool-failed", i + 1, line.trim().slice(0, 200), counters);
    const m = /^\s*modem\.generic\.ports(?:\.value\[\d+\])?\s*:\s*(.*?)\s*$/.exec(line);
    if (!m || m[1] === "--") continue;
    for (const item of m[1]!.split(",")) {
      const p = /^\s*([A-Za-z0-9_.:@-]{1,32})\s+\(([a-z0-9-]{1,16})\)\s*$/.exec(item);
      if (!p) return metricsFailure("mmcli", "malformed", i + 1, `port '${item.trim().slice(0, 60)}'`, counters);
      ports.push({ name: p[1]!, type: p[2]! });
    }
  }
  if (ports.length === 0) return metricsFailure("mmcli", "no-data", 0, "no modem.generic.ports", counters);
  return ok(ports);
}

export interface MmcliPortReaderOptions {
  readonly link: LinkId;
  readonly counters: Counters;
  readonly runner: CommandRunner;
  /** Names that identify the modem among ModemManager's: its control port (`cdc-wdm1`) and/or data interface (`wwan1`). */
  readonly ports: readonly string[];
  readonly timeoutMs?: number | undefined;
}

/**
 * Reads the ModemManager modem that owns one of `ports`. The modem's object path is looked up on the
 * first read and again after a failed read (ModemManager renumbers a modem that was reset or replugged).
 */
export class MmcliPortReader implements LinkMetricsSource {
  readonly kind = "cellular" as const;
  readonly link: LinkId;
  readonly #o: MmcliPortReaderOptions;
  #reader: { readonly path: string; readonly reader: MmcliReader } | undefined;

  constructor(options: MmcliPortReaderOptions) {
    this.link = options.link;
    this.#o = options;
  }

  /** The object path in use, once found. */
  get modemPath(): string | undefined {
    return this.#reader?.path;
  }

  async read(now: Instant): Promise<Result<LinkSample, LinkMetricsError>> {
    if (this.#reader === undefined) {
      const found = await this.#find();
      if (!found.ok) return found;
      this.#reader = { path: found.value, reader: new MmcliReader({ link: this.link, counters: this.#o.counters, modem: found.value, runner: this.#o.runner, timeoutMs: this.#o.timeoutMs }) };
    }
    const r = await this.#reader.reader.read(now);
    if (!r.ok && (r.error.kind === "tool-failed" || r.error.kind === "timeout")) this.#reader = undefined;
    return r;
  }

  async #find(): Promise<Result<string, LinkMetricsError>> {
    const { runner, counters } = this.#o;
    const timeout = this.#o.timeoutMs ?? 5000;
    const listArgv = ["mmcli", "-L", "-K"];
    const list = await runner.run(listArgv, timeout);
    if (list.exitCode !== 0) return metricsFailure("mmcli", list.timedOut ? "timeout" : "tool-failed", 0, `${listArgv.join(" ")}: ${list.stderr.trim().slice(0, 160)}`, counters);
    const paths = parseMmcliModemList(list.stdout, counters);
    if (!paths.ok) return paths;
    for (const path of paths.value) {
      const out = await runner.run(["mmcli", "-m", path, "-K"], timeout);
      if (out.exitCode !== 0) continue;
      const ports = parseMmcliModemPorts(out.stdout, counters);
      if (ports.ok && ports.value.some((p) => this.#o.ports.includes(p.name))) return ok(path);
    }
    return metricsFailure("mmcli", "no-data", 0, `no ModemManager modem has port ${this.#o.ports.join(" or ")} (${paths.value.length} modems listed)`, counters);
  }
}
