// `auth-option` signalling end to end without sockets: BU/BA in clear with the RFC 4285 options, and each refusal (144/145/146) answered and counted.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { decodeMobilityPacket, encodeMobilityPacket } from "../../../firmware/mobility/mobility-packet.ts";
import type { MobilityTransmit } from "../../../firmware/mobility/types.ts";
import { type AuthAlgorithm, type MnHaAssociation, sign } from "../../../firmware/multicoa/auth-option.ts";
import { AuthOptionHomeAgentSignalling, AuthOptionRouterSignalling } from "../../../firmware/multicoa/auth-option-signalling.ts";
import { baFlags, buFlags, type MobilityMessage } from "../../../firmware/wire/mobility-header.ts";

const now = instant(0);
const HOME = "2001:db8:10::20";
const HA = "2001:db8:10::1";
const LTE = "2001:db8:1::2";
const T0 = 1_750_000_000_000;

type Bu = Extract<MobilityMessage, { type: "binding-update" }>;

function association(algorithm: AuthAlgorithm = "hmac-sha1-96", spi = 0x4d48): MnHaAssociation {
  return { mobilitySpi: spi, key: Uint8Array.from({ length: 32 }, (_, i) => 0x55 + i), algorithm };
}

function bu(sequenceNumber: number): MobilityTransmit {
  const message: Bu = {
    type: "binding-update",
    sequenceNumber,
    flags: buFlags({ acknowledge: true, homeRegistration: true, mobileRouter: true }),
    lifetimeUnits: 150,
    options: [{ type: "binding-identifier", bindingId: 1, status: 0, simultaneousHomeAndForeign: false, careOfAddress: { family: "ipv6", address: LTE } }],
  };
  return { message, source: LTE, destination: HA, homeAddressOption: HOME };
}

/** A BA as the binding cache makes it, for the BU with `sequenceNumber`. */
function ba(sequenceNumber: number, status = 0): MobilityTransmit {
  return { message: { type: "binding-acknowledgement", status, flags: baFlags({ mobileRouter: true }), sequenceNumber, lifetimeUnits: 150, options: [] }, source: HA, destination: LTE, routingType2Address: HOME };
}

function pair(o: { routerClock?: () => number; homeAgent?: MnHaAssociation; router?: MnHaAssociation } = {}) {
  let clock = T0;
  const rejects: { packet: Uint8Array; destination: string }[] = [];
  const rc = new Counters();
  const hc = new Counters();
  const router = new AuthOptionRouterSignalling({ association: o.router ?? association(), wallClockMs: o.routerClock ?? (() => clock), counters: rc });
  const homeAgent = new AuthOptionHomeAgentSignalling({
    associations: [{ homeAddress: HOME, association: o.homeAgent ?? association() }],
    windowSeconds: 7,
    wallClockMs: () => clock,
    counters: hc,
    onReject: (packet, destination) => rejects.push({ packet, destination }),
  });
  return { router, homeAgent, rc, hc, rejects, tick: (ms: number) => (clock += ms) };
}

function sealed(r: { ok: true; value: Uint8Array } | { ok: false; error: string }): Uint8Array {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function rejectStatus(packet: Uint8Array): number {
  const d = decodeMobilityPacket(packet);
  if (!d.ok || d.value.message.type !== "binding-acknowledgement") throw new Error("not a BA");
  return d.value.message.status;
}

describe("auth-option signalling (RFC 4285)", () => {
  for (const algorithm of ["hmac-sha1-96", "hmac-sha256-128"] as const) {
    test(`${algorithm}: BU { Mesg-ID, MN-HA auth } --> accepted; <-- BA echoes the Mesg-ID, accepted once`, () => {
      const p = pair({ router: association(algorithm), homeAgent: association(algorithm) });
      const wire = sealed(p.router.seal(bu(7), now));
      // Plain IPv6: Destination Options (HAO) then the Mobility Header, no ESP.
      expect(wire[6]).toBe(60);
      const received = p.homeAgent.open(wire, now);
      expect(received.ok).toBe(true);
      if (!received.ok || received.value.message.type !== "binding-update") return;
      const options = received.value.message.options;
      expect(options.at(-1)).toMatchObject({ type: "mobility-message-authentication", subtype: 1, mobilitySpi: 0x4d48 });
      expect((options.at(-1) as { authenticationData: Uint8Array }).authenticationData.length).toBe(algorithm === "hmac-sha1-96" ? 12 : 16);
      const mesgId = options.find((x) => x.type === "mobility-message-replay-protection");
      const answer = sealed(p.homeAgent.seal(ba(7), now));
      const opened = p.router.open(answer, now);
      expect(opened.ok).toBe(true);
      if (opened.ok && opened.value.message.type === "binding-acknowledgement") expect(opened.value.message.options.find((x) => x.type === "mobility-message-replay-protection")).toEqual(mesgId!);
      // The same BA again: its Mesg-ID opened a BA already.
      expect(p.router.open(answer, now).ok).toBe(false);
      expect(p.rc.get("signalling.drop.mesg-id-mismatch")).toBe(1);
    });
  }

  test("a replayed BU (same octets) is refused with 144, answered with the home agent's time; the binding cache never sees it", () => {
    const p = pair();
    const wire = sealed(p.router.seal(bu(7), now));
    expect(p.homeAgent.open(wire, now).ok).toBe(true);
    p.tick(1000);
    expect(p.homeAgent.open(wire, now).ok).toBe(false);
    expect(p.hc.get("signalling.drop.auth-status-144")).toBe(1);
    expect(p.rejects.length).toBe(1);
    expect(p.rejects[0]!.destination).toBe(LTE);
    expect(rejectStatus(p.rejects[0]!.packet)).toBe(144);
    // A later BU from the router (fresh Mesg-ID) is accepted again.
    expect(p.homeAgent.open(sealed(p.router.seal(bu(8), now)), now).ok).toBe(true);
  });

  test("a bad authenticator, an unknown Mobility SPI, a key mismatch → 146", () => {
    const p = pair();
    const wire = sealed(p.router.seal(bu(7), now));
    // The authenticator with one bit flipped, re-encoded (so the MH checksum is right and only the authenticator is wrong).
    const decoded = decodeMobilityPacket(wire);
    if (!decoded.ok || decoded.value.message.type !== "binding-update") throw new Error("decode");
    const m = decoded.value.message;
    const last = m.options.at(-1) as Extract<(typeof m.options)[number], { type: "mobility-message-authentication" }>;
    const flipped = Uint8Array.from(last.authenticationData);
    flipped[0]! ^= 0x80;
    const bad = encodeMobilityPacket({ ...bu(7), message: { ...m, options: [...m.options.slice(0, -1), { ...last, authenticationData: flipped }] } });
    expect(p.homeAgent.open(bad, now).ok).toBe(false);
    const unknownSpi = sealed(new AuthOptionRouterSignalling({ association: association("hmac-sha1-96", 0x4d49), wallClockMs: () => T0, counters: new Counters() }).seal(bu(7), now));
    expect(p.homeAgent.open(unknownSpi, now).ok).toBe(false);
    const wrongKey = sealed(new AuthOptionRouterSignalling({ association: { ...association(), key: new Uint8Array(32).fill(1) }, wallClockMs: () => T0, counters: new Counters() }).seal(bu(7), now));
    expect(p.homeAgent.open(wrongKey, now).ok).toBe(false);
    expect(p.hc.get("signalling.drop.auth-status-146")).toBe(3);
    expect(p.rejects.map((r) => rejectStatus(r.packet))).toEqual([146, 146, 146]);
    // The genuine one still goes through (nothing was accepted from the forgeries).
    expect(p.homeAgent.open(wire, now).ok).toBe(true);
  });

  test("an authentic BU without Mesg-ID → 145", () => {
    const p = pair();
    const t = bu(7);
    const signed = sign(t.message as Bu, LTE, HOME, association());
    expect(p.homeAgent.open(encodeMobilityPacket({ ...t, message: signed }), now).ok).toBe(false);
    expect(p.hc.get("signalling.drop.auth-status-145")).toBe(1);
    expect(rejectStatus(p.rejects[0]!.packet)).toBe(145);
  });

  test("a router clock 60 s behind: 144 with the home agent's time; the router adopts the offset and its next BU is accepted", () => {
    let routerClock = T0 - 60_000;
    const p = pair({ routerClock: () => routerClock });
    expect(p.homeAgent.open(sealed(p.router.seal(bu(7), now)), now).ok).toBe(false);
    expect(rejectStatus(p.rejects[0]!.packet)).toBe(144);
    // <-- BA { status 144, Mesg-ID = HA time }: authentic, so the router resynchronises (and drops it: the BUL retransmits).
    expect(p.router.open(p.rejects[0]!.packet, now).ok).toBe(false);
    expect(p.rc.get("signalling.auth.clock-resync")).toBe(1);
    expect(Math.abs(p.router.clockOffsetMs - 60_000)).toBeLessThanOrEqual(1000);
    routerClock += 1000;
    p.tick(1000);
    expect(p.homeAgent.open(sealed(p.router.seal(bu(7), now)), now).ok).toBe(true);
  });

  test("the router refuses a BA with a bad authenticator and anything that is not a BA", () => {
    const p = pair({ homeAgent: { ...association(), key: new Uint8Array(32).fill(9) } });
    p.router.seal(bu(7), now);
    expect(p.router.open(sealed(p.homeAgent.seal(ba(7), now)), now).ok).toBe(false);
    expect(p.rc.get("signalling.drop.auth-failed")).toBe(1);
    expect(p.router.open(sealed(new AuthOptionRouterSignalling({ association: association(), wallClockMs: () => T0, counters: new Counters() }).seal(bu(3), now)), now).ok).toBe(false);
    expect(p.rc.get("signalling.drop.unauthenticated-message")).toBe(1);
  });

  test("every BU gets a new, strictly increasing Mesg-ID, also within one millisecond", () => {
    const p = pair();
    const ids = [7, 7, 8].map((seq) => {
      const d = decodeMobilityPacket(sealed(p.router.seal(bu(seq), now)));
      if (!d.ok || d.value.message.type !== "binding-update") throw new Error("decode");
      return (d.value.message.options.find((x) => x.type === "mobility-message-replay-protection") as { timestamp: bigint }).timestamp;
    });
    expect(ids[0]! < ids[1]! && ids[1]! < ids[2]!).toBe(true);
  });

  test("fuzz: open never throws on arbitrary octets (both sides)", () => {
    const p = pair();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        p.homeAgent.open(bytes, now);
        p.router.open(bytes, now);
      }),
      { numRuns: 500 },
    );
  });
});
