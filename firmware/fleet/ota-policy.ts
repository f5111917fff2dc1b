// Link-aware OTA download policy (sans-IO): may the image be fetched now, over which link, and how many bytes before asking again.

import type { LinkId, LinkKind } from "../../board/api/link-metrics.ts";
import { later, type Duration, type Instant } from "../core/instant.ts";
import type { DataBucket } from "../links/config.ts";
import type { FlowAssignment } from "../links/flow-rules.ts";
import type { OtaJobPolicy } from "./ota-job.ts";

/** What the OTA policy needs to know of one uplink (from the link engine's config and state). */
export interface OtaLinkView {
  readonly link: LinkId;
  readonly kind: LinkKind;
  readonly up: boolean;
  /** Price per GB in the operator's currency (`LinkConfig.costPerGb`). */
  readonly costPerGb: number;
  readonly bucket?: DataBucket | undefined;
}

/** The link set as the selection policy left it: who carries traffic now. */
export interface OtaLinkSet {
  readonly links: readonly OtaLinkView[];
  /** The primary care-of address's link (`LinkPolicy.primary`). */
  readonly primary: LinkId | undefined;
  /**
   * Multi-CoA modes: the flow map (`LinkPolicy.flows`). When `flowRule` is set, the link assigned to that rule
   * carries the download, and a rule with no link (e.g. `bulk` limited to Wi-Fi while only LTE is up) means wait.
   */
  readonly flows?: readonly FlowAssignment[] | undefined;
  /** Name of the flow rule OTA traffic falls under (`classifyFlow(rules, otaFlow)?.name`). */
  readonly flowRule?: string | undefined;
}

/** The device's OTA download policy: the config's `ota.image` section narrowed by the job's `policy`. */
export interface OtaDownloadPolicy {
  /** Cellular uplinks may carry the download at all (`ota.image.allowOnCellular`). */
  readonly allowCellular: boolean;
  /** Links priced at or below this per GB, without a data bucket, are cheap: no byte budget applies. */
  readonly maxFreeCostPerGb: number;
  /** Bytes this job may request over metered links in total; undefined = only the data bucket limits it. */
  readonly meteredBudgetBytes: number | undefined;
  /** A data bucket is never drawn below this, so the router's own traffic keeps working. */
  readonly bucketReserveBytes: number;
  /** Download rate cap in bytes per second (`ota.image.maxDownloadMbps`); undefined = none. */
  readonly maxBytesPerSecond: number | undefined;
}

export const DEFAULT_BUCKET_RESERVE_BYTES = 50 * 1024 * 1024;

/** Builds the policy from the config's `ota.image` section and the job's optional `policy`. */
export function otaDownloadPolicy(image: { readonly allowOnCellular: boolean; readonly maxDownloadMbps?: number | undefined }, job?: OtaJobPolicy): OtaDownloadPolicy {
  return {
    allowCellular: image.allowOnCellular,
    maxFreeCostPerGb: job?.maxCostPerGb ?? 0,
    meteredBudgetBytes: job?.meteredBudgetBytes,
    bucketReserveBytes: DEFAULT_BUCKET_RESERVE_BYTES,
    maxBytesPerSecond: image.maxDownloadMbps === undefined ? undefined : Math.floor((image.maxDownloadMbps * 1_000_000) / 8),
  };
}

export type OtaPauseReason =
  | "no-link" // no primary link, or the carrier is down
  | "flow-rule" // the OTA flow rule has no link in the active set
  | "cellular-not-allowed" // the carrier is cellular and the config forbids it
  | "budget-exhausted" // the job's metered byte budget is spent
  | "bucket-low"; // the carrier's data bucket is at its reserve

export type OtaDownloadDecision =
  | {
      readonly action: "download";
      readonly link: LinkId;
      /** Costs money or bucket bytes: requests are counted against the allowance. */
      readonly metered: boolean;
      /** Bytes that may still be requested before the policy must be asked again; undefined = unlimited. */
      readonly allowanceBytes: number | undefined;
      readonly maxBytesPerSecond: number | undefined;
    }
  | { readonly action: "pause"; readonly link: LinkId | undefined; readonly reason: OtaPauseReason; readonly detail: string };

/** Bytes this job has requested over metered links so far (persisted with the download). */
export interface OtaUsage {
  readonly meteredBytes: number;
}

/** The link the download would travel on: the OTA flow rule's link in multi-CoA modes, else the primary. */
export function otaCarrier(set: OtaLinkSet): { readonly link: LinkId | undefined; readonly byRule: boolean } {
  if (set.flowRule !== undefined && set.flows !== undefined) {
    const assignment = set.flows.find((f) => f.rule === set.flowRule);
    if (assignment) return { link: assignment.link, byRule: true };
  }
  return { link: set.primary, byRule: false };
}

export function isMetered(link: OtaLinkView, policy: OtaDownloadPolicy): boolean {
  return link.bucket !== undefined || link.costPerGb > policy.maxFreeCostPerGb;
}

/** The pure decision: may the download proceed now, on which link, with how many more bytes. */
export function decideOtaDownload(set: OtaLinkSet, policy: OtaDownloadPolicy, usage: OtaUsage): OtaDownloadDecision {
  const carrier = otaCarrier(set);
  if (carrier.link === undefined) {
    return carrier.byRule
      ? { action: "pause", link: undefined, reason: "flow-rule", detail: `flow rule '${set.flowRule}' has no link in the active set` }
      : { action: "pause", link: undefined, reason: "no-link", detail: "no primary link" };
  }
  const link = set.links.find((l) => l.link === carrier.link);
  if (!link || !link.up) return { action: "pause", link: carrier.link, reason: "no-link", detail: `link ${carrier.link} is down` };
  if (link.kind === "cellular" && !policy.allowCellular) {
    return { action: "pause", link: link.link, reason: "cellular-not-allowed", detail: `link ${link.link} is cellular and ota.image.allowOnCellular is off` };
  }
  const base = { action: "download", link: link.link, maxBytesPerSecond: policy.maxBytesPerSecond } as const;
  if (!isMetered(link, policy)) return { ...base, metered: false, allowanceBytes: undefined };
  let allowance: number | undefined;
  if (policy.meteredBudgetBytes !== undefined) {
    allowance = Math.max(0, policy.meteredBudgetBytes - usage.meteredBytes);
    if (allowance === 0) {
      return { action: "pause", link: link.link, reason: "budget-exhausted", detail: `the job's metered budget of ${policy.meteredBudgetBytes} bytes is spent` };
    }
  }
  if (link.bucket !== undefined && !(link.bucket.whenExhausted === "allow" && link.bucket.remainingBytes <= 0)) {
    const spare = Math.max(0, link.bucket.remainingBytes - policy.bucketReserveBytes);
    if (spare === 0) {
      return { action: "pause", link: link.link, reason: "bucket-low", detail: `link ${link.link} has ${link.bucket.remainingBytes} bytes left in its bucket (reserve ${policy.bucketReserveBytes})` };
    }
    allowance = allowance === undefined ? spare : Math.min(allowance, spare);
  }
  return { ...base, metered: true, allowanceBytes: allowance };
}

/**
 * The decision with hysteresis, on injected time: a pause takes effect at once (never spend bytes the policy
 * forbids), a resume only once the download-allowing state has held for `resumeAfterMs`, so a vehicle at the
 * edge of depot Wi-Fi does not start and stop the download on every flap. Call `update` whenever the link set
 * or the usage changes; `pollChange` reports each change of the effective decision (for the status topic).
 */
export class OtaLinkGate {
  readonly #policy: OtaDownloadPolicy;
  readonly #resumeAfterMs: Duration;
  #effective: OtaDownloadDecision;
  #candidate: OtaDownloadDecision | undefined;
  #candidateSince: Instant | undefined;
  readonly #changes: OtaDownloadDecision[] = [];

  constructor(policy: OtaDownloadPolicy, resumeAfterMs: Duration, set: OtaLinkSet, usage: OtaUsage) {
    this.#policy = policy;
    this.#resumeAfterMs = resumeAfterMs;
    // At start-up there is nothing to flap from: the first decision is taken as it is.
    this.#effective = decideOtaDownload(set, policy, usage);
    this.#changes.push(this.#effective);
  }

  get decision(): OtaDownloadDecision {
    return this.#effective;
  }

  update(set: OtaLinkSet, usage: OtaUsage, now: Instant): void {
    const next = decideOtaDownload(set, this.#policy, usage);
    if (next.action === "pause" || this.#effective.action === "download") {
      // Pausing, or already downloading (the allowance or the link may change): no waiting.
      this.#candidate = undefined;
      this.#candidateSince = undefined;
      this.#set(next);
      return;
    }
    if (this.#candidate?.action !== "download" || this.#candidate.link !== next.link) this.#candidateSince = now;
    this.#candidate = next;
    this.handleTimeout(now);
  }

  pollTimeout(): Instant | undefined {
    return this.#candidateSince === undefined ? undefined : later(this.#candidateSince, this.#resumeAfterMs);
  }

  handleTimeout(now: Instant): void {
    const due = this.pollTimeout();
    if (due === undefined || now < due || this.#candidate === undefined) return;
    const candidate = this.#candidate;
    this.#candidate = undefined;
    this.#candidateSince = undefined;
    this.#set(candidate);
  }

  /** The next change of the effective decision, oldest first. */
  pollChange(): OtaDownloadDecision | undefined {
    return this.#changes.shift();
  }

  #set(next: OtaDownloadDecision): void {
    if (sameDecision(this.#effective, next)) {
      this.#effective = next;
      return;
    }
    this.#effective = next;
    this.#changes.push(next);
  }
}

/** Same action, link and reason: an allowance that only shrank is not a change worth reporting. */
function sameDecision(a: OtaDownloadDecision, b: OtaDownloadDecision): boolean {
  if (a.action !== b.action || a.link !== b.link) return false;
  return a.action === "pause" && b.action === "pause" ? a.reason === b.reason : true;
}
