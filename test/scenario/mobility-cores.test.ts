// Mobile router core against home agent core, in one process, through a channel that carries encoded bytes.
import { describe, expect, test } from "bun:test";
import { parsePrefix } from "../../firmware/wire/address.ts";
import { buFlags, encodeMobilityMessage } from "../../firmware/wire/mobility-header.ts";
import { BaStatus } from "../../firmware/mobility/status.ts";
import { bindingId, linkId, transmitPseudoHeader, type CareOfAddress } from "../../firmware/mobility/types.ts";
import { HOME_ADDRESS, HOME_AGENT, LTE, MobilityLab, WIFI } from "./mobility-harness.ts";

const BID1 = bindingId(1);
const BID2 = bindingId(2);
const v6 = (address: string): CareOfAddress => ({ family: "ipv6", address });

function agree(lab: MobilityLab): { mr: [number, string][]; ha: [number, string][] } {
  const mr = lab.router.bindings().filter((b) => b.state === "registered").map((b): [number, string] => [b.bindingId, b.careOfAddress.address]);
  const ha = lab.homeAgent.bindingsOf(HOME_ADDRESS).map((b): [number, string] => [b.bindingId, b.careOfAddress.address]);
  return { mr, ha };
}

describe("registration end to end", () => {
  test("// BU { BID 1 lte, BID 2 wifi, MNP } --> <-- BA { 0 }: both sides hold the same bindings", () => {
    const lab = new MobilityLab();
    lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    lab.router.addCareOfAddress(lab.now, { bindingId: BID2, linkId: linkId("wifi"), careOfAddress: v6(WIFI) });
    lab.settle();
    const { mr, ha } = agree(lab);
    expect(mr).toEqual([[1, LTE], [2, WIFI]]);
    expect(ha).toEqual(mr);
    expect(lab.homeAgent.prefixesOf(HOME_ADDRESS)).toEqual([parsePrefix("2001:db8:ab::/48")!]);
    // The data plane's questions.
    expect(lab.homeAgent.isRegisteredCareOfAddress(HOME_ADDRESS, WIFI)).toBe(true);
    expect(lab.homeAgent.isRegisteredCareOfAddress("2001:db8:ab:5::99", LTE)).toBe(true);
    expect(lab.homeAgent.isRegisteredCareOfAddress("2001:db8:ab:5::99", "2001:db8:9::1")).toBe(false);
    expect(lab.homeAgent.isRegisteredCareOfAddress("2001:db8:cc::1", LTE)).toBe(false);
    expect(lab.homeAgent.careOfAddressFor("2001:db8:ab::7")).toMatchObject({ bindingId: 1, careOfAddress: v6(LTE) });
    expect(lab.homeAgent.careOfAddressFor("2001:db8:ffff::7")).toBeUndefined();
    // Every BA went to the CoA with a Type 2 routing header (RFC 6275 §9.5.4).
    for (const s of lab.sent.filter((x) => x.to === "mr")) expect(s.transmit.routingType2Address).toBe(HOME_ADDRESS);
    expect(lab.router.keyManagementCapability).toBe(true);
  });

  test("lifetime expiry at the home agent when refreshes stop", () => {
    const lab = new MobilityLab({ requestedLifetimeSeconds: 60 });
    lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    lab.settle();
    const start = lab.now;
    lab.blackhole.toHa = true; // the uplink dies: no refresh arrives
    lab.runUntil(start + 59_000);
    expect(lab.homeAgent.bindingsOf(HOME_ADDRESS).length).toBe(1);
    lab.runUntil(start + 61_000);
    expect(lab.homeAgent.bindingsOf(HOME_ADDRESS)).toEqual([]);
    expect(lab.haCounters.get("mobility.ha.binding.expired")).toBe(1);
    expect(lab.homeAgent.isRegisteredCareOfAddress(HOME_ADDRESS, LTE)).toBe(false);
    expect(lab.routerEvents).toContainEqual({ type: "binding-expired", bindingId: BID1 });
  });

  test("a rebooted router resynchronises its Sequence # from a 135", () => {
    const lab = new MobilityLab({ initialSequenceNumber: 5000 });
    lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    lab.settle();
    const rebooted = new MobilityLab({ initialSequenceNumber: 10 });
    // Same home agent state: replay the first lab's accepted BU into the new lab's HA.
    const firstBu = lab.bus()[0]!;
    rebooted.homeAgent.handleMessage({ message: firstBu.message, source: firstBu.source, destination: firstBu.destination, homeAddressOption: HOME_ADDRESS, protectedByEsp: true }, rebooted.now);
    rebooted.flush();
    rebooted.router.addCareOfAddress(rebooted.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    rebooted.settle();
    expect(rebooted.routerEvents).toContainEqual({ type: "sequence-resync", lastAcceptedSequence: 5000 });
    expect(rebooted.bus().map((t) => (t.message as { sequenceNumber: number }).sequenceNumber)).toEqual([10, 5001]);
    expect(rebooted.homeAgent.lastSequenceOf(HOME_ADDRESS)).toBe(5001);
  });

  test("one BID failing (link-local CoA: 164) while the other stays; BA status 4", () => {
    const lab = new MobilityLab();
    lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    lab.settle();
    lab.router.addCareOfAddress(lab.now, { bindingId: BID2, linkId: linkId("wifi"), careOfAddress: v6(WIFI) });
    lab.router.addCareOfAddress(lab.now, { bindingId: bindingId(3), linkId: linkId("bad"), careOfAddress: v6("fe80::1") });
    lab.settle();
    const ba = lab.sent.filter((s) => s.to === "mr").at(-1)!.transmit.message;
    expect(ba).toMatchObject({ type: "binding-acknowledgement", status: BaStatus.mcoaNotComplete });
    expect(Object.fromEntries(lab.router.bindings().map((b) => [b.bindingId, b.state]))).toEqual({ 1: "registered", 2: "registered", 3: "failed" });
    expect(agree(lab).ha).toEqual([[1, LTE], [2, WIFI]]);
  });

  test("home agent policies: 169 for a home binding, 140/142/143 for NEMO authorisation", () => {
    const h = new MobilityLab({}, { simultaneousHomeAndForeign: false });
    h.router.addCareOfAddress(h.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    h.router.addHomeBinding(h.now, { bindingId: BID2, linkId: linkId("home") });
    h.settle();
    expect(h.router.bindings().find((b) => b.bindingId === 2)).toMatchObject({ state: "failed", lastStatus: 169 });

    const cases: [string, ConstructorParameters<typeof MobilityLab>[0], ConstructorParameters<typeof MobilityLab>[1], number][] = [
      ["router operation not permitted", {}, { mobileNodes: [{ homeAddress: HOME_ADDRESS, prefixes: [], mobileRouter: false }] }, 140],
      ["prefix not authorised", { mobileNetworkPrefixes: [parsePrefix("2001:db8:cd::/48")!] }, {}, 142],
      ["implicit mode with no configured prefix", { prefixMode: "implicit" }, { mobileNodes: [{ homeAddress: HOME_ADDRESS, prefixes: [] }] }, 143],
      ["unknown home address", { homeAddress: "2001:db8:a::99" }, {}, 133],
    ];
    for (const [, mr, ha, status] of cases) {
      const lab = new MobilityLab(mr, ha);
      lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
      lab.settle();
      expect(lab.routerEvents.find((e) => e.type === "registration-rejected")).toMatchObject({ status });
      expect(lab.homeAgent.bindingsOf(HOME_ADDRESS)).toEqual([]);
    }
  });

  test("ESP-protected BU whose BID option lacks its CoA: 164 (RFC 5648 §4.4)", () => {
    const lab = new MobilityLab({ espProtected: false, requestedLifetimeSeconds: 40 }, {}, { espProtected: true });
    lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    lab.settle();
    lab.runUntil(lab.now + 25_000); // the refresh carries no CoA
    lab.settle();
    expect(lab.routerEvents.find((e) => e.type === "registration-rejected")).toMatchObject({ status: 164 });
  });

  test("168 from the home agent: bulk refused, the router registers one BID per BU and gets both", () => {
    const lab = new MobilityLab({}, { bulkRegistration: false });
    lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    lab.router.addCareOfAddress(lab.now, { bindingId: BID2, linkId: linkId("wifi"), careOfAddress: v6(WIFI) });
    lab.settle();
    expect(lab.routerEvents).toContainEqual({ type: "bulk-registration-prohibited" });
    expect(agree(lab).ha).toEqual([[1, LTE], [2, WIFI]]);
  });

  test("166 (MCoA prohibited): one RFC 6275 binding to the primary CoA, via the Alternate CoA option", () => {
    const lab = new MobilityLab({}, { multipleCareOfAddresses: false });
    lab.router.addCareOfAddress(lab.now, { bindingId: BID2, linkId: linkId("wifi"), careOfAddress: v6(WIFI) });
    lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    lab.settle();
    expect(lab.routerEvents).toContainEqual({ type: "mcoa-unsupported", status: 166 });
    expect(lab.homeAgent.bindingsOf(HOME_ADDRESS).map((b) => [b.bindingId, b.careOfAddress.address])).toEqual([[0, LTE]]);
    expect(lab.bus().at(-1)!.message).toMatchObject({ options: expect.arrayContaining([{ type: "alternate-care-of-address", careOfAddress: LTE }]) });
  });

  test("165: a BID-less binding exists; the router clears it and registers its BIDs", () => {
    const lab = new MobilityLab();
    const plain = { type: "binding-update", sequenceNumber: 7, flags: buFlags({ acknowledge: true, homeRegistration: true, mobileRouter: true }), lifetimeUnits: 100, options: [] } as const;
    lab.homeAgent.handleMessage({ message: plain, source: "2001:db8:7::1", destination: HOME_AGENT, homeAddressOption: HOME_ADDRESS, protectedByEsp: true }, lab.now);
    while (lab.homeAgent.pollTransmit(lab.now));
    expect(lab.homeAgent.bindingsOf(HOME_ADDRESS).map((b) => b.bindingId)).toEqual([0]);
    lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    lab.settle();
    expect(lab.haCounters.get("mobility.ha.reject.165")).toBe(1);
    expect(agree(lab).ha).toEqual([[1, LTE]]);
  });

  test("a Binding Refresh Request from the home agent brings a refresh before expiry", () => {
    const lab = new MobilityLab({ requestedLifetimeSeconds: 100, refreshRatio: 0.99 }, { refreshRequestLeadMs: 20_000 });
    lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    lab.settle();
    lab.runUntil(lab.now + 85_000);
    expect(lab.haCounters.get("mobility.ha.brr.sent")).toBe(1);
    expect(lab.routerEvents).toContainEqual({ type: "refresh-requested", bindingIds: [BID1] });
    expect(lab.routerEvents.filter((e) => e.type === "binding-registered" && e.refresh).length).toBeGreaterThanOrEqual(1);
    lab.runUntil(lab.now + 60_000);
    expect(lab.homeAgent.bindingsOf(HOME_ADDRESS).length).toBe(1);
  });

  test("de-register one BID, then all, then come back and return home", () => {
    const lab = new MobilityLab();
    lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    lab.router.addCareOfAddress(lab.now, { bindingId: BID2, linkId: linkId("wifi"), careOfAddress: v6(WIFI) });
    lab.settle();
    lab.router.removeCareOfAddress(lab.now, BID1);
    lab.settle();
    expect(agree(lab)).toEqual({ mr: [[2, WIFI]], ha: [[2, WIFI]] });
    lab.router.deregisterAll(lab.now);
    lab.settle();
    expect(agree(lab)).toEqual({ mr: [], ha: [] });
    lab.router.addCareOfAddress(lab.now, { bindingId: BID1, linkId: linkId("lte"), careOfAddress: v6(LTE) });
    lab.settle();
    lab.router.returnHome(lab.now);
    lab.settle();
    expect(lab.routerEvents).toContainEqual({ type: "returned-home", neighborDiscoveryAllowed: true });
    expect(lab.homeAgent.bindingsOf(HOME_ADDRESS)).toEqual([]);
    expect(lab.bus().at(-1)!.source).toBe(HOME_ADDRESS);
  });

  test("an unknown MH type gets Binding Error status 2", () => {
    const lab = new MobilityLab();
    lab.homeAgent.handleMessage({ message: { type: "unrecognized", mhType: 13, messageData: new Uint8Array(10) }, source: LTE, destination: HOME_AGENT, protectedByEsp: false }, lab.now);
    const t = lab.homeAgent.pollTransmit(lab.now)!;
    expect(t.message).toEqual({ type: "binding-error", status: 2, homeAddress: "::", options: [] });
    expect(encodeMobilityMessage(t.message, transmitPseudoHeader(t)).length).toBe(24);
  });
});

describe("lossy, reordering channel (seeded)", () => {
  const addresses = [LTE, WIFI, "2001:db8:3::a", "2001:db8:4::a", "2001:db8:5::a"];
  for (let seed = 1; seed <= 40; seed++) {
    test(`seed ${seed}: after random losses, reorderings and uplink churn both sides agree`, () => {
      const lab = new MobilityLab({ requestedLifetimeSeconds: 120, initialSequenceNumber: (seed * 7919) & 0xffff }, {}, { seed, lossRate: 0.3, minDelayMs: 10, jitterMs: 2500 });
      const random = (() => {
        let a = seed * 104729;
        return () => ((a = (a * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
      })();
      for (let step = 0; step < 25; step++) {
        const id = bindingId(1 + Math.floor(random() * 4));
        const r = random();
        if (r < 0.55) lab.router.addCareOfAddress(lab.now, { bindingId: id, linkId: linkId(`l${id}`), careOfAddress: v6(addresses[Math.floor(random() * addresses.length)]!) });
        else if (r < 0.9) lab.router.removeCareOfAddress(lab.now, id);
        else lab.router.deregisterAll(lab.now);
        lab.runUntil(lab.now + Math.floor(random() * 8000));
      }
      lab.settle(3_600_000);
      const lost = lab.sent.filter((s) => s.lost).length;
      expect(lost).toBeGreaterThan(0);
      const { mr, ha } = agree(lab);
      expect(ha).toEqual(mr);
      const wanted = lab.router.bindings().filter((b) => b.state !== "failed").map((b): [number, string] => [b.bindingId, b.careOfAddress.address]);
      expect(mr).toEqual(wanted);
    });
  }
});
