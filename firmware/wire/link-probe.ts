// Link probe: the authenticated echo a mobile router sends to its home agent inside the tunnel over each uplink.

import type { Counters } from "../core/counters.ts";
import { ok, type Result } from "../core/result.ts";
import type { SecretBytes } from "../core/secret.ts";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import { wireError, wireErrorCounter, type WireError } from "./error.ts";

/*
 * monami link probe, version 1 (carried as a UDP payload inside the protected tunnel to the home agent,
 * sent with the outer source of the care-of address being measured):
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    Version    |     Type      |       Binding ID (BID)        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Sequence Number                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |              Origin Timestamp (ms, sender's clock)            |
 * |                           (64 bits)                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |              Responder Delay (µs; 0 in a request)             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +          Authenticator: HMAC-SHA-256 truncated to 128 bits    +
 * |          over "monami link-probe v1" ‖ octets 0..19           |
 * +                                                               +
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * The Binding ID is the RFC 5648 BID of the care-of address the request left on; the reply echoes
 * every field and adds how long the responder held the request, so the RTT excludes its queueing.
 */
const FIELD = {
  version: 0,
  type: 1,
  bindingId: 2,
  sequenceNumber: 4,
  originTimestamp: 8,
  responderDelay: 16,
  authenticator: 20,
} as const;

export const LINK_PROBE_VERSION = 1;
export const LINK_PROBE_AUTHENTICATOR_LEN = 16;
export const LINK_PROBE_LEN = FIELD.authenticator + LINK_PROBE_AUTHENTICATOR_LEN;
/** Shortest key accepted (the HMAC key is derived per tunnel by the caller, e.g. from the IKE SA). */
export const LINK_PROBE_MIN_KEY_LEN = 16;
const CONTEXT = new TextEncoder().encode("monami link-probe v1");

export type LinkProbeType = "echo-request" | "echo-reply";
const TYPE_CODE: Record<LinkProbeType, number> = { "echo-request": 1, "echo-reply": 2 };

export interface LinkProbeRepr {
  readonly type: LinkProbeType;
  readonly bindingId: number;
  readonly sequenceNumber: number;
  /** The sender's Instant (ms) when the request left; echoed unchanged. */
  readonly originTimestampMs: number;
  readonly responderDelayUs: number;
}

/** A checked window on a link probe; built only by `parse`, which verifies length, version and type. */
export class LinkProbeView {
  readonly bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  static parse(bytes: Uint8Array): Result<LinkProbeView, WireError> {
    if (bytes.length < LINK_PROBE_LEN) return wireError("link-probe", "truncated", bytes.length, `need ${LINK_PROBE_LEN} octets, have ${bytes.length}`);
    if (bytes.length > LINK_PROBE_LEN) return wireError("link-probe", "bad-length", LINK_PROBE_LEN, `${bytes.length} octets, a probe has ${LINK_PROBE_LEN}`);
    if (bytes[FIELD.version] !== LINK_PROBE_VERSION) return wireError("link-probe", "bad-version", FIELD.version, `version ${bytes[FIELD.version]}`);
    const type = bytes[FIELD.type]!;
    if (type !== TYPE_CODE["echo-request"] && type !== TYPE_CODE["echo-reply"]) return wireError("link-probe", "bad-value", FIELD.type, `type ${type}`);
    return ok(new LinkProbeView(bytes));
  }

  get type(): LinkProbeType {
    return this.bytes[FIELD.type] === TYPE_CODE["echo-request"] ? "echo-request" : "echo-reply";
  }
  get bindingId(): number {
    return readU16(this.bytes, FIELD.bindingId);
  }
  get sequenceNumber(): number {
    return readU32(this.bytes, FIELD.sequenceNumber);
  }
  get originTimestampMs(): number {
    return readU32(this.bytes, FIELD.originTimestamp) * 2 ** 32 + readU32(this.bytes, FIELD.originTimestamp + 4);
  }
  get responderDelayUs(): number {
    return readU32(this.bytes, FIELD.responderDelay);
  }
  get authenticator(): Uint8Array {
    return this.bytes.subarray(FIELD.authenticator, LINK_PROBE_LEN);
  }

  /** Recomputes the authenticator with `key` and compares in constant time. */
  verify(key: SecretBytes): boolean {
    const expected = authenticator(this.bytes.subarray(0, FIELD.authenticator), key);
    let diff = 0;
    for (let i = 0; i < LINK_PROBE_AUTHENTICATOR_LEN; i++) diff |= expected[i]! ^ this.bytes[FIELD.authenticator + i]!;
    return diff === 0;
  }
}

function authenticator(covered: Uint8Array, key: SecretBytes): Uint8Array {
  const raw = key.expose();
  if (raw.length < LINK_PROBE_MIN_KEY_LEN) throw new RangeError(`link probe key must be at least ${LINK_PROBE_MIN_KEY_LEN} octets`);
  const mac = hmac.create(sha256, raw);
  mac.update(CONTEXT);
  mac.update(covered);
  return mac.digest().subarray(0, LINK_PROBE_AUTHENTICATOR_LEN);
}

export function linkProbeBufferLen(): number {
  return LINK_PROBE_LEN;
}

/** Writes `repr` with its authenticator into `into` (at least `LINK_PROBE_LEN` octets) and returns the probe's octets. */
export function emitLinkProbe(repr: LinkProbeRepr, key: SecretBytes, into: Uint8Array = new Uint8Array(LINK_PROBE_LEN)): Uint8Array {
  if (into.length < LINK_PROBE_LEN) throw new RangeError(`link probe needs ${LINK_PROBE_LEN} octets`);
  if (!Number.isSafeInteger(repr.originTimestampMs) || repr.originTimestampMs < 0) throw new RangeError("origin timestamp must be a non-negative safe integer");
  const out = into.subarray(0, LINK_PROBE_LEN);
  out[FIELD.version] = LINK_PROBE_VERSION;
  out[FIELD.type] = TYPE_CODE[repr.type];
  writeU16(out, FIELD.bindingId, repr.bindingId);
  writeU32(out, FIELD.sequenceNumber, repr.sequenceNumber);
  writeU32(out, FIELD.originTimestamp, Math.floor(repr.originTimestampMs / 2 ** 32));
  writeU32(out, FIELD.originTimestamp + 4, repr.originTimestampMs >>> 0);
  writeU32(out, FIELD.responderDelay, Math.min(repr.responderDelayUs, 0xffffffff));
  out.set(authenticator(out.subarray(0, FIELD.authenticator), key), FIELD.authenticator);
  return out;
}

/**
 * Parses and authenticates a received probe. A wrong authenticator is `bad-checksum` (detail
 * `authenticator`): the probe is dropped and counted, like any other damaged input.
 */
export function parseLinkProbe(bytes: Uint8Array, key: SecretBytes, counters?: Counters): Result<LinkProbeRepr, WireError> {
  const view = LinkProbeView.parse(bytes);
  if (!view.ok) {
    counters?.increment(wireErrorCounter(view.error));
    return view;
  }
  if (!view.value.verify(key)) {
    const failure = wireError("link-probe", "bad-checksum", FIELD.authenticator, "authenticator");
    counters?.increment(wireErrorCounter(failure.error));
    return failure;
  }
  const v = view.value;
  return ok({
    type: v.type,
    bindingId: v.bindingId,
    sequenceNumber: v.sequenceNumber,
    originTimestampMs: v.originTimestampMs,
    responderDelayUs: v.responderDelayUs,
  });
}

/** The home agent's answer to an authenticated request (every field echoed, the hold time added). */
export function echoReplyFor(request: LinkProbeRepr, responderDelayUs: number): LinkProbeRepr {
  return { ...request, type: "echo-reply", responderDelayUs: Math.max(0, Math.round(responderDelayUs)) };
}
