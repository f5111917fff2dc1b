// The mwan3-like baseline: mwan3track's ping rounds and score (down/up counters) per interface, on virtual time.

import type { LinkId } from "../board/api/link-metrics.ts";

/** mwan3track options that matter here (names as in /etc/config/mwan3; times in seconds). */
export interface Mwan3Settings {
  readonly trackIps: number;
  readonly reliability: number;
  readonly count: number;
  readonly timeoutS: number;
  readonly intervalS: number;
  readonly failureIntervalS: number;
  readonly recoveryIntervalS: number;
  readonly down: number;
  readonly up: number;
  /** `initial_state online`: an interface that comes up (ifup hotplug) is used at once. */
  readonly initialOnline: boolean;
  /** One ICMP echo on the wire: 56 data + 8 ICMP + 20 IPv4. */
  readonly pingBytes: number;
}

/** The shipped example config (net/mwan3/files/etc/config/mwan3): 2 track IPs, reliability 1, count 1, timeout 2, interval 5, down 3, up 8. */
export const MWAN3_EXAMPLE: Mwan3Settings = {
  trackIps: 2,
  reliability: 1,
  count: 1,
  timeoutS: 2,
  intervalS: 5,
  failureIntervalS: 5,
  recoveryIntervalS: 5,
  down: 3,
  up: 8,
  initialOnline: true,
  pingBytes: 84,
};

/** mwan3track's built-in defaults (timeout 4, interval 10, down 5, up 5), for comparison runs. */
export const MWAN3_TRACKER_DEFAULTS: Mwan3Settings = { ...MWAN3_EXAMPLE, timeoutS: 4, intervalS: 10, failureIntervalS: 10, recoveryIntervalS: 10, down: 5, up: 5 };

type Fate = (at: number) => { lost: true } | { lost: false; rttMs: number };

/**
 * One tracked interface. A round pings each track IP in turn (each ping waits up to `timeout`);
 * the round succeeds when at least `reliability` hosts answered. Score starts at down+up; a failed
 * round decrements it and reaching `up` fires ifdown (score 0); successful rounds count back up and
 * reaching `up` fires ifup. A link-layer loss (carrier/association/service) is an ifdown hotplug at once.
 */
export class Mwan3Tracker {
  readonly link: LinkId;
  readonly #s: Mwan3Settings;
  readonly #fate: Fate;
  online = false;
  score = 0;
  wireBytes = 0;
  #ifUp = false;
  #nextRoundAt = 0;
  #result: { at: number; success: boolean } | undefined;

  constructor(link: LinkId, settings: Mwan3Settings, fate: Fate) {
    this.link = link;
    this.#s = settings;
    this.#fate = fate;
  }

  advance(t: number, linkUp: boolean): void {
    const s = this.#s;
    if (!linkUp) {
      this.#ifUp = false;
      this.online = false;
      this.#result = undefined;
      return;
    }
    if (!this.#ifUp) {
      this.#ifUp = true;
      this.online = s.initialOnline;
      this.score = s.initialOnline ? s.down + s.up : 0;
      this.#nextRoundAt = t;
    }
    for (;;) {
      if (this.#result && this.#result.at <= t) {
        this.#apply(this.#result.success);
        this.#result = undefined;
      }
      if (this.#result || this.#nextRoundAt > t) return;
      this.#round(this.#nextRoundAt);
    }
  }

  #round(start: number): void {
    const s = this.#s;
    let at = start;
    let hostsUp = 0;
    for (let host = 0; host < s.trackIps; host++) {
      let answered = 0;
      for (let i = 0; i < s.count; i++) {
        this.wireBytes += s.pingBytes;
        const fate = this.#fate(at);
        if (!fate.lost && fate.rttMs <= s.timeoutS * 1000) {
          this.wireBytes += s.pingBytes;
          answered++;
          at += fate.rttMs;
        } else at += s.timeoutS * 1000;
      }
      if (answered > 0) hostsUp++;
    }
    const success = hostsUp >= s.reliability;
    this.#result = { at, success };
    const sleep = success ? (this.online ? s.intervalS : s.recoveryIntervalS) : s.failureIntervalS;
    this.#nextRoundAt = at + sleep * 1000;
  }

  #apply(success: boolean): void {
    const s = this.#s;
    if (success) {
      if (this.score < s.down + s.up) this.score++;
      if (!this.online && this.score >= s.up) {
        this.online = true;
        this.score = s.down + s.up;
      }
      return;
    }
    if (this.score > 0) this.score--;
    if (this.online && this.score <= s.up) {
      this.online = false;
      this.score = 0;
    }
  }
}
