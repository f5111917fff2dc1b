// ESP (RFC 4303 §2): the SPI/sequence header View and Repr, and the padding/trailer rules.

import { ok, type Result } from "../core/result.ts";
import { readU32, writeU32 } from "./bytes.ts";
import { wireError, type WireError } from "./error.ts";

/*
 * RFC 4303 §2.1–2.8, as monami lays a packet out in one buffer:
 *
 *   offset 0    SPI (32)                           ┐ integrity-covered (HMAC) / AAD (AEAD)
 *   offset 4    Sequence Number, low 32 bits       ┘
 *   offset 8    IV (suite-specific, 0/8/16 octets)
 *               Payload Data | TFC padding | Padding 1,2,3… | Pad Length (8) | Next Header (8)   ← encrypted
 *               ICV (suite-specific, 16 octets here)
 *
 * Pad Length + Next Header end on a 4-octet boundary, or the cipher's block size (§2.4).
 */
const FIELD = { spi: 0, sequenceNumber: 4 } as const;

export const ESP_HEADER_LEN = 8;
/** Pad Length and Next Header. */
export const ESP_TRAILER_LEN = 2;
/** RFC 4303 §2.4: at most 255 octets of padding. */
export const ESP_MAX_PAD_LENGTH = 255;
/** RFC 4303 §2.6: Next Header 59 marks a dummy packet, discarded silently (§2.7 TFC). */
export const ESP_NEXT_HEADER_DUMMY = 59;
/** RFC 4303 §2.1: SPI 0 is never sent (RFC 3948 §2.2 uses it as the non-ESP marker); 1–255 are IANA-reserved. */
export const ESP_SPI_RESERVED_MAX = 255;

/** A checked window on an ESP packet: at least SPI and sequence number, SPI not 0. */
export class EspView {
  readonly packet: Uint8Array;

  private constructor(packet: Uint8Array) {
    this.packet = packet;
  }

  static parse(bytes: Uint8Array): Result<EspView, WireError> {
    if (bytes.length < ESP_HEADER_LEN) return wireError("esp", "truncated", bytes.length, `need ${ESP_HEADER_LEN} octets, have ${bytes.length}`);
    if (readU32(bytes, FIELD.spi) === 0) return wireError("esp", "bad-value", FIELD.spi, "SPI 0 is never sent (RFC 4303 §2.1)");
    return ok(new EspView(bytes));
  }

  get securityParameterIndex(): number {
    return readU32(this.packet, FIELD.spi);
  }
  get sequenceNumber(): number {
    return readU32(this.packet, FIELD.sequenceNumber);
  }
  /** IV, ciphertext and ICV: the suite decides how to split them. */
  get body(): Uint8Array {
    return this.packet.subarray(ESP_HEADER_LEN);
  }
}

export interface EspHeaderRepr {
  readonly securityParameterIndex: number;
  /** The low 32 bits of the (possibly extended) sequence number: what goes on the wire. */
  readonly sequenceNumber: number;
}

export function parseEspHeader(view: EspView): EspHeaderRepr {
  return { securityParameterIndex: view.securityParameterIndex, sequenceNumber: view.sequenceNumber };
}

export function espHeaderLen(_repr: EspHeaderRepr): number {
  return ESP_HEADER_LEN;
}

/** Writes SPI and sequence number at `at`. SPI 0 or out-of-range values throw RangeError (programmer error). */
export function emitEspHeader(repr: EspHeaderRepr, into: Uint8Array, at: number): number {
  const { securityParameterIndex: spi, sequenceNumber: seq } = repr;
  if (!Number.isInteger(spi) || spi <= 0 || spi > 0xffffffff) throw new RangeError(`ESP SPI ${spi}`);
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffffffff) throw new RangeError(`ESP sequence number ${seq}`);
  if (at < 0 || at + ESP_HEADER_LEN > into.length) throw new RangeError(`ESP header does not fit at ${at}`);
  writeEspHeader(into, at, spi, seq);
  return ESP_HEADER_LEN;
}

/** The unchecked datapath form of `emitEspHeader`: the caller has sized the buffer and holds valid values. */
export function writeEspHeader(into: Uint8Array, at: number, spi: number, sequenceLow: number): void {
  writeU32(into, at + FIELD.spi, spi);
  writeU32(into, at + FIELD.sequenceNumber, sequenceLow);
}

/**
 * Octets of padding so that `payloadLength` + padding + 2 is a multiple of `alignment`
 * (RFC 4303 §2.4). `alignment` is a power of two from 4 to 256.
 */
export function espPadLength(payloadLength: number, alignment: number): number {
  return (alignment - ((payloadLength + ESP_TRAILER_LEN) & (alignment - 1))) & (alignment - 1);
}

/**
 * Writes the default padding 1, 2, 3, … (RFC 4303 §2.4), Pad Length and Next Header at `at`;
 * returns the octets written (padLength + 2). The caller has sized the buffer.
 */
export function writeEspTrailer(into: Uint8Array, at: number, padLength: number, nextHeader: number): number {
  for (let i = 0; i < padLength; i++) into[at + i] = i + 1;
  into[at + padLength] = padLength;
  into[at + padLength + 1] = nextHeader;
  return padLength + ESP_TRAILER_LEN;
}

/**
 * Checks the trailer of decrypted plaintext `bytes[start, end)`: Pad Length fits, and the padding
 * holds the default 1, 2, 3, … (RFC 4303 §2.4: a receiver checks it when the default was used,
 * which every monami suite does). Returns the payload length, or −1 when the trailer is bad.
 * Allocation-free: the datapath calls it per packet.
 */
export function checkEspTrailer(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length < ESP_TRAILER_LEN) return -1;
  const padLength = bytes[end - 2]!;
  const payloadLength = length - ESP_TRAILER_LEN - padLength;
  if (payloadLength < 0) return -1;
  const padStart = start + payloadLength;
  let bad = 0;
  for (let i = 0; i < padLength; i++) bad |= bytes[padStart + i]! ^ ((i + 1) & 0xff);
  return bad === 0 ? payloadLength : -1;
}

/** The decrypted contents of an ESP packet, split by its trailer. */
export interface EspPlaintextRepr {
  /** A subarray of the input. */
  readonly payload: Uint8Array;
  readonly padLength: number;
  readonly nextHeader: number;
}

/** `checkEspTrailer` as a codec: for callers off the datapath, tests and fuzzing. */
export function parseEspPlaintext(plaintext: Uint8Array): Result<EspPlaintextRepr, WireError> {
  if (plaintext.length < ESP_TRAILER_LEN) return wireError("esp", "truncated", plaintext.length, "no room for Pad Length and Next Header");
  const padLength = plaintext[plaintext.length - 2]!;
  const payloadLength = checkEspTrailer(plaintext, 0, plaintext.length);
  if (payloadLength < 0) {
    return padLength + ESP_TRAILER_LEN > plaintext.length
      ? wireError("esp", "bad-length", plaintext.length - 2, `pad length ${padLength} exceeds the plaintext`)
      : wireError("esp", "bad-value", plaintext.length - 2 - padLength, "padding is not 1, 2, 3, … (RFC 4303 §2.4)");
  }
  return ok({ payload: plaintext.subarray(0, payloadLength), padLength, nextHeader: plaintext[plaintext.length - 1]! });
}

/** Plaintext bytes (payload ‖ padding ‖ trailer) for `repr`, with default padding. */
export function espPlaintextLen(payloadLength: number, alignment: number): number {
  return payloadLength + espPadLength(payloadLength, alignment) + ESP_TRAILER_LEN;
}

/** Writes payload, default padding to `alignment` and the trailer at `at`; returns the octets written. */
export function emitEspPlaintext(payload: Uint8Array, nextHeader: number, alignment: number, into: Uint8Array, at: number): number {
  const padLength = espPadLength(payload.length, alignment);
  const total = payload.length + padLength + ESP_TRAILER_LEN;
  if (at < 0 || at + total > into.length) throw new RangeError(`ESP plaintext of ${total} octets does not fit at ${at}`);
  if (nextHeader < 0 || nextHeader > 255 || !Number.isInteger(nextHeader)) throw new RangeError(`next header ${nextHeader}`);
  into.set(payload, at);
  writeEspTrailer(into, at + payload.length, padLength, nextHeader);
  return total;
}
