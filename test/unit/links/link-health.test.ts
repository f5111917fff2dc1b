// Recovery hold of one link's health: none the first time a link comes up (also after starting without carrier), the damped hold after a real failure.
import { describe, expect, test } from "bun:test";
import { linkId, type LinkSample } from "../../../board/api/link-metrics.ts";
import { type Instant, instant } from "../../../firmware/core/instant.ts";
import { DEFAULT_LINK_POLICY_CONFIG } from "../../../firmware/links/config.ts";
import { FlapDamping } from "../../../firmware/links/damping.ts";
import { LinkHealthTracker } from "../../../firmware/links/link-health.ts";
import type { ProbeOutcome, ProbeStats } from "../../../firmware/links/probe-scheduler.ts";

const LINK = linkId("wifi");
const config = { ...DEFAULT_LINK_POLICY_CONFIG, health: { ...DEFAULT_LINK_POLICY_CONFIG.health, recoverProbes: 3, recoverHoldMs: 1000, failWindow: { failures: 3, of: 5 } } };
const sample = (carrier: boolean, at: number): LinkSample => ({ link: LINK, at: instant(at), interface: { carrier, operState: carrier ? "up" : "lowerlayerdown" } });

/** Probe stats with one outcome every 25 ms from `from`, answered or not. */
function stats(outcomes: readonly { at: number; answered: boolean }[]): ProbeStats {
  const recent: ProbeOutcome[] = outcomes.map((o, i) => ({ sequenceNumber: i + 1, sentAt: instant(o.at - 10), at: instant(o.at), answered: o.answered, ...(o.answered ? { rttMs: 10 } : {}) }));
  return { link: LINK, recent, consecutiveLost: 0, consecutiveAnswered: 0, intervalMs: 25 };
}
const answers = (from: number, n: number, answered = true) => Array.from({ length: n }, (_, i) => ({ at: from + i * 25, answered }));

describe("recovery hold", () => {
  test("a link that started without carrier comes up on its first answers, with no hold (it never failed)", () => {
    const t = new LinkHealthTracker(config, new FlapDamping(config.damping, instant(0)), instant(0));
    expect(t.update(sample(false, 0), undefined, instant(0) as Instant)?.to).toBe("down");
    const s = stats(answers(100, 3));
    expect(t.update(sample(true, 200), s, instant(200))).toMatchObject({ from: "down", to: "up", rule: "recovered" });
  });

  test("after a real failure (up → down) the same answers wait the hold × the damping factor", () => {
    const t = new LinkHealthTracker(config, new FlapDamping(config.damping, instant(0)), instant(0));
    expect(t.update(sample(true, 0), stats(answers(10, 3)), instant(100))?.to).toBe("up");
    expect(t.update(sample(true, 300), stats([...answers(10, 3), ...answers(150, 3, false)]), instant(300))).toMatchObject({ to: "down", rule: "probe-window" });
    const back = [...answers(10, 3), ...answers(150, 3, false), ...answers(400, 3)];
    expect(t.update(sample(true, 500), stats(back), instant(500))).toBeUndefined();
    // Damping factor 2 after one failure: held 2 s from the first recovering evaluation.
    expect(t.update(sample(true, 2400), stats(back), instant(2400))).toBeUndefined();
    expect(t.update(sample(true, 2500), stats(back), instant(2500))).toMatchObject({ to: "up", rule: "recovered" });
  });
});
