// The `simultaneous` design with the real BUL and binding cache: traffic only on acknowledged CoAs, per-flow rules, the preferred CoA told to the HA.
import { describe, expect, test } from "bun:test";
import { FlowSteering } from "../../../firmware/multicoa/flow-steering.ts";
import { HOME_ADDRESS, LTE, modesLab, WIFI } from "./modes-harness.ts";

/** An IPv6/UDP packet with this DSCP and destination port. */
function udp6(dscp: number, port: number, destination = [0x20, 0x01, 0x0d, 0xb8, 0, 0x30]): Uint8Array {
  const p = new Uint8Array(48);
  p[0] = 0x60 | (dscp >> 2);
  p[1] = (dscp & 3) << 6;
  p[5] = 8;
  p[6] = 17;
  p[7] = 64;
  p.set(destination, 24);
  p[42] = port >> 8;
  p[43] = port & 0xff;
  return p;
}

describe("simultaneous", () => {
  test("make-before-break: a new CoA carries traffic only after its BA; then the HA is told it is preferred", () => {
    const lab = modesLab("simultaneous", {}, "wifi");
    lab.router.linkUp("lte", lab.clock.now());
    lab.settle();
    expect(lab.directive?.steering.defaultUplink).toBe(0);
    lab.router.linkUp("wifi", lab.clock.now());
    // BU { BID 2, CoA wifi } -->  lost on the way
    lab.settle((t) => t.message.type === "binding-update");
    expect(lab.directive?.steering.defaultUplink).toBe(0); // not acknowledged: traffic stays on LTE
    lab.advance(1100);
    expect(lab.directive?.steering.defaultUplink).toBe(1);
    expect(lab.router.isRegistered("wifi")).toBe(true);
    // Both accepted as outer sources; Wi-Fi first (flows without a learned return path).
    expect(lab.table()[0]!.careOfAddresses).toEqual([WIFI, LTE]);
    expect(lab.bus.at(-1)!.source).toBe(WIFI);
  });

  test("break: traffic leaves the lost uplink at once; its binding is de-registered over the other", () => {
    const lab = modesLab("simultaneous", {}, "wifi");
    lab.router.linkUp("lte", lab.clock.now());
    lab.router.linkUp("wifi", lab.clock.now());
    lab.settle();
    expect(lab.directive?.steering.defaultUplink).toBe(1);
    const before = lab.bus.length;
    lab.router.linkDown("wifi", lab.clock.now());
    expect(lab.router.pollDirective()?.steering.defaultUplink).toBe(0); // before any BU/BA
    lab.settle();
    const dereg = lab.bus.slice(before).find((t) => t.message.type === "binding-update" && t.message.lifetimeUnits === 0)!;
    expect(dereg.source).toBe(LTE);
    expect(lab.cache.bindingsOf(HOME_ADDRESS).map((b) => b.careOfAddress.address)).toEqual([LTE]);
    expect(lab.table()[0]!.careOfAddresses).toEqual([LTE]);
  });

  test("flow rules pick an uplink per flow among the registered ones, by kind", () => {
    const rules = [
      { name: "bulk", match: { dscp: [8] }, kinds: ["wifi" as const], prefer: "best" as const },
      { name: "voice", match: { protocol: [17], ports: [{ from: 5060, to: 5061 }] }, kinds: ["cellular" as const], prefer: "best" as const },
    ];
    const lab = modesLab("simultaneous", { flowRules: rules }, "wifi");
    lab.router.linkUp("lte", lab.clock.now());
    lab.router.linkUp("wifi", lab.clock.now());
    lab.settle();
    const steering = new FlowSteering(lab.directive!.steering, "router");
    expect(steering.uplinkFor(udp6(8, 443), 0, 48)).toBe(1);
    expect(steering.uplinkFor(udp6(0, 5060), 0, 48)).toBe(0);
    expect(steering.uplinkFor(udp6(0, 80), 0, 48)).toBe(1); // default: preferred Wi-Fi
    lab.router.linkDown("wifi", lab.clock.now());
    lab.settle();
    const after = new FlowSteering(lab.directive!.steering, "router");
    expect(after.uplinkFor(udp6(8, 443), 0, 48)).toBe(0); // bulk waits on the default (LTE)
    expect(after.uplinkFor(udp6(0, 80), 0, 48)).toBe(0);
  });

  test("address change: the BID is registered again with the new CoA; traffic avoids it until the BA", () => {
    const lab = modesLab("simultaneous", {}, "wifi");
    lab.router.linkUp("lte", lab.clock.now());
    lab.router.linkUp("wifi", lab.clock.now());
    lab.settle();
    const renewed = "2001:db8:2::b";
    lab.router.addressChanged("wifi", renewed, lab.clock.now());
    expect(lab.router.pollDirective()!.steering.defaultUplink).toBe(0);
    lab.settle();
    expect(lab.directive!.steering.defaultUplink).toBe(1);
    expect(lab.directive!.careOfAddresses).toEqual([LTE, renewed]);
    expect(lab.cache.bindingsOf(HOME_ADDRESS).find((b) => b.bindingId === 2)!.careOfAddress.address).toBe(renewed);
    expect(lab.table()[0]!.careOfAddresses).toEqual([renewed, LTE]);
  });
});
