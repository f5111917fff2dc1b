// Mobility Header codec: the six smoltcp-style tests over a captured BU, plus every message type and option.
import { describe, expect, test } from "bun:test";
import { fromHex, toHex } from "../../../firmware/core/hex.ts";
import { parseIpv6 } from "../../../firmware/wire/address.ts";
import {
  baFlags,
  buFlags,
  decodeMobilityMessage,
  emitMobilityMessage,
  encodeMobilityMessage,
  MobilityHeaderView,
  mobilityMessageBufferLen,
  parseMobilityMessage,
  type MobilityMessage,
} from "../../../firmware/wire/mobility-header.ts";

const pseudo = { source: parseIpv6("2001:db8:a::1")!, destination: parseIpv6("2001:db8:1::b")! };

// A BU captured in the interop lab (interop-lab.md §4a): tshark showed seq 42, A|H|R, lifetime 150,
// BID 1, MNP 2001:db8:ab::/48 and mip6.csum 0x4657 over pseudo-header HoA -> HA.
const capturedBu = fromHex(
  "3b04050046570" + "02ac40000962304000100000100061200302001" + "0db800ab00000000000000000000",
)!;

const capturedRepr: MobilityMessage = {
  type: "binding-update",
  sequenceNumber: 42,
  flags: buFlags({ acknowledge: true, homeRegistration: true, mobileRouter: true }),
  lifetimeUnits: 150,
  options: [
    { type: "binding-identifier", bindingId: 1, status: 0, simultaneousHomeAndForeign: false },
    { type: "mobile-network-prefix", prefix: "2001:db8:ab::", prefixLength: 48 },
  ],
};

describe("Mobility Header over a captured Binding Update", () => {
  test("deconstruct: the view reads the header fields", () => {
    const view = MobilityHeaderView.parse(capturedBu);
    expect(view.ok).toBe(true);
    if (!view.ok) return;
    expect(view.value.mhType).toBe(5);
    expect(view.value.headerLen).toBe(4);
    expect(view.value.checksum).toBe(0x4657);
    expect(view.value.verifyChecksum(pseudo)).toBe(true);
    expect(view.value.optionSpans.map((s) => [s.type, s.at, s.length])).toEqual([
      [35, 12, 4],
      [1, 18, 0],
      [6, 20, 18],
    ]);
  });

  test("parse: the Repr equals what was sent", () => {
    const r = decodeMobilityMessage(capturedBu, pseudo);
    expect(r).toEqual({ ok: true, value: capturedRepr });
  });

  test("construct / emit: the Repr encodes to the captured bytes, checksum included", () => {
    expect(toHex(encodeMobilityMessage(capturedRepr, pseudo))).toBe(toHex(capturedBu));
  });

  test("buffer length", () => {
    expect(mobilityMessageBufferLen(capturedRepr)).toBe(capturedBu.length);
  });

  test("truncated at every offset gives a typed error, never a throw", () => {
    for (let n = 0; n < capturedBu.length; n++) {
      const r = MobilityHeaderView.parse(capturedBu.subarray(0, n));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.layer).toBe("mobility");
    }
  });

  test("a flipped bit fails the checksum with bad-checksum", () => {
    const bad = Uint8Array.from(capturedBu);
    bad[7]! ^= 0x01;
    const r = decodeMobilityMessage(bad, pseudo);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.kind).toBe("bad-checksum");
  });
});

const cookie = fromHex("0102030405060708")!;
const token = fromHex("a1a2a3a4a5a6a7a8")!;
const allMessages: MobilityMessage[] = [
  { type: "binding-refresh-request", options: [{ type: "binding-identifier", bindingId: 7, status: 0, simultaneousHomeAndForeign: false }] },
  { type: "home-test-init", homeInitCookie: cookie, options: [] },
  { type: "care-of-test-init", careOfInitCookie: cookie, options: [] },
  { type: "home-test", homeNonceIndex: 0x1234, homeInitCookie: cookie, homeKeygenToken: token, options: [] },
  { type: "care-of-test", careOfNonceIndex: 0x4321, careOfInitCookie: cookie, careOfKeygenToken: token, options: [] },
  {
    type: "binding-update",
    sequenceNumber: 65535,
    flags: buFlags({ acknowledge: true, homeRegistration: true, keyManagementCapability: true, mobileRouter: true }),
    lifetimeUnits: 150,
    options: [
      { type: "binding-identifier", bindingId: 1, status: 0, simultaneousHomeAndForeign: false, careOfAddress: { family: "ipv6", address: "2001:db8:1::a" } },
      { type: "binding-identifier", bindingId: 2, status: 0, simultaneousHomeAndForeign: true, careOfAddress: { family: "ipv4", address: "192.0.2.7" } },
      { type: "mobile-network-prefix", prefix: "2001:db8:ab::", prefixLength: 48 },
      { type: "alternate-care-of-address", careOfAddress: "2001:db8:1::a" },
      { type: "ipv4-care-of-address", careOfAddress: "198.51.100.9" },
      { type: "nonce-indices", homeNonceIndex: 3, careOfNonceIndex: 4 },
      { type: "unknown", optionType: 99, data: fromHex("abcdef")! },
      { type: "binding-authorization-data", authenticator: fromHex("00112233445566778899aabb")! },
    ],
  },
  {
    type: "binding-acknowledgement",
    status: 4,
    flags: baFlags({ keyManagementCapability: true, mobileRouter: true }),
    sequenceNumber: 9,
    lifetimeUnits: 75,
    options: [
      { type: "binding-refresh-advice", refreshIntervalUnits: 60 },
      { type: "binding-identifier", bindingId: 1, status: 0, simultaneousHomeAndForeign: false },
      { type: "binding-identifier", bindingId: 2, status: 167, simultaneousHomeAndForeign: false },
    ],
  },
  { type: "binding-error", status: 2, homeAddress: "2001:db8:a::1", options: [] },
  { type: "unrecognized", mhType: 13, messageData: fromHex("0000000000000000000000000000000000")!.subarray(0, 10) },
];

describe("every message type and option", () => {
  for (const message of allMessages) {
    test(`${message.type} round-trips through emit and parse with a verifying checksum`, () => {
      const bytes = encodeMobilityMessage(message, pseudo);
      expect(bytes.length % 8).toBe(0);
      expect(bytes.length).toBe(mobilityMessageBufferLen(message));
      expect(decodeMobilityMessage(bytes, pseudo)).toEqual({ ok: true, value: message });
    });
  }

  test("options are placed on their alignment (RFC 6275 §6.2.1)", () => {
    const bu = allMessages[5]!;
    const view = MobilityHeaderView.parse(encodeMobilityMessage(bu, pseudo));
    if (!view.ok) throw new Error("parse failed");
    const at = (type: number) => view.value.optionSpans.filter((s) => s.type === type).map((s) => s.at);
    for (const a of at(35)) expect(a % 8).toBe(2); // BID with CoA: 8n+2
    for (const a of at(6)) expect(a % 8).toBe(4); // MNP: 8n+4
    for (const a of at(3)) expect(a % 8).toBe(6); // Alternate CoA: 8n+6
    for (const a of at(32)) expect(a % 4).toBe(0); // IPv4 CoA: 4n
    for (const a of at(5)) expect(a % 8).toBe(2); // BAD: 8n+2
  });

  test("emit into a buffer reports the length written", () => {
    const buf = new Uint8Array(100);
    expect(emitMobilityMessage(allMessages[0]!, buf, pseudo)).toBe(16);
  });
});

describe("rejections", () => {
  const base = encodeMobilityMessage(capturedRepr, pseudo);
  const mutate = (f: (b: Uint8Array) => void) => {
    const b = Uint8Array.from(base);
    f(b);
    return MobilityHeaderView.parse(b);
  };
  const kindOf = (r: ReturnType<typeof MobilityHeaderView.parse>) => (r.ok ? "ok" : r.error.kind);

  test("Payload Proto other than 59 is bad-value", () => expect(kindOf(mutate((b) => (b[0] = 6)))).toBe("bad-value"));
  test("Header Len beyond the buffer is truncated", () => expect(kindOf(mutate((b) => (b[1] = 9)))).toBe("truncated"));
  test("bytes after the header are bad-length", () => {
    const longer = new Uint8Array(base.length + 8);
    longer.set(base);
    expect(kindOf(MobilityHeaderView.parse(longer))).toBe("bad-length");
  });
  test("Header Len too short for the type is bad-length", () => {
    const bu = Uint8Array.from([59, 0, 5, 0, 0, 0, 0, 0]);
    expect(kindOf(MobilityHeaderView.parse(bu))).toBe("bad-length");
  });
  test("an option running past the end is bad-length", () => expect(kindOf(mutate((b) => (b[21] = 40)))).toBe("bad-length"));
  test("a wrong fixed option length is bad-length", () => expect(kindOf(mutate((b) => (b[21] = 17)))).toBe("bad-length"));
  test("a misaligned MNP option is bad-alignment", () => {
    // Move MNP to offset 18 by replacing PadN(0) with nothing: rebuild the bytes by hand.
    const b = Uint8Array.from(base);
    b.copyWithin(18, 20, 38);
    b[36] = 1;
    b[37] = 2; // PadN covering 36..39
    b[38] = 0;
    b[39] = 0;
    expect(kindOf(MobilityHeaderView.parse(b))).toBe("bad-alignment");
  });
  test("MNP prefix length above 128 is bad-value", () => expect(kindOf(mutate((b) => (b[23] = 129)))).toBe("bad-value"));
  test("a BID option with Length 6 is kept as malformed (the HA answers 164)", () => {
    const msg = decodeMobilityMessage(
      encodeMobilityMessage({ ...capturedRepr, options: [{ type: "malformed-binding-identifier", data: fromHex("000100000000")! }] } as MobilityMessage, pseudo),
    );
    expect(msg.ok && msg.value.type === "binding-update" && msg.value.options[0]?.type).toBe("malformed-binding-identifier");
  });
  test("unknown option types are skipped, not rejected", () => {
    const msg = decodeMobilityMessage(encodeMobilityMessage({ ...capturedRepr, options: [{ type: "unknown", optionType: 200, data: new Uint8Array(5) }] } as MobilityMessage, pseudo));
    expect(msg.ok).toBe(true);
  });
});
