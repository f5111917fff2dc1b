// The `per-coa` design with the real BUL and binding cache: an IKE SA per CoA, an uplink carries once registered and keyed, each CoA with its own SA at the home agent.
import { describe, expect, test } from "bun:test";
import { BindingTable } from "../../../firmware/dataplane/binding-table.ts";
import { parseIpv6 } from "../../../firmware/wire/address.ts";
import { HOME_ADDRESS, LTE, modesLab, WIFI } from "./modes-harness.ts";

describe("per-coa", () => {
  test("router: each usable uplink asks for its own IKE SA; it carries only once registered and keyed, with its own SPI", () => {
    const lab = modesLab("per-coa", {}, "wifi");
    lab.router.linkUp("lte", lab.clock.now());
    lab.router.linkUp("wifi", lab.clock.now());
    expect([lab.router.pollIkeRequest(), lab.router.pollIkeRequest(), lab.router.pollIkeRequest()]).toEqual([{ kind: "open", uplink: 0 }, { kind: "open", uplink: 1 }, undefined]);
    lab.settle();
    // Both registered, none keyed: nothing carries.
    expect(lab.directive?.steering.defaultUplink).toBe(-1);
    // IKE_AUTH on lte -->  <-- CHILD_SA { tunnel }
    lab.router.tunnelKeyed(0, 0x1111, lab.clock.now());
    lab.settle();
    expect(lab.directive?.steering).toMatchObject({ defaultUplink: 0, outboundSpiByUplink: [0x1111, 0] });
    lab.router.tunnelKeyed(1, 0x2222, lab.clock.now());
    lab.settle();
    expect(lab.directive?.steering).toMatchObject({ defaultUplink: 1, outboundSpiByUplink: [0x1111, 0x2222] });
    // Wi-Fi breaks: LTE carries at once with its own SA; the IKE SA of Wi-Fi is kept (no new exchange on a flap).
    lab.router.linkDown("wifi", lab.clock.now());
    lab.settle();
    expect(lab.directive?.steering.defaultUplink).toBe(0);
    expect(lab.router.pollIkeRequest()).toBeUndefined();
    expect(lab.router.movesIkeSa).toBe(true);
    expect(lab.router.pollIkeMove()).toBeUndefined();
  });

  test("home agent: keyed CoAs first, each with the SPI of the SA whose IKE SA is on it; the data plane picks the SA by the chosen CoA", () => {
    const lab = modesLab("per-coa", {}, "wifi");
    lab.router.linkUp("wifi", lab.clock.now());
    lab.router.linkUp("lte", lab.clock.now());
    lab.settle();
    expect(lab.table()[0]!.outboundSpis).toEqual([0, 0]);
    lab.homeAgent.observeIkePeers!([{ homeAddress: HOME_ADDRESS, address: LTE, outboundSpi: 0xaaaa }], lab.clock.now());
    expect(lab.table()[0]).toMatchObject({ careOfAddresses: [LTE, WIFI], outboundSpis: [0xaaaa, 0] });
    lab.homeAgent.observeIkePeers!(
      [
        { homeAddress: HOME_ADDRESS, address: LTE, outboundSpi: 0xaaaa },
        { homeAddress: HOME_ADDRESS, address: WIFI, outboundSpi: 0xbbbb },
      ],
      lab.clock.now(),
    );
    const entry = lab.table()[0]!;
    expect(new Set(entry.careOfAddresses)).toEqual(new Set([LTE, WIFI]));
    expect(entry.outboundSpis![entry.careOfAddresses.indexOf(WIFI)]).toBe(0xbbbb);
    const table = new BindingTable([entry]);
    const inner = parseIpv6(HOME_ADDRESS)!;
    expect(table.outboundSpiFor(parseIpv6(WIFI)!)).toBe(0xbbbb);
    expect(table.outboundSpiFor(parseIpv6(LTE)!)).toBe(0xaaaa);
    expect(table.outboundSpiFor(parseIpv6("2001:db8:99::1")!)).toBe(0);
    expect(table.outboundSpiFor(table.careOfAddressFor(inner, 0, 16)!)).toBe(entry.outboundSpis![0]!);
  });
});
