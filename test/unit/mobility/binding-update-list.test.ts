// Mobile router Binding Update List against a scripted home agent: timers, sequence numbers, per-BID status.
import { describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant, type Instant, VirtualClock } from "../../../firmware/core/instant.ts";
import { baFlags, type MobilityMessage } from "../../../firmware/wire/mobility-header.ts";
import type { MobilityOption } from "../../../firmware/wire/mobility-options.ts";
import { BindingUpdateList, type MobileRouterConfig, type MobileRouterEvent } from "../../../firmware/mobility/binding-update-list.ts";
import { bindingId, linkId, type MobilityTransmit } from "../../../firmware/mobility/types.ts";
import { HOME_ADDRESS, HOME_AGENT, LTE, routerConfig, WIFI } from "../../scenario/mobility-harness.ts";

type Bu = Extract<MobilityMessage, { type: "binding-update" }>;
const BID1 = bindingId(1);
const BID2 = bindingId(2);

function setup(over: Partial<MobileRouterConfig> = {}) {
  const clock = new VirtualClock(0);
  const counters = new Counters();
  const mr = new BindingUpdateList(routerConfig(over), counters);
  const sent: { at: number; t: MobilityTransmit; bu: Bu }[] = [];
  const events: MobileRouterEvent[] = [];
  const pump = () => {
    for (let t = mr.pollTransmit(clock.now()); t; t = mr.pollTransmit(clock.now())) {
      if (t.message.type === "binding-update") sent.push({ at: clock.now(), t, bu: t.message });
    }
    for (let e = mr.pollEvent(); e; e = mr.pollEvent()) events.push(e);
  };
  /** Jumps to each deadline up to `until`, like a runtime would. */
  const runUntil = (until: number) => {
    for (let i = 0; i < 10_000; i++) {
      pump();
      const next = mr.pollTimeout();
      if (next === undefined || next > until) break;
      clock.set(instant(Math.max(clock.now(), next)));
      mr.handleTimeout(clock.now());
    }
    clock.set(instant(Math.max(clock.now(), until)));
    pump();
  };
  const ack = (bu: Bu, status: number, options: MobilityOption[] = bidsOf(bu), lifetimeUnits = bu.lifetimeUnits, seq = bu.sequenceNumber, flags = baFlags({ mobileRouter: true, keyManagementCapability: true })) => {
    const ba: MobilityMessage = { type: "binding-acknowledgement", status, flags, sequenceNumber: seq, lifetimeUnits: status < 128 || status === 4 ? lifetimeUnits : 0, options };
    mr.handleMessage({ message: ba, source: HOME_AGENT, destination: HOME_ADDRESS }, clock.now());
    pump();
  };
  return { clock, counters, mr, sent, events, pump, runUntil, ack };
}

function bidsOf(bu: Bu, status = 0): MobilityOption[] {
  return bu.options.filter((o) => o.type === "binding-identifier").map((o) => ({ type: "binding-identifier", bindingId: o.bindingId, status, simultaneousHomeAndForeign: o.simultaneousHomeAndForeign }));
}

const lte = { bindingId: BID1, linkId: linkId("lte"), careOfAddress: { family: "ipv6", address: LTE } } as const;
const wifi = { bindingId: BID2, linkId: linkId("wifi"), careOfAddress: { family: "ipv6", address: WIFI } } as const;

describe("retransmission (RFC 6275 §11.8)", () => {
  test("first home registration: 1.5 s, doubling to MAX_BINDACK_TIMEOUT, a new Sequence # each time", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.runUntil(200_000);
    const times = s.sent.map((x) => x.at);
    expect(times.slice(0, 9)).toEqual([0, 1500, 4500, 10500, 22500, 46500, 78500, 110500, 142500]);
    expect(s.sent.map((x) => x.bu.sequenceNumber).slice(0, 4)).toEqual([100, 101, 102, 103]);
    expect(s.counters.get("mobility.mr.bu.timeout")).toBeGreaterThanOrEqual(8);
  });

  test("InitialBindackTimeoutFirstReg is configurable", () => {
    const s = setup({ initialBindackTimeoutFirstRegMs: 2500 });
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.runUntil(8000);
    expect(s.sent.map((x) => x.at)).toEqual([0, 2500, 7500]);
  });

  test("after a registration exists, a new BU starts at INITIAL_BINDACK_TIMEOUT (1 s)", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    s.ack(s.sent[0]!.bu, 0);
    s.mr.addCareOfAddress(s.clock.now(), wifi);
    s.runUntil(3500);
    expect(s.sent.slice(1).map((x) => x.at)).toEqual([0, 1000, 3000]);
  });

  test("each retransmission leaves from the next uplink, so one dead uplink cannot stall registration", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.mr.addCareOfAddress(s.clock.now(), wifi);
    s.runUntil(5000);
    const sources = s.sent.map((x) => x.t.source);
    expect(new Set(sources)).toEqual(new Set([LTE, WIFI]));
  });
});

describe("BA handling", () => {
  test("// BU { BID 1, CoA lte } --> / <-- BA { status 0 }: registered, refresh at half the granted lifetime", () => {
    const s = setup({ requestedLifetimeSeconds: 600 });
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    const bu = s.sent[0]!.bu;
    expect(bu.flags).toMatchObject({ acknowledge: true, homeRegistration: true, keyManagementCapability: true, mobileRouter: true });
    expect(bu.lifetimeUnits).toBe(150);
    expect(s.sent[0]!.t).toMatchObject({ source: LTE, destination: HOME_AGENT, homeAddressOption: HOME_ADDRESS, bindingId: 1, linkId: "lte" });
    expect(bu.options).toEqual([
      { type: "binding-identifier", bindingId: 1, status: 0, simultaneousHomeAndForeign: false, careOfAddress: { family: "ipv6", address: LTE } },
      { type: "mobile-network-prefix", prefix: "2001:db8:ab::", prefixLength: 48 },
    ]);
    s.clock.advance(300);
    s.ack(bu, 0);
    expect(s.events).toContainEqual({ type: "binding-registered", bindingId: BID1, careOfAddress: { family: "ipv6", address: LTE }, lifetimeSeconds: 600, status: 0, refresh: false });
    expect(s.mr.keyManagementCapability).toBe(true);
    const entry = s.mr.bindings()[0]!;
    expect(entry.state).toBe("registered");
    // Lifetime counts from when the BU was sent (t=0), not from the BA (t=300).
    expect(entry.expiresAt).toBe(instant(600_000));
    expect(entry.refreshAt).toBe(instant(300_000));
    s.runUntil(299_999);
    expect(s.sent.length).toBe(1);
    s.runUntil(300_000);
    expect(s.sent.length).toBe(2);
    expect(s.sent[1]!.bu.sequenceNumber).toBe(101);
  });

  test("a Binding Refresh Advice shorter than half the lifetime sets the refresh time", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    s.ack(s.sent[0]!.bu, 0, [{ type: "binding-refresh-advice", refreshIntervalUnits: 30 }, ...bidsOf(s.sent[0]!.bu)]);
    expect(s.mr.bindings()[0]!.refreshAt).toBe(instant(120_000));
  });

  test("the home agent may shorten the lifetime", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    s.ack(s.sent[0]!.bu, 0, bidsOf(s.sent[0]!.bu), 15);
    expect(s.mr.bindings()[0]!.expiresAt).toBe(instant(60_000));
  });

  test("lost BA: retransmitted BU gets the BA; the late BA of the first BU is dropped", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.runUntil(1500);
    expect(s.sent.length).toBe(2);
    s.ack(s.sent[0]!.bu, 0); // late BA for seq 100
    expect(s.counters.get("mobility.mr.drop.ba-sequence-mismatch")).toBe(1);
    expect(s.mr.bindings()[0]!.state).toBe("pending");
    s.ack(s.sent[1]!.bu, 0);
    expect(s.mr.bindings()[0]!.state).toBe("registered");
  });

  test("a duplicated BA is dropped and changes nothing", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    s.ack(s.sent[0]!.bu, 0);
    const before = s.mr.bindings();
    s.ack(s.sent[0]!.bu, 0);
    expect(s.counters.get("mobility.mr.drop.ba-unexpected")).toBe(1);
    expect(s.mr.bindings()).toEqual(before);
  });

  test("a BA from anyone but the home agent is dropped", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    const bu = s.sent[0]!.bu;
    s.mr.handleMessage({ message: { type: "binding-acknowledgement", status: 0, flags: baFlags(), sequenceNumber: bu.sequenceNumber, lifetimeUnits: 10, options: bidsOf(bu) }, source: "2001:db8::bad", destination: HOME_ADDRESS }, s.clock.now());
    expect(s.counters.get("mobility.mr.drop.not-from-home-agent")).toBe(1);
    expect(s.mr.bindings()[0]!.state).toBe("pending");
  });

  test("status 135: resynchronise from the BA's Sequence # and send again at once", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    s.ack(s.sent[0]!.bu, 135, bidsOf(s.sent[0]!.bu), 0, 4000);
    expect(s.events).toContainEqual({ type: "sequence-resync", lastAcceptedSequence: 4000 });
    expect(s.sent.length).toBe(2);
    expect(s.sent[1]!.bu.sequenceNumber).toBe(4001);
    s.ack(s.sent[1]!.bu, 0);
    expect(s.mr.bindings()[0]!.state).toBe("registered");
  });

  test("the Sequence # wraps from 65535 to 0", () => {
    const s = setup({ initialSequenceNumber: 65535 });
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.runUntil(1500);
    expect(s.sent.map((x) => x.bu.sequenceNumber)).toEqual([65535, 0]);
  });

  test("bulk BU { BID 1, BID 2 } / BA { 4: BID 1 ok, BID 2 = 164 }: one fails, the other stays", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.mr.addCareOfAddress(s.clock.now(), wifi);
    s.pump();
    const bulk = s.sent[0]!.bu;
    expect(bulk.options.filter((o) => o.type === "binding-identifier").length).toBe(2);
    s.ack(bulk, 4, [
      { type: "binding-identifier", bindingId: 1, status: 0, simultaneousHomeAndForeign: false },
      { type: "binding-identifier", bindingId: 2, status: 164, simultaneousHomeAndForeign: false },
    ]);
    const byId = Object.fromEntries(s.mr.bindings().map((b) => [b.bindingId, b.state]));
    expect(byId).toEqual({ 1: "registered", 2: "failed" });
    expect(s.events).toContainEqual({ type: "binding-failed", bindingId: BID2, status: 164, statusText: "MCOA MALFORMED: Binding Identifier option malformed" });
  });

  test("a whole-BU rejection (142) fails every BID in it and says so", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    s.ack(s.sent[0]!.bu, 142);
    expect(s.events).toContainEqual({ type: "registration-rejected", status: 142, statusText: "Not Authorized for Prefix" });
    expect(s.mr.bindings()[0]!.state).toBe("failed");
    s.runUntil(100_000);
    expect(s.sent.length).toBe(1); // no retry loop against a policy rejection
  });

  test("167 on a refresh without CoA: send again with the Care-of Address field", () => {
    const s = setup({ espProtected: false });
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    s.ack(s.sent[0]!.bu, 0);
    s.runUntil(300_000);
    const refresh = s.sent[1]!.bu;
    expect(refresh.options[0]).toEqual({ type: "binding-identifier", bindingId: 1, status: 0, simultaneousHomeAndForeign: false });
    s.ack(refresh, 167);
    expect(s.sent[2]!.bu.options[0]).toMatchObject({ bindingId: 1, careOfAddress: { family: "ipv6", address: LTE } });
  });

  test("168: bulk prohibited, the router goes one BID per BU", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    s.ack(s.sent[0]!.bu, 0);
    s.mr.addCareOfAddress(s.clock.now(), wifi);
    s.mr.addCareOfAddress(s.clock.now(), { ...wifi, bindingId: bindingId(3), careOfAddress: { family: "ipv6", address: "2001:db8:3::a" } });
    s.runUntil(1000);
    s.ack(s.sent.at(-1)!.bu, 168);
    expect(s.mr.bulkRegistration).toBe(false);
    s.pump();
    for (const x of s.sent.slice(3)) expect(x.bu.options.filter((o) => o.type === "binding-identifier").length).toBe(1);
  });

  test("a BA with no BID option: the HA ignored MCoA, fall back to one binding with an Alternate CoA", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.mr.addCareOfAddress(s.clock.now(), wifi);
    s.pump();
    s.ack(s.sent[0]!.bu, 0, []);
    expect(s.events).toContainEqual({ type: "mcoa-unsupported" });
    const next = s.sent.at(-1)!.bu;
    expect(next.options.some((o) => o.type === "binding-identifier")).toBe(false);
    expect(next.options).toContainEqual({ type: "alternate-care-of-address", careOfAddress: LTE });
    s.ack(next, 0, []);
    expect(s.mr.registeredBindingIds()).toEqual([BID1]);
  });

  test("BA without R after a BU with R: mobile router operation unsupported", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    s.ack(s.sent[0]!.bu, 0, bidsOf(s.sent[0]!.bu), 150, 100, baFlags());
    expect(s.events).toContainEqual({ type: "mobile-router-unsupported" });
    expect(s.mr.keyManagementCapability).toBe(false);
  });

  test("implicit mode sends no Mobile Network Prefix option; the K bit follows the configuration", () => {
    const s = setup({ prefixMode: "implicit", keyManagementCapability: false });
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    expect(s.sent[0]!.bu.options.some((o) => o.type === "mobile-network-prefix")).toBe(false);
    expect(s.sent[0]!.bu.flags.keyManagementCapability).toBe(false);
  });

  test("an IPv4-only uplink: BU from the home address, IPv4 CoA option, IPv4/UDP encapsulation asked", () => {
    const s = setup({ homeAgentIpv4Address: "192.0.2.1" });
    s.mr.addCareOfAddress(s.clock.now(), { bindingId: BID1, linkId: linkId("lte"), careOfAddress: { family: "ipv4", address: "198.51.100.7" } });
    s.pump();
    const t = s.sent[0]!.t;
    expect(t.source).toBe(HOME_ADDRESS);
    expect(t.homeAddressOption).toBeUndefined();
    expect(t.ipv4Encapsulation).toEqual({ source: "198.51.100.7", destination: "192.0.2.1" });
    expect(s.sent[0]!.bu.options).toContainEqual({ type: "ipv4-care-of-address", careOfAddress: "198.51.100.7" });
    expect(s.sent[0]!.bu.options[0]).toMatchObject({ careOfAddress: { family: "ipv4", address: "198.51.100.7" } });
  });
});

describe("refresh requests, binding errors and the update rate", () => {
  test("a Binding Refresh Request listing BID 2 refreshes BID 2", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.mr.addCareOfAddress(s.clock.now(), wifi);
    s.pump();
    s.ack(s.sent[0]!.bu, 0);
    s.runUntil(0);
    s.ack(s.sent.at(-1)!.bu, 0);
    const n = s.sent.length;
    s.mr.handleMessage({ message: { type: "binding-refresh-request", options: [{ type: "binding-identifier", bindingId: 2, status: 0, simultaneousHomeAndForeign: false }] }, source: HOME_AGENT, destination: HOME_ADDRESS }, s.clock.now());
    s.pump();
    expect(s.sent.length).toBe(n + 1);
    expect(s.sent.at(-1)!.bu.options.filter((o) => o.type === "binding-identifier").map((o) => (o as { bindingId: number }).bindingId)).toEqual([2]);
  });

  test("Binding Error status 1: the HA lost us, everything is registered again", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    s.ack(s.sent[0]!.bu, 0);
    s.mr.handleMessage({ message: { type: "binding-error", status: 1, homeAddress: HOME_ADDRESS, options: [] }, source: HOME_AGENT, destination: HOME_ADDRESS }, s.clock.now());
    s.pump();
    expect(s.sent.length).toBe(2);
    expect(s.events).toContainEqual({ type: "binding-error", status: 1, statusText: "Unknown binding for Home Address destination option" });
  });

  test("no more than MAX_UPDATE_RATE (3) BUs in any second", () => {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.pump();
    for (let i = 0; i < 6; i++) {
      s.ack(s.sent.at(-1)!.bu, 0);
      s.mr.addCareOfAddress(s.clock.now(), { ...lte, careOfAddress: { family: "ipv6", address: `2001:db8:1::${i + 10}` } });
      s.pump();
    }
    s.runUntil(5000);
    const at = s.sent.map((x) => x.at);
    for (let i = 3; i < at.length; i++) expect(at[i]! - at[i - 3]!).toBeGreaterThanOrEqual(1000);
    expect(s.counters.get("mobility.mr.bu.rate-limited")).toBeGreaterThan(0);
  });
});

describe("de-registration and returning home", () => {
  function registered() {
    const s = setup();
    s.mr.addCareOfAddress(s.clock.now(), lte);
    s.mr.addCareOfAddress(s.clock.now(), wifi);
    s.pump();
    s.ack(s.sent[0]!.bu, 0);
    s.runUntil(0);
    s.ack(s.sent.at(-1)!.bu, 0);
    expect(s.mr.registeredBindingIds()).toEqual([BID1, BID2]);
    return s;
  }

  test("// BU { lifetime 0, BID 2 } --> / <-- BA { 0 }: only BID 2 goes", () => {
    const s = registered();
    s.mr.removeCareOfAddress(s.clock.now(), BID2);
    s.pump();
    const bu = s.sent.at(-1)!.bu;
    expect(bu.lifetimeUnits).toBe(0);
    expect(bu.options.filter((o) => o.type === "binding-identifier").map((o) => (o as { bindingId: number }).bindingId)).toEqual([2]);
    expect(bu.options.some((o) => o.type === "mobile-network-prefix")).toBe(false);
    expect(s.sent.at(-1)!.t.source).toBe(LTE); // leaves from a CoA that stays
    s.ack(bu, 0);
    expect(s.mr.registeredBindingIds()).toEqual([BID1]);
    expect(s.events).toContainEqual({ type: "binding-deregistered", bindingId: BID2 });
  });

  test("// BU { lifetime 0, BID 2 } --> ; BID 2 added again ; <-- BA { 0 }: BID 2 is registered afresh, not forgotten (a flapping uplink)", () => {
    const s = registered();
    s.mr.removeCareOfAddress(s.clock.now(), BID2);
    s.pump();
    const deregistration = s.sent.at(-1)!.bu;
    expect(deregistration.lifetimeUnits).toBe(0);
    s.mr.addCareOfAddress(s.clock.now(), wifi);
    s.ack(deregistration, 0);
    expect(s.events).toContainEqual({ type: "binding-deregistered", bindingId: BID2 });
    s.runUntil(s.clock.now());
    const again = s.sent.at(-1)!.bu;
    expect(again.lifetimeUnits).toBeGreaterThan(0);
    expect(bidsOf(again).map((o) => (o as { bindingId: number }).bindingId)).toContain(2);
    s.ack(again, 0);
    expect(s.mr.registeredBindingIds()).toEqual([BID1, BID2]);
  });

  test("de-register all: lifetime 0 and no BID option (RFC 5648 §5.4)", () => {
    const s = registered();
    s.mr.deregisterAll(s.clock.now());
    s.pump();
    const bu = s.sent.at(-1)!.bu;
    expect(bu.lifetimeUnits).toBe(0);
    expect(bu.options.filter((o) => o.type === "binding-identifier")).toEqual([]);
    s.ack(bu, 0, []);
    expect(s.mr.bindings()).toEqual([]);
    expect(s.events).toContainEqual({ type: "all-deregistered" });
  });

  test("return home: BU from the home address, no Home Address option", () => {
    const s = registered();
    s.mr.returnHome(s.clock.now());
    s.pump();
    const last = s.sent.at(-1)!;
    expect(last.t.source).toBe(HOME_ADDRESS);
    expect(last.t.homeAddressOption).toBeUndefined();
    expect(last.bu.options.some((o) => o.type === "alternate-care-of-address")).toBe(false);
    s.ack(last.bu, 0, []);
    expect(s.events).toContainEqual({ type: "returned-home", neighborDiscoveryAllowed: true });
  });

  test("home binding with the H flag (RFC 5648 §5.6.3): CoA field is the home address; status 5 reported", () => {
    const s = registered();
    s.mr.addHomeBinding(s.clock.now(), { bindingId: bindingId(9), linkId: linkId("eth-home") });
    s.pump();
    const bu = s.sent.at(-1)!.bu;
    expect(bu.options[0]).toEqual({ type: "binding-identifier", bindingId: 9, status: 0, simultaneousHomeAndForeign: true, careOfAddress: { family: "ipv6", address: HOME_ADDRESS } });
    s.ack(bu, 5);
    expect(s.events.find((e) => e.type === "binding-registered" && e.bindingId === 9)).toMatchObject({ status: 5 });
  });
});

void (0 as unknown as Instant);
