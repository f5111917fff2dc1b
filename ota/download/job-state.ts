// The device's OTA record across restarts and reboots: the current job, its download checkpoint, the slot awaiting a trial boot, the last outcome.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import { encodeOtaJob, validateOtaJob, type OtaJob } from "../../firmware/fleet/ota-job.ts";
import type { SlotName } from "../../board/api/board.ts";

/** Finished job ids remembered, so a retained job redelivered after a reconnect is not run again. */
const FINISHED_KEPT = 32;

export type OtaRecordPhase =
  /** Fetching the image; `offset` bytes of the partial file are on stable storage. */
  | "downloading"
  /** Written to `slot` and marked try-once: the next boot is the trial. */
  | "installed";

export interface OtaCurrent {
  readonly job: OtaJob;
  readonly phase: OtaRecordPhase;
  readonly offset: number;
  /** Bytes requested over metered links for this job (the byte budget counts these). */
  readonly meteredBytes: number;
  readonly slot?: SlotName | undefined;
  /** Set by a trial boot that failed its health gate, just before it rolls back: the reason reported afterwards. */
  readonly trialFailure?: string | undefined;
}

export interface OtaOutcome {
  readonly jobId: string | null;
  readonly version?: string | undefined;
  readonly state: "committed" | "rolled-back" | "failed";
  readonly detail?: string | undefined;
  /** Wall-clock milliseconds. */
  readonly at: number;
}

export interface OtaRecord {
  readonly current?: OtaCurrent | undefined;
  readonly finished: readonly string[];
  readonly last?: OtaOutcome | undefined;
}

const Slot = v.picklist(["a", "b"]);
const RecordSchema = v.object({
  current: v.optional(
    v.object({
      job: v.unknown(),
      phase: v.picklist(["downloading", "installed"]),
      offset: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
      meteredBytes: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
      slot: v.optional(Slot),
      trialFailure: v.optional(v.string()),
    }),
  ),
  finished: v.array(v.string()),
  last: v.optional(
    v.object({
      jobId: v.nullable(v.string()),
      version: v.optional(v.string()),
      state: v.picklist(["committed", "rolled-back", "failed"]),
      detail: v.optional(v.string()),
      at: v.number(),
    }),
  ),
});

/** `state.json` in the OTA state directory (on the data partition, outside both slots), replaced atomically. */
export class OtaJobStateStore {
  readonly dir: string;
  readonly path: string;

  constructor(dir: string) {
    this.dir = dir;
    this.path = join(dir, "state.json");
  }

  /** Where the partial image of the current job lives. */
  get partialPath(): string {
    return join(this.dir, "image.part");
  }

  /** The record; a missing file is an empty record, an unreadable one an error (the caller starts afresh). */
  read(): Result<OtaRecord, string> {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return ok({ finished: [] });
      return err(`${this.path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return err(`${this.path}: not JSON`);
    }
    const parsed = v.safeParse(RecordSchema, json);
    if (!parsed.success) return err(`${this.path}: ${parsed.issues[0]?.message ?? "invalid record"}`);
    const r = parsed.output;
    let current: OtaCurrent | undefined;
    if (r.current) {
      const job = validateOtaJob(r.current.job);
      if (!job.ok) return err(`${this.path}: stored job: ${job.error.detail}`);
      current = { ...r.current, job: job.value };
    }
    return ok({ finished: r.finished, ...(current ? { current } : {}), ...(r.last ? { last: r.last } : {}) });
  }

  write(record: OtaRecord): Result<void, string> {
    const body = {
      finished: record.finished.slice(-FINISHED_KEPT),
      ...(record.current ? { current: { ...record.current, job: JSON.parse(encodeOtaJob(record.current.job)) as unknown } } : {}),
      ...(record.last ? { last: record.last } : {}),
    };
    return replaceAtomically(this.path, `${JSON.stringify(body, null, 2)}\n`);
  }
}

/** Write a temp file, fsync, rename over `path`, fsync the directory: after a crash the old or the new text is read. */
function replaceAtomically(path: string, text: string): Result<void, string> {
  const dir = join(path, "..");
  const temp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    const fd = openSync(temp, "w", 0o640);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    const dirFd = openSync(dir, "r");
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return ok(undefined);
  } catch (error) {
    return err(`${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
