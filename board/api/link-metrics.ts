// Link metrics as every board driver reports them: normalised units (dBm, dB, ms, ratio), `undefined` when unknown.

import type { Instant } from "../../firmware/core/instant.ts";
import type { Result } from "../../firmware/core/result.ts";

/** An uplink's stable name in the configuration (`lte0`, `wifi0`); one care-of address per uplink. */
export type LinkId = string & { readonly __brand: "LinkId" };

export function linkId(name: string): LinkId {
  return name as LinkId;
}

export type LinkKind = "cellular" | "wifi" | "wired";

/** The radio access technology a modem is camped on; `none` = searching, limited or no service. */
export type CellularAccess = "gsm" | "umts" | "lte" | "nr5g-nsa" | "nr5g-sa" | "none";

/**
 * A cellular radio snapshot. Every field is optional and absent means *unknown*:
 * a driver never writes 0 (or a tool's sentinel such as `--`, 99, 255, −32768) for a value it did not get.
 */
export interface CellularRadio {
  readonly kind: "cellular";
  readonly access?: CellularAccess | undefined;
  /** Received signal strength (GSM/UMTS carrier RSSI, LTE wideband RSSI), dBm. */
  readonly rssiDbm?: number | undefined;
  /** LTE reference signal received power, dBm (3GPP TS 36.214 §5.1.1). */
  readonly rsrpDbm?: number | undefined;
  /** LTE reference signal received quality, dB. */
  readonly rsrqDb?: number | undefined;
  /** LTE signal to interference plus noise ratio, dB. */
  readonly sinrDb?: number | undefined;
  /** UMTS received signal code power, dBm. */
  readonly rscpDbm?: number | undefined;
  /** UMTS Ec/Io, dB. */
  readonly ecioDb?: number | undefined;
  /** NR (5G) SS-RSRP, dBm: the NSA secondary leg or the SA serving cell. */
  readonly nrRsrpDbm?: number | undefined;
  /** NR SS-RSRQ, dB. */
  readonly nrRsrqDb?: number | undefined;
  /** NR SS-SINR, dB. */
  readonly nrSinrDb?: number | undefined;
}

/** A Wi-Fi station snapshot (the uplink is a client of a hotspot or depot access point). */
export interface WifiRadio {
  readonly kind: "wifi";
  /** False when the station is not associated; undefined when the driver cannot say. */
  readonly associated?: boolean | undefined;
  /** Last-frame signal, dBm (for MLO or multi-chain output: the combined value). */
  readonly signalDbm?: number | undefined;
  /** Driver-averaged signal, dBm (steadier than `signalDbm`; preferred by the policy). */
  readonly signalAvgDbm?: number | undefined;
  readonly noiseDbm?: number | undefined;
  readonly txBitrateMbps?: number | undefined;
  readonly rxBitrateMbps?: number | undefined;
  readonly expectedThroughputMbps?: number | undefined;
  /** Retransmissions over all transmission attempts between two samples, 0..1. */
  readonly retryRatio?: number | undefined;
  /** Beacons missed since the previous sample. */
  readonly missedBeacons?: number | undefined;
  readonly frequencyMhz?: number | undefined;
}

export type OperState = "up" | "down" | "dormant" | "lowerlayerdown" | "notpresent" | "testing" | "unknown";

/** Kernel view of the uplink's network interface (sysfs/netlink). */
export interface InterfaceState {
  readonly carrier?: boolean | undefined;
  readonly operState?: OperState | undefined;
  readonly rxBytes?: number | undefined;
  readonly txBytes?: number | undefined;
  readonly rxPackets?: number | undefined;
  readonly txPackets?: number | undefined;
  readonly rxErrors?: number | undefined;
  readonly txErrors?: number | undefined;
  readonly rxDropped?: number | undefined;
  readonly txDropped?: number | undefined;
  /** Global and link-local IPv6 addresses (RFC 5952 text); a change means a new care-of address. */
  readonly ipv6Addresses?: readonly string[] | undefined;
}

/** One reading of one uplink. The policy gets these in time order per link. */
export interface LinkSample {
  readonly link: LinkId;
  readonly at: Instant;
  readonly interface?: InterfaceState | undefined;
  readonly radio?: CellularRadio | WifiRadio | undefined;
}

/** Where a metric came from; counters are named `board.metrics.<source>.<kind>`. */
export type MetricsSourceName =
  | "mmcli"
  | "qmicli"
  | "at-port"
  | "at-csq"
  | "at-cesq"
  | "quectel-qeng"
  | "sierra-gstatus"
  | "proc-net-wireless"
  | "iw-link"
  | "iw-station"
  | "sysfs"
  | "if-inet6"
  | "trace";

export type MetricsErrorKind =
  | "empty" // the tool printed nothing usable
  | "malformed" // text that is not the expected output format
  | "bad-value" // a field is present but outside its defined range
  | "no-data" // well-formed, but every metric is unknown (e.g. signal polling not set up)
  | "tool-failed" // the tool exited non-zero or printed an error
  | "io" // the device or file could not be read
  | "timeout";

/** The one typed error of every metric parser and reader (returned, never thrown). */
export interface LinkMetricsError {
  readonly source: MetricsSourceName;
  readonly kind: MetricsErrorKind;
  /** 1-based line of the input where the problem was found (0 = the input as a whole). */
  readonly line: number;
  readonly detail?: string;
}

export function metricsErrorCounter(error: LinkMetricsError): string {
  return `board.metrics.${error.source}.${error.kind}`;
}

export function formatMetricsError(error: LinkMetricsError): string {
  return `${error.source}: ${error.kind}${error.line > 0 ? ` at line ${error.line}` : ""}${error.detail ? ` (${error.detail})` : ""}`;
}

/**
 * A source of samples for one uplink: a modem or Wi-Fi reader on Linux, or a trace replay on the
 * simulated board. `read` never rejects; failures come back as `LinkMetricsError`.
 */
export interface LinkMetricsSource {
  readonly link: LinkId;
  readonly kind: LinkKind;
  read(now: Instant): Promise<Result<LinkSample, LinkMetricsError>>;
}

/** What a reader needs from the system to run a tool (`mmcli`, `qmicli`, `iw`); injected for tests. */
export interface CommandRunner {
  run(argv: readonly string[], timeoutMs: number): Promise<CommandOutput>;
}

export interface CommandOutput {
  /** Process exit code; undefined when the process could not be started or was killed on timeout. */
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}
