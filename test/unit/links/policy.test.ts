// Link policy rules, one by one, on virtual time: hysteresis hold band, N-of-M, dwell, budget, damping, cost, make-before-break, flows.
import { describe, expect, test } from "bun:test";
import { defaultLinkConfig } from "../../../firmware/links/config.ts";
import { configWith, Harness, LTE, LTE_B, WIFI } from "./harness.ts";

/** Both links healthy; Wi-Fi (preferred, free) becomes primary. */
function bothUp(h: Harness): void {
  h.healthy([LTE, WIFI], 3000);
  expect(h.policy.primary).toBe(WIFI);
}

describe("health: asymmetric hysteresis (the band between fail and recover thresholds means hold)", () => {
  test("a loss ratio inside the band neither fails an up link nor recovers a degraded one", () => {
    const h = new Harness();
    bothUp(h);
    // 20 % loss (between recover 10 % and fail 30 %): hold up.
    for (let i = 0; i < 4; i++) h.probes(WIFI, "AAAAL");
    h.step();
    expect(h.policy.snapshot(h.now).find((l) => l.link === WIFI)!.health).toBe("up");
    // 40 % loss: fail → degraded, traffic leaves.
    for (let i = 0; i < 4; i++) h.probes(WIFI, "AALAL");
    h.step();
    expect(h.rules()).toContain("quality-fail");
    expect(h.policy.primary).toBe(LTE);
    // Back to 20 %: still inside the band, so it stays degraded however long it lasts.
    for (let i = 0; i < 20; i++) {
      h.probes(WIFI, "AAAAL");
      h.step(1000);
    }
    expect(h.policy.snapshot(h.now).find((l) => l.link === WIFI)!.health).toBe("degraded");
    // Clean: recovers after the recovery hold (5 s × damping factor 2 after one failure).
    const before = h.now;
    while (h.policy.snapshot(h.now).find((l) => l.link === WIFI)!.health !== "up" && h.now - before < 60_000) {
      h.probes(WIFI, "AA");
      h.step(500);
    }
    expect(h.now - before).toBeGreaterThanOrEqual(10_000);
    expect(h.rules()).toContain("quality-recover");
  });

  test("N-of-M: 4 lost among the last 6 (not consecutive) takes the link down; 3 of 6 does not", () => {
    const h = new Harness();
    bothUp(h);
    h.probes(WIFI, "LALAL"); // last six: A L A L A L = 3 lost
    h.step();
    expect(h.policy.snapshot(h.now).find((l) => l.link === WIFI)!.health).toBe("up");
    h.probes(WIFI, "L"); // last six: L A L A L L = 4 lost
    h.step();
    const d = h.decisions.find((x) => x.rule === "probe-window")!;
    expect(d.summary).toContain("4 of the last 6");
    expect(h.policy.primary).toBe(LTE);
  });

  test("a hard failure (association lost) acts at once, without waiting for probes", () => {
    const h = new Harness();
    bothUp(h);
    h.sample(WIFI, { up: false });
    expect(h.policy.pollTimeout()).toBeLessThanOrEqual(h.now);
    h.evaluate();
    expect(h.rules()).toContain("hard-down");
    expect(h.policy.primary).toBe(LTE);
  });
});

describe("switching", () => {
  test("minimum dwell: a better link waits until the primary has been primary for minDwellMs", () => {
    const h = new Harness();
    h.healthy(LTE, 3000);
    expect(h.policy.primary).toBe(LTE);
    const since = h.now;
    h.healthy([LTE, WIFI], 10_000);
    expect(h.policy.primary).toBe(LTE);
    expect(h.rules()).toContain("hold-dwell");
    h.healthy([LTE, WIFI], 25_000);
    expect(h.policy.primary).toBe(WIFI);
    const move = h.decisions.find((d) => d.rule === "better-score")!;
    expect(move.at - since).toBeGreaterThanOrEqual(configWith().switching.minDwellMs - 3000);
  });

  test("switch budget: discretionary moves stop when the window is spent; a forced failover still happens", () => {
    const h = new Harness(configWith({ switching: { minDwellMs: 0, budget: { maxSwitches: 2, windowMs: 600_000 } } }));
    h.healthy(LTE, 2000);
    // Wi-Fi comes and goes with good radio: each return is a discretionary move.
    for (let round = 0; round < 3; round++) {
      h.healthy([LTE, WIFI], 12_000);
      h.sample(WIFI, { up: false });
      h.step();
      h.healthy(LTE, 2000);
    }
    expect(h.rules()).toContain("hold-budget");
    const toWifi = h.primaryChanges().filter((a) => a.kind === "set-primary" && a.link === WIFI).length;
    const toLte = h.primaryChanges().filter((a) => a.kind === "set-primary" && a.link === LTE && a.previous === WIFI).length;
    expect(toWifi).toBe(1); // the second discretionary move would exceed the budget (1 failover + 1 move = 2)
    expect(toLte).toBe(1); // the failover away from the dead Wi-Fi was not held back
  });

  test("flap damping: repeated failures suppress the link (last resort only) until the penalty decays", () => {
    const h = new Harness(configWith({ switching: { minDwellMs: 0, budget: { maxSwitches: 100 } } }));
    h.healthy(LTE, 2000);
    for (let i = 0; i < 3; i++) {
      h.healthy([LTE, WIFI], 30_000);
      h.sample(WIFI, { up: false });
      h.step();
    }
    expect(h.rules()).toContain("suppressed");
    h.healthy([LTE, WIFI], 60_000);
    expect(h.policy.primary).toBe(LTE);
    expect(h.policy.snapshot(h.now).find((l) => l.link === WIFI)!.suppressed).toBe(true);
    // Penalty ~3000 halves every 180 s; below 1000 after ~290 s more.
    h.healthy([LTE, WIFI], 300_000);
    expect(h.rules()).toContain("reusable");
    expect(h.policy.primary).toBe(WIFI);
  });

  test("cost: of two equal cellular links the cheaper one carries traffic; an empty blocking bucket hands over", () => {
    const cheap = { ...defaultLinkConfig(LTE, "cellular"), costPerGb: 2 };
    const dear = { ...defaultLinkConfig(LTE_B, "cellular"), costPerGb: 20 };
    const h = new Harness(configWith(), [dear, cheap]);
    h.healthy([LTE, LTE_B], 3000);
    expect(h.policy.primary).toBe(LTE);
    h.policy.handleBucket(LTE, { remainingBytes: 0, lowWaterBytes: 1e8, whenExhausted: "block" });
    h.healthy([LTE, LTE_B], 1000);
    expect(h.policy.primary).toBe(LTE_B);
    expect(h.decisions.at(-1)!.summary).toContain("bucket empty");
  });

  test("bucket pressure: a pay-as-you-go bucket below its low-water mark costs points", () => {
    const h = new Harness();
    h.healthy([LTE, WIFI], 2000);
    const before = h.policy.snapshot(h.now).find((l) => l.link === LTE)!.score;
    h.policy.handleBucket(LTE, { remainingBytes: 2e7, lowWaterBytes: 1e8, whenExhausted: "allow" });
    h.healthy([LTE, WIFI], 1000);
    const after = h.policy.snapshot(h.now).find((l) => l.link === LTE)!.score;
    expect(before.bucket).toBe(0);
    expect(after.bucket).toBeCloseTo(configWith().weights.bucketPressurePoints * 0.8, 1);
    expect(after.total).toBeLessThan(before.total);
  });
});

describe("make-before-break", () => {
  test("a falling radio prepares the alternative first; traffic moves only after it is registered, before probes fail", () => {
    const h = new Harness();
    h.autoPrepare = false;
    h.healthy([LTE, WIFI], 2000);
    expect(h.actions.map((a) => a.action)).toContainEqual({ kind: "prepare", link: WIFI });
    expect(h.policy.primary).toBeUndefined(); // not registered yet: nothing moves
    h.policy.handlePrepared(WIFI, h.now);
    h.healthy([LTE, WIFI], 20_000);
    expect(h.policy.primary).toBe(WIFI);
    expect(h.actions.some((a) => a.action.kind === "prepare" && a.action.link === LTE)).toBe(false);
    // Wi-Fi fades 2 dB/s while every probe still answers.
    const fadeStart = h.actions.length;
    for (let m = 14; m >= -4; m -= 1) {
      h.sample(WIFI, { margin: m });
      h.sample(LTE, { margin: 20 });
      h.probes(WIFI, "A");
      h.probes(LTE, "A");
      h.step(500);
    }
    const after = h.actions.slice(fadeStart).map((a) => a.action);
    const prepareAt = after.findIndex((a) => a.kind === "prepare" && a.link === LTE);
    expect(prepareAt).toBeGreaterThanOrEqual(0);
    expect(after.some((a) => a.kind === "set-primary")).toBe(false); // not registered yet: no move
    expect(h.rules()).toContain("at-risk");
    h.policy.handlePrepared(LTE, h.now);
    h.step(100);
    expect(h.policy.primary).toBe(LTE);
    const move = h.decisions.find((d) => d.rule === "radio-predictive")!;
    expect(move.links.find((l) => l.link === WIFI)!.health).toBe("up"); // before any probe failed
  });
});

describe("multi-CoA mode: active set and flow map", () => {
  const rules = [
    { name: "voice", match: { dscp: [46] }, prefer: "lowest-jitter" as const },
    { name: "bulk", match: { dscp: [8] }, kinds: ["wifi" as const], prefer: "best" as const },
  ];

  test("bulk only on Wi-Fi, voice on the lowest-jitter link; bulk is held when Wi-Fi goes", () => {
    const h = new Harness(configWith({ mode: "multi", flowRules: rules }));
    for (let i = 0; i < 10; i++) {
      h.sample(LTE, { margin: 20 });
      h.sample(WIFI, { margin: 20 });
      h.probes(LTE, "A", 40);
      h.probes(WIFI, "A", i % 2 ? 20 : 120); // Wi-Fi RTT swings: high jitter
      h.step(500);
    }
    expect([...h.policy.activeSet].sort()).toEqual([LTE, WIFI].sort());
    const flows = new Map(h.policy.flows.map((f) => [f.rule, f.link]));
    expect(flows.get("bulk")).toBe(WIFI);
    expect(flows.get("voice")).toBe(LTE);
    h.sample(WIFI, { up: false });
    h.step();
    expect(h.policy.activeSet).toEqual([LTE]);
    expect(h.policy.flows.find((f) => f.rule === "bulk")!.link).toBeUndefined();
    expect(h.rules()).toContain("flow-map");
    expect(h.actions.some((a) => a.action.kind === "set-flow-map")).toBe(true);
  });
});

describe("explanations", () => {
  test("every change of primary has a record with the rule, the inputs of every link and their scores", () => {
    const h = new Harness();
    bothUp(h);
    h.sample(WIFI, { up: false });
    h.step();
    const changes = h.decisions.filter((d) => d.primaryBefore !== d.primaryAfter);
    expect(changes.length).toBe(h.primaryChanges().length);
    for (const d of changes) {
      expect(["initial", "failover", "better-score", "radio-predictive"]).toContain(d.rule);
      expect(d.links.map((l) => l.link).sort()).toEqual([LTE, WIFI].sort());
      for (const l of d.links) expect(typeof l.score.total).toBe("number");
    }
    const sequences = h.decisions.map((d) => d.sequence);
    expect(sequences).toEqual(sequences.map((_, i) => i + 1));
    expect(JSON.parse(JSON.stringify(changes.at(-1)))).toMatchObject({ rule: "failover", primaryAfter: LTE });
  });
});
