// `per-coa` at the home agent with an IPv4 care-of address behind a NAT (RFC 5555): its SA is found at the observed address and kept across a rebinding.
import { describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { VirtualClock } from "../../../firmware/core/instant.ts";
import { BindingCache } from "../../../firmware/mobility/binding-cache.ts";
import { BindingUpdateList } from "../../../firmware/mobility/binding-update-list.ts";
import { bindingId, linkId } from "../../../firmware/mobility/types.ts";
import { PerCoaHomeAgent } from "../../../firmware/multicoa/per-coa.ts";
import { HOME_ADDRESS, homeAgentConfig, routerConfig, WIFI } from "../../scenario/mobility-harness.ts";

const LTE4 = "100.64.0.2";
const HA4 = "192.0.2.2";

function lab() {
  const clock = new VirtualClock(0);
  const nat = { address: "192.0.2.1", port: 40_000 };
  const bul = new BindingUpdateList(routerConfig({ keyManagementCapability: false, homeAgentIpv4Address: HA4 }), new Counters());
  const cache = new BindingCache(homeAgentConfig({ keyManagementCapability: false, homeAgentIpv4Address: HA4, multipleCareOfAddresses: true, bulkRegistration: true }), new Counters());
  const homeAgent = new PerCoaHomeAgent(() => {});
  const settle = () => {
    for (let round = 0; round < 20; round++) {
      let moved = false;
      for (let t = bul.pollTransmit(clock.now()); t !== undefined; t = bul.pollTransmit(clock.now())) {
        moved = true;
        const input =
          t.ipv4Encapsulation !== undefined
            ? { message: t.message, source: t.source, destination: t.destination, protectedByEsp: true, udpEncapsulation: { ...nat } }
            : { message: t.message, source: t.source, destination: t.destination, homeAddressOption: t.homeAddressOption!, protectedByEsp: true };
        homeAgent.observeBindingUpdate(input, clock.now());
        cache.handleMessage(input, clock.now());
      }
      for (let t = cache.pollTransmit(clock.now()); t !== undefined; t = cache.pollTransmit(clock.now())) {
        moved = true;
        homeAgent.observeTransmit(t, clock.now());
        bul.handleMessage({ message: t.message, source: t.source, destination: t.routingType2Address ?? t.destination }, clock.now());
      }
      while (bul.pollEvent() !== undefined) moved = true;
      while (cache.pollEvent() !== undefined) moved = true;
      if (!moved) return;
    }
    throw new Error("livelock");
  };
  bul.addCareOfAddress(clock.now(), { bindingId: bindingId(1), linkId: linkId("lte"), careOfAddress: { family: "ipv4", address: LTE4 } });
  bul.addCareOfAddress(clock.now(), { bindingId: bindingId(2), linkId: linkId("wifi"), careOfAddress: { family: "ipv6", address: WIFI } });
  settle();
  const spiOf = (careOf: string) => {
    const e = homeAgent.table(cache, [HOME_ADDRESS], clock.now())[0]!;
    return e.outboundSpis?.[e.careOfAddresses.indexOf(careOf)];
  };
  return { clock, bul, cache, homeAgent, nat, settle, spiOf };
}

describe("per-coa home agent, IPv4 care-of address behind a NAT", () => {
  test("the IKE SA from the NAT's address keys the binding observed there (IPv4-mapped), the IPv6 one keys Wi-Fi", () => {
    const l = lab();
    l.homeAgent.observeIkePeers([
      { homeAddress: HOME_ADDRESS, address: WIFI, outboundSpi: 0x1111 },
      { homeAddress: HOME_ADDRESS, address: "192.0.2.1", outboundSpi: 0x2222 },
    ], l.clock.now());
    expect(l.spiOf("::ffff:192.0.2.1")).toBe(0x2222);
    expect(l.spiOf(WIFI)).toBe(0x1111);
  });

  test("NAT rebinding: the BU from the new mapping moves the binding before IKE follows; the CoA keeps its SA while that IKE SA is held", () => {
    const l = lab();
    const peers = (address: string) => [
      { homeAddress: HOME_ADDRESS, address: WIFI, outboundSpi: 0x1111 },
      { homeAddress: HOME_ADDRESS, address, outboundSpi: 0x2222 },
    ];
    l.homeAgent.observeIkePeers(peers("192.0.2.1"), l.clock.now());
    expect(l.spiOf("::ffff:192.0.2.1")).toBe(0x2222);
    // BU { BID 1, IPv4 CoA 100.64.0.2 } --> in UDP, now seen from 192.0.2.3
    l.nat.address = "192.0.2.3";
    l.bul.refreshNatBinding(l.clock.now(), bindingId(1));
    l.settle();
    expect(l.cache.bindingsOf(HOME_ADDRESS).find((b) => b.bindingId === 1)?.observed?.address).toBe("192.0.2.3");
    expect(l.spiOf("::ffff:192.0.2.3")).toBe(0x2222);
    // The liveness check from the new mapping moved the IKE SA (RFC 7296 §2.23).
    l.homeAgent.observeIkePeers(peers("192.0.2.3"), l.clock.now());
    expect(l.spiOf("::ffff:192.0.2.3")).toBe(0x2222);
  });

  test("an IKE SA that is gone keys nothing: the CoA at a new mapping has no SA of its own (0) until one is established there", () => {
    const l = lab();
    l.homeAgent.observeIkePeers([{ homeAddress: HOME_ADDRESS, address: "192.0.2.1", outboundSpi: 0x2222 }], l.clock.now());
    expect(l.spiOf("::ffff:192.0.2.1")).toBe(0x2222);
    l.homeAgent.observeIkePeers([{ homeAddress: HOME_ADDRESS, address: WIFI, outboundSpi: 0x1111 }], l.clock.now());
    l.nat.address = "192.0.2.3";
    l.bul.refreshNatBinding(l.clock.now(), bindingId(1));
    l.settle();
    expect(l.spiOf("::ffff:192.0.2.3")).toBe(0);
  });
});
