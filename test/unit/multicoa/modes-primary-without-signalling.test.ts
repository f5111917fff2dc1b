// `primary` without BU/BA (`ike.signalling: false`, e.g. strongSwan as the peer): the primary is the IKE SA's CoA, moved by MOBIKE.
import { describe, expect, test } from "bun:test";
import { PrimaryByMobikeRouter } from "../../../firmware/multicoa/primary-by-mobike.ts";
import { PrimaryRouter } from "../../../firmware/multicoa/primary.ts";
import { modesLab } from "./modes-harness.ts";
import { ikeOnlyRouter } from "./modes-mobike-ike-only.ts";

describe("primary without BU/BA", () => {
  test("start: the preferred usable uplink is primary at once and carries the traffic; no BU is ever queued", () => {
    const r = ikeOnlyRouter("primary", "lte");
    expect(r.router).toBeInstanceOf(PrimaryByMobikeRouter);
    r.router.linkUp("lte", r.clock.now());
    r.router.linkUp("wifi", r.clock.now());
    expect(r.carrying()).toBe(0);
    expect(r.router.status()).toMatchObject({ mode: "primary", primary: "lte", registered: ["lte", "wifi"], pending: null });
    // The IKE SA was initiated from LTE: nothing to move.
    expect(r.moves()).toEqual([]);
    expect(r.busSent).toBe(0);
  });

  test("only the usable one at start: Wi-Fi preferred but down, LTE up → LTE primary at once, behind an update from it", () => {
    const r = ikeOnlyRouter("primary", "wifi");
    r.router.linkUp("lte", r.clock.now());
    // The IKE SA is wherever it was initiated (Wi-Fi): INFORMATIONAL { UPDATE_SA_ADDRESSES } --> from LTE, traffic with it.
    expect(r.moves()).toEqual([{ uplink: 0, additionalUplinks: [] }]);
    expect(r.carrying()).toBe(0);
    expect(r.router.status().primary).toBe("lte");
  });

  test("make-before-break: Wi-Fi preferred → UPDATE_SA_ADDRESSES from Wi-Fi announcing LTE; traffic stays on LTE until the answer", () => {
    const r = ikeOnlyRouter("primary", "lte");
    r.router.linkUp("lte", r.clock.now());
    r.router.linkUp("wifi", r.clock.now());
    r.moves();
    r.router.prefer("wifi", r.clock.now());
    // INFORMATIONAL { UPDATE_SA_ADDRESSES, NAT_D, COOKIE2, ADDITIONAL_IP6_ADDRESS lte } -->  (from wifi)
    expect(r.moves()).toEqual([{ uplink: 1, additionalUplinks: [0] }]);
    expect(r.carrying()).toBe(0);
    expect(r.router.status()).toMatchObject({ primary: "lte", pending: "wifi" });
    // <-- INFORMATIONAL { COOKIE2 echo }
    r.router.ikeMoved(1, r.clock.now());
    expect(r.carrying()).toBe(1);
    expect(r.router.status()).toMatchObject({ primary: "wifi", pending: null, switches: 1 });
    expect(r.moves()).toEqual([]);
    expect(r.busSent).toBe(0);
  });

  test("break: the primary loses carrier → the next usable uplink is primary at once, the update leaves from it", () => {
    const r = ikeOnlyRouter("primary", "wifi");
    r.router.linkUp("wifi", r.clock.now());
    r.router.linkUp("lte", r.clock.now());
    expect(r.carrying()).toBe(1);
    r.router.linkDown("wifi", r.clock.now());
    expect(r.moves()).toEqual([{ uplink: 0, additionalUplinks: [] }]);
    expect(r.carrying()).toBe(0);
    expect(r.router.status()).toMatchObject({ primary: "lte", registered: ["lte"] });
    // Wi-Fi comes back: it is preferred, so it gets the IKE SA again — traffic only after the answer.
    r.router.ikeMoved(0, r.clock.now());
    r.router.linkUp("wifi", r.clock.now());
    expect(r.moves()).toEqual([{ uplink: 1, additionalUplinks: [0] }]);
    expect(r.carrying()).toBe(0);
    r.router.ikeMoved(1, r.clock.now());
    expect(r.carrying()).toBe(1);
    expect(r.busSent).toBe(0);
  });

  test("with BU/BA (the default) the primary stays named by BUs: primary.ts, the IKE SA left to the role", () => {
    const signalled = modesLab("primary", {}, "lte").router;
    expect(signalled).toBeInstanceOf(PrimaryRouter);
    expect(signalled.movesIkeSa).toBe(false);
    expect(ikeOnlyRouter("primary", "lte").router.movesIkeSa).toBe(true);
  });
});
