// The `primary` design with an IPv4 care-of address behind a NAT (RFC 5555): the real BUL and binding cache, BUs in UDP when they leave from the IPv4 CoA.
import { describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { VirtualClock } from "../../../firmware/core/instant.ts";
import { BindingCache } from "../../../firmware/mobility/binding-cache.ts";
import { BindingUpdateList } from "../../../firmware/mobility/binding-update-list.ts";
import { bindingId } from "../../../firmware/mobility/types.ts";
import type { MobilityTransmit } from "../../../firmware/mobility/types.ts";
import { modeUplinks } from "../../../firmware/multicoa/mode.ts";
import { createHomeAgentMode, createRouterMode } from "../../../firmware/multicoa/modes.ts";
import { HOME_ADDRESS, homeAgentConfig, routerConfig, WIFI } from "../../scenario/mobility-harness.ts";
import { DEFAULT_MULTICOA } from "./modes-harness.ts";

const LTE4 = "100.64.0.2";
const HA4 = "192.0.2.2";
const NAT = "192.0.2.1";

/** LTE (BID 1) is IPv4-only behind a NAT whose public address is `nat.address`; Wi-Fi (BID 2) is IPv6. */
function ipv4Lab(preferred: "lte" | "wifi") {
  const clock = new VirtualClock(0);
  const log: string[] = [];
  const nat = { address: NAT, port: 40_000 };
  const bul = new BindingUpdateList(routerConfig({ keyManagementCapability: false, homeAgentIpv4Address: HA4 }), new Counters());
  const cache = new BindingCache(homeAgentConfig({ keyManagementCapability: false, homeAgentIpv4Address: HA4, multipleCareOfAddresses: true, bulkRegistration: true }), new Counters());
  const uplinks = modeUplinks([
    { id: "lte", bindingId: 1, careOfAddress: LTE4, kind: "cellular" },
    { id: "wifi", bindingId: 2, careOfAddress: WIFI, kind: "wifi" },
  ]);
  const router = createRouterMode("primary", { bul, uplinks, config: DEFAULT_MULTICOA, preferred: preferred === "lte" ? 0 : 1, log: (l) => log.push(`mr: ${l}`) });
  const homeAgent = createHomeAgentMode("primary", DEFAULT_MULTICOA, (l) => log.push(`ha: ${l}`));
  const bus: MobilityTransmit[] = [];
  const settle = () => {
    for (let round = 0; round < 50; round++) {
      let moved = false;
      for (let t = bul.pollTransmit(clock.now()); t !== undefined; t = bul.pollTransmit(clock.now())) {
        const routed = router.routeSignalling(t);
        bus.push(routed);
        moved = true;
        // In UDP from the IPv4 CoA the home agent sees the NAT's mapping; otherwise an IPv6 BU with a Home Address option.
        const input =
          routed.ipv4Encapsulation !== undefined
            ? { message: routed.message, source: routed.source, destination: routed.destination, protectedByEsp: true, udpEncapsulation: { ...nat } }
            : { message: routed.message, source: routed.source, destination: routed.destination, homeAddressOption: routed.homeAddressOption!, protectedByEsp: true };
        homeAgent.observeBindingUpdate(input, clock.now());
        cache.handleMessage(input, clock.now());
      }
      for (let t = cache.pollTransmit(clock.now()); t !== undefined; t = cache.pollTransmit(clock.now())) {
        homeAgent.observeTransmit(t, clock.now());
        moved = true;
        router.observeReceived(t.message, clock.now());
        bul.handleMessage({ message: t.message, source: t.source, destination: t.routingType2Address ?? t.destination }, clock.now());
      }
      for (let e = bul.pollEvent(); e !== undefined; e = bul.pollEvent()) {
        router.handleBindingEvent(e, clock.now());
        moved = true;
      }
      while (cache.pollEvent() !== undefined) moved = true;
      while (router.pollDirective() !== undefined) moved = true;
      if (!moved) return;
    }
    throw new Error("livelock: messages still moving after 50 rounds");
  };
  const advance = (ms: number) => {
    const until = clock.now() + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const next = [bul.pollTimeout(), cache.pollTimeout(), homeAgent.pollTimeout()].filter((t): t is NonNullable<typeof t> => t !== undefined && t <= until).sort((a, b) => a - b)[0];
      if (next === undefined) break;
      clock.advance(Math.max(0, next - clock.now()));
      bul.handleTimeout(clock.now());
      cache.handleTimeout(clock.now());
      homeAgent.handleTimeout(clock.now());
      settle();
    }
    clock.advance(until - clock.now());
    settle();
  };
  const table = () => homeAgent.table(cache, [HOME_ADDRESS], clock.now())[0]!;
  router.linkUp("lte", clock.now());
  router.linkUp("wifi", clock.now());
  settle();
  return { clock, bul, cache, router, bus, nat, table, settle, advance, log };
}

const fromIpv4 = (t: MobilityTransmit) => t.ipv4Encapsulation?.source === LTE4 && t.homeAddressOption === undefined && t.source === HOME_ADDRESS;

describe("primary over an IPv4 care-of address behind a NAT (RFC 5555)", () => {
  test("IPv4 LTE primary: every BU, the Wi-Fi ones too, leaves in UDP from LTE; the home agent's primary is the NAT's address", () => {
    const lab = ipv4Lab("lte");
    // BU { BID 2, CoA wifi } --> in UDP from 100.64.0.2 (IPv6 CoAs go first)   <-- BA in UDP
    // BU { BID 1, CoA 100.64.0.2, IPv4 CoA } --> in UDP from 100.64.0.2          <-- BA { NAT Detection }
    expect(lab.bus.length).toBeGreaterThanOrEqual(2);
    expect(lab.bus.every(fromIpv4)).toBe(true);
    const wifiBu = lab.bus.find((t) => t.message.type === "binding-update" && t.message.options.some((o) => o.type === "binding-identifier" && o.bindingId === 2))!;
    expect(wifiBu.message.type === "binding-update" && wifiBu.message.options.some((o) => o.type === "ipv4-care-of-address" && o.careOfAddress === LTE4)).toBe(true);
    expect(lab.table()).toMatchObject({ careOfAddresses: [`::ffff:${NAT}`], idleCareOfAddresses: [WIFI] });
    expect(lab.router.status().primary).toBe("lte");
    expect(lab.cache.bindingsOf(HOME_ADDRESS).find((b) => b.bindingId === 1)).toMatchObject({ observed: { address: NAT }, behindNat: true });
  });

  test("IPv4 LTE primary: refreshes of the Wi-Fi binding never name Wi-Fi (the primary stays LTE through lifetimes)", () => {
    const lab = ipv4Lab("lte");
    const before = lab.bus.length;
    lab.advance(700_000);
    const refreshes = lab.bus.slice(before);
    expect(refreshes.filter((t) => t.message.type === "binding-update" && t.message.options.some((o) => o.type === "binding-identifier" && o.bindingId === 2)).length).toBeGreaterThanOrEqual(2);
    expect(refreshes.every(fromIpv4)).toBe(true);
    expect(lab.table()).toMatchObject({ careOfAddresses: [`::ffff:${NAT}`], idleCareOfAddresses: [WIFI] });
    expect(lab.cache.bindingsOf(HOME_ADDRESS).map((b) => b.bindingId)).toEqual([1, 2]);
  });

  test("IPv4 LTE primary, NAT rebinding to a new address: the rebinding refresh moves the primary to the new mapping", () => {
    const lab = ipv4Lab("lte");
    lab.nat.address = "192.0.2.3";
    lab.nat.port = 41_000;
    lab.bul.refreshNatBinding(lab.clock.now(), bindingId(1));
    lab.settle();
    expect(lab.table()).toMatchObject({ careOfAddresses: ["::ffff:192.0.2.3"], idleCareOfAddresses: [WIFI] });
    expect(lab.cache.bindingsOf(HOME_ADDRESS).find((b) => b.bindingId === 1)?.observed).toEqual({ address: "192.0.2.3", port: 41_000 });
    expect(lab.router.status().primary).toBe("lte");
  });

  test("Wi-Fi primary, IPv4 LTE secondary: LTE's BUs leave from Wi-Fi; a switch to LTE leaves in UDP from it and makes the NAT's address primary", () => {
    const lab = ipv4Lab("wifi");
    expect(lab.bus.every((t) => t.source === WIFI && t.ipv4Encapsulation === undefined)).toBe(true);
    expect(lab.table()).toMatchObject({ careOfAddresses: [WIFI] });
    lab.advance(700_000);
    expect(lab.table()).toMatchObject({ careOfAddresses: [WIFI] });
    const before = lab.bus.length;
    lab.router.prefer("lte", lab.clock.now());
    lab.settle();
    expect(fromIpv4(lab.bus[before]!)).toBe(true);
    expect(lab.router.status().primary).toBe("lte");
    expect(lab.table()).toMatchObject({ careOfAddresses: [`::ffff:${NAT}`, WIFI] }); // Wi-Fi drains
    lab.advance(1_000);
    expect(lab.table()).toMatchObject({ careOfAddresses: [`::ffff:${NAT}`], idleCareOfAddresses: [WIFI] });
  });
});
