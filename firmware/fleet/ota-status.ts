// OTA status on `…/ota/status`: the states a job goes through, failure reasons, the payload, and progress throttling.

import type { RefusalKind } from "../../ota/verify/refusal.ts";
import type { Duration, Instant } from "../core/instant.ts";
import type { Stamp } from "./messages.ts";
import type { OtaPauseReason } from "./ota-policy.ts";

/**
 * Why a job failed. The installer's refusals keep their kind (`bad-signature`, `wrong-key`, `downgrade`,
 * `wrong-board`, `digest-mismatch`, `no-space`, …); the download adds its own.
 */
export type OtaFailureKind =
  | "bad-job" // the job document was refused (schema, size, JSON)
  | "download-corrupt" // the downloaded image's SHA-256 or size differs from the job's
  | "version-mismatch" // the signed manifest names another version than the job
  | "source-unavailable" // the fleet or HTTP server does not have the image (unknown job, 404, 416…)
  | "storage" // the partial download could not be written or read back
  | "superseded" // a newer job replaced this one
  | RefusalKind; // the installer's refusals (bad-signature, wrong-key, downgrade, wrong-board, busy, …)

export interface OtaFailure {
  readonly kind: OtaFailureKind;
  readonly detail: string;
}

export type OtaSlot = "a" | "b";

export type OtaStatus =
  | { readonly state: "downloading"; readonly received: number; readonly total: number; readonly percent: number; readonly link?: string | undefined; readonly source: "http" | "mqtt" }
  | { readonly state: "paused"; readonly received: number; readonly total: number; readonly percent: number; readonly reason: OtaPauseReason; readonly detail: string; readonly link?: string | undefined }
  | { readonly state: "verifying" }
  | { readonly state: "installing"; readonly slot?: OtaSlot | undefined; readonly step: "writing" | "read-back" | "marking" }
  | { readonly state: "rebooting"; readonly slot: OtaSlot }
  | { readonly state: "committed"; readonly slot: OtaSlot }
  | { readonly state: "rolled-back"; readonly slot: OtaSlot; readonly runningSlot: OtaSlot; readonly reason: string }
  | { readonly state: "failed"; readonly reason: OtaFailure };

export type OtaState = OtaStatus["state"];

/** Which job a status is about; `jobId` is null when a job document could not be read at all. */
export interface OtaStatusSubject {
  readonly jobId: string | null;
  readonly version?: string | undefined;
}

export function otaStatusPayload(stamp: Stamp, subject: OtaStatusSubject, status: OtaStatus): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ ...stamp, jobId: subject.jobId, ...(subject.version !== undefined ? { version: subject.version } : {}), ...status }));
}

export function percentOf(received: number, total: number): number {
  return total > 0 ? Math.floor((Math.min(received, total) * 100) / total) : 0;
}

/**
 * Limits `downloading` progress messages (they go through the durable outbox): one at start, then when the
 * percentage has advanced by `stepPercent` or `intervalMs` has passed, and always at 100 %.
 */
export class ProgressThrottle {
  #lastPercent: number | undefined;
  #lastAt: Instant | undefined;

  constructor(
    readonly stepPercent = 10,
    readonly intervalMs: Duration = 30_000,
  ) {}

  due(received: number, total: number, now: Instant): boolean {
    const percent = percentOf(received, total);
    const due =
      this.#lastPercent === undefined ||
      percent >= 100 ||
      percent - this.#lastPercent >= this.stepPercent ||
      (this.#lastAt !== undefined && now - this.#lastAt >= this.intervalMs && percent > this.#lastPercent);
    if (due) {
      this.#lastPercent = percent;
      this.#lastAt = now;
    }
    return due;
  }

  /** Forget the last report (after a pause, the next progress is reported at once). */
  reset(): void {
    this.#lastPercent = undefined;
    this.#lastAt = undefined;
  }
}
