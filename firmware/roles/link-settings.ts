// The link engine's settings from the device configuration: uplink kinds, preference and price, probe rates, hysteresis, dwell and budget.

import { linkId, type LinkKind } from "../../board/api/link-metrics.ts";
import type { DeviceConfig, UplinkConfig } from "../config/schema.ts";
import { DEFAULT_LINK_POLICY_CONFIG, defaultLinkConfig, type LinkConfig, type LinkPolicyConfig } from "../links/config.ts";

/** The kind of an uplink from its driver; a simulated uplink's name says what it stands for (`sim-lte0`, `sim-wifi0`). */
export function uplinkKind(uplink: UplinkConfig): LinkKind {
  switch (uplink.driver.kind) {
    case "cellular":
      return "cellular";
    case "wifi":
      return "wifi";
    case "ethernet":
      return "wired";
    case "simulated":
      return /lte|5g|nr|cell|wwan/i.test(uplink.driver.name) ? "cellular" : /wifi|wlan/i.test(uplink.driver.name) ? "wifi" : "wired";
  }
}

/** Points per priority step: `priority` 0-255, lower preferred, 10 by default (= the kind's own preference). */
const PREFERENCE_PER_PRIORITY_STEP = 2;

/**
 * One uplink's `LinkConfig`: the kind's starting preference moved by `priority`, and the price per GB
 * from `costPerMegabyte` (× 1024).
 */
export function linkConfigOf(uplink: UplinkConfig): LinkConfig {
  const kind = uplinkKind(uplink);
  const base = defaultLinkConfig(linkId(uplink.id), kind);
  return { ...base, preference: base.preference + (10 - uplink.priority) * PREFERENCE_PER_PRIORITY_STEP, costPerGb: uplink.costPerMegabyte * 1024 };
}

/**
 * The policy from `selection` and the uplinks' probe settings:
 * - probes: the active rate is the fastest `probeIntervalMs` of the enabled uplinks (standby 5×, idle 15×;
 *   the loss-triggered fast rate is never slower than it), the adaptive reply timeout (SRTT + 4·RTTVAR) lies
 *   between the smallest and the largest `probeTimeoutMs` (and the defaults' bounds where those are tighter);
 * - health: `downCount` losses among the last `downCount + 2` probes = down (N-of-M), `upCount` answers to
 *   recover, held `recoveryHoldMs` × the flap-damping factor after a failure, RTT and loss thresholds with
 *   their hysteresis band;
 * - switching: `minimumDwellMs`, `maxSwitchesPerWindow` per `switchWindowSeconds`;
 * - `policy`: `priority` (defaults), `lowest-rtt` (probe quality weighs more than radio),
 *   `cost-aware` (price weighs four times more), `weighted` (defaults; weights apply to multi-CoA flows).
 */
export function linkPolicyOf(config: DeviceConfig): LinkPolicyConfig {
  const d = DEFAULT_LINK_POLICY_CONFIG;
  const s = config.selection;
  const enabled = config.uplinks.filter((u) => u.enabled);
  const interval = Math.min(...enabled.map((u) => u.probeIntervalMs), d.probe.activeIntervalMs * 60);
  const timeouts = enabled.map((u) => u.probeTimeoutMs);
  const minTimeout = Math.min(d.probe.minTimeoutMs, ...timeouts);
  const timeout = Math.max(d.probe.minTimeoutMs, ...timeouts);
  const weights =
    s.policy === "lowest-rtt"
      ? { ...d.weights, radio: 0.1, probe: 0.9 }
      : s.policy === "cost-aware"
        ? { ...d.weights, costPointsPerCurrencyPerGb: d.weights.costPointsPerCurrencyPerGb * 4 }
        : d.weights;
  return {
    ...d,
    mode: config.ipsec.multiCoaMode === "primary" ? "primary" : "multi",
    probe: {
      ...d.probe,
      activeIntervalMs: interval,
      standbyIntervalMs: interval * 5,
      idleIntervalMs: interval * 15,
      fastIntervalMs: Math.min(d.probe.fastIntervalMs, interval),
      minTimeoutMs: minTimeout,
      maxTimeoutMs: timeout,
    },
    health: {
      ...d.health,
      failWindow: { failures: s.downCount, of: s.downCount + 2 },
      recoverProbes: s.upCount,
      recoverHoldMs: s.recoveryHoldMs,
      failRttMs: s.failureRttMs,
      recoverRttMs: s.recoveryRttMs,
      failLossRatio: s.failureLossPercent / 100,
      recoverLossRatio: s.recoveryLossPercent / 100,
    },
    switching: { ...d.switching, minDwellMs: s.minimumDwellMs, budget: { maxSwitches: s.maxSwitchesPerWindow, windowMs: s.switchWindowSeconds * 1000 } },
    weights,
  };
}
