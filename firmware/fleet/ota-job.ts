// Codec of the OTA update job the fleet publishes on `…/ota/job`: image reference, expected digest and size, source, link policy.

import * as v from "valibot";
import { err, ok, type Result } from "../core/result.ts";
import { toConfigIssue } from "../config/validate.ts";
import { dominantKind } from "./desired-codec.ts";
import type { FleetError } from "./errors.ts";

/** Largest job document read; a job is a few hundred bytes. */
export const MAX_JOB_BYTES = 8192;
/** Offsets travel as 32-bit fields in chunk messages (ota-chunk.ts); slots are far smaller. */
export const MAX_IMAGE_BYTES = 0xffff_ffff;
export const DEFAULT_CHUNK_BYTES = 32 * 1024;
export const MIN_CHUNK_BYTES = 1024;
export const MAX_CHUNK_BYTES = 1024 * 1024;
/** How long a trial boot has to confirm healthy when the job does not say. */
export const DEFAULT_CONFIRM_WITHIN_SECONDS = 120;

const JobId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 characters: letters, digits, '.', '_', '-'"));
const Sha256Hex = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits (SHA-256)"));
const HttpUrl = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.check((text) => {
    try {
      const url = new URL(text);
      return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
    } catch {
      return false;
    }
  }, "must be an absolute http:// or https:// URL"),
);

const JobSchema = v.strictObject({
  jobId: JobId,
  version: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  securityVersion: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
  size: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(MAX_IMAGE_BYTES)),
  sha256: Sha256Hex,
  source: v.variant("kind", [
    v.strictObject({ kind: v.literal("http"), url: HttpUrl }),
    v.strictObject({
      kind: v.literal("mqtt"),
      chunkBytes: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(MIN_CHUNK_BYTES), v.maxValue(MAX_CHUNK_BYTES)), DEFAULT_CHUNK_BYTES),
    }),
  ]),
  policy: v.optional(
    v.strictObject({
      /** Links priced at or below this (per GB) count as cheap: downloaded on freely. Default 0: only free links. */
      maxCostPerGb: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0))),
      /** Bytes this job may take from metered links in total (needs `ota.image.allowOnCellular` for cellular). */
      meteredBudgetBytes: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
    }),
  ),
  confirmWithinSeconds: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(5), v.maxValue(3600))),
});

export type OtaJobSource = { readonly kind: "http"; readonly url: string } | { readonly kind: "mqtt"; readonly chunkBytes: number };

export interface OtaJobPolicy {
  readonly maxCostPerGb?: number;
  readonly meteredBudgetBytes?: number;
}

/** A checked job. The image it names is still untrusted: its signature and digests are verified on the device. */
export interface OtaJob {
  readonly jobId: string;
  /** The manifest version the fleet expects; the signed manifest must say the same. */
  readonly version: string;
  readonly securityVersion?: number;
  /** Image length in bytes and SHA-256 of the whole image (head and parts). */
  readonly size: number;
  readonly sha256: string;
  readonly source: OtaJobSource;
  readonly policy?: OtaJobPolicy;
  readonly confirmWithinSeconds: number;
}

/**
 * Checks a job payload, cheapest first: size, UTF-8 and JSON, then the schema (unknown members refused).
 * Never throws; a refusal is a typed `FleetError` (the same kinds as desired documents).
 */
export function decodeOtaJob(payload: Uint8Array): Result<OtaJob, FleetError> {
  if (payload.length > MAX_JOB_BYTES) return err({ kind: "oversized", detail: `${payload.length} bytes is above the ${MAX_JOB_BYTES}-byte limit` });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (e) {
    return err({ kind: "malformed-json", detail: e instanceof Error ? e.message : "not JSON" });
  }
  return validateOtaJob(json);
}

/** Schema check of an already parsed job (also used for the job persisted across reboots). */
export function validateOtaJob(json: unknown): Result<OtaJob, FleetError> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return err({ kind: "wrong-type", detail: "the job must be a JSON object" });
  const parsed = v.safeParse(JobSchema, json, { abortEarly: false });
  if (!parsed.success) {
    const issues = parsed.issues.map((issue) => toConfigIssue(issue));
    return err({ kind: dominantKind(issues), detail: `invalid job: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues });
  }
  const j = parsed.output;
  const policy: OtaJobPolicy | undefined = j.policy
    ? { ...(j.policy.maxCostPerGb !== undefined ? { maxCostPerGb: j.policy.maxCostPerGb } : {}), ...(j.policy.meteredBudgetBytes !== undefined ? { meteredBudgetBytes: j.policy.meteredBudgetBytes } : {}) }
    : undefined;
  return ok({
    jobId: j.jobId,
    version: j.version,
    ...(j.securityVersion !== undefined ? { securityVersion: j.securityVersion } : {}),
    size: j.size,
    sha256: j.sha256,
    source: j.source,
    ...(policy ? { policy } : {}),
    confirmWithinSeconds: j.confirmWithinSeconds ?? DEFAULT_CONFIRM_WITHIN_SECONDS,
  });
}

/** The job as JSON again (persisted beside the partial download; `validateOtaJob` reads it back). */
export function encodeOtaJob(job: OtaJob): string {
  return JSON.stringify(job);
}
