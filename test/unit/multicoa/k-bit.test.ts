// The home agent's K-bit moves (RFC 4877 §7.4): only an accepted BU with K=1 in BU and BA from a new care-of address moves the IKE SA.
import { describe, expect, test } from "bun:test";
import type { HomeAgentInput } from "../../../firmware/mobility/binding-cache.ts";
import type { MobilityTransmit } from "../../../firmware/mobility/types.ts";
import { KBitMoves } from "../../../firmware/multicoa/k-bit.ts";
import { baFlags, buFlags } from "../../../firmware/wire/mobility-header.ts";

const HOME = "2001:db8:10::20";
const HA = "2001:db8:10::1";
const LTE = "2001:db8:1::2";
const WIFI = "2001:db8:2::2";

const bu = (sequenceNumber: number, source: string, k = true, lifetimeUnits = 100): HomeAgentInput =>
  ({
    message: { type: "binding-update", sequenceNumber, flags: buFlags({ acknowledge: true, homeRegistration: true, keyManagementCapability: k, mobileRouter: true }), lifetimeUnits, options: [] },
    source,
    destination: HA,
    homeAddressOption: HOME,
    protectedByEsp: true,
  }) as unknown as HomeAgentInput;
const ba = (sequenceNumber: number, to: string, k = true, status = 0): MobilityTransmit =>
  ({ message: { type: "binding-acknowledgement", status, flags: baFlags({ keyManagementCapability: k, mobileRouter: true }), sequenceNumber, lifetimeUnits: 100, options: [] }, source: HA, destination: to, routingType2Address: HOME }) as unknown as MobilityTransmit;

describe("K-bit moves at the home agent", () => {
  test("an accepted BU with K=1 from a new care-of address moves the IKE SA there, once", () => {
    const k = new KBitMoves();
    k.observeBindingUpdate(bu(1, LTE));
    expect(k.observeTransmit(ba(1, LTE))).toEqual({ homeAddress: HOME, careOfAddress: LTE });
    k.observeBindingUpdate(bu(2, LTE));
    expect(k.observeTransmit(ba(2, LTE))).toBeUndefined();
    k.observeBindingUpdate(bu(3, WIFI));
    expect(k.observeTransmit(ba(3, WIFI))).toEqual({ homeAddress: HOME, careOfAddress: WIFI });
    expect(k.moves).toBe(2);
  });

  test("no move for a BU without K, a BA without K, a refused BU, a BA for another BU, or a de-registration", () => {
    const k = new KBitMoves();
    k.observeBindingUpdate(bu(1, WIFI, false));
    expect(k.observeTransmit(ba(1, WIFI))).toBeUndefined();
    k.observeBindingUpdate(bu(2, WIFI));
    expect(k.observeTransmit(ba(2, WIFI, false))).toBeUndefined();
    k.observeBindingUpdate(bu(3, WIFI));
    expect(k.observeTransmit(ba(3, WIFI, true, 129))).toBeUndefined();
    k.observeBindingUpdate(bu(4, WIFI));
    expect(k.observeTransmit(ba(5, WIFI))).toBeUndefined();
    k.observeBindingUpdate(bu(6, WIFI, true, 0));
    expect(k.observeTransmit(ba(6, WIFI))).toBeUndefined();
    expect(k.moves).toBe(0);
  });
});
