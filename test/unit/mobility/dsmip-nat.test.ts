// RFC 5555 in the mobility cores: NAT detection at the home agent, the BA's NAT Detection option, the BUL's keepalive refreshes.
import { describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant, VirtualClock } from "../../../firmware/core/instant.ts";
import { bindingTableFromCache } from "../../../firmware/dataplane/binding-table.ts";
import { BindingCache, natDetection, type HomeAgentConfig, type UdpEncapsulationSource } from "../../../firmware/mobility/binding-cache.ts";
import { BindingUpdateList } from "../../../firmware/mobility/binding-update-list.ts";
import { bindingId, linkId, type MobilityTransmit } from "../../../firmware/mobility/types.ts";
import { buFlags, type MobilityMessage } from "../../../firmware/wire/mobility-header.ts";
import { NAT_REFRESH_NOT_NEEDED } from "../../../firmware/wire/mobility-options.ts";
import { HOME_ADDRESS, HOME_AGENT, MNP, routerConfig, WIFI } from "../../scenario/mobility-harness.ts";

type Bu = Extract<MobilityMessage, { type: "binding-update" }>;
type Ba = Extract<MobilityMessage, { type: "binding-acknowledgement" }>;
const LTE_V4 = "100.64.0.2";
const HA_V4 = "192.0.2.2";
const NAT = { address: "192.0.2.1", port: 40001 };

function cache(over: Partial<HomeAgentConfig> = {}) {
  const counters = new Counters();
  const ha = new BindingCache({ homeAgentAddress: HOME_AGENT, homeAgentIpv4Address: HA_V4, mobileNodes: [{ homeAddress: HOME_ADDRESS, prefixes: [MNP] }], keyManagementCapability: false, ...over }, counters);
  return { ha, counters };
}

/** A registration BU for BID 1 with an IPv4 CoA, as the BUL builds it (BID option with the CoA, IPv4 Care-of Address option). */
function ipv4Bu(coa: string, sequenceNumber = 10, forceUdp = false): Bu {
  return {
    type: "binding-update",
    sequenceNumber,
    flags: buFlags({ acknowledge: true, homeRegistration: true, mobileRouter: true, forceUdpEncapsulation: forceUdp }),
    lifetimeUnits: 150,
    options: [
      { type: "binding-identifier", bindingId: 1, status: 0, simultaneousHomeAndForeign: false, careOfAddress: { family: "ipv4", address: coa } },
      { type: "ipv4-care-of-address", careOfAddress: coa },
    ],
  };
}

function send(ha: BindingCache, bu: Bu, udp?: UdpEncapsulationSource, at = 0): MobilityTransmit {
  // RFC 5555 §4.1: source = home address, no Home Address option, in UDP from `udp`.
  ha.handleMessage({ message: bu, source: HOME_ADDRESS, destination: HOME_AGENT, protectedByEsp: true, ...(udp ? { udpEncapsulation: udp } : {}) }, instant(at));
  const t = ha.pollTransmit(instant(at));
  if (!t) throw new Error("no BA");
  return t;
}

const natOption = (t: MobilityTransmit) => (t.message as Ba).options.find((o) => o.type === "nat-detection");

describe("home agent: NAT detection on a UDP-encapsulated BU (RFC 5555 §4.1)", () => {
  test("claimed IPv4 CoA = outer source: no NAT, no option; the binding is not behind a NAT", () => {
    const { ha } = cache();
    const t = send(ha, ipv4Bu("198.51.100.7"), { address: "198.51.100.7", port: 4191 });
    expect((t.message as Ba).status).toBe(0);
    expect(natOption(t)).toBeUndefined();
    expect(ha.bindingsOf(HOME_ADDRESS)[0]).toMatchObject({ observed: { address: "198.51.100.7", port: 4191 }, behindNat: false });
  });

  test("claimed ≠ outer: NAT, F=1 with the configured Refresh time; the binding keeps both addresses", () => {
    const { ha, counters } = cache({ natKeepaliveSeconds: 30 });
    const t = send(ha, ipv4Bu(LTE_V4), NAT);
    expect(natOption(t)).toEqual({ type: "nat-detection", udpEncapsulationRequired: true, refreshTimeSeconds: 30 });
    const b = ha.bindingsOf(HOME_ADDRESS)[0]!;
    expect(b.careOfAddress).toEqual({ family: "ipv4", address: LTE_V4 });
    expect(b.observed).toEqual(NAT);
    expect(b.behindNat).toBe(true);
    expect(counters.get("mobility.ha.nat.detected")).toBe(1);
    // The data plane checks (and sends to) the NAT's address, IPv4-mapped.
    expect(bindingTableFromCache(ha, [HOME_ADDRESS])[0]!.careOfAddresses).toEqual([`::ffff:${NAT.address}`]);
    expect(ha.isRegisteredCareOfAddress(HOME_ADDRESS, NAT.address)).toBe(true);
    expect(ha.isRegisteredCareOfAddress(HOME_ADDRESS, "192.0.2.99")).toBe(false);
  });

  test("the default Refresh time is NATKATIMEOUT, 110 s", () => {
    const { ha } = cache();
    expect(natOption(send(ha, ipv4Bu(LTE_V4), NAT))?.refreshTimeSeconds).toBe(110);
  });

  test("the BU's F flag forces the option without a NAT: F=1, Refresh time all ones (no keepalives needed)", () => {
    const { ha } = cache();
    const t = send(ha, ipv4Bu("198.51.100.7", 10, true), { address: "198.51.100.7", port: 4191 });
    expect(natOption(t)).toEqual({ type: "nat-detection", udpEncapsulationRequired: true, refreshTimeSeconds: NAT_REFRESH_NOT_NEEDED });
  });

  test("a UDP BU without an IPv4 Care-of Address option counts as NATed (nothing to compare)", () => {
    const bu = ipv4Bu(LTE_V4);
    const stripped: Bu = { ...bu, options: bu.options.filter((o) => o.type !== "ipv4-care-of-address") };
    expect(natDetection(stripped, NAT, 110)?.udpEncapsulationRequired).toBe(true);
  });

  test("the BA goes back the way the BU came: to the home address, no Type 2 routing header, in UDP to the observed address:port", () => {
    const { ha } = cache();
    const t = send(ha, ipv4Bu(LTE_V4), NAT);
    expect(t.destination).toBe(HOME_ADDRESS);
    expect(t.routingType2Address).toBeUndefined();
    expect(t.ipv4Encapsulation).toEqual({ source: HA_V4, destination: NAT.address, destinationPort: NAT.port });
  });

  test("a BU over IPv6 (no outer IPv4) gets no option and keeps the observed mapping of the same CoA; a new mapping replaces it", () => {
    const { ha } = cache();
    send(ha, ipv4Bu(LTE_V4, 10), NAT);
    const viaIpv6 = send(ha, ipv4Bu(LTE_V4, 11));
    expect(natOption(viaIpv6)).toBeUndefined();
    expect(ha.bindingsOf(HOME_ADDRESS)[0]!.observed).toEqual(NAT);
    const rebound = { address: "192.0.2.3", port: 50000 };
    send(ha, ipv4Bu(LTE_V4, 12), rebound);
    expect(ha.bindingsOf(HOME_ADDRESS)[0]!.observed).toEqual(rebound);
    expect(bindingTableFromCache(ha, [HOME_ADDRESS])[0]!.careOfAddresses).toEqual(["::ffff:192.0.2.3"]);
    expect(ha.isRegisteredCareOfAddress(HOME_ADDRESS, NAT.address)).toBe(false);
  });

  test("IPv6 bindings are untouched by a UDP BU", () => {
    const { ha } = cache();
    const bu: Bu = { ...ipv4Bu(LTE_V4), options: [{ type: "binding-identifier", bindingId: 2, status: 0, simultaneousHomeAndForeign: false, careOfAddress: { family: "ipv6", address: WIFI } }, { type: "ipv4-care-of-address", careOfAddress: LTE_V4 }] };
    send(ha, bu, NAT);
    const b = ha.bindingsOf(HOME_ADDRESS)[0]!;
    expect(b.careOfAddress).toEqual({ family: "ipv6", address: WIFI });
    expect(b.observed).toBeUndefined();
  });
});

describe("mobile router: an IPv4 CoA registers on its own, from itself, and refreshes at the NAT's pace", () => {
  function router() {
    const clock = new VirtualClock(0);
    const counters = new Counters();
    const mr = new BindingUpdateList(routerConfig({ homeAgentIpv4Address: HA_V4, requestedLifetimeSeconds: 600 }), counters);
    const sent: MobilityTransmit[] = [];
    const pump = () => {
      for (let t = mr.pollTransmit(clock.now()); t; t = mr.pollTransmit(clock.now())) sent.push(t);
    };
    return { clock, counters, mr, sent, pump };
  }

  test("IPv6 CoAs go first in one BU; the IPv4 CoA then goes alone from its uplink, UDP-encapsulated to the home agent's IPv4", () => {
    const r = router();
    r.mr.addCareOfAddress(r.clock.now(), { bindingId: bindingId(1), linkId: linkId("lte"), careOfAddress: { family: "ipv4", address: LTE_V4 } });
    r.mr.addCareOfAddress(r.clock.now(), { bindingId: bindingId(2), linkId: linkId("wifi"), careOfAddress: { family: "ipv6", address: WIFI } });
    r.pump();
    expect(r.sent.length).toBe(1);
    expect(r.sent[0]!.homeAddressOption).toBe(HOME_ADDRESS);
    expect((r.sent[0]!.message as Bu).options.filter((o) => o.type === "binding-identifier").map((o) => o.type === "binding-identifier" && o.bindingId)).toEqual([2]);
    const { ha } = cache();
    ha.handleMessage({ message: r.sent[0]!.message, source: r.sent[0]!.source, destination: HOME_AGENT, homeAddressOption: HOME_ADDRESS, protectedByEsp: true }, r.clock.now());
    const ba = ha.pollTransmit(r.clock.now())!;
    r.mr.handleMessage({ message: ba.message, source: HOME_AGENT, destination: HOME_ADDRESS }, r.clock.now());
    r.pump();
    const v4 = r.sent[1]!;
    expect(v4.linkId).toBe(linkId("lte"));
    expect(v4.source).toBe(HOME_ADDRESS);
    expect(v4.homeAddressOption).toBeUndefined();
    expect(v4.ipv4Encapsulation).toEqual({ source: LTE_V4, destination: HA_V4 });
  });

  test("a BA with NAT Detection (F=1, 30 s) makes the binding refresh every 30 s from the IPv4 CoA; rebinding refreshes at once", () => {
    const r = router();
    r.mr.addCareOfAddress(r.clock.now(), { bindingId: bindingId(1), linkId: linkId("lte"), careOfAddress: { family: "ipv4", address: LTE_V4 } });
    r.pump();
    const { ha } = cache({ natKeepaliveSeconds: 30 });
    const exchange = () => {
      const bu = r.sent.at(-1)!;
      ha.handleMessage({ message: bu.message, source: bu.source, destination: HOME_AGENT, protectedByEsp: true, udpEncapsulation: NAT }, r.clock.now());
      const ba = ha.pollTransmit(r.clock.now())!;
      r.mr.handleMessage({ message: ba.message, source: HOME_AGENT, destination: HOME_ADDRESS }, r.clock.now());
      r.pump();
    };
    exchange();
    const entry = r.mr.bindings()[0]!;
    expect(entry).toMatchObject({ state: "registered", behindNat: true, natRefreshSeconds: 30 });
    // The lifetime (600 s, refreshed at half) would wait 300 s; the NAT's 30 s wins.
    expect(entry.refreshAt).toBe(instant(30_000));
    r.clock.set(instant(29_999));
    r.mr.handleTimeout(r.clock.now());
    r.pump();
    expect(r.sent.length).toBe(1);
    r.clock.set(r.mr.pollTimeout()!);
    r.mr.handleTimeout(r.clock.now());
    r.pump();
    expect(r.sent.length).toBe(2);
    expect(r.sent[1]!.ipv4Encapsulation?.source).toBe(LTE_V4);
    exchange();
    // Suspected rebinding: a refresh goes out now, not at the next keepalive.
    r.clock.set(instant(r.clock.now() + 5_000));
    r.mr.refreshNatBinding(r.clock.now(), bindingId(1));
    r.pump();
    expect(r.sent.length).toBe(3);
    expect(r.counters.get("mobility.mr.nat.rebinding-refresh")).toBe(1);
  });

  test("no NAT (no option): plain lifetime refresh; refreshNatBinding ignores IPv6 and unregistered bindings", () => {
    const r = router();
    r.mr.addCareOfAddress(r.clock.now(), { bindingId: bindingId(1), linkId: linkId("lte"), careOfAddress: { family: "ipv4", address: LTE_V4 } });
    r.mr.refreshNatBinding(r.clock.now(), bindingId(1)); // not registered yet
    r.pump();
    expect(r.sent.length).toBe(1);
    const { ha } = cache();
    const bu = r.sent[0]!;
    ha.handleMessage({ message: bu.message, source: bu.source, destination: HOME_AGENT, protectedByEsp: true, udpEncapsulation: { address: LTE_V4, port: 4191 } }, r.clock.now());
    r.mr.handleMessage({ message: ha.pollTransmit(r.clock.now())!.message, source: HOME_AGENT, destination: HOME_ADDRESS }, r.clock.now());
    r.pump();
    expect(r.mr.bindings()[0]).toMatchObject({ state: "registered", behindNat: false });
    expect(r.mr.bindings()[0]!.refreshAt).toBe(instant(300_000));
    r.mr.addCareOfAddress(r.clock.now(), { bindingId: bindingId(2), linkId: linkId("wifi"), careOfAddress: { family: "ipv6", address: WIFI } });
    r.pump();
    const before = r.sent.length;
    r.mr.refreshNatBinding(r.clock.now(), bindingId(2));
    r.pump();
    expect(r.sent.length).toBe(before);
  });
});
