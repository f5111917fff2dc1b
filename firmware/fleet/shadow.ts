// Device-shadow version logic: desired documents carry a monotonically increasing version; older ones are refused.

/** The last desired document this device processed (whatever its outcome); persisted across restarts. */
export interface ShadowRecord {
  readonly version: number;
  /** Digest of the signed message (see desired-codec), to tell a harmless redelivery from a replay. */
  readonly digest: string;
}

/**
 * - `new`: above every version processed so far: go ahead.
 * - `duplicate`: the very document processed last (a retained message redelivered after reconnect): ignore quietly.
 * - `stale`: not above the last version with different content, or older: refuse (stale or replayed).
 */
export type VersionVerdict = "new" | "duplicate" | "stale";

export function judgeVersion(last: ShadowRecord | undefined, version: number, digest: string): VersionVerdict {
  if (last === undefined || version > last.version) return "new";
  if (version === last.version && digest === last.digest) return "duplicate";
  return "stale";
}
