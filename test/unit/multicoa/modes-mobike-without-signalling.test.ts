// `mobike` without BU/BA (`ike.signalling: false`, e.g. strongSwan as the peer): every usable uplink may take the IKE SA; make-before-break on the update's answer.
import { describe, expect, test } from "bun:test";
import { ikeOnlyRouter } from "./modes-mobike-ike-only.ts";

describe("mobike without BU/BA", () => {
  test("start on LTE: LTE in use, Wi-Fi usable counts as registered, no update and no BU", () => {
    const r = ikeOnlyRouter("mobike", "lte");
    r.router.linkUp("lte", r.clock.now());
    r.router.linkUp("wifi", r.clock.now());
    expect(r.carrying()).toBe(0);
    expect(r.moves()).toEqual([]);
    expect(r.router.status()).toMatchObject({ inUse: "lte", registered: ["lte", "wifi"] });
    expect(r.router.isRegistered("wifi")).toBe(true);
    expect(r.busSent).toBe(0);
  });

  test("make-before-break: Wi-Fi appears preferred → the update leaves from it at once (no BA to wait for), traffic moves on the answer", () => {
    const r = ikeOnlyRouter("mobike", "lte");
    r.router.linkUp("lte", r.clock.now());
    r.router.prefer("wifi", r.clock.now());
    expect(r.moves()).toEqual([]); // Wi-Fi not usable yet
    r.router.linkUp("wifi", r.clock.now());
    // INFORMATIONAL { UPDATE_SA_ADDRESSES, COOKIE2, ADDITIONAL_IP6_ADDRESS lte } -->  (from wifi)
    expect(r.moves()).toEqual([{ uplink: 1, additionalUplinks: [0] }]);
    expect(r.carrying()).toBe(0);
    // <-- INFORMATIONAL { COOKIE2 echo }
    r.router.ikeMoved(1, r.clock.now());
    expect(r.carrying()).toBe(1);
    expect(r.router.status()).toMatchObject({ inUse: "wifi", moving: null, switches: 1 });
  });

  test("a less preferred uplink never takes the IKE SA while the one in use works", () => {
    const r = ikeOnlyRouter("mobike", "wifi");
    r.router.linkUp("wifi", r.clock.now());
    r.router.linkUp("lte", r.clock.now());
    expect(r.moves()).toEqual([]);
    expect(r.carrying()).toBe(1);
  });

  test("break: the uplink in use dies → traffic at once on the other, behind the update; its return gets the update back", () => {
    const r = ikeOnlyRouter("mobike", "wifi");
    r.router.linkUp("wifi", r.clock.now());
    r.router.linkUp("lte", r.clock.now());
    r.router.linkDown("wifi", r.clock.now());
    expect(r.moves()).toEqual([{ uplink: 0, additionalUplinks: [] }]);
    expect(r.carrying()).toBe(0);
    r.router.ikeMoved(0, r.clock.now());
    r.router.linkUp("wifi", r.clock.now());
    expect(r.moves()).toEqual([{ uplink: 1, additionalUplinks: [0] }]);
    expect(r.carrying()).toBe(0);
    r.router.ikeMoved(1, r.clock.now());
    expect(r.carrying()).toBe(1);
    expect(r.busSent).toBe(0);
  });
});
