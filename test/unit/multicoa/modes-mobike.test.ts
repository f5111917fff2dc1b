// The `mobike` design with the real BUL and binding cache: one CoA in use, moved by UPDATE_SA_ADDRESSES, the home agent following the IKE SA's address.
import { describe, expect, test } from "bun:test";
import { NotifyType } from "../../../firmware/ike/constants.ts";
import { additionalAddressNotifies } from "../../../firmware/ike/tasks/mobike.ts";
import { HOME_ADDRESS, LTE, modesLab, WIFI } from "./modes-harness.ts";

describe("mobike", () => {
  test("make-before-break: Wi-Fi is registered, the update leaves from it announcing LTE; traffic moves only when it is answered", () => {
    const lab = modesLab("mobike", { primaryDrainMs: 300 }, "lte");
    lab.router.linkUp("lte", lab.clock.now());
    lab.settle();
    lab.homeAgent.observeIkePeers!([{ homeAddress: HOME_ADDRESS, address: LTE }], lab.clock.now());
    expect(lab.router.pollIkeMove()).toBeUndefined();
    expect(lab.directive?.steering.defaultUplink).toBe(0);
    // Wi-Fi appears and is preferred:  BU { BID 2, CoA wifi } -->  <-- BA
    lab.router.prefer("wifi", lab.clock.now());
    lab.router.linkUp("wifi", lab.clock.now());
    lab.settle();
    expect(lab.cache.bindingsOf(HOME_ADDRESS).map((b) => b.careOfAddress.address).sort()).toEqual([LTE, WIFI].sort());
    // INFORMATIONAL { UPDATE_SA_ADDRESSES, COOKIE2, ADDITIONAL_IP6_ADDRESS lte } -->  (from wifi)
    expect(lab.router.pollIkeMove()).toEqual({ uplink: 1, additionalUplinks: [0] });
    expect(lab.router.pollIkeMove()).toBeUndefined();
    lab.settle();
    expect(lab.directive?.steering.defaultUplink).toBe(0); // not answered yet: still on LTE
    // The home agent moved its SA at the request: Wi-Fi in use, LTE drains.
    lab.homeAgent.observeIkePeers!([{ homeAddress: HOME_ADDRESS, address: WIFI }], lab.clock.now());
    expect(lab.table()[0]).toMatchObject({ careOfAddresses: [WIFI, LTE], idleCareOfAddresses: [] });
    // <-- INFORMATIONAL { COOKIE2 echo }
    lab.router.ikeMoved(1, lab.clock.now());
    lab.settle();
    expect(lab.directive?.steering.defaultUplink).toBe(1);
    lab.advance(400);
    expect(lab.table()[0]).toMatchObject({ careOfAddresses: [WIFI], idleCareOfAddresses: [LTE] });
    expect(lab.router.status()).toMatchObject({ inUse: "wifi", moving: null, switches: 1 });
  });

  test("break: the in-use uplink dies, traffic moves at once behind the update from the other, the dead BID is de-registered from it", () => {
    const lab = modesLab("mobike", {}, "wifi");
    lab.router.linkUp("wifi", lab.clock.now());
    lab.router.linkUp("lte", lab.clock.now());
    lab.settle();
    expect(lab.router.pollIkeMove()).toBeUndefined();
    const before = lab.bus.length;
    lab.router.linkDown("wifi", lab.clock.now());
    expect(lab.router.pollIkeMove()).toEqual({ uplink: 0, additionalUplinks: [] });
    lab.settle();
    expect(lab.directive?.steering.defaultUplink).toBe(0);
    const deregistration = lab.bus.slice(before).find((t) => t.message.type === "binding-update" && t.message.lifetimeUnits === 0);
    expect(deregistration?.source).toBe(LTE);
    expect(lab.cache.bindingsOf(HOME_ADDRESS).map((b) => b.careOfAddress.address)).toEqual([LTE]);
    // No K bit: mobility never moves the IKE SA in this design.
    expect(lab.bus.every((t) => t.message.type !== "binding-update" || !t.message.flags.keyManagementCapability)).toBe(true);
  });

  test("address change of the CoA in use (RFC 5648 §6.2): the BID is re-registered and the IKE SA follows to the new address", () => {
    const lab = modesLab("mobike", {}, "wifi");
    lab.router.linkUp("wifi", lab.clock.now());
    lab.router.linkUp("lte", lab.clock.now());
    lab.settle();
    const renumbered = "2001:db8:2::3";
    lab.router.addressChanged("wifi", renumbered, lab.clock.now());
    expect(lab.router.pollIkeMove()).toEqual({ uplink: 1, additionalUplinks: [0] });
    lab.settle();
    expect(lab.cache.bindingsOf(HOME_ADDRESS).map((b) => b.careOfAddress.address)).toContain(renumbered);
    // An address change of an idle CoA moves nothing.
    lab.router.addressChanged("lte", "2001:db8:1::3", lab.clock.now());
    expect(lab.router.pollIkeMove()).toBeUndefined();
  });

  test("home agent: only the IKE SA's address is accepted; an address that is not registered falls back to the cache's choice", () => {
    const lab = modesLab("mobike", {}, "wifi");
    lab.router.linkUp("wifi", lab.clock.now());
    lab.router.linkUp("lte", lab.clock.now());
    lab.settle();
    lab.homeAgent.observeIkePeers!([{ homeAddress: HOME_ADDRESS, address: "2001:db8:99::1" }], lab.clock.now());
    const e = lab.table()[0]!;
    expect(e.careOfAddresses).toHaveLength(1);
    expect(e.idleCareOfAddresses).toHaveLength(1);
    lab.homeAgent.observeIkePeers!([{ homeAddress: HOME_ADDRESS, address: LTE }], lab.clock.now());
    expect(lab.table()[0]!.careOfAddresses[0]).toBe(LTE);
  });

  test("ADDITIONAL_*_ADDRESS notifies (RFC 4555 §3.6): IPv6 and IPv4 by family, at most 8, NO_ADDITIONAL_ADDRESSES when empty", () => {
    const n = additionalAddressNotifies(["2001:db8:1::2", "192.0.2.7", "bogus"]);
    expect(n.map((p) => (p.kind === "notify" ? [p.notifyType, p.data.length] : p.kind))).toEqual([
      [NotifyType.additionalIp6Address, 16],
      [NotifyType.additionalIp4Address, 4],
    ]);
    expect(additionalAddressNotifies([]).map((p) => (p.kind === "notify" ? p.notifyType : 0))).toEqual([NotifyType.noAdditionalAddresses]);
    expect(additionalAddressNotifies(Array.from({ length: 12 }, (_, i) => `2001:db8::${i + 1}`))).toHaveLength(8);
  });
});
