// RFC 4285 options (codec: the six smoltcp tests, fuzz) and the `auth-option` design's authenticate/verify, key derivation.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { parseIpv6 } from "../../../firmware/wire/address.ts";
import { buFlags, decodeMobilityMessage, encodeMobilityMessage, type MobilityMessage } from "../../../firmware/wire/mobility-header.ts";
import { emitOptions, type MobilityOption, optionsEnd, parseOptions, scanOptions } from "../../../firmware/wire/mobility-options.ts";
import { AuthStatus, authenticate, deriveEspKeys, type MnHaAssociation, ntpTimestamp, sign, verify } from "../../../firmware/multicoa/auth-option.ts";

// The option area of a BU (options start at MH offset 12): Mesg-ID at 8n+2 needs offset 18 (PadN of 6 first), then
// the authentication option at 4n+1 (offset 29 after one Pad1).
const SPI = 0x00001234;
const AUTH: MobilityOption = { type: "mobility-message-authentication", subtype: 1, mobilitySpi: SPI, authenticationData: Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i) };
const MESG: MobilityOption = { type: "mobility-message-replay-protection", timestamp: 0xe9b1_0203_8000_0000n };

function emitted(options: readonly MobilityOption[], start = 12): Uint8Array {
  const out = new Uint8Array(optionsEnd(options, start));
  emitOptions(options, out, start);
  return out;
}

describe("RFC 4285 mobility options (codec)", () => {
  const bytes = emitted([MESG, AUTH]);
  test("construct: alignment 8n+2 for Mesg-ID, 4n+1 for the authentication option; fields in network order", () => {
    // offset 12: PadN len 4 (6 octets) → Mesg-ID at 18 (8·2+2)
    expect([...bytes.subarray(12, 18)]).toEqual([1, 4, 0, 0, 0, 0]);
    expect([...bytes.subarray(18, 28)]).toEqual([10, 8, 0xe9, 0xb1, 0x02, 0x03, 0x80, 0, 0, 0]);
    // offset 28 → the authentication option at 29 (4·7+1): one Pad1 first
    expect(bytes[28]).toBe(0);
    expect([...bytes.subarray(29, 36)]).toEqual([9, 17, 1, 0, 0, 0x12, 0x34]);
    expect(bytes.subarray(36)).toEqual(AUTH.type === "mobility-message-authentication" ? AUTH.authenticationData : new Uint8Array());
  });
  test("deconstruct and parse", () => {
    const spans = scanOptions(bytes, 12, bytes.length);
    expect(spans.ok).toBe(true);
    if (spans.ok) expect(parseOptions(bytes, spans.value)).toEqual([MESG, AUTH]);
  });
  test("emit after parse gives the same octets; buffer length", () => {
    const spans = scanOptions(bytes, 12, bytes.length);
    if (!spans.ok) throw new Error("scan");
    expect(emitted(parseOptions(bytes, spans.value))).toEqual(bytes);
    expect(optionsEnd([MESG, AUTH], 12)).toBe(48);
  });
  test("truncated at every offset: a typed error, never a throw", () => {
    for (let end = 13; end < bytes.length; end++) {
      const r = scanOptions(bytes.subarray(0, end), 12, end);
      if (r.ok) expect(r.value.every((s) => s.at + (s.type === 0 ? 1 : 2 + s.length) <= end)).toBe(true);
      else expect(r.error.layer).toBe("mobility");
    }
  });
  test("bad lengths are refused: Mesg-ID ≠ 8, authentication option < 5", () => {
    const mesg = Uint8Array.of(10, 6, 0, 0, 0, 0, 0, 0);
    expect(scanOptions(mesg, 0, mesg.length).ok).toBe(false);
    const auth = Uint8Array.of(9, 4, 1, 0, 0, 0);
    const r = scanOptions(auth, 0, auth.length);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.kind).toBe("bad-length");
  });
  test("fuzz: scan + parse never throws; parse(emit(r)) = r", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        const r = scanOptions(raw, 0, raw.length);
        if (r.ok) parseOptions(raw, r.value);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (spi, data, ts) => {
        const opts: MobilityOption[] = [
          { type: "mobility-message-replay-protection", timestamp: ts },
          { type: "mobility-message-authentication", subtype: 1, mobilitySpi: spi, authenticationData: data },
        ];
        const b = emitted(opts, 12);
        const s = scanOptions(b, 12, b.length);
        expect(s.ok).toBe(true);
        if (s.ok) expect(parseOptions(b, s.value)).toEqual(opts);
      }),
      { numRuns: 300 },
    );
  });
});

const COA = "2001:db8:1::2";
const HOA = "2001:db8:10::20";
const HA = "2001:db8:10::1";
const KEY = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
const SA: MnHaAssociation = { mobilitySpi: 0x2000, key: KEY, algorithm: "hmac-sha1-96" };
const NOW = ntpTimestamp(1_800_000_000_000);
const bu = (seq = 7): Extract<MobilityMessage, { type: "binding-update" }> => ({
  type: "binding-update",
  sequenceNumber: seq,
  flags: buFlags({ acknowledge: true, homeRegistration: true, mobileRouter: true }),
  lifetimeUnits: 150,
  options: [{ type: "binding-identifier", bindingId: 1, status: 0, simultaneousHomeAndForeign: false, careOfAddress: { family: "ipv6", address: COA } }],
});
const checks = { associationFor: (spi: number) => (spi === SA.mobilitySpi ? SA : undefined), careOf: COA, home: HOA, now: NOW, windowSeconds: 7 };

describe("auth-option: MN-HA authentication (RFC 4285 §5.1) and Mesg-ID (§6)", () => {
  test("the authenticator is First(96, HMAC_SHA1(key, CoA ‖ HoA ‖ MH up to the SPI, checksum 0)), recomputed independently", () => {
    const signed = authenticate(bu(), COA, HOA, SA, NOW);
    const auth = signed.options.at(-1)!;
    expect(auth.type).toBe("mobility-message-authentication");
    if (auth.type !== "mobility-message-authentication") return;
    const wire = encodeMobilityMessage(signed, { source: parseIpv6(HOA)!, destination: parseIpv6(HA)! });
    const at = [...wire.keys()].find((i) => wire[i] === 9 && wire[i + 1] === 17 && wire[i + 2] === 1)!;
    expect(at % 4).toBe(1);
    const mh = Uint8Array.from(wire.subarray(0, at + 7));
    mh[4] = 0;
    mh[5] = 0;
    const expected = hmac(sha1, KEY, Uint8Array.from([...parseIpv6(COA)!, ...parseIpv6(HOA)!, ...mh])).subarray(0, 12);
    expect(auth.authenticationData).toEqual(expected);
    // The whole BU survives the wire (checksum over the final authenticator) and verifies.
    const back = decodeMobilityMessage(wire, { source: parseIpv6(HOA)!, destination: parseIpv6(HA)! });
    expect(back.ok).toBe(true);
    if (back.ok) expect(verify(back.value, checks)).toEqual({ ok: true, value: NOW });
  });
  test("refusals: changed field or address → 146, unknown SPI → 146, no Mesg-ID → 145, stale or replayed timestamp → 144", () => {
    const signed = authenticate(bu(), COA, HOA, SA, NOW);
    expect(verify({ ...signed, lifetimeUnits: 151 }, checks)).toEqual({ ok: false, error: AuthStatus.authFailed });
    expect(verify(signed, { ...checks, careOf: "2001:db8:2::2" })).toEqual({ ok: false, error: AuthStatus.authFailed });
    expect(verify(signed, { ...checks, associationFor: () => undefined })).toEqual({ ok: false, error: AuthStatus.authFailed });
    const stripped = { ...signed, options: signed.options.filter((o) => o.type !== "mobility-message-replay-protection") };
    expect(verify(stripped, checks)).toEqual({ ok: false, error: AuthStatus.authFailed }); // the MAC covered the Mesg-ID
    expect(verify(sign(bu(), COA, HOA, SA), checks)).toEqual({ ok: false, error: AuthStatus.mesgIdRequired });
    const stale = authenticate(bu(), COA, HOA, SA, NOW - (8n << 32n));
    expect(verify(stale, checks)).toEqual({ ok: false, error: AuthStatus.idMismatch });
    expect(verify(signed, { ...checks, lastAccepted: NOW })).toEqual({ ok: false, error: AuthStatus.idMismatch });
    expect(verify(bu(), checks)).toEqual({ ok: false, error: AuthStatus.authFailed });
  });
  test("a BU whose last option is not the authentication option is refused; the SHA-256 variant verifies with its own length", () => {
    const strong: MnHaAssociation = { ...SA, algorithm: "hmac-sha256-128" };
    const signed = authenticate(bu(), COA, HOA, strong, NOW);
    const auth = signed.options.at(-1)!;
    expect(auth.type === "mobility-message-authentication" && auth.authenticationData.length).toBe(16);
    expect(verify(signed, { ...checks, associationFor: () => strong }).ok).toBe(true);
    expect(verify(signed, checks).ok).toBe(false);
    const moved = { ...signed, options: [signed.options.at(-1)!, ...signed.options.slice(0, -1)] };
    expect(verify(moved, { ...checks, associationFor: () => strong })).toEqual({ ok: false, error: AuthStatus.authFailed });
  });
  test("ESP keys from the MN-HA key: deterministic, distinct per direction, SPIs ≥ 256", () => {
    const a = deriveEspKeys(SA);
    const b = deriveEspKeys({ ...SA });
    expect(a.toHomeAgent.keymat).toEqual(b.toHomeAgent.keymat);
    expect(a.toHomeAgent.keymat).not.toEqual(a.toRouter.keymat);
    expect(a.toHomeAgent.keymat.length).toBe(20);
    expect(a.toHomeAgent.spi).toBe(0x012000);
    expect(a.toRouter.spi).toBe(0x022000);
    expect(deriveEspKeys({ ...SA, key: KEY.map((x) => x ^ 1) }).toRouter.keymat).not.toEqual(a.toRouter.keymat);
  });
  test("NTP timestamps: seconds since 1900 in the high 32 bits", () => {
    expect(ntpTimestamp(0) >> 32n).toBe(2_208_988_800n);
    expect(ntpTimestamp(1500) & 0xffff_ffffn).toBe(2n ** 31n);
  });
});
