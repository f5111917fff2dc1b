// Link profiles of the lab's access networks: per-direction delay, jitter, loss, rate, queue and reordering.

/** One direction of an emulated link. All fields are required so a profile is never half-specified. */
export interface PathProfile {
  /** One-way propagation delay added to every packet, in milliseconds. */
  readonly delayMs: number;
  /** Uniform jitter in [-jitterMs, +jitterMs] around `delayMs`; it never reorders packets by itself. */
  readonly jitterMs: number;
  /** Probability in [0, 1] that a packet is lost after it crossed the shaper. */
  readonly lossProbability: number;
  /** Token-bucket rate in bits per second; 0 means unlimited (no shaper). */
  readonly rateBitsPerSecond: number;
  /** Token-bucket depth in bytes: how much may leave back to back after an idle period. */
  readonly burstBytes: number;
  /** Shaper queue bound in bytes; a packet that would exceed it is tail-dropped. */
  readonly queueBytes: number;
  /** Probability in [0, 1] that a packet skips the delay line and overtakes those in flight (netem's model). */
  readonly reorderProbability: number;
}

/** Both directions of an access link, seen from the mobile router: uplink = mr → network. */
export interface LinkProfile {
  readonly uplink: PathProfile;
  readonly downlink: PathProfile;
}

/**
 * Named profiles. `off` is not an emulator setting: it routes the link around the emulator entirely
 * (plain kernel forwarding, for benchmarks). `ideal` goes through the emulator without impairment.
 */
export type ProfileName = "lte" | "wifi" | "ideal" | "off";

export function symmetric(path: PathProfile): LinkProfile {
  return { uplink: path, downlink: path };
}

const LTE_PATH: PathProfile = {
  delayMs: 40,
  jitterMs: 10,
  lossProbability: 0.005,
  rateBitsPerSecond: 20_000_000,
  burstBytes: 16 * 1024,
  queueBytes: 256 * 1024,
  reorderProbability: 0,
};

const WIFI_PATH: PathProfile = {
  delayMs: 5,
  jitterMs: 0,
  lossProbability: 0.001,
  rateBitsPerSecond: 100_000_000,
  burstBytes: 64 * 1024,
  queueBytes: 256 * 1024,
  reorderProbability: 0,
};

const IDEAL_PATH: PathProfile = {
  delayMs: 0,
  jitterMs: 0,
  lossProbability: 0,
  rateBitsPerSecond: 0,
  burstBytes: 0,
  queueBytes: 0,
  reorderProbability: 0,
};

export const LINK_PROFILES: Readonly<Record<Exclude<ProfileName, "off">, LinkProfile>> = {
  lte: symmetric(LTE_PATH),
  wifi: symmetric(WIFI_PATH),
  ideal: symmetric(IDEAL_PATH),
};

export function isProfileName(name: string): name is ProfileName {
  return name === "off" || Object.hasOwn(LINK_PROFILES, name);
}

/** Describes the impairments of a path in one short line, for logs and the CLI. */
export function describePath(p: PathProfile): string {
  const rate = p.rateBitsPerSecond === 0 ? "unlimited" : `${p.rateBitsPerSecond / 1e6} Mbit/s`;
  const parts = [`${p.delayMs} ms ± ${p.jitterMs} ms`, `${(p.lossProbability * 100).toFixed(2)} % loss`, rate];
  if (p.reorderProbability > 0) parts.push(`${(p.reorderProbability * 100).toFixed(1)} % reorder`);
  return parts.join(", ");
}
