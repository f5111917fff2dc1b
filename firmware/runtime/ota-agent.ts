// The OTA agent: runs update jobs from the fleet link (link-aware resumable download, verify, A/B install, reboot) and settles trial boots.

import { instant, type Instant } from "../core/instant.ts";
import { Counters } from "../core/counters.ts";
import { earliest, later } from "../core/instant.ts";
import type { BoardDefinition, SlotName } from "../../board/api/board.ts";
import type { LinkId } from "../../board/api/link-metrics.ts";
import type { Stamp } from "../fleet/messages.ts";
import { ChunkView, encodeChunkRequest, otaChunkErrorCounter } from "../fleet/ota-chunk.ts";
import { OtaFetch } from "../fleet/ota-fetch.ts";
import { DEFAULT_CONFIRM_WITHIN_SECONDS, decodeOtaJob, type OtaJob } from "../fleet/ota-job.ts";
import { OtaLinkGate, otaDownloadPolicy, type OtaDownloadDecision, type OtaLinkSet } from "../fleet/ota-policy.ts";
import { otaStatusPayload, percentOf, ProgressThrottle, type OtaFailure, type OtaStatus, type OtaStatusSubject } from "../fleet/ota-status.ts";
import type { FleetTopics } from "../fleet/topics.ts";
import { commitTrial, rejectTrial, resolveBoot } from "../../ota/install/boot-cycle.ts";
import type { HealthGate } from "../../ota/install/health-gate.ts";
import { installImage, type OpenSlot } from "../../ota/install/installer.ts";
import type { InstallState } from "../../ota/install/install-state.ts";
import { fileChunks } from "../../ota/io/file-chunks.ts";
import type { PublicKey } from "../../ota/sign/ed25519.ts";
import type { BootStateStore } from "../../ota/slots/boot-state-store.ts";
import { formatRefusal, type Refusal } from "../../ota/verify/refusal.ts";
import { verifyHead } from "../../ota/verify/verify-head.ts";
import { readImageHead } from "../../ota/verify/verify-image.ts";
import { HttpRangeSource } from "../../ota/download/http-range.ts";
import { OtaJobStateStore, type OtaOutcome, type OtaRecord } from "../../ota/download/job-state.ts";
import { PartialDownload } from "../../ota/download/partial-download.ts";
import type { FleetLink } from "./fleet-link.ts";

/** What the agent needs of the fleet link (`fleetLinkChannel` adapts a `FleetLink`). */
export interface OtaChannel {
  readonly topics: FleetTopics;
  /** The MQTT session counter while connected, else undefined: a new value means requests in flight were lost. */
  connection(): number | undefined;
  publishDurable(topic: string, retain: boolean, build: (stamp: Stamp) => Uint8Array): void;
  publishVolatile(topic: string, payload: Uint8Array): boolean;
}

export function fleetLinkChannel(link: FleetLink): OtaChannel {
  return {
    get topics() {
      return link.topics;
    },
    connection: () => (link.session?.connected ? link.session.session : undefined),
    publishDurable: (topic, retain, build) => link.publishDurable(topic, retain, build),
    publishVolatile: (topic, payload) => link.session?.publishVolatile(topic, payload) ?? false,
  };
}

export interface OtaTuning {
  /** Chunk requests in flight over MQTT. */
  readonly window: number;
  readonly requestTimeoutMs: number;
  /** Size of one HTTP Range request. */
  readonly httpRangeBytes: number;
  /** A download-allowing link must hold this long before a paused download resumes. */
  readonly resumeAfterMs: number;
  /** Progress is made durable (fsync + record) at least every this many bytes. */
  readonly checkpointBytes: number;
  /** The link set is re-read at least this often. */
  readonly linkPollMs: number;
  readonly healthPollMs: number;
}

export const DEFAULT_OTA_TUNING: OtaTuning = {
  window: 4,
  requestTimeoutMs: 5_000,
  httpRangeBytes: 1024 * 1024,
  resumeAfterMs: 10_000,
  checkpointBytes: 256 * 1024,
  linkPollMs: 1_000,
  healthPollMs: 250,
};

export interface OtaAgentOptions {
  readonly board: BoardDefinition;
  readonly store: BootStateStore;
  readonly trusted: readonly PublicKey[];
  /** OTA state directory on the data partition (record + partial image), e.g. `/var/lib/monami/ota`. */
  readonly stateDir: string;
  /** The running config's `ota.image` section. */
  readonly imagePolicy: { readonly allowOnCellular: boolean; readonly maxDownloadMbps?: number | undefined };
  /** The link set as the selection policy sees it now (called on every pump). */
  readonly links: () => OtaLinkSet;
  /** Health check of a trial boot besides the broker: mobility bindings up. */
  readonly bindingsUp: () => boolean;
  /** Called once the state is on disk: the runtime stops and reboots (the install, or the rollback of a failed trial). */
  readonly reboot: (reason: "ota-install" | "ota-rollback") => void;
  /** Extra CA certificates (PEM) for https:// image URLs. */
  readonly httpCa?: string;
  readonly openSlot?: OpenSlot;
  readonly tuning?: Partial<OtaTuning>;
  readonly counters?: Counters;
  readonly log?: (line: string) => void;
  readonly monotonic?: () => Instant;
  readonly wallClock?: () => number;
}

interface RangeTransport {
  request(offset: number, length: number): void;
  cancel(): void;
}

interface ActiveDownload {
  readonly job: OtaJob;
  readonly partial: PartialDownload;
  readonly fetch: OtaFetch;
  readonly gate: OtaLinkGate;
  /** Set right after creation (the transport's callbacks need the download). */
  transport: RangeTransport;
  readonly throttle: ProgressThrottle;
  meteredBytes: number;
  checkpointAt: number;
  headChecked: boolean;
  connection: number | undefined;
  /** The link the transfer runs over while downloading. */
  carrier: LinkId | undefined;
  done: boolean;
  writes: Promise<void>;
}

interface Trial {
  readonly slot: SlotName;
  readonly gate: HealthGate;
  readonly subject: OtaStatusSubject;
  readonly confirmWithinSeconds: number;
}

/**
 * One per device. Create it, pass `OtaAgent.subscriptions` and `agent.handleMessage` to `FleetLink.start`,
 * then `start(fleetLinkChannel(link))`. On start it settles the boot (a trial is gated on broker + bindings;
 * a rollback or a commit that happened across the reboot is reported), resumes an interrupted download, and
 * then handles jobs. Everything it reports goes to `…/ota/status` through the durable outbox, so a result
 * reached just before a reboot is delivered on the next connection.
 */
export class OtaAgent {
  static subscriptions(topics: FleetTopics): readonly string[] {
    return [topics.otaJob, topics.otaChunk];
  }

  readonly counters: Counters;
  readonly #options: OtaAgentOptions;
  readonly #tuning: OtaTuning;
  readonly #state: OtaJobStateStore;
  readonly #log: (line: string) => void;
  readonly #now: () => Instant;
  readonly #wallClock: () => number;
  #channel: OtaChannel | undefined;
  readonly #early: [string, Uint8Array][] = [];
  #record: OtaRecord = { finished: [] };
  #download: ActiveDownload | undefined;
  #trial: Trial | undefined;
  #installing = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #healthTimer: ReturnType<typeof setInterval> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: OtaAgentOptions) {
    this.#options = options;
    this.#tuning = { ...DEFAULT_OTA_TUNING, ...options.tuning };
    this.#state = new OtaJobStateStore(options.stateDir);
    this.counters = options.counters ?? new Counters();
    this.#log = options.log ?? ((line) => console.error(line));
    const start = performance.now();
    this.#now = options.monotonic ?? (() => instant(Math.floor(performance.now() - start)));
    this.#wallClock = options.wallClock ?? (() => Date.now());
  }

  /** For `FleetLinkOptions.onMessage`: messages before `start` are kept and handled after it. */
  readonly handleMessage = (topic: string, payload: Uint8Array): void => {
    const channel = this.#channel;
    if (!channel) {
      this.#early.push([topic, payload.slice()]);
      return;
    }
    if (topic === channel.topics.otaJob) this.#serial(() => this.#handleJob(payload));
    else if (topic === channel.topics.otaChunk) this.#handleChunk(payload);
  };

  async start(channel: OtaChannel): Promise<void> {
    const record = this.#state.read();
    if (!record.ok) {
      this.#log(`ota: ${record.error}; starting with an empty record`);
      this.counters.increment("ota.record.unreadable");
    }
    this.#record = record.ok ? record.value : { finished: [] };
    this.#channel = channel;
    await this.#serial(() => this.#settleBoot());
    const current = this.#record.current;
    if (current?.phase === "downloading" && !this.#trial) await this.#serial(() => this.#startDownload(current.job, current.offset, current.meteredBytes));
    for (const [topic, payload] of this.#early.splice(0)) this.handleMessage(topic, payload);
  }

  /** The link set changed (handover, care-of address, bucket): re-decide now instead of at the next poll. */
  linksChanged(): void {
    this.#pump();
  }

  /** What `monami ota status` and telemetry show of the job in progress. */
  progress(): { readonly jobId: string; readonly received: number; readonly total: number; readonly paused: boolean } | undefined {
    const d = this.#download;
    return d ? { jobId: d.job.jobId, received: d.fetch.offset, total: d.job.size, paused: d.gate.decision.action === "pause" } : undefined;
  }

  get record(): OtaRecord {
    return this.#record;
  }

  /** Stops timers and transfers and waits for pending writes; the record keeps what is needed to resume. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    const d = this.#download;
    if (d && !d.done) {
      // Received bytes already queued are still written, then made durable, so a restart resumes after them.
      d.transport.cancel();
      this.#checkpoint(d);
      await d.writes;
      d.done = true;
      await d.partial.close();
    }
    await this.#chain.catch(() => undefined);
  }

  // -------------------------------------------------------------------------------------------
  // Boot settlement (RAUC's mark-good / rollback, reported over MQTT)
  // -------------------------------------------------------------------------------------------

  async #settleBoot(): Promise<void> {
    const current = this.#record.current;
    const confirmWithinSeconds = current?.job.confirmWithinSeconds ?? DEFAULT_CONFIRM_WITHIN_SECONDS;
    const outcome = await resolveBoot(this.#options.store, { now: this.#now(), confirmWithinMs: confirmWithinSeconds * 1000, checks: ["broker", "bindings"] });
    if (!outcome.ok) {
      this.counters.increment("ota.boot.unresolved");
      this.#log(`ota: cannot read the boot state: ${outcome.error}`);
      return;
    }
    // Without a record (an image installed with `monami ota install`), the version is read from the slot concerned.
    const concerned = outcome.value.kind === "rolled-back" ? outcome.value.failedSlot : outcome.value.slot;
    const subject = current ? { jobId: current.job.jobId, version: current.job.version } : { jobId: null, version: await this.#slotVersion(concerned) };
    switch (outcome.value.kind) {
      case "trial": {
        const { slot, gate } = outcome.value;
        this.#trial = { slot, gate, subject, confirmWithinSeconds };
        this.#log(`ota: trial boot of slot ${slot.toUpperCase()} (${subject.version ?? "?"}): confirming within ${confirmWithinSeconds}s`);
        this.#healthTimer = setInterval(() => this.#serial(() => this.#checkTrial()), this.#tuning.healthPollMs);
        return;
      }
      case "rolled-back": {
        const { slot, failedSlot } = outcome.value;
        const reason = current?.trialFailure ?? `slot ${failedSlot.toUpperCase()} never confirmed healthy; the boot counter returned to slot ${slot.toUpperCase()}`;
        this.counters.increment("ota.rolled-back");
        this.#finish(subject, { state: "rolled-back", slot: failedSlot, runningSlot: slot, reason });
        return;
      }
      case "normal":
        if (current?.phase !== "installed" || current.slot === undefined) return;
        if (outcome.value.slot === current.slot) {
          // Confirmed before the agent saw it (e.g. `monami ota mark-good`, or a crash right after commit).
          this.#finish(subject, { state: "committed", slot: current.slot });
        } else {
          const reason = current.trialFailure ?? `the device booted slot ${outcome.value.slot.toUpperCase()}, not the installed slot ${current.slot.toUpperCase()}`;
          this.#finish(subject, { state: "rolled-back", slot: current.slot, runningSlot: outcome.value.slot, reason });
        }
        return;
    }
  }

  async #checkTrial(): Promise<void> {
    const trial = this.#trial;
    if (!trial || this.#stopped) return;
    const now = this.#now();
    trial.gate.report("broker", this.#channel?.connection() !== undefined);
    trial.gate.report("bindings", this.#options.bindingsUp());
    const verdict = trial.gate.poll(now);
    if (verdict === "pending") return;
    this.#trial = undefined;
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    this.#healthTimer = undefined;
    if (verdict === "healthy") {
      const committed = await commitTrial(this.#options.store, trial.slot);
      if (!committed.ok) {
        this.#log(`ota: could not mark slot ${trial.slot.toUpperCase()} good: ${committed.error}`);
        this.counters.increment("ota.commit.failed");
        return;
      }
      this.counters.increment("ota.committed");
      this.#log(`ota: slot ${trial.slot.toUpperCase()} (${trial.subject.version ?? "?"}) confirmed healthy and committed`);
      this.#finish(trial.subject, { state: "committed", slot: trial.slot });
      return;
    }
    const reason = `health checks not passed within ${trial.confirmWithinSeconds}s: ${trial.gate.missing().join(", ")}`;
    this.#log(`ota: trial of slot ${trial.slot.toUpperCase()} failed (${reason}); rolling back`);
    this.counters.increment("ota.trial.failed");
    const current = this.#record.current;
    if (current) this.#save({ ...this.#record, current: { ...current, trialFailure: reason } });
    const rejected = await rejectTrial(this.#options.store, trial.slot);
    if (!rejected.ok) this.#log(`ota: could not mark slot ${trial.slot.toUpperCase()} bad (${rejected.error}); the boot counter still rolls back`);
    this.#options.reboot("ota-rollback");
  }

  // -------------------------------------------------------------------------------------------
  // Jobs
  // -------------------------------------------------------------------------------------------

  async #handleJob(payload: Uint8Array): Promise<void> {
    if (payload.length === 0) return; // a cleared retained job
    this.counters.increment("ota.job.received");
    const decoded = decodeOtaJob(payload);
    if (!decoded.ok) {
      this.counters.increment(`ota.job.${decoded.error.kind}`);
      const jobId = jobIdOf(payload);
      this.#publish({ jobId }, { state: "failed", reason: { kind: "bad-job", detail: `${decoded.error.kind}: ${decoded.error.detail}` } });
      return;
    }
    const job = decoded.value;
    const subject = { jobId: job.jobId, version: job.version };
    if (this.#record.finished.includes(job.jobId) || this.#record.current?.job.jobId === job.jobId) {
      this.counters.increment("ota.job.duplicate");
      return;
    }
    if (this.#trial || this.#installing || this.#record.current?.phase === "installed") {
      this.counters.increment("ota.job.busy");
      this.#publish(subject, { state: "failed", reason: { kind: "busy", detail: "an installed image has not been confirmed yet; send the job again after its result" } });
      return;
    }
    const previous = this.#download;
    if (previous) await this.#fail(previous, { kind: "superseded", detail: `replaced by job ${job.jobId}` });
    this.#log(`ota: job ${job.jobId}: version ${job.version}, ${job.size} bytes over ${job.source.kind}`);
    await this.#startDownload(job, 0, 0);
  }

  async #startDownload(job: OtaJob, offset: number, meteredBytes: number): Promise<void> {
    const subject = { jobId: job.jobId, version: job.version };
    const partial = await PartialDownload.open(this.#state.partialPath, offset);
    if (!partial.ok) {
      this.#finish(subject, { state: "failed", reason: { kind: "storage", detail: partial.error } });
      return;
    }
    const mqtt = job.source.kind === "mqtt";
    const fetch = new OtaFetch({
      size: job.size,
      offset: partial.value.offset,
      rangeBytes: job.source.kind === "mqtt" ? job.source.chunkBytes : this.#tuning.httpRangeBytes,
      window: mqtt ? this.#tuning.window : 1,
      requestTimeoutMs: this.#tuning.requestTimeoutMs,
      counters: this.counters,
    });
    const policy = otaDownloadPolicy(this.#options.imagePolicy, job.policy);
    const gate = new OtaLinkGate(policy, this.#tuning.resumeAfterMs, this.#options.links(), { meteredBytes });
    const download: ActiveDownload = {
      job,
      partial: partial.value,
      fetch,
      gate,
      transport: { request() {}, cancel() {} },
      throttle: new ProgressThrottle(),
      meteredBytes,
      checkpointAt: partial.value.offset,
      headChecked: false,
      connection: undefined,
      carrier: undefined,
      done: false,
      writes: Promise.resolve(),
    };
    download.transport = this.#transport(download);
    this.#download = download;
    if (partial.value.offset > 0) {
      this.counters.increment("ota.download.resumed");
      this.#log(`ota: job ${job.jobId}: resuming at byte ${partial.value.offset} of ${job.size}`);
    }
    this.#save({ ...this.#record, current: { job, phase: "downloading", offset: partial.value.offset, meteredBytes } });
    download.writes = download.writes.then(() => this.#checkHead(download));
    if (fetch.complete) download.writes = download.writes.then(() => void this.#serial(() => this.#finishDownload(download)));
    this.#pump();
  }

  #transport(d: ActiveDownload): RangeTransport {
    const source = d.job.source;
    if (source.kind === "mqtt") {
      return {
        request: (offset, length) => {
          const topic = this.#channel?.topics.otaChunkRequest;
          if (topic && this.#channel?.publishVolatile(topic, encodeChunkRequest({ jobId: d.job.jobId, offset, length }))) this.counters.increment("ota.chunk.requested");
        },
        cancel: () => {},
      };
    }
    const http = new HttpRangeSource(
      source.url,
      { size: d.job.size, ...(this.#options.httpCa ? { ca: this.#options.httpCa } : {}) },
      {
        onData: (offset, bytes) => this.#onData(d, offset, bytes),
        onError: (permanent, detail) => {
          this.counters.increment(permanent ? "ota.http.refused" : "ota.http.error");
          if (permanent) void this.#serial(() => this.#fail(d, { kind: "source-unavailable", detail }));
          else this.#log(`ota: ${detail} (will retry)`);
        },
      },
    );
    return { request: (offset, length) => http.request(offset, length), cancel: () => http.cancel() };
  }

  #handleChunk(payload: Uint8Array): void {
    const view = ChunkView.parse(payload);
    if (!view.ok) {
      this.counters.increment(otaChunkErrorCounter(view.error));
      return;
    }
    const d = this.#download;
    const chunk = view.value;
    if (!d || d.done || d.job.source.kind !== "mqtt" || chunk.jobId !== d.job.jobId) {
      this.counters.increment("ota.chunk.unexpected");
      return;
    }
    if (chunk.status !== "data" || chunk.imageSize !== d.job.size) {
      const detail = chunk.status !== "data" ? `the fleet answered '${chunk.status}' for job ${d.job.jobId}` : `the fleet serves ${chunk.imageSize} bytes for this job, the job says ${d.job.size}`;
      void this.#serial(() => this.#fail(d, { kind: "source-unavailable", detail }));
      return;
    }
    this.#onData(d, chunk.offset, chunk.data);
  }

  #onData(d: ActiveDownload, offset: number, bytes: Uint8Array): void {
    if (d.done || this.#stopped) return;
    this.counters.increment("ota.download.bytes", bytes.length);
    const pieces = d.fetch.handleData(offset, bytes, this.#now());
    for (const piece of pieces) {
      const copy = piece.slice();
      d.writes = d.writes.then(async () => {
        if (d.done) return;
        const appended = await d.partial.append(copy);
        if (!appended.ok) return void this.#serial(() => this.#fail(d, { kind: "storage", detail: appended.error }));
        if (!d.headChecked) await this.#checkHead(d);
      });
    }
    if (pieces.length === 0) return;
    const now = this.#now();
    if (d.throttle.due(d.fetch.offset, d.job.size, now)) this.#publishProgress(d);
    if (d.fetch.offset - d.checkpointAt >= this.#tuning.checkpointBytes) this.#checkpoint(d);
    if (d.fetch.complete) d.writes = d.writes.then(() => void this.#serial(() => this.#finishDownload(d)));
    this.#pump();
  }

  /** fsync the partial file, then record the offset (never the other way round). */
  #checkpoint(d: ActiveDownload): void {
    const at = d.fetch.offset;
    d.checkpointAt = at;
    d.writes = d.writes.then(async () => {
      if (this.#download !== d) return;
      const synced = await d.partial.sync();
      if (!synced.ok) return;
      const current = this.#record.current;
      if (current?.job.jobId === d.job.jobId && current.phase === "downloading") this.#save({ ...this.#record, current: { ...current, offset: d.partial.offset, meteredBytes: d.meteredBytes } });
    });
  }

  /**
   * Verifies the image head as soon as it is on disk, so a wrong key, board or downgrade is refused before
   * the rest is fetched. Runs in the write chain; a refusal is handed to the job chain (never awaited here).
   */
  async #checkHead(d: ActiveDownload): Promise<void> {
    if (d.done || d.headChecked || d.partial.offset === 0) return;
    const failure = await this.#headFailure(d);
    if (failure === "incomplete") return;
    d.headChecked = true;
    if (failure) void this.#serial(() => this.#fail(d, failure));
  }

  async #headFailure(d: ActiveDownload): Promise<OtaFailure | "incomplete" | undefined> {
    const head = await readImageHead(d.partial.path);
    if (!head.ok) {
      if (head.error.kind === "bad-image" && head.error.error.kind === "truncated" && d.partial.offset < d.job.size) return "incomplete";
      return refusalFailure(head.error);
    }
    const installed = await this.#installedSecurityVersion();
    const verified = verifyHead(head.value, this.#options.trusted, { board: this.#options.board.name, installedSecurityVersion: installed });
    if (!verified.ok) return refusalFailure(verified.error);
    if (head.value.imageLength !== d.job.size) return { kind: "download-corrupt", detail: `the signed image is ${head.value.imageLength} bytes, the job says ${d.job.size}` };
    if (head.value.manifest.version !== d.job.version) {
      return { kind: "version-mismatch", detail: `the signed manifest is version ${head.value.manifest.version}, the job says ${d.job.version}` };
    }
    if (d.job.securityVersion !== undefined && head.value.manifest.securityVersion !== d.job.securityVersion) {
      return { kind: "version-mismatch", detail: `the signed manifest has security version ${head.value.manifest.securityVersion}, the job says ${d.job.securityVersion}` };
    }
    return undefined;
  }

  /** One step of the download loop: policy, liveness of the transport, timeouts, requests, next wake-up. */
  #pump(): void {
    const d = this.#download;
    if (!d || d.done || this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = this.#now();
    d.gate.update(this.#options.links(), { meteredBytes: d.meteredBytes }, now);
    for (let change = d.gate.pollChange(); change; change = d.gate.pollChange()) this.#onDecision(d, change);
    const decision = d.gate.decision;
    if (decision.action === "download") d.fetch.setAllowance(decision.allowanceBytes, decision.maxBytesPerSecond);
    else d.fetch.setAllowance(0, undefined);

    const connection = d.job.source.kind === "mqtt" ? this.#channel?.connection() : 0;
    if (connection !== d.connection) {
      // A new MQTT connection (reconnect, care-of address change): replies to earlier requests will not come.
      d.fetch.handleDisconnect();
      d.connection = connection;
    }
    d.fetch.handleTimeout(now);
    if (connection !== undefined && !d.fetch.complete) {
      for (let r = d.fetch.pollTransmit(now); r; r = d.fetch.pollTransmit(now)) {
        if (decision.action === "download" && decision.metered) d.meteredBytes += r.length;
        d.transport.request(r.offset, r.length);
      }
    }
    const next = earliest(earliest(d.fetch.pollTimeout(), d.gate.pollTimeout()), later(now, this.#tuning.linkPollMs))!;
    this.#timer = setTimeout(() => this.#pump(), Math.max(1, next - this.#now()));
  }

  #onDecision(d: ActiveDownload, decision: OtaDownloadDecision): void {
    if (decision.action === "pause") {
      d.carrier = undefined;
      this.counters.increment(`ota.download.paused.${decision.reason}`);
      this.#log(`ota: job ${d.job.jobId} paused: ${decision.detail}`);
      d.transport.cancel();
      d.fetch.handleDisconnect();
      d.throttle.reset();
      this.#checkpoint(d);
      this.#publish(subjectOf(d.job), {
        state: "paused",
        received: d.fetch.offset,
        total: d.job.size,
        percent: percentOf(d.fetch.offset, d.job.size),
        reason: decision.reason,
        detail: decision.detail,
        link: decision.link,
      });
      return;
    }
    if (d.carrier !== undefined && d.carrier !== decision.link) {
      // Another uplink (care-of address) carries the transfer now: requests in flight went out on the old one.
      d.transport.cancel();
      d.fetch.handleDisconnect();
    }
    d.carrier = decision.link;
    this.#log(`ota: job ${d.job.jobId} downloading over ${decision.link}${decision.metered ? ` (metered${decision.allowanceBytes !== undefined ? `, ${decision.allowanceBytes} bytes allowed` : ""})` : ""}`);
    d.throttle.reset();
    d.throttle.due(d.fetch.offset, d.job.size, this.#now());
    this.#publishProgress(d);
  }

  #publishProgress(d: ActiveDownload): void {
    const decision = d.gate.decision;
    this.#publish(subjectOf(d.job), {
      state: "downloading",
      received: d.fetch.offset,
      total: d.job.size,
      percent: percentOf(d.fetch.offset, d.job.size),
      link: decision.link,
      source: d.job.source.kind,
    });
  }

  async #finishDownload(d: ActiveDownload): Promise<void> {
    if (d.done || this.#download !== d) return;
    await d.writes;
    if (d.done) return;
    d.done = true;
    if (this.#timer) clearTimeout(this.#timer);
    d.transport.cancel();
    const subject = subjectOf(d.job);
    const synced = await d.partial.sync();
    if (!synced.ok) return this.#fail(d, { kind: "storage", detail: synced.error });
    this.#publish(subject, { state: "verifying" });
    const digest = d.partial.digest();
    if (d.partial.offset !== d.job.size || digest !== d.job.sha256) {
      return this.#fail(d, { kind: "download-corrupt", detail: `downloaded ${d.partial.offset} bytes with SHA-256 ${digest}; the job says ${d.job.size} bytes with ${d.job.sha256}` });
    }
    this.counters.increment("ota.download.complete");
    await d.partial.close();
    this.#download = undefined;
    this.#installing = true;
    let wrote = false;
    const onState = (state: InstallState): void => {
      if (state.phase === "downloading" && !wrote) {
        wrote = true;
        this.#publish(subject, { state: "installing", step: "writing" });
      } else if (state.phase === "verifying") this.#publish(subject, { state: "installing", slot: state.slot, step: "read-back" });
      else if (state.phase === "installing") this.#publish(subject, { state: "installing", slot: state.slot, step: "marking" });
    };
    const installed = await installImage(fileChunks(d.partial.path), {
      board: this.#options.board,
      store: this.#options.store,
      trusted: this.#options.trusted,
      expectedLength: d.job.size,
      onState,
      ...(this.#options.openSlot ? { openSlot: this.#options.openSlot } : {}),
    });
    this.#installing = false;
    await d.partial.remove();
    if (!installed.ok) {
      this.counters.increment(`ota.install.refused.${installed.error.kind}`);
      this.#finish(subject, { state: "failed", reason: refusalFailure(installed.error) });
      return;
    }
    const slot = installed.value.slot;
    this.#save({ ...this.#record, current: { job: d.job, phase: "installed", offset: d.job.size, meteredBytes: d.meteredBytes, slot } });
    this.counters.increment("ota.installed");
    this.#log(`ota: job ${d.job.jobId}: ${d.job.version} installed in slot ${slot.toUpperCase()}; rebooting to try it once`);
    this.#publish(subject, { state: "rebooting", slot });
    this.#options.reboot("ota-install");
  }

  /** Ends the download as failed: transfers stop, pending writes are skipped, the partial file goes. Never awaits the write chain. */
  async #fail(d: ActiveDownload, failure: OtaFailure): Promise<void> {
    if (this.#download !== d) return;
    d.done = true;
    this.#download = undefined;
    if (this.#timer) clearTimeout(this.#timer);
    d.transport.cancel();
    await d.partial.remove();
    this.counters.increment(`ota.failed.${failure.kind}`);
    this.#log(`ota: job ${d.job.jobId} failed: ${failure.kind}: ${failure.detail}`);
    this.#finish(subjectOf(d.job), { state: "failed", reason: failure });
  }

  // -------------------------------------------------------------------------------------------
  // Record and status
  // -------------------------------------------------------------------------------------------

  /** Ends the current job with a final status: recorded as finished (a redelivered job is ignored) and published. */
  #finish(subject: OtaStatusSubject, status: Extract<OtaStatus, { state: "committed" | "rolled-back" | "failed" }>): void {
    const detail = status.state === "failed" ? `${status.reason.kind}: ${status.reason.detail}` : status.state === "rolled-back" ? status.reason : undefined;
    const last: OtaOutcome = { jobId: subject.jobId, version: subject.version, state: status.state, detail, at: this.#wallClock() };
    const finished = subject.jobId !== null && !this.#record.finished.includes(subject.jobId) ? [...this.#record.finished, subject.jobId] : this.#record.finished;
    this.#save({ finished, last });
    this.#publish(subject, status);
  }

  #save(record: OtaRecord): void {
    this.#record = record;
    const written = this.#state.write(record);
    if (!written.ok) {
      this.counters.increment("ota.record.write-failed");
      this.#log(`ota: ${written.error}`);
    }
  }

  #publish(subject: OtaStatusSubject, status: OtaStatus): void {
    const channel = this.#channel;
    if (!channel) return;
    this.counters.increment(`ota.status.${status.state}`);
    channel.publishDurable(channel.topics.otaStatus, true, (stamp) => otaStatusPayload(stamp, subject, status));
  }

  /** Runs `step` after every earlier one (jobs, chunk failures and finishing never interleave). */
  #serial(step: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(step, step);
    this.#chain = run.catch((error) => {
      this.counters.increment("ota.internal-error");
      this.#log(`ota: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    });
    return this.#chain;
  }

  async #installedSecurityVersion(): Promise<number> {
    const booted = await this.#options.store.bootedSlot();
    const state = await this.#options.store.read();
    const active: SlotName | undefined = booted.ok ? booted.value : state.ok ? state.value.order[0] : undefined;
    if (!active) return 0;
    const head = await readImageHead(this.#options.board.slots[active].device);
    return head.ok ? head.value.manifest.securityVersion : 0;
  }

  async #slotVersion(slot: SlotName): Promise<string | undefined> {
    const head = await readImageHead(this.#options.board.slots[slot].device);
    return head.ok ? head.value.manifest.version : undefined;
  }
}

function subjectOf(job: OtaJob): OtaStatusSubject {
  return { jobId: job.jobId, version: job.version };
}

function refusalFailure(refusal: Refusal): OtaFailure {
  return { kind: refusal.kind, detail: formatRefusal(refusal) };
}

/** The job id of a refused job document, when it can be read at all (so the fleet can match the failure). */
function jobIdOf(payload: Uint8Array): string | null {
  try {
    const json = JSON.parse(new TextDecoder().decode(payload)) as { jobId?: unknown };
    return typeof json.jobId === "string" && /^[A-Za-z0-9._-]{1,64}$/.test(json.jobId) ? json.jobId : null;
  } catch {
    return null;
  }
}
