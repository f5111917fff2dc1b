// `auth-option` signalling in the RFC 5555 form (an IPv4 care-of address): BU from the home address with no Home Address option, BA back to it with no Type 2 routing header; the authenticator's "care-of address" is the IPv6 source.
import { describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { decodeMobilityPacket, encodeMobilityPacket } from "../../../firmware/mobility/mobility-packet.ts";
import type { MobilityTransmit } from "../../../firmware/mobility/types.ts";
import type { MnHaAssociation } from "../../../firmware/multicoa/auth-option.ts";
import { AuthOptionHomeAgentSignalling, AuthOptionRouterSignalling } from "../../../firmware/multicoa/auth-option-signalling.ts";
import { baFlags, buFlags } from "../../../firmware/wire/mobility-header.ts";

const now = instant(0);
const HOME = "2001:db8:10::20";
const HA = "2001:db8:10::1";
const LTE_V4 = "100.64.0.2";
const T0 = 1_750_000_000_000;
const association: MnHaAssociation = { mobilitySpi: 0x4d48, key: Uint8Array.from({ length: 32 }, (_, i) => 0x55 + i), algorithm: "hmac-sha1-96" };

/** The BU as the BUL makes it for an IPv4 CoA (binding-update-list.ts): IPv6 source = home address, no HAO, IPv4 CoA option. */
function udpBu(sequenceNumber: number, ipv4CareOf = LTE_V4): MobilityTransmit {
  return {
    message: {
      type: "binding-update",
      sequenceNumber,
      flags: buFlags({ acknowledge: true, homeRegistration: true, mobileRouter: true }),
      lifetimeUnits: 150,
      options: [
        { type: "binding-identifier", bindingId: 1, status: 0, simultaneousHomeAndForeign: false, careOfAddress: { family: "ipv4", address: ipv4CareOf } },
        { type: "ipv4-care-of-address", careOfAddress: ipv4CareOf },
      ],
    },
    source: HOME,
    destination: HA,
    ipv4Encapsulation: { destination: "192.0.2.2" },
  };
}

/** The BA as the binding cache makes it for a UDP-encapsulated BU: to the home address, no Type 2 routing header. */
function udpBa(sequenceNumber: number): MobilityTransmit {
  return {
    message: { type: "binding-acknowledgement", status: 0, flags: baFlags({ mobileRouter: true }), sequenceNumber, lifetimeUnits: 150, options: [] },
    source: HA,
    destination: HOME,
    ipv4Encapsulation: { destination: "192.0.2.1", destinationPort: 40_000 },
  };
}

function pair() {
  const rc = new Counters();
  const hc = new Counters();
  const rejects: { packet: Uint8Array; destination: string }[] = [];
  const router = new AuthOptionRouterSignalling({ association, wallClockMs: () => T0, counters: rc });
  const homeAgent = new AuthOptionHomeAgentSignalling({ associations: [{ homeAddress: HOME, association }], windowSeconds: 7, wallClockMs: () => T0, counters: hc, onReject: (packet, destination) => rejects.push({ packet, destination }) });
  return { router, homeAgent, rc, hc, rejects };
}

function value<T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T {
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

describe("auth-option signalling over an IPv4 care-of address (RFC 5555 §4.1 + RFC 4285)", () => {
  test("BU { IPv4 CoA, Mesg-ID, MN-HA auth } from the home address --> accepted; <-- BA to the home address, no RH2, accepted once", () => {
    const p = pair();
    const wire = value(p.router.seal(udpBu(9), now));
    // Plain IPv6 + MH: no Destination Options header (no HAO), no ESP.
    expect(wire[6]).toBe(135);
    const received = value(p.homeAgent.open(wire, now));
    expect(received.homeAddressOption).toBeUndefined();
    expect(received.source).toBe(HOME);
    const answer = value(p.homeAgent.seal(udpBa(9), now));
    expect(answer[6]).toBe(135); // no Type 2 routing header either
    const opened = value(p.router.open(answer, now));
    expect(opened.routingType2Address).toBeUndefined();
    expect(opened.message).toMatchObject({ type: "binding-acknowledgement", sequenceNumber: 9, status: 0 });
    expect(p.router.open(answer, now).ok).toBe(false);
    expect(p.rc.get("signalling.drop.mesg-id-mismatch")).toBe(1);
  });

  test("the claimed IPv4 CoA is covered by the authenticator: another one in a well-formed BU fails with 146, answered to the home address without RH2", () => {
    const p = pair();
    const m = value(decodeMobilityPacket(value(p.router.seal(udpBu(9), now)))).message;
    if (m.type !== "binding-update") throw new Error("not a BU");
    // Re-encoded (valid MH checksum), the authenticator kept: only the claimed IPv4 CoA differs.
    const options = m.options.map((o) => (o.type === "ipv4-care-of-address" ? { ...o, careOfAddress: "100.64.0.9" } : o));
    const { ipv4Encapsulation: _, ...plain } = udpBu(9);
    const forged = encodeMobilityPacket({ ...plain, message: { ...m, options } });
    expect(p.homeAgent.open(forged, now).ok).toBe(false);
    expect(p.hc.get("signalling.drop.auth-status-146")).toBe(1);
    const reject = value(decodeMobilityPacket(p.rejects[0]!.packet));
    expect(p.rejects[0]!.destination).toBe(HOME);
    expect(reject.destination).toBe(HOME);
    expect(reject.routingType2Address).toBeUndefined();
    expect(reject.message).toMatchObject({ type: "binding-acknowledgement", status: 146 });
  });

  test("a UDP-form BU from a home address with no association is dropped, not answered", () => {
    const p = pair();
    const stranger = new AuthOptionRouterSignalling({ association, wallClockMs: () => T0, counters: new Counters() });
    const wire = value(stranger.seal({ ...udpBu(3), source: "2001:db8:10::99" }, now));
    expect(p.homeAgent.open(wire, now).ok).toBe(false);
    expect(p.hc.get("signalling.drop.unknown-home-address")).toBe(1);
    expect(p.rejects.length).toBe(0);
  });
});
