// The flashing audit log: one JSON line per flash attempt (who, when, what, where, result), uploaded by the router later.

import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";

export interface AuditEntry {
  /** UTC ISO 8601. */
  readonly time: string;
  readonly technician: string;
  readonly host: string;
  readonly tool: string;
  readonly image: string;
  readonly imageSha256?: string;
  readonly version?: string;
  readonly securityVersion?: number;
  readonly buildId?: string;
  readonly board?: string;
  readonly target: string;
  readonly result: "flashed" | "refused" | "failed";
  readonly reason?: string;
  readonly bytes?: number;
}

/** Appends one entry and fsyncs, so an entry survives an unplugged laptop. */
export function appendAuditEntry(path: string, entry: AuditEntry): void {
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, `${JSON.stringify(entry)}\n`, { mode: 0o640 });
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The default log location: `$XDG_STATE_HOME/monami/flash-audit.jsonl` (or `~/.local/state/...`). */
export function defaultAuditPath(env: Record<string, string | undefined> = process.env): string {
  const base = env["XDG_STATE_HOME"] ?? `${env["HOME"] ?? "."}/.local/state`;
  return `${base}/monami/flash-audit.jsonl`;
}
