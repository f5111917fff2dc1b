// The config transaction on virtual time: apply, watch, commit or roll back; refusals leave the running config alone.

import { describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { later, VirtualClock } from "../../../firmware/core/instant.ts";
import { ConfigTransaction, type TransactionAction } from "../../../firmware/fleet/config-transaction.ts";
import { configInput, desired, deviceConfig } from "./fixtures.ts";

function setup() {
  const clock = new VirtualClock(1000);
  const counters = new Counters();
  const running = deviceConfig();
  const tx = new ConfigTransaction({ running, runningVersion: 3, shadow: { version: 3, digest: "d3" }, counters });
  const drain = (): TransactionAction[] => {
    const out: TransactionAction[] = [];
    for (let a = tx.pollAction(); a; a = tx.pollAction()) out.push(a);
    return out;
  };
  const healthy = () => {
    for (const c of ["broker", "home-agent", "bindings"] as const) tx.handleHealth(c, true, clock.now());
  };
  return { clock, counters, running, tx, drain, healthy };
}

describe("config transaction", () => {
  test("desired v4 --> apply, watch 30 s, all checks healthy --> commit, result, reported", () => {
    const { clock, tx, drain, healthy, counters } = setup();
    const candidate = configInput((c) => (c.telemetry = { intervalSeconds: 10 }));
    tx.handleDesired(desired(4, candidate, { clientToken: "abc" }), clock.now());
    const first = drain();
    expect(first.map((a) => a.type)).toEqual(["record-version", "apply", "publish-result"]);
    expect(first[2]).toEqual({ type: "publish-result", result: { status: "applied", version: 4, runningVersion: 3, clientToken: "abc" } });
    expect(tx.state).toBe("watching");
    expect(tx.pollTimeout()).toBe(later(clock.now(), 30_000));
    expect(tx.effective.telemetry.intervalSeconds).toBe(10);

    healthy();
    clock.advance(29_999);
    tx.handleTimeout(clock.now()); // spurious: harmless
    expect(drain()).toEqual([]);
    clock.advance(1);
    tx.handleTimeout(clock.now());
    const done = drain();
    expect(done.map((a) => a.type)).toEqual(["commit", "publish-result", "publish-reported"]);
    expect(tx.running.version).toBe(4);
    expect(tx.state).toBe("idle");
    expect(counters.get("fleet.config.committed")).toBe(1);
  });

  test("a check failing at the end of the watch rolls back to the previous config, naming the check", () => {
    const { clock, tx, drain, healthy, running } = setup();
    tx.handleDesired(desired(4, configInput((c) => (c.mqtt.url = "mqtts://nowhere.invalid"))), clock.now());
    drain();
    healthy();
    tx.handleHealth("broker", false, clock.now());
    clock.advance(30_000);
    tx.handleTimeout(clock.now());
    const actions = drain();
    expect(actions[0]).toEqual({ type: "apply", config: running, version: 3, cause: "rollback" });
    const result = actions[1];
    expect(result?.type === "publish-result" && result.result).toMatchObject({ status: "rolled-back", version: 4, runningVersion: 3, failedChecks: ["broker"] });
    expect(tx.running.config).toBe(running);
  });

  test("a check never reported counts as failing (no news is not good news)", () => {
    const { clock, tx, drain } = setup();
    tx.handleDesired(desired(4, configInput()), clock.now());
    drain();
    tx.handleHealth("broker", true, clock.now());
    clock.advance(30_000);
    tx.handleTimeout(clock.now());
    const result = drain().find((a) => a.type === "publish-result");
    expect(result?.type === "publish-result" && result.result.failedChecks).toEqual(["home-agent", "bindings"]);
  });

  test("apply failure rolls back at once", () => {
    const { clock, tx, drain } = setup();
    tx.handleDesired(desired(4, configInput()), clock.now());
    drain();
    tx.handleApplyFailed("secret file missing", clock.now());
    const actions = drain();
    expect(actions[0]?.type).toBe("apply");
    expect(actions[1]?.type === "publish-result" && actions[1].result.reason).toBe("apply failed: secret file missing");
  });

  test("the watch policy comes from the running config: a candidate cannot disable its own checks", () => {
    const { clock, tx, drain } = setup();
    tx.handleDesired(desired(4, configInput((c) => (c.ota.config.healthChecks = []))), clock.now());
    drain();
    clock.advance(30_000);
    tx.handleTimeout(clock.now());
    expect(drain().some((a) => a.type === "publish-result" && a.result.status === "rolled-back")).toBe(true);
  });

  test("refusals: stale, replayed, unsigned, badly signed, invalid; the running config is untouched", () => {
    const { clock, tx, drain, running, counters } = setup();
    const cases: [Uint8Array, string][] = [
      [desired(3, configInput()), "stale-version"],
      [desired(2, configInput()), "stale-version"],
      [desired(5, configInput(), { unsigned: true }), "missing-signature"],
      [desired(6, configInput(), { key: new Uint8Array(32).fill(7) }), "bad-signature"],
      [desired(7, configInput((c) => (c.mqtt.keepaliveSeconds = "x"))), "wrong-type"],
      [desired(8, configInput((c) => (c.extra = 1))), "unknown-field"],
      [desired(9, configInput((c) => (c.selection = { recoveryRttMs: 5000 }))), "invalid-value"],
      [new TextEncoder().encode("{nope"), "malformed-json"],
    ];
    for (const [payload, kind] of cases) {
      tx.handleDesired(payload, clock.now());
      const result = drain().find((a) => a.type === "publish-result");
      expect(result?.type === "publish-result" && result.result.status).toBe("rejected");
      expect(result?.type === "publish-result" && result.result.error?.kind).toBe(kind as never);
      expect(tx.running.config).toBe(running);
      expect(tx.running.version).toBe(3);
      expect(tx.state).toBe("idle");
    }
    expect(counters.get("fleet.desired.rejected")).toBe(cases.length);
    // A schema refusal spends its version: resending it is stale.
    tx.handleDesired(desired(9, configInput()), clock.now());
    const again = drain().find((a) => a.type === "publish-result");
    expect(again?.type === "publish-result" && again.result.error?.kind).toBe("stale-version");
  });

  test("the same document redelivered (retained, after reconnect) is ignored quietly", () => {
    const { clock, tx, drain, healthy, counters } = setup();
    const doc = desired(4, configInput());
    tx.handleDesired(doc, clock.now());
    drain();
    healthy();
    clock.advance(30_000);
    tx.handleTimeout(clock.now());
    drain();
    tx.handleDesired(doc, clock.now());
    expect(drain()).toEqual([]);
    expect(counters.get("fleet.desired.duplicate")).toBe(1);
  });

  test("a document arriving during a watch waits and is handled after the commit", () => {
    const { clock, tx, drain, healthy } = setup();
    tx.handleDesired(desired(4, configInput()), clock.now());
    drain();
    tx.handleDesired(desired(5, configInput((c) => (c.device.site = "later"))), clock.now());
    expect(drain()).toEqual([]);
    healthy();
    clock.advance(30_000);
    tx.handleTimeout(clock.now());
    const actions = drain();
    expect(actions.map((a) => a.type)).toEqual(["commit", "publish-result", "publish-reported", "record-version", "apply", "publish-result"]);
    expect(tx.effective.device.site).toBe("later");
  });
});
