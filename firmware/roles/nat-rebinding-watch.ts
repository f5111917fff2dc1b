// Suspected NAT rebinding on an IPv4 care-of address: we keep sending on the uplink but nothing authenticated comes back (sans-IO).

import type { Instant } from "../core/instant.ts";

/** Defaults: the uplink is silent this long while we sent; one refresh per hold-off at most. */
export const NAT_REBINDING_SILENCE_MS = 250;
export const NAT_REBINDING_HOLDOFF_MS = 1_000;
/** Packets sent since the last authenticated one received before the silence counts (not one stray packet). */
export const NAT_REBINDING_MIN_SENT = 3;

interface UplinkState {
  rx: number;
  rxChangedAt: Instant;
  txAtRx: number;
  triggeredAt: number;
}

/**
 * Fed with per-uplink counters (authenticated packets received, packets sent) and the time; says when an
 * uplink should refresh its registration (RFC 5555 §4.1) so the home agent learns a NAT's new mapping from
 * an authenticated BU: when at least NAT_REBINDING_MIN_SENT packets left since the last authenticated one
 * arrived and that was `silenceMs` ago. A NAT that only changed the port heals without it (the home agent
 * learns the port from authenticated ESP); a new public address needs the BU. Spurious calls are harmless.
 */
export class NatRebindingWatch {
  readonly #silenceMs: number;
  readonly #holdoffMs: number;
  readonly #uplinks = new Map<number, UplinkState>();

  constructor(silenceMs = NAT_REBINDING_SILENCE_MS, holdoffMs = NAT_REBINDING_HOLDOFF_MS) {
    this.#silenceMs = silenceMs;
    this.#holdoffMs = holdoffMs;
  }

  /** One sample of `uplink`; `watched`: its IPv4 CoA is registered and the link is up. True: refresh now. */
  sample(uplink: number, rx: number, tx: number, watched: boolean, now: Instant): boolean {
    let s = this.#uplinks.get(uplink);
    if (s === undefined || !watched) {
      this.#uplinks.set(uplink, { rx, rxChangedAt: now, txAtRx: tx, triggeredAt: s?.triggeredAt ?? -Infinity });
      return false;
    }
    if (rx !== s.rx) {
      s.rx = rx;
      s.rxChangedAt = now;
      s.txAtRx = tx;
      return false;
    }
    if (tx - s.txAtRx < NAT_REBINDING_MIN_SENT || now - s.rxChangedAt < this.#silenceMs || now - s.triggeredAt < this.#holdoffMs) return false;
    s.triggeredAt = now;
    return true;
  }
}
