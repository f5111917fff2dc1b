// Decision records: every change the link policy makes (or declines to make) with its inputs, scores and the rule that fired.

import type { LinkId, LinkKind } from "../../board/api/link-metrics.ts";
import type { Instant } from "../core/instant.ts";
import type { FlowAssignment } from "./flow-rules.ts";
import type { HealthRule, LinkHealth } from "./link-health.ts";
import type { ScoreBreakdown } from "./score.ts";

export type DecisionRule =
  | HealthRule
  | "initial"
  | "failover"
  | "radio-predictive"
  | "better-score"
  | "hold-dwell"
  | "hold-budget"
  | "at-risk"
  | "prepare"
  | "prepared"
  | "prepare-failed"
  | "release"
  | "suppressed"
  | "reusable"
  | "address-change"
  | "all-down"
  | "active-set"
  | "flow-map";

export type PrepareState = "idle" | "preparing" | "ready";

/** What the policy knew about one link when it decided. */
export interface LinkSnapshot {
  readonly link: LinkId;
  readonly kind: LinkKind;
  readonly health: LinkHealth;
  readonly hardDown?: string | undefined;
  readonly marginDb?: number | undefined;
  readonly trendDbPerS?: number | undefined;
  readonly predictedMarginDb?: number | undefined;
  readonly radioWeak: boolean;
  readonly lossRatio?: number | undefined;
  readonly rttMs?: number | undefined;
  readonly jitterMs?: number | undefined;
  readonly score: ScoreBreakdown;
  readonly penalty: number;
  readonly suppressed: boolean;
  readonly prepare: PrepareState;
}

export interface LinkDecision {
  /** Increases by one per record (gaps in telemetry are visible). */
  readonly sequence: number;
  readonly at: Instant;
  readonly rule: DecisionRule;
  /** The link the rule is about (the switch target, the link that failed, …). */
  readonly link?: LinkId | undefined;
  readonly summary: string;
  readonly primaryBefore?: LinkId | undefined;
  readonly primaryAfter?: LinkId | undefined;
  readonly activeSet?: readonly LinkId[] | undefined;
  readonly flows?: readonly FlowAssignment[] | undefined;
  readonly links: readonly LinkSnapshot[];
}

/** One line for logs: `12.5s failover lte0 → wifi0: wifi0 … [lte0 down 3 of 5 lost | wifi0 up 55.2]`. */
export function formatDecision(d: LinkDecision): string {
  const links = d.links
    .map((l) => `${l.link} ${l.health}${l.suppressed ? "(suppressed)" : ""} ${l.score.total}${l.marginDb === undefined ? "" : ` m${l.marginDb.toFixed(0)}dB`}`)
    .join(" | ");
  return `${(d.at / 1000).toFixed(1)}s #${d.sequence} ${d.rule}${d.link ? ` ${d.link}` : ""}: ${d.summary} [${links}]`;
}
