// `auth-option` (the MONAMI6 slides' last alternative; RFC 4285): BU/BA authenticated by the MN-HA Mobility Message Authentication option, no IKEv2.
//
// Signalling: every BU and BA carries a Mobility Message Replay Protection option (Mesg-ID, RFC 4285 §6)
// and, last, the MN-HA authentication option (§5.1, Subtype 1) with the Mobility SPI and
//   Authenticator = First(96, HMAC_SHA1(MN-HA key, Mobility Data)),  Mobility Data = CoA ‖ HoA ‖ MH Data
// where MH Data is the Mobility Header from its first octet up to and including the Mobility SPI,
// with the Checksum field taken as zero (it is computed after the authenticator). `hmac-sha256-128`
// is monami's stronger variant (First(128, HMAC-SHA-256)), same layout, configured on both ends.
// The home agent checks the SPI (an unknown one: 146 MIPV6-AUTH-FAIL), the
// authenticator (146), the Mesg-ID's presence (145 MIPV6-MESG-ID-REQD) and its timestamp: within
// `windowSeconds` of the home agent's clock and after the last accepted one (else 144 MIPV6-ID-MISMATCH).
// Payload: tunnelled by mobility itself over any registered CoA; monami's own extension, off by
// default, keys ESP tunnel SAs from the MN-HA key (`deriveEspKeys`), so the seed's "needs extensions
// to encrypt HoTi and payload" is met without IKEv2.

import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { err, ok, type Result } from "../core/result.ts";
import { parseIpv6 } from "../wire/address.ts";
import { encodeMobilityMessage, MhField, type MobilityMessage } from "../wire/mobility-header.ts";
import { AUTH_SUBTYPE_MN_HA, optionsEnd } from "../wire/mobility-options.ts";

export type AuthAlgorithm = "hmac-sha1-96" | "hmac-sha256-128";

/** RFC 4285 §8 BA status codes. */
export const AuthStatus = {
  idMismatch: 144,
  mesgIdRequired: 145,
  authFailed: 146,
} as const;

/** Seconds between the NTP era (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2_208_988_800n;

/** An NTP-format 64-bit timestamp (RFC 1305: seconds since 1900 ‖ fraction) from Unix milliseconds. */
export function ntpTimestamp(unixMs: number): bigint {
  const seconds = BigInt(Math.floor(unixMs / 1000)) + NTP_UNIX_OFFSET;
  const fraction = BigInt(Math.floor(((unixMs % 1000) / 1000) * 2 ** 32));
  return (seconds << 32n) | fraction;
}

export interface MnHaAssociation {
  readonly mobilitySpi: number;
  /** The MN-HA shared key (raw octets). */
  readonly key: Uint8Array;
  readonly algorithm: AuthAlgorithm;
}

function authenticatorLength(a: AuthAlgorithm): number {
  return a === "hmac-sha1-96" ? 12 : 16;
}

/** Fixed part of BU and BA (RFC 6275 §6.1.7, §6.1.8): 6 octets. */
const FIXED_PART = 6;

/** CoA ‖ HoA ‖ MH Data: the header as emitted (same padding and alignment), cut before the authenticator, checksum zero. */
function mobilityData(message: MobilityMessage, careOf: string, home: string, authenticatorBytes: number): Uint8Array | undefined {
  if (message.type !== "binding-update" && message.type !== "binding-acknowledgement") return undefined;
  const coa = parseIpv6(careOf);
  const hoa = parseIpv6(home);
  if (coa === undefined || hoa === undefined) return undefined;
  const wire = encodeMobilityMessage(message, { source: hoa, destination: hoa });
  const end = optionsEnd(message.options, MhField.messageData + FIXED_PART) - authenticatorBytes;
  wire[MhField.checksum] = 0;
  wire[MhField.checksum + 1] = 0;
  const out = new Uint8Array(32 + end);
  out.set(coa, 0);
  out.set(hoa, 16);
  out.set(wire.subarray(0, end), 32);
  return out;
}

function mac(a: MnHaAssociation, data: Uint8Array): Uint8Array {
  const full = a.algorithm === "hmac-sha1-96" ? hmac(sha1, a.key, data) : hmac(sha256, a.key, data);
  return full.subarray(0, authenticatorLength(a.algorithm));
}

/**
 * Appends Mesg-ID and the MN-HA authentication option (last) to a BU or BA. `careOf`/`home` are the
 * addresses RFC 4285 §5.1 names: the care-of address (the BU's source, the BA's destination) and the home address.
 */
export function authenticate(message: Extract<MobilityMessage, { type: "binding-update" | "binding-acknowledgement" }>, careOf: string, home: string, a: MnHaAssociation, timestamp: bigint): typeof message {
  const options = message.options.filter((o) => o.type !== "mobility-message-authentication" && o.type !== "mobility-message-replay-protection");
  return sign({ ...message, options: [...options, { type: "mobility-message-replay-protection", timestamp }] }, careOf, home, a);
}

/** Appends only the MN-HA authentication option (what `authenticate` does after adding the Mesg-ID). */
export function sign(message: Extract<MobilityMessage, { type: "binding-update" | "binding-acknowledgement" }>, careOf: string, home: string, a: MnHaAssociation): typeof message {
  const placeholder = { type: "mobility-message-authentication" as const, subtype: AUTH_SUBTYPE_MN_HA, mobilitySpi: a.mobilitySpi, authenticationData: new Uint8Array(authenticatorLength(a.algorithm)) };
  const unsigned = { ...message, options: [...message.options, placeholder] };
  const data = mobilityData(unsigned, careOf, home, placeholder.authenticationData.length)!;
  return { ...message, options: [...message.options, { ...placeholder, authenticationData: Uint8Array.from(mac(a, data)) }] };
}

export interface VerifyOptions {
  /** The association for a Mobility SPI (undefined: unknown SPI). */
  readonly associationFor: (mobilitySpi: number) => MnHaAssociation | undefined;
  readonly careOf: string;
  readonly home: string;
  /** The verifier's clock as an NTP timestamp, and the allowed skew. */
  readonly now: bigint;
  readonly windowSeconds: number;
  /** The last accepted timestamp from this peer (replay protection), if any. */
  readonly lastAccepted?: bigint;
}

/**
 * The authenticator alone (RFC 4285 §5.1): the last option is the MN-HA one, its SPI names a known
 * association and the authenticator matches. Ok: the Mesg-ID timestamp, if the message carries one.
 */
export function checkAuthenticator(message: MobilityMessage, o: Pick<VerifyOptions, "associationFor" | "careOf" | "home">): Result<bigint | undefined, typeof AuthStatus.authFailed> {
  if (message.type !== "binding-update" && message.type !== "binding-acknowledgement") return err(AuthStatus.authFailed);
  const options = message.options;
  const last = options[options.length - 1];
  if (last?.type !== "mobility-message-authentication" || last.subtype !== AUTH_SUBTYPE_MN_HA) return err(AuthStatus.authFailed);
  const a = o.associationFor(last.mobilitySpi);
  if (a === undefined || last.authenticationData.length !== authenticatorLength(a.algorithm)) return err(AuthStatus.authFailed);
  const unsigned = { ...message, options: [...options.slice(0, -1), { ...last, authenticationData: new Uint8Array(last.authenticationData.length) }] };
  const data = mobilityData(unsigned, o.careOf, o.home, last.authenticationData.length);
  if (data === undefined || !constantTimeEqual(mac(a, data), last.authenticationData)) return err(AuthStatus.authFailed);
  const id = options.find((x) => x.type === "mobility-message-replay-protection");
  return ok(id?.type === "mobility-message-replay-protection" ? id.timestamp : undefined);
}

/** Checks a received BU/BA. Ok: the message's timestamp (to remember as `lastAccepted`). Err: an RFC 4285 status. */
export function verify(message: MobilityMessage, o: VerifyOptions): Result<bigint, number> {
  const authentic = checkAuthenticator(message, o);
  if (!authentic.ok) return authentic;
  const timestamp = authentic.value;
  if (timestamp === undefined) return err(AuthStatus.mesgIdRequired);
  const window = BigInt(o.windowSeconds) << 32n;
  const skew = timestamp > o.now ? timestamp - o.now : o.now - timestamp;
  if (skew > window || (o.lastAccepted !== undefined && timestamp <= o.lastAccepted)) return err(AuthStatus.idMismatch);
  return ok(timestamp);
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/**
 * monami's extension (off by default): ESP tunnel keys from the MN-HA key, so payload can be encrypted
 * without IKEv2. HKDF-SHA-256 (RFC 5869), salt "monami auth-option esp", info = direction ‖ Mobility SPI;
 * 20 octets each (AES-128-GCM key ‖ salt, RFC 4106 §8.1). SPIs: Mobility SPI's low 16 bits with 0x01 / 0x02
 * in the third octet (router → home agent / home agent → router).
 */
export function deriveEspKeys(a: MnHaAssociation): { toHomeAgent: { spi: number; keymat: Uint8Array }; toRouter: { spi: number; keymat: Uint8Array } } {
  const salt = new TextEncoder().encode("monami auth-option esp");
  const info = (direction: number) => Uint8Array.of(direction, (a.mobilitySpi >>> 24) & 0xff, (a.mobilitySpi >>> 16) & 0xff, (a.mobilitySpi >>> 8) & 0xff, a.mobilitySpi & 0xff);
  const low = a.mobilitySpi & 0xffff;
  return {
    toHomeAgent: { spi: (0x01 << 16) | low, keymat: hkdf(sha256, a.key, salt, info(1), 20) },
    toRouter: { spi: (0x02 << 16) | low, keymat: hkdf(sha256, a.key, salt, info(2), 20) },
  };
}
