// Automatic rekeys and expiries from lifetimes, ESP lifetime events, and scheduled liveness checks, on virtual time.
import { describe, expect, test } from "bun:test";
import { earliest, instant } from "../../../firmware/core/instant.ts";
import type { ChildSaLifetimes } from "../../../firmware/ike/child-sa.ts";
import type { IkeConfig } from "../../../firmware/ike/config.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { rekeyDeadline } from "../../../firmware/ike/sa-scheduler.ts";
import { config, connect, eventsOf, seededRandom, type Net } from "./harness.ts";

const A = "2001:db8:1::a";
const B = "2001:db8:1::b";
const long: ChildSaLifetimes = { rekeyAfterMs: 86_400_000, expireAfterMs: 90_000_000, rekeyJitterMs: 0 };

type Over = Omit<Partial<IkeConfig>, "localTs" | "remoteTs">;

function pair(router: Over, ha: Over, seeds = ["l-a", "l-b"]) {
  const base = { childLifetimes: long, ikeLifetimes: long };
  const a = new IkeEndpoint({ random: seededRandom(seeds[0]!) });
  const b = new IkeEndpoint({
    random: seededRandom(seeds[1]!),
    responder: config({ local: "b.lab", remote: "a.lab", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64", ...base, ...ha }),
  });
  const net = connect(a, b, [A], [B]);
  a.initiate(config({ remote: "b.lab", ...base, ...router }), { address: A, port: 500 }, { address: B, port: 500 }, instant(0));
  net.run();
  watched.set(net, [a, b]);
  return { a, b, net };
}

const watched = new WeakMap<Net, IkeEndpoint[]>();

/** Runs every timeout due up to `ms` (never one after it) and leaves the clock at `ms`. */
function runUntil(net: Net, ms: number): void {
  const [a, b] = watched.get(net)!;
  for (let guard = 0; guard < 100_000; guard++) {
    const next = earliest(a!.pollTimeout(), b!.pollTimeout());
    if (next === undefined || next > ms) {
      net.now = instant(Math.max(net.now, ms));
      return;
    }
    net.tick();
  }
  throw new Error("livelock: timeouts keep coming");
}

/** Both sides agree on exactly the CHILD_SAs each holds: every inbound SPI is the peer's outbound SPI. */
function childrenMatch(a: IkeEndpoint, b: IkeEndpoint): number {
  const ca = a.ikeSas.filter((s) => s.state === "established").flatMap((s) => s.children);
  const cb = b.ikeSas.filter((s) => s.state === "established").flatMap((s) => s.children);
  expect(ca.map((c) => c.inboundSpi).sort()).toEqual(cb.map((c) => c.outboundSpi).sort());
  expect(ca.map((c) => c.outboundSpi).sort()).toEqual(cb.map((c) => c.inboundSpi).sort());
  return ca.length;
}

describe("rekey deadlines", () => {
  test("rekeyAfter minus a random part of the jitter, from the injected source", () => {
    const policy = { rekeyAfterMs: 60_000, expireAfterMs: 66_000, rekeyJitterMs: 6_000 };
    expect(rekeyDeadline(policy, instant(1000), () => new Uint8Array(4)) as number).toBe(61_000);
    expect(rekeyDeadline(policy, instant(1000), () => Uint8Array.of(0x80, 0, 0, 0)) as number).toBe(58_000);
    expect(rekeyDeadline(policy, instant(1000), () => Uint8Array.of(0xff, 0xff, 0xff, 0xff)) as number).toBe(55_001);
    const seen = new Set<number>();
    const random = seededRandom("jitter");
    for (let i = 0; i < 50; i++) {
      const at: number = rekeyDeadline(policy, instant(0), random);
      expect(at).toBeGreaterThan(54_000);
      expect(at).toBeLessThanOrEqual(60_000);
      seen.add(at);
    }
    expect(seen.size).toBeGreaterThan(40);
    // A jitter larger than the rekey time never schedules before installation.
    expect(rekeyDeadline({ rekeyAfterMs: 10, expireAfterMs: 20, rekeyJitterMs: 1000 }, instant(5), () => Uint8Array.of(0xff, 0xff, 0xff, 0xff)) as number).toBeGreaterThanOrEqual(5);
  });
});

describe("lifetime-driven rekeys", () => {
  test("the CHILD_SA is rekeyed by its initiator when the soft lifetime is reached, the old pair deleted", () => {
    const { a, b, net } = pair({ childLifetimes: { rekeyAfterMs: 60_000, expireAfterMs: 66_000, rekeyJitterMs: 6_000 } }, {});
    const first = eventsOf(net.events.get(a)!, "child-sa-installed")[0]!.child;
    runUntil(net, 54_000);
    expect(eventsOf(net.events.get(a)!, "child-sa-installed")).toHaveLength(1);
    runUntil(net, 60_000);
    const installs = eventsOf(net.events.get(a)!, "child-sa-installed");
    expect(installs).toHaveLength(2);
    expect(installs[1]!.child.rekeys).toBe(first.inboundSpi);
    expect(a.counters.get("ike.child.rekey-due")).toBe(1);
    const deleted = eventsOf(net.events.get(b)!, "child-sa-deleted");
    expect(deleted.map((d) => d.outboundSpi)).toEqual([first.inboundSpi]);
    expect(childrenMatch(a, b)).toBe(1);
    // No hard expiry of the old SA follows: it is gone already.
    runUntil(net, 100_000);
    expect(a.counters.get("ike.child.expired")).toBe(0);
  });

  test("both peers with the same lifetimes: jitter and §2.8.1 keep exactly one CHILD_SA over ten generations", () => {
    const lifetimes = { rekeyAfterMs: 60_000, expireAfterMs: 66_000, rekeyJitterMs: 6_000 };
    const { a, b, net } = pair({ childLifetimes: lifetimes }, { childLifetimes: lifetimes });
    for (let t = 60_000; t <= 600_000; t += 60_000) {
      runUntil(net, t);
      net.run();
      expect(childrenMatch(a, b)).toBeGreaterThanOrEqual(1);
    }
    const rekeys = a.counters.get("ike.child.rekey-due") + b.counters.get("ike.child.rekey-due");
    expect(rekeys).toBeGreaterThanOrEqual(9);
    // Between rekeys every redundant SA was deleted again.
    runUntil(net, net.now + 10_000);
    expect(childrenMatch(a, b)).toBe(1);
    expect(a.counters.get("ike.child.expired") + b.counters.get("ike.child.expired")).toBe(0);
    expect(a.ikeSas.filter((s) => s.state === "established")).toHaveLength(1);
  });

  test("the IKE SA is rekeyed when its soft lifetime is reached; CHILD_SAs move to the successor", () => {
    const { a, b, net } = pair({ ikeLifetimes: { rekeyAfterMs: 120_000, expireAfterMs: 132_000, rekeyJitterMs: 0 } }, {});
    const child = eventsOf(net.events.get(a)!, "child-sa-installed")[0]!.child;
    runUntil(net, 121_000);
    const rekeyed = eventsOf(net.events.get(a)!, "ike-sa-rekeyed");
    expect(rekeyed).toHaveLength(1);
    expect(eventsOf(net.events.get(b)!, "ike-sa-rekeyed")).toHaveLength(1);
    expect(eventsOf(net.events.get(a)!, "ike-sa-closed").map((c) => c.name)).toEqual([rekeyed[0]!.oldName]);
    expect(a.ikeSas).toHaveLength(1);
    expect(a.ikeSas[0]!.children.map((c) => c.inboundSpi)).toEqual([child.inboundSpi]);
    // The successor's clock starts at the rekey: no second rekey before 240 s.
    runUntil(net, 230_000);
    expect(eventsOf(net.events.get(a)!, "ike-sa-rekeyed")).toHaveLength(1);
    runUntil(net, 245_000);
    expect(eventsOf(net.events.get(a)!, "ike-sa-rekeyed")).toHaveLength(2);
    expect(childrenMatch(a, b)).toBe(1);
  });

  test("a CHILD_SA whose hard lifetime comes first is deleted; the IKE SA stays", () => {
    const { a, b, net } = pair({ childLifetimes: { rekeyAfterMs: 100_000, expireAfterMs: 50_000, rekeyJitterMs: 0 } }, {});
    runUntil(net, 49_000);
    expect(eventsOf(net.events.get(a)!, "child-sa-deleted")).toHaveLength(0);
    runUntil(net, 51_000);
    expect(a.counters.get("ike.child.expired")).toBe(1);
    expect(eventsOf(net.events.get(a)!, "child-sa-deleted")).toHaveLength(1);
    expect(eventsOf(net.events.get(b)!, "child-sa-deleted")).toHaveLength(1);
    expect(a.ikeSas[0]!.state).toBe("established");
    expect(childrenMatch(a, b)).toBe(0);
  });

  test("an IKE SA at its hard lifetime is deleted with its CHILD_SAs", () => {
    const { a, b, net } = pair({}, { ikeLifetimes: { rekeyAfterMs: 1_000_000, expireAfterMs: 90_000, rekeyJitterMs: 0 } });
    runUntil(net, 91_000);
    expect(b.counters.get("ike.sa.expired")).toBe(1);
    expect(eventsOf(net.events.get(a)!, "ike-sa-closed")[0]!.reason).toBe("deleted by peer");
    expect(eventsOf(net.events.get(a)!, "child-sa-deleted")).toHaveLength(1);
    expect(a.ikeSas).toHaveLength(0);
    expect(b.ikeSas).toHaveLength(0);
    expect(a.pollTimeout()).toBeUndefined();
  });
});

describe("ESP lifetime events from the SAD", () => {
  test("a soft expiry (bytes, packets, sequence) rekeys the CHILD_SA at once; unknown SPIs are refused", () => {
    const { a, b, net } = pair({}, {});
    const child = eventsOf(net.events.get(a)!, "child-sa-installed")[0]!.child;
    expect(a.childLifetimeExpired(child.inboundSpi, "outbound", false, net.now)).toBe(false);
    expect(a.childLifetimeExpired(child.outboundSpi, "outbound", false, net.now)).toBe(true);
    net.run();
    const installs = eventsOf(net.events.get(a)!, "child-sa-installed");
    expect(installs).toHaveLength(2);
    expect(installs[1]!.child.rekeys).toBe(child.inboundSpi);
    expect(childrenMatch(a, b)).toBe(1);
    // The old SPI is gone now: a late event for it changes nothing.
    expect(a.childLifetimeExpired(child.outboundSpi, "outbound", true, net.now)).toBe(false);
  });

  test("a soft expiry seen by the responder rekeys from its side; a hard expiry deletes", () => {
    const { a, b, net } = pair({}, {});
    const child = eventsOf(net.events.get(b)!, "child-sa-installed")[0]!.child;
    expect(b.childLifetimeExpired(child.inboundSpi, "inbound", false, net.now)).toBe(true);
    net.run();
    const second = eventsOf(net.events.get(b)!, "child-sa-installed")[1]!.child;
    expect(second.rekeys).toBe(child.inboundSpi);
    expect(b.childLifetimeExpired(second.inboundSpi, "inbound", true, net.now)).toBe(true);
    net.run();
    expect(eventsOf(net.events.get(a)!, "child-sa-deleted").map((d) => d.outboundSpi)).toEqual([child.inboundSpi, second.inboundSpi]);
    expect(childrenMatch(a, b)).toBe(0);
    expect(b.counters.get("ike.child.expired")).toBe(1);
  });
});

describe("scheduled liveness checks (§2.4)", () => {
  test("an idle SA is checked every interval; ESP traffic and IKE messages postpone the check", () => {
    const { a, b, net } = pair({ livenessIntervalMs: 10_000 }, {});
    const child = eventsOf(net.events.get(a)!, "child-sa-installed")[0]!.child;
    runUntil(net, 35_000);
    const alive = eventsOf(net.events.get(a)!, "liveness");
    expect(alive.map((l) => l.alive)).toEqual([true, true, true]);
    expect(b.counters.get("ike.liveness.due")).toBe(0);
    // ESP from the peer every 5 s: no check needed.
    for (let t = 35_000; t < 80_000; t += 5_000) {
      a.noteEspActivity(child.inboundSpi, instant(t));
      runUntil(net, t + 5_000);
    }
    expect(eventsOf(net.events.get(a)!, "liveness")).toHaveLength(3);
  });

  test("a silent peer: the check is retransmitted, then the SA is gone (liveness false, CHILD_SAs deleted, IKE SA closed)", () => {
    const { a, net } = pair({ livenessIntervalMs: 10_000 }, {});
    net.drop = () => true;
    runUntil(net, 200_000);
    expect(eventsOf(net.events.get(a)!, "liveness").map((l) => l.alive)).toEqual([false]);
    expect(eventsOf(net.events.get(a)!, "child-sa-deleted")).toHaveLength(1);
    const closed = eventsOf(net.events.get(a)!, "ike-sa-closed")[0]!;
    expect(closed.reason).toContain("liveness");
    // Checked at 10 s; transmissions at 10, 11, 13, 17, 25, 41 s; given up at 73 s.
    expect(a.counters.get("ike.retransmit")).toBe(5);
    expect(a.ikeSas).toHaveLength(0);
    expect(a.pollTimeout()).toBeUndefined();
  });
});
