// The `primary` design with the real BUL and binding cache: BUs from the primary, switch on BA, the HA's primary and drain.
import { describe, expect, test } from "bun:test";
import { HOME_ADDRESS, LTE, modesLab, WIFI } from "./modes-harness.ts";

const careOfs = (lab: ReturnType<typeof modesLab>) => lab.table()[0]!;

describe("primary", () => {
  test("start on LTE: both CoAs registered, only the primary carries protected traffic at the home agent", () => {
    const lab = modesLab("primary", {}, "lte");
    lab.router.linkUp("lte", lab.clock.now());
    lab.router.linkUp("wifi", lab.clock.now());
    lab.settle();
    // BU { BID 1, CoA lte } -->   (from lte)      <-- BA { status 0 }
    // BU { BID 2, CoA wifi } -->  (from lte too)  <-- BA { status 0 }
    expect(lab.bus.every((t) => t.source === LTE)).toBe(true);
    expect(lab.cache.bindingsOf(HOME_ADDRESS).map((b) => b.careOfAddress.address)).toEqual([LTE, WIFI]);
    expect(careOfs(lab)).toEqual({ homeAddress: HOME_ADDRESS, prefixes: expect.any(Array), careOfAddresses: [LTE], idleCareOfAddresses: [WIFI] });
    expect(lab.directive?.steering.defaultUplink).toBe(0);
    expect(lab.router.status().primary).toBe("lte");
  });

  test("switch: the BU naming the new primary leaves from it; the router moves on its BA; the old primary drains, then is refused", () => {
    const lab = modesLab("primary", { primaryDrainMs: 300 }, "lte");
    lab.router.linkUp("lte", lab.clock.now());
    lab.router.linkUp("wifi", lab.clock.now());
    lab.settle();
    const before = lab.bus.length;
    lab.router.prefer("wifi", lab.clock.now());
    // Lose the BA once: the router must not move before the home agent has accepted the switch.
    let lost = false;
    lab.settle((t) => !lost && t.message.type === "binding-acknowledgement" && (lost = true));
    const switchBu = lab.bus[before]!;
    expect(switchBu.source).toBe(WIFI);
    expect(switchBu.message.type === "binding-update" && switchBu.message.options.some((o) => o.type === "binding-identifier" && o.bindingId === 2)).toBe(true);
    expect(lab.directive?.steering.defaultUplink).toBe(0); // BA lost: still on LTE
    expect(careOfs(lab).careOfAddresses).toEqual([WIFI, LTE]); // the HA switched; LTE drains
    lab.advance(1600); // retransmission from wifi → BA
    expect(lab.bus.slice(before).every((t) => t.source === WIFI)).toBe(true);
    expect(lab.directive?.steering.defaultUplink).toBe(1);
    expect(careOfs(lab)).toMatchObject({ careOfAddresses: [WIFI], idleCareOfAddresses: [LTE] });
    expect(lab.router.status().switches).toBe(2);
  });

  test("break: the primary goes down, the switch BU goes before the de-registration of the dead CoA", () => {
    const lab = modesLab("primary", {}, "wifi");
    lab.router.linkUp("wifi", lab.clock.now());
    lab.router.linkUp("lte", lab.clock.now());
    lab.settle();
    expect(lab.router.status().primary).toBe("wifi");
    const before = lab.bus.length;
    lab.router.linkDown("wifi", lab.clock.now());
    lab.settle();
    const after = lab.bus.slice(before).map((t) => (t.message.type === "binding-update" ? { from: t.source, lifetime: t.message.lifetimeUnits } : undefined));
    expect(after[0]).toEqual({ from: LTE, lifetime: expect.any(Number) });
    expect(after[0]!.lifetime).toBeGreaterThan(0);
    expect(after[1]).toEqual({ from: LTE, lifetime: 0 });
    expect(lab.directive?.steering.defaultUplink).toBe(0);
    expect(careOfs(lab).careOfAddresses).toEqual([LTE]);
    expect(lab.cache.bindingsOf(HOME_ADDRESS).map((b) => b.bindingId)).toEqual([1]);
  });

  test("a refresh of the secondary binding leaves from the primary and does not move the primary", () => {
    const lab = modesLab("primary", {}, "lte");
    lab.router.linkUp("lte", lab.clock.now());
    lab.router.linkUp("wifi", lab.clock.now());
    lab.settle();
    lab.advance(700_000); // lifetimes refreshed several times
    expect(lab.bus.length).toBeGreaterThan(2);
    expect(lab.bus.every((t) => t.source === LTE)).toBe(true);
    expect(careOfs(lab).careOfAddresses).toEqual([LTE]);
  });

  test("the primary wanted again while the switch away from it is in flight: the switch is called off and the primary stays", () => {
    const lab = modesLab("primary", {}, "wifi");
    lab.router.linkUp("wifi", lab.clock.now());
    lab.router.linkUp("lte", lab.clock.now());
    lab.settle();
    expect(lab.router.status().primary).toBe("wifi");
    // The config disables wifi: a switch to lte starts, but every packet is lost (lte is blackholed) …
    lab.router.linkDown("wifi", lab.clock.now());
    lab.settle(() => true);
    expect(lab.router.status().pending).toBe("lte");
    // … and the rollback enables wifi again before any BA came back.
    lab.router.linkUp("wifi", lab.clock.now());
    lab.settle();
    lab.advance(40_000);
    expect(lab.router.status()).toMatchObject({ primary: "wifi", pending: null });
    expect(lab.directive?.steering.defaultUplink).toBe(1);
    expect(careOfs(lab).careOfAddresses[0]).toBe(WIFI);
  });
});
