// Interface state from sysfs (/sys/class/net/X: carrier, operstate, statistics/*) and IPv6 addresses from /proc/net/if_inet6.

import type { Counters } from "../../firmware/core/counters.ts";
import { fromHex } from "../../firmware/core/hex.ts";
import { ok, type Result } from "../../firmware/core/result.ts";
import { formatIpv6 } from "../../firmware/wire/address.ts";
import type { InterfaceState, LinkMetricsError, OperState } from "../api/link-metrics.ts";
import { compact, metricsFailure } from "../modem/text.ts";

/** Reads a small text file; undefined when it does not exist or cannot be read (EINVAL on a down link's `carrier`). */
export interface TextFileReader {
  readText(path: string): Promise<string | undefined>;
}

/** The real file system. */
export const fileSystemReader: TextFileReader = {
  async readText(path) {
    try {
      return await Bun.file(path).text();
    } catch {
      return undefined;
    }
  },
};

/** `carrier` holds `1` or `0`; reading it on an administratively down interface fails (unknown). */
export function parseSysfsFlag(text: string | undefined): boolean | undefined {
  const t = text?.trim();
  return t === "1" ? true : t === "0" ? false : undefined;
}

const OPER_STATES: readonly OperState[] = ["up", "down", "dormant", "lowerlayerdown", "notpresent", "testing", "unknown"];

/** `operstate` (RFC 2863 ifOperStatus names, lower case). */
export function parseOperState(text: string | undefined): OperState | undefined {
  const t = text?.trim() as OperState | undefined;
  return t !== undefined && OPER_STATES.includes(t) ? t : undefined;
}

/** A `statistics/*` counter: a decimal u64 (exact up to 2^53, which is 9 PB). */
export function parseCounter(text: string | undefined): number | undefined {
  const t = text?.trim();
  if (t === undefined || !/^\d{1,16}$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Bytes moved between two readings of a counter; a decrease means the counter was reset (driver reload). */
export function counterDelta(previous: number | undefined, current: number | undefined): number | undefined {
  if (current === undefined) return undefined;
  if (previous === undefined) return undefined;
  return current >= previous ? current - previous : current;
}

/**
 * `/proc/net/if_inet6` lines: `<32 hex address> <ifindex> <prefixlen> <scope> <flags> <name>` (hex fields).
 * Returns the RFC 5952 addresses of `iface`, skipping malformed lines (each counted).
 */
export function parseIfInet6(text: string, iface: string, counters?: Counters): string[] {
  const out: string[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const f = line.trim().split(/\s+/);
    const bytes = f.length === 6 && /^[0-9a-f]{32}$/i.test(f[0]!) ? fromHex(f[0]!) : undefined;
    if (bytes === undefined || f.slice(1, 5).some((x) => !/^[0-9a-f]{1,8}$/i.test(x))) {
      metricsFailure("if-inet6", "malformed", i + 1, line.slice(0, 60), counters);
      continue;
    }
    if (f[5] === iface) out.push(formatIpv6(bytes));
  }
  return out;
}

const STATISTICS = {
  rxBytes: "rx_bytes",
  txBytes: "tx_bytes",
  rxPackets: "rx_packets",
  txPackets: "tx_packets",
  rxErrors: "rx_errors",
  txErrors: "tx_errors",
  rxDropped: "rx_dropped",
  txDropped: "tx_dropped",
} as const;

export interface InterfaceStatsOptions {
  readonly files?: TextFileReader;
  /** `/sys/class/net` on Linux; tests point it at a fixture tree. */
  readonly sysfsNetRoot?: string;
  readonly ifInet6Path?: string;
  readonly counters?: Counters;
}

/** Reads one interface's carrier, operstate, byte/packet counters and IPv6 addresses. */
export class InterfaceStatsReader {
  readonly iface: string;
  readonly #files: TextFileReader;
  readonly #root: string;
  readonly #ifInet6: string;
  readonly #counters: Counters | undefined;

  constructor(iface: string, options: InterfaceStatsOptions = {}) {
    if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(iface)) throw new TypeError(`not an interface name: '${iface}'`);
    this.iface = iface;
    this.#files = options.files ?? fileSystemReader;
    this.#root = options.sysfsNetRoot ?? "/sys/class/net";
    this.#ifInet6 = options.ifInet6Path ?? "/proc/net/if_inet6";
    this.#counters = options.counters;
  }

  async read(): Promise<Result<InterfaceState, LinkMetricsError>> {
    const dir = `${this.#root}/${this.iface}`;
    const operText = await this.#files.readText(`${dir}/operstate`);
    if (operText === undefined) return metricsFailure("sysfs", "io", 0, `${dir}/operstate not readable (no such interface?)`, this.#counters);
    const stats: Record<string, number | undefined> = {};
    for (const [key, file] of Object.entries(STATISTICS)) stats[key] = parseCounter(await this.#files.readText(`${dir}/statistics/${file}`));
    const inet6 = await this.#files.readText(this.#ifInet6);
    return ok(
      compact({
        carrier: parseSysfsFlag(await this.#files.readText(`${dir}/carrier`)),
        operState: parseOperState(operText),
        ...stats,
        ipv6Addresses: inet6 === undefined ? undefined : parseIfInet6(inet6, this.iface, this.#counters),
      }) as InterfaceState,
    );
  }
}
