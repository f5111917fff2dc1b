// A whole IKEv2 message: header, clear payloads, and the opaque SK / SKF tail (RFC 7296 §3, RFC 7383 §2.5).

import { ok, type Result } from "../../core/result.ts";
import { ByteWriter } from "../bytes.ts";
import { wireError, type WireError } from "../error.ts";
import { IKE_HEADER_LENGTH, IkeHeaderRepr, IkeHeaderView, type IkeHeader } from "./header.ts";
import { PayloadType } from "./payload-type.ts";
import { chainLen, decodePayloads, emitChain, firstPayloadType, GENERIC_HEADER_LENGTH, walkChain, type Payload } from "./payloads.ts";

/** The SK payload's content, still encrypted: IV ‖ ciphertext ‖ ICV, plus what the AAD / ICV needs. */
export interface EncryptedPart {
  readonly fragment: boolean;
  readonly firstInner: number;
  /** RFC 7383: 1-based fragment number and total (1/1 for a plain SK payload). */
  readonly fragmentNumber: number;
  readonly totalFragments: number;
  /** IV ‖ encrypted octets ‖ ICV. */
  readonly body: Uint8Array;
  /** Message octets from the IKE header through the SK generic header (through Total Fragments for SKF). */
  readonly associated: Uint8Array;
}

export interface IkeMessage {
  readonly header: IkeHeader;
  /** Payloads outside any SK payload (all of IKE_SA_INIT; usually none afterwards). */
  readonly payloads: readonly Payload[];
  readonly encrypted?: EncryptedPart;
  /** The datagram as received (for AUTH's RealMessage and retransmission detection). */
  readonly raw: Uint8Array;
}

/** Parses a datagram's IKE message (without the 4-octet non-ESP marker). Never throws. */
export function parseMessage(bytes: Uint8Array): Result<IkeMessage, WireError> {
  const view = IkeHeaderView.parse(bytes);
  if (!view.ok) return view;
  const header = IkeHeaderRepr.parse(view.value);
  const chain = walkChain(view.value.body, header.nextPayload, IKE_HEADER_LENGTH);
  if (!chain.ok) return chain;
  const payloads = decodePayloads(chain.value.payloads);
  if (!payloads.ok) return payloads;
  const tail = chain.value.encrypted;
  if (!tail) return ok({ header, payloads: payloads.value, raw: bytes });
  const fragment = tail.type === PayloadType.encryptedFragment;
  let fragmentNumber = 1;
  let totalFragments = 1;
  let body = tail.body;
  if (fragment) {
    if (body.length < 4) return wireError("ikev2", "truncated", tail.at + GENERIC_HEADER_LENGTH, "SKF fragment numbers");
    fragmentNumber = (body[0]! << 8) | body[1]!;
    totalFragments = (body[2]! << 8) | body[3]!;
    // RFC 7383 §2.5: numbers start at 1 and never exceed the total; Next Payload is 0 except in fragment 1.
    if (fragmentNumber === 0 || totalFragments === 0 || fragmentNumber > totalFragments) {
      return wireError("ikev2", "bad-value", tail.at + GENERIC_HEADER_LENGTH, `fragment ${fragmentNumber}/${totalFragments}`);
    }
    body = body.subarray(4);
  }
  const associatedEnd = tail.at + GENERIC_HEADER_LENGTH + (fragment ? 4 : 0);
  return ok({
    header,
    payloads: payloads.value,
    encrypted: { fragment, firstInner: tail.firstInner, fragmentNumber, totalFragments, body, associated: bytes.subarray(0, associatedEnd) },
    raw: bytes,
  });
}

/** Header fields a sender chooses; Next Payload and Length are computed. */
export type HeaderFields = Omit<IkeHeader, "nextPayload" | "length">;

/** Encodes a message with clear payloads only (IKE_SA_INIT and unprotected error replies). */
export function encodeMessage(fields: HeaderFields, payloads: readonly Payload[]): Uint8Array {
  const length = IKE_HEADER_LENGTH + chainLen(payloads);
  const out = new Uint8Array(length);
  IkeHeaderRepr.emit({ ...fields, nextPayload: firstPayloadType(payloads), length }, out);
  emitChain(payloads, new ByteWriter(out, IKE_HEADER_LENGTH));
  return out;
}

/**
 * Lays out a message whose last payload is SK (or SKF when `fragment` is given) with a body of
 * `bodyLength` octets. Returns the buffer and where the body goes; the caller fills IV, ciphertext
 * and ICV (the associated data is `out.subarray(0, bodyAt)`).
 */
export function layoutEncrypted(
  fields: HeaderFields,
  firstInner: number,
  bodyLength: number,
  fragment?: { readonly number: number; readonly total: number },
): { readonly out: Uint8Array; readonly bodyAt: number } {
  const skHeader = GENERIC_HEADER_LENGTH + (fragment ? 4 : 0);
  const length = IKE_HEADER_LENGTH + skHeader + bodyLength;
  const out = new Uint8Array(length);
  const type = fragment ? PayloadType.encryptedFragment : PayloadType.encrypted;
  IkeHeaderRepr.emit({ ...fields, nextPayload: type, length }, out);
  const w = new ByteWriter(out, IKE_HEADER_LENGTH);
  w.u8(fragment && fragment.number !== 1 ? 0 : firstInner).u8(0).u16(skHeader + bodyLength);
  if (fragment) w.u16(fragment.number).u16(fragment.total);
  return { out, bodyAt: IKE_HEADER_LENGTH + skHeader };
}
