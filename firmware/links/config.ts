// Link selection settings with vehicle-sensible defaults (plain typed values; the device-config schema validates them elsewhere).

import type { LinkId, LinkKind } from "../../board/api/link-metrics.ts";
import type { Duration } from "../core/instant.ts";

/** How often each uplink is probed, by what the policy needs from it right now. */
export interface ProbeConfig {
  /** The link carries the traffic (primary / in the active set): keep a close eye. */
  readonly activeIntervalMs: Duration;
  /** A healthy standby link, or a failed link waiting to recover. */
  readonly standbyIntervalMs: Duration;
  /** Nothing is moving on any uplink (parked vehicle): cheap keep-alive rate. */
  readonly idleIntervalMs: Duration;
  /** The link looks weak, just lost a probe, is being verified before traffic moves, or is recovering. */
  readonly fastIntervalMs: Duration;
  /** After this many losses in a row the scheduler stops probing fast on its own (a dead link is polled at its base rate). */
  readonly fastMaxConsecutiveLosses: number;
  /** Consecutive answers needed to leave the loss-triggered fast rate. */
  readonly fastExitAnswers: number;
  /** Reply timeout = clamp(SRTT + 4·RTTVAR) (RFC 6298 §2 shape) between these bounds. */
  readonly minTimeoutMs: Duration;
  readonly maxTimeoutMs: Duration;
  /** Outcomes kept for statistics (RTT, loss, jitter); older than `windowMs` also fall out. */
  readonly windowSize: number;
  readonly windowMs: Duration;
  /**
   * On-the-wire octets of one probe in one direction: 36 probe + 8 UDP + 40 inner IPv6 + ESP
   * (8 header + 8 IV + 2 trailer + pad + 16 ICV ≈ 28) + outer IPv4 20 + UDP-encap 8 (NAT-T, usual on LTE).
   */
  readonly wireBytesPerProbe: number;
}

/** When a link is taken out of service and when it is trusted again. */
export interface HealthConfig {
  /** N-of-M: `failures` lost among the last `of` probes (not necessarily consecutive) = link down. */
  readonly failWindow: { readonly failures: number; readonly of: number };
  /** Outcomes the quality figures (loss, RTT, jitter) are taken over. */
  readonly qualityWindow: number;
  /** Fewest outcomes before a quality verdict (fail or recover) is made. */
  readonly minQualitySamples: number;
  /** Fail (enter `degraded`) at or above these; recover at or below the recover values; in between: hold. */
  readonly failLossRatio: number;
  readonly recoverLossRatio: number;
  readonly failRttMs: number;
  readonly recoverRttMs: number;
  readonly failJitterMs: number;
  readonly recoverJitterMs: number;
  /** Answers in a row before a failed link may count as recovering. */
  readonly recoverProbes: number;
  /** Recovery must hold this long, multiplied by the damping factor (1 + penalty / penaltyPerFailure). */
  readonly recoverHoldMs: Duration;
}

export interface RadioConfig {
  /** Cellular margin = min(RSRP − floor, SINR − floor) in dB; NR values stand in when LTE ones are unknown. */
  readonly rsrpFloorDbm: number;
  readonly sinrFloorDb: number;
  /** Wi-Fi margin = signal avg − floor. */
  readonly wifiSignalFloorDbm: number;
  /** A Wi-Fi retry ratio above this takes `wifiRetryPenaltyDb` off the margin. */
  readonly wifiRetryRatioBad: number;
  readonly wifiRetryPenaltyDb: number;
  /** Margin (dB) that maps to a full radio score; 0 dB margin maps to 0. */
  readonly fullScoreMarginDb: number;
  /** Radio hysteresis: weak below `failMarginDb`, good again above `recoverMarginDb`, hold in between. */
  readonly failMarginDb: number;
  readonly recoverMarginDb: number;
  /** Trend: least-squares slope over this window, with at least `minTrendSamples` points. */
  readonly trendWindowMs: Duration;
  readonly minTrendSamples: number;
  /** How far ahead the trend is extrapolated to call a link at risk. */
  readonly horizonMs: Duration;
}

export interface SwitchConfig {
  /** Least time on a primary before a discretionary move (better score, radio prediction does not wait). */
  readonly minDwellMs: Duration;
  /** A discretionary move needs the target to beat the current link by this many points. */
  readonly switchMarginPoints: number;
  /** At most `maxSwitches` non-forced moves in any `windowMs` (forced failovers always happen, and count). */
  readonly budget: { readonly maxSwitches: number; readonly windowMs: Duration };
}

/** Route-flap-damping style penalty (the RFC 2439 shape): each failure adds, the sum decays exponentially. */
export interface DampingConfig {
  readonly penaltyPerFailure: number;
  readonly halfLifeMs: Duration;
  readonly suppressAbove: number;
  readonly reuseBelow: number;
  readonly maxPenalty: number;
}

export interface ScoreWeights {
  /** Share of radio and probe quality in the quality term (renormalised over what is known). */
  readonly radio: number;
  readonly probe: number;
  /** Points for perfect quality. */
  readonly qualityPoints: number;
  /** Points taken per currency unit per GB of price. */
  readonly costPointsPerCurrencyPerGb: number;
  /** Points taken at full data-bucket pressure. */
  readonly bucketPressurePoints: number;
  /** Points taken per damping factor step (penalty / penaltyPerFailure). */
  readonly dampingPointsPerFailure: number;
}

export interface MakeBeforeBreakConfig {
  /** A prepare (binding update acknowledged and SA keyed on the new address) not confirmed by then is retried. */
  readonly prepareTimeoutMs: Duration;
  /** A prepared (registered and keyed) standby care-of address is released after this long unused. */
  readonly releaseAfterMs: Duration;
  /** Keep the best standby prepared at all times (costs binding refreshes; off by default). */
  readonly keepStandbyPrepared: boolean;
}

/** A prepaid or monthly data allowance. `resetsAt` is given by the runtime (it knows the calendar). */
export interface DataBucket {
  readonly remainingBytes: number;
  /** Undefined for a pay-as-you-go bucket that never expires. */
  readonly resetsAtMs?: number | undefined;
  /** Below this a non-expiring bucket starts to cost points. */
  readonly lowWaterBytes: number;
  /** When empty: `block` keeps the link for last resort only; `allow` lets it carry on at its price. */
  readonly whenExhausted: "block" | "allow";
}

export interface LinkConfig {
  readonly id: LinkId;
  readonly kind: LinkKind;
  /** Static preference in points (Wi-Fi and wired above cellular by default). */
  readonly preference: number;
  /** Price per GB in the operator's currency (0 for depot Wi-Fi). */
  readonly costPerGb: number;
  readonly bucket?: DataBucket | undefined;
}

export type FlowPreference = "best" | "lowest-rtt" | "lowest-jitter" | "cheapest";

/** A flow rule: which traffic (all given matchers must match) goes where in the multi-CoA modes. */
export interface FlowRule {
  readonly name: string;
  readonly match: {
    readonly dscp?: readonly number[] | undefined;
    readonly protocol?: readonly number[] | undefined;
    /** Destination port ranges, inclusive. */
    readonly ports?: readonly { readonly from: number; readonly to: number }[] | undefined;
    /** Destination prefixes (`2001:db8::/32`, `192.0.2.0/24`). */
    readonly destination?: readonly string[] | undefined;
  };
  /** Only these kinds may carry the flow (e.g. bulk only on Wi-Fi); absent = any link in the active set. */
  readonly kinds?: readonly LinkKind[] | undefined;
  readonly prefer: FlowPreference;
}

export type SelectionMode = "primary" | "multi";

export interface LinkPolicyConfig {
  /** `primary`: one care-of address carries everything; `multi`: an active set plus a flow → link map. */
  readonly mode: SelectionMode;
  /** Evaluation period; inputs that change health (carrier loss, a failed N-of-M) evaluate at once. */
  readonly evaluateIntervalMs: Duration;
  /** No traffic for this long on any link = parked; probes drop to the idle rate. */
  readonly idleAfterMs: Duration;
  readonly probe: ProbeConfig;
  readonly health: HealthConfig;
  readonly radio: RadioConfig;
  readonly switching: SwitchConfig;
  readonly damping: DampingConfig;
  readonly weights: ScoreWeights;
  readonly makeBeforeBreak: MakeBeforeBreakConfig;
  readonly flowRules: readonly FlowRule[];
}

export const DEFAULT_PROBE_CONFIG: ProbeConfig = {
  activeIntervalMs: 2_000,
  standbyIntervalMs: 10_000,
  idleIntervalMs: 30_000,
  fastIntervalMs: 250,
  fastMaxConsecutiveLosses: 8,
  fastExitAnswers: 4,
  minTimeoutMs: 400,
  maxTimeoutMs: 2_000,
  windowSize: 20,
  windowMs: 60_000,
  wireBytesPerProbe: 148,
};

export const DEFAULT_LINK_POLICY_CONFIG: LinkPolicyConfig = {
  mode: "primary",
  evaluateIntervalMs: 500,
  idleAfterMs: 120_000,
  probe: DEFAULT_PROBE_CONFIG,
  health: {
    failWindow: { failures: 4, of: 6 },
    qualityWindow: 20,
    minQualitySamples: 8,
    failLossRatio: 0.3,
    recoverLossRatio: 0.1,
    failRttMs: 1_000,
    recoverRttMs: 500,
    failJitterMs: 250,
    recoverJitterMs: 100,
    recoverProbes: 3,
    recoverHoldMs: 5_000,
  },
  radio: {
    rsrpFloorDbm: -115,
    sinrFloorDb: -3,
    wifiSignalFloorDbm: -78,
    wifiRetryRatioBad: 0.5,
    wifiRetryPenaltyDb: 6,
    fullScoreMarginDb: 20,
    failMarginDb: 0,
    recoverMarginDb: 6,
    trendWindowMs: 8_000,
    minTrendSamples: 4,
    horizonMs: 6_000,
  },
  switching: {
    minDwellMs: 30_000,
    switchMarginPoints: 8,
    budget: { maxSwitches: 6, windowMs: 600_000 },
  },
  damping: {
    penaltyPerFailure: 1_000,
    halfLifeMs: 180_000,
    suppressAbove: 2_500,
    reuseBelow: 1_000,
    maxPenalty: 8_000,
  },
  weights: {
    radio: 0.4,
    probe: 0.6,
    qualityPoints: 60,
    costPointsPerCurrencyPerGb: 1,
    bucketPressurePoints: 30,
    dampingPointsPerFailure: 5,
  },
  makeBeforeBreak: { prepareTimeoutMs: 5_000, releaseAfterMs: 60_000, keepStandbyPrepared: false },
  flowRules: [],
};

/** Per-kind starting points: depot/hotspot Wi-Fi and wired are preferred and free, cellular costs. */
export function defaultLinkConfig(id: LinkId, kind: LinkKind): LinkConfig {
  switch (kind) {
    case "wired":
      return { id, kind, preference: 20, costPerGb: 0 };
    case "wifi":
      return { id, kind, preference: 15, costPerGb: 0 };
    case "cellular":
      return { id, kind, preference: 0, costPerGb: 5 };
  }
}

/** Example rules for a vehicle: bulk transfers (OTA, log upload) only on Wi-Fi, voice on the lowest-jitter link. */
export const EXAMPLE_FLOW_RULES: readonly FlowRule[] = [
  { name: "voice", match: { dscp: [46], protocol: [17] }, prefer: "lowest-jitter" },
  { name: "bulk", match: { dscp: [8] }, kinds: ["wifi", "wired"], prefer: "best" },
];
