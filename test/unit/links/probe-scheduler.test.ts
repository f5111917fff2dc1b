// Probe scheduler on virtual time: adaptive interval, loss-triggered fast rate, timeouts, window statistics, bytes per day.
import { describe, expect, test } from "bun:test";
import { linkId } from "../../../board/api/link-metrics.ts";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant, VirtualClock } from "../../../firmware/core/instant.ts";
import { DEFAULT_PROBE_CONFIG } from "../../../firmware/links/config.ts";
import { probeBytesPerDay, ProbeScheduler } from "../../../firmware/links/probe-scheduler.ts";

const LINK = linkId("lte0");

/** Runs the scheduler for `ms`, answering each probe after `rtt(seq)` ms (undefined = lost). Returns send times. */
function drive(s: ProbeScheduler, clock: VirtualClock, ms: number, rtt: (seq: number) => number | undefined): number[] {
  const sends: number[] = [];
  const replies: { at: number; seq: number }[] = [];
  const end = clock.now() + ms;
  while (clock.now() < end) {
    s.handleTimeout(clock.now());
    for (let p = s.pollTransmit(); p; p = s.pollTransmit()) {
      sends.push(p.sentAt);
      const r = rtt(p.sequenceNumber);
      if (r !== undefined) replies.push({ at: p.sentAt + r, seq: p.sequenceNumber });
    }
    replies.sort((a, b) => a.at - b.at);
    const next = Math.min(s.pollTimeout() ?? Infinity, replies[0]?.at ?? Infinity, end);
    clock.set(instant(Math.max(clock.now(), next)));
    while (replies.length && replies[0]!.at <= clock.now()) s.handleReply(replies.shift()!.seq, clock.now());
  }
  return sends;
}

const gaps = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]!);

describe("probe interval adaptation", () => {
  test("standby, active and idle rates follow the mode; faster modes take effect at once", () => {
    const clock = new VirtualClock(0);
    const s = new ProbeScheduler(LINK, DEFAULT_PROBE_CONFIG, clock.now());
    let sends = drive(s, clock, 60_000, () => 40);
    expect(new Set(gaps(sends))).toEqual(new Set([DEFAULT_PROBE_CONFIG.standbyIntervalMs]));
    s.setMode("active", clock.now());
    const at = clock.now();
    sends = drive(s, clock, 20_000, () => 40);
    expect(sends[0]! - at).toBeLessThanOrEqual(DEFAULT_PROBE_CONFIG.activeIntervalMs);
    expect(gaps(sends).every((g) => g === DEFAULT_PROBE_CONFIG.activeIntervalMs)).toBe(true);
    s.setMode("idle", clock.now());
    sends = drive(s, clock, 120_000, () => 40);
    expect(gaps(sends).every((g) => g === DEFAULT_PROBE_CONFIG.idleIntervalMs)).toBe(true);
    s.setMode("off", clock.now());
    expect(drive(s, clock, 60_000, () => 40)).toEqual([]);
  });

  test("a loss switches to the fast rate until enough answers in a row; a dead link falls back to its base rate", () => {
    const clock = new VirtualClock(0);
    const c = DEFAULT_PROBE_CONFIG;
    const s = new ProbeScheduler(LINK, c, clock.now());
    s.setMode("active", clock.now());
    drive(s, clock, 10_000, () => 40);
    const lostSeq = new Set<number>();
    let first = true;
    const sends = drive(s, clock, 5_000, (seq) => {
      if (first) {
        first = false;
        lostSeq.add(seq);
        return undefined;
      }
      return 40;
    });
    expect(gaps(sends)).toContain(c.fastIntervalMs);
    expect(s.stats(clock.now()).intervalMs).toBe(c.activeIntervalMs); // back after fastExitAnswers answers
    // Blackholed: fast for at most fastMaxConsecutiveLosses, then the base rate.
    const dead = drive(s, clock, 60_000, () => undefined);
    const fast = gaps(dead).filter((g) => g === c.fastIntervalMs).length;
    // Fast probes are pipelined: at most the loss limit plus those in flight when the limit is reached.
    expect(fast).toBeGreaterThanOrEqual(c.fastMaxConsecutiveLosses - 1);
    expect(fast).toBeLessThanOrEqual(c.fastMaxConsecutiveLosses + c.maxTimeoutMs / c.fastIntervalMs);
    expect(gaps(dead).slice(-3).every((g) => g === c.activeIntervalMs)).toBe(true);
  });
});

describe("window statistics", () => {
  test("RTT mean, loss ratio and jitter over the window; late replies are counted, not used", () => {
    const clock = new VirtualClock(0);
    const counters = new Counters();
    const s = new ProbeScheduler(LINK, { ...DEFAULT_PROBE_CONFIG, fastExitAnswers: 1 }, clock.now(), counters);
    s.setMode("active", clock.now());
    // RTTs alternate 40/60 ms; every 5th probe lost.
    drive(s, clock, 40_000, (seq) => (seq % 5 === 0 ? undefined : seq % 2 ? 40 : 60));
    const st = s.stats(clock.now());
    expect(st.recent.length).toBe(DEFAULT_PROBE_CONFIG.windowSize);
    expect(st.lossRatio).toBeGreaterThan(0.1);
    expect(st.lossRatio).toBeLessThan(0.3);
    expect(st.rttMs!).toBeGreaterThanOrEqual(40);
    expect(st.rttMs!).toBeLessThanOrEqual(60);
    expect(st.jitterMs!).toBeGreaterThan(5);
    expect(s.handleReply(99_999, clock.now())).toBeUndefined();
    expect(counters.get("links.probe.unexpected-reply")).toBe(1);
    expect(counters.get("links.probe.lost")).toBeGreaterThan(0);
  });

  test("the reply timeout follows SRTT + 4·RTTVAR within its bounds; the responder's hold time is not RTT", () => {
    const clock = new VirtualClock(0);
    const s = new ProbeScheduler(LINK, DEFAULT_PROBE_CONFIG, clock.now());
    expect(s.timeoutMs).toBe(DEFAULT_PROBE_CONFIG.maxTimeoutMs / 2);
    s.setMode("active", clock.now());
    drive(s, clock, 30_000, () => 50);
    expect(s.timeoutMs).toBe(DEFAULT_PROBE_CONFIG.minTimeoutMs);
    // The path slows to 700 ms: timeouts back off (RFC 6298 §5.5) and late replies teach the estimator.
    drive(s, clock, 60_000, () => 700);
    expect(s.stats(clock.now()).recent.slice(-5).every((o) => o.answered)).toBe(true);
    expect(s.timeoutMs).toBeGreaterThan(700);
    expect(s.timeoutMs).toBeLessThanOrEqual(DEFAULT_PROBE_CONFIG.maxTimeoutMs);
    s.handleTimeout(clock.now());
    const p = s.pollTransmit() ?? (clock.advance(5000), s.handleTimeout(clock.now()), s.pollTransmit())!;
    clock.advance(300);
    expect(s.handleReply(p.sequenceNumber, clock.now(), 200)!.rttMs).toBe(clock.now() - p.sentAt - 200);
  });

  test("probe bytes per day: 148 octets each way", () => {
    expect(probeBytesPerDay(10_000, 148)).toBe(8640 * 296);
    expect(probeBytesPerDay(Infinity, 148)).toBe(0);
  });
});
