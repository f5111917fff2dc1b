// Transactional configuration over the air: validate, refuse stale, apply, watch health, then commit or roll back.

import type { Counters } from "../core/counters.ts";
import { later, type Instant } from "../core/instant.ts";
import { assertNever } from "../core/result.ts";
import type { DeviceConfig, HealthCheckName } from "../config/schema.ts";
import type { ConfigIssue } from "../config/validate.ts";
import { decodeDesiredEnvelope, validateDesiredConfig, type DesiredEnvelope, type DesiredLimits } from "./desired-codec.ts";
import { fleetErrorCounter, type FleetError, type FleetErrorKind } from "./errors.ts";
import { judgeVersion, type ShadowRecord } from "./shadow.ts";

/** The outcome the device publishes on the config result topic. */
export type ConfigResultStatus = "rejected" | "applied" | "committed" | "rolled-back";

export interface ConfigResult {
  readonly status: ConfigResultStatus;
  /** The desired version this result is about; null when the payload was unreadable. */
  readonly version: number | null;
  /** The version running after this step. */
  readonly runningVersion: number;
  readonly clientToken?: string;
  readonly error?: { readonly kind: FleetErrorKind; readonly detail: string; readonly issues?: readonly ConfigIssue[] };
  /** Why a rollback happened. */
  readonly reason?: string;
  readonly failedChecks?: readonly HealthCheckName[];
}

/**
 * What the runtime must do, in order:
 * - `apply`: reconfigure the device with `config` (a candidate, or the previous config on rollback); then
 *   report health with `handleHealth` (and `handleApplyFailed` if it could not apply at all).
 * - `record-version`: persist the shadow record durably before acting on anything else.
 * - `commit`: write `config` as the stored config (atomically) — it passed its watch.
 * - `publish-result` / `publish-reported`: queue the messages (through the durable outbox).
 */
export type TransactionAction =
  | { readonly type: "apply"; readonly config: DeviceConfig; readonly version: number; readonly cause: "candidate" | "rollback" }
  | { readonly type: "record-version"; readonly record: ShadowRecord }
  | { readonly type: "commit"; readonly config: DeviceConfig; readonly version: number }
  | { readonly type: "publish-result"; readonly result: ConfigResult }
  | { readonly type: "publish-reported"; readonly config: DeviceConfig; readonly version: number };

export type TransactionState = "idle" | "watching";

export interface TransactionOptions {
  readonly running: DeviceConfig;
  readonly runningVersion: number;
  readonly shadow?: ShadowRecord;
  readonly counters: Counters;
}

interface Watch {
  readonly candidate: DeviceConfig;
  readonly version: number;
  readonly clientToken?: string;
  readonly deadline: Instant;
  /** The checks the *running* config's policy requires (a candidate cannot weaken its own watch). */
  readonly checks: readonly HealthCheckName[];
  readonly health: Map<HealthCheckName, boolean>;
}

/**
 * The config transaction, sans-IO: documents and health reports go in with the current instant, actions come
 * out of `pollAction()`, and `pollTimeout()` says when `handleTimeout()` is due (a spurious call is harmless).
 * The watch and signature policy always come from the running config. While a candidate is watched, the newest
 * further document waits and is handled after the commit or rollback.
 */
export class ConfigTransaction {
  #running: DeviceConfig;
  #runningVersion: number;
  #shadow: ShadowRecord | undefined;
  #watch: Watch | undefined;
  #queued: { payload: Uint8Array } | undefined;
  readonly #actions: TransactionAction[] = [];
  readonly #counters: Counters;

  constructor(options: TransactionOptions) {
    this.#running = options.running;
    this.#runningVersion = options.runningVersion;
    this.#shadow = options.shadow;
    this.#counters = options.counters;
  }

  get state(): TransactionState {
    return this.#watch ? "watching" : "idle";
  }

  get running(): { readonly config: DeviceConfig; readonly version: number } {
    return { config: this.#running, version: this.#runningVersion };
  }

  /** The config the device should be running right now (the candidate while watching). */
  get effective(): DeviceConfig {
    return this.#watch?.candidate ?? this.#running;
  }

  limits(): DesiredLimits {
    const policy = this.#running.ota.config;
    const key = policy.signingPublicKeyHex;
    return {
      maxBytes: Math.min(policy.maxDocumentBytes, this.#running.mqtt.maxIncomingBytes),
      requireSignature: policy.requireSignature,
      ...(key !== undefined ? { publicKey: Uint8Array.from(Buffer.from(key, "hex")) } : {}),
    };
  }

  /** A desired document arrived (raw payload from the desired topic). */
  handleDesired(payload: Uint8Array, now: Instant): void {
    this.#counters.increment("fleet.desired.received");
    this.#process(payload, now);
  }

  #process(payload: Uint8Array, now: Instant): void {
    if (this.#watch) {
      this.#queued = { payload };
      this.#counters.increment("fleet.desired.queued");
      return;
    }
    const envelope = decodeDesiredEnvelope(payload, this.limits());
    if (!envelope.ok) return this.#reject(envelope.error);
    this.#handleEnvelope(envelope.value, now);
  }

  #handleEnvelope(envelope: DesiredEnvelope, now: Instant): void {
    const verdict = judgeVersion(this.#shadow, envelope.version, envelope.digest);
    switch (verdict) {
      case "duplicate":
        this.#counters.increment("fleet.desired.duplicate");
        return;
      case "stale":
        return this.#reject({
          kind: "stale-version",
          detail: `version ${envelope.version} is not above ${this.#shadow?.version ?? 0}, the last version processed`,
          version: envelope.version,
          ...(envelope.clientToken !== undefined ? { clientToken: envelope.clientToken } : {}),
        });
      case "new":
        break;
      default:
        assertNever(verdict, "version verdict");
    }
    // Past this point the version is spent: record it before acting, so a replay after a crash is refused.
    this.#record({ version: envelope.version, digest: envelope.digest });
    const config = validateDesiredConfig(envelope);
    if (!config.ok) return this.#reject(config.error);
    const policy = this.#running.ota.config;
    this.#watch = {
      candidate: config.value,
      version: envelope.version,
      ...(envelope.clientToken !== undefined ? { clientToken: envelope.clientToken } : {}),
      deadline: later(now, policy.watchSeconds * 1000),
      checks: [...new Set(policy.healthChecks)],
      health: new Map(),
    };
    this.#counters.increment("fleet.config.applied");
    this.#actions.push({ type: "apply", config: config.value, version: envelope.version, cause: "candidate" });
    this.#publish({ status: "applied", version: envelope.version, runningVersion: this.#runningVersion }, envelope.clientToken);
  }

  /** Latest result of one health check for the candidate being watched; ignored when idle. */
  handleHealth(check: HealthCheckName, healthy: boolean, _now: Instant): void {
    this.#watch?.health.set(check, healthy);
  }

  /** The runtime could not apply the candidate at all: roll back now. */
  handleApplyFailed(reason: string, now: Instant): void {
    if (this.#watch) this.#rollback(`apply failed: ${reason}`, [], now);
  }

  pollTimeout(): Instant | undefined {
    return this.#watch?.deadline;
  }

  handleTimeout(now: Instant): void {
    const watch = this.#watch;
    if (!watch || now < watch.deadline) return;
    const failed = watch.checks.filter((c) => watch.health.get(c) !== true);
    if (failed.length === 0) this.#commit(now);
    else this.#rollback(`health checks failing at the end of the ${this.#running.ota.config.watchSeconds}s watch: ${failed.join(", ")}`, failed, now);
  }

  pollAction(): TransactionAction | undefined {
    return this.#actions.shift();
  }

  #commit(now: Instant): void {
    const watch = this.#watch!;
    this.#watch = undefined;
    this.#running = watch.candidate;
    this.#runningVersion = watch.version;
    this.#counters.increment("fleet.config.committed");
    this.#actions.push({ type: "commit", config: watch.candidate, version: watch.version });
    this.#publish({ status: "committed", version: watch.version, runningVersion: watch.version }, watch.clientToken);
    this.#actions.push({ type: "publish-reported", config: watch.candidate, version: watch.version });
    this.#drainQueue(now);
  }

  #rollback(reason: string, failedChecks: readonly HealthCheckName[], now: Instant): void {
    const watch = this.#watch!;
    this.#watch = undefined;
    this.#counters.increment("fleet.config.rolled-back");
    this.#actions.push({ type: "apply", config: this.#running, version: this.#runningVersion, cause: "rollback" });
    this.#publish(
      { status: "rolled-back", version: watch.version, runningVersion: this.#runningVersion, reason, ...(failedChecks.length > 0 ? { failedChecks } : {}) },
      watch.clientToken,
    );
    this.#drainQueue(now);
  }

  #drainQueue(now: Instant): void {
    const queued = this.#queued;
    this.#queued = undefined;
    if (queued) this.#process(queued.payload, now);
  }

  #record(record: ShadowRecord): void {
    this.#shadow = record;
    this.#actions.push({ type: "record-version", record });
  }

  #reject(error: FleetError): void {
    this.#counters.increment(fleetErrorCounter(error));
    this.#counters.increment("fleet.desired.rejected");
    this.#publish(
      {
        status: "rejected",
        version: error.version ?? null,
        runningVersion: this.#runningVersion,
        error: { kind: error.kind, detail: error.detail, ...(error.issues ? { issues: error.issues } : {}) },
      },
      error.clientToken,
    );
  }

  #publish(result: ConfigResult, clientToken: string | undefined): void {
    this.#actions.push({ type: "publish-result", result: clientToken !== undefined ? { ...result, clientToken } : result });
  }
}
