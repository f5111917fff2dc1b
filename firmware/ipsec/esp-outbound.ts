// Outbound ESP (RFC 4303 §3.3): sequence, padding, TFC padding, encryption and ICV into the SA's preallocated buffer.

import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import { ESP_HEADER_LEN, ESP_NEXT_HEADER_DUMMY, espPadLength, writeEspHeader, writeEspTrailer, ESP_TRAILER_LEN } from "../wire/esp.ts";
import { EspCounter, NEXT_HEADER_IPV4, NEXT_HEADER_IPV6, type EspCounterName } from "./constants.ts";
import type { SecurityAssociation, SecurityAssociationDatabase } from "./sad.ts";

/**
 * Builds ESP packets for outbound SAs. Each call writes the packet at offset 0 of `sa.output` and
 * returns its length; the bytes stay valid until the next call on the same SA. A return of −1 is
 * a drop, counted under `esp.drop.*` and named in `lastDrop`. Nothing here throws for traffic,
 * and the per-packet path allocates nothing.
 */
export class EspOutbound {
  readonly #sad: SecurityAssociationDatabase;
  readonly #counters: Counters;
  /** Why the last call returned −1. */
  lastDrop: EspCounterName | undefined;

  constructor(sad: SecurityAssociationDatabase, counters: Counters) {
    this.#sad = sad;
    this.#counters = counters;
  }

  /** Where the payload starts in `sa.output`, for callers that build it there (zero copy). */
  payloadOffset(sa: SecurityAssociation): number {
    return ESP_HEADER_LEN + sa.suite.ivLength;
  }

  /** The largest payload `sa` can carry in one packet. */
  maxPayload(sa: SecurityAssociation): number {
    return sa.output!.length - ESP_HEADER_LEN - sa.suite.ivLength - sa.suite.alignment - ESP_TRAILER_LEN - sa.suite.icvLength;
  }

  /** Tunnel mode (RFC 4303 §3.1.2): the whole inner IPv6 or IPv4 packet becomes the payload. */
  protectTunnel(sa: SecurityAssociation, inner: Uint8Array, now: Instant): number {
    const version = inner.length > 0 ? inner[0]! >>> 4 : 0;
    const nextHeader = version === 6 ? NEXT_HEADER_IPV6 : version === 4 ? NEXT_HEADER_IPV4 : -1;
    if (sa.deleted) return this.#drop(EspCounter.outboundSaExpired);
    if (nextHeader < 0 || sa.mode !== "tunnel") return this.#drop(EspCounter.badInnerPacket);
    if (inner.length > this.maxPayload(sa)) return this.#drop(EspCounter.tooBig);
    sa.output!.set(inner, this.payloadOffset(sa));
    return this.protectInPlace(sa, inner.length, nextHeader, now);
  }

  /** Transport mode (RFC 4303 §3.1.1): the upper-layer payload, with its protocol as Next Header. */
  protectTransport(sa: SecurityAssociation, upperProtocol: number, upperPayload: Uint8Array, now: Instant): number {
    if (sa.deleted) return this.#drop(EspCounter.outboundSaExpired);
    if (sa.mode !== "transport") return this.#drop(EspCounter.badInnerPacket);
    if (upperPayload.length > this.maxPayload(sa)) return this.#drop(EspCounter.tooBig);
    sa.output!.set(upperPayload, this.payloadOffset(sa));
    return this.protectInPlace(sa, upperPayload.length, upperProtocol, now);
  }

  /** A dummy packet (Next Header 59, RFC 4303 §2.6) of `length` zero octets, for traffic flow confidentiality. */
  protectDummy(sa: SecurityAssociation, length: number, now: Instant): number {
    if (sa.deleted) return this.#drop(EspCounter.outboundSaExpired);
    if (length < 0 || length > this.maxPayload(sa)) return this.#drop(EspCounter.tooBig);
    const at = this.payloadOffset(sa);
    sa.output!.fill(0, at, at + length);
    return this.protectInPlace(sa, length, ESP_NEXT_HEADER_DUMMY, now);
  }

  /**
   * Seals the `payloadLength` octets the caller put at `payloadOffset(sa)` in `sa.output`.
   * In tunnel mode, TFC padding (zeros) extends the payload to `sa.tfcPadTo` (RFC 4303 §2.7; the
   * inner IP header's length lets the receiver strip it).
   */
  protectInPlace(sa: SecurityAssociation, payloadLength: number, nextHeader: number, now: Instant): number {
    const out = sa.output;
    if (out === undefined) return this.#drop(EspCounter.outboundSaExpired);
    return this.protectAt(sa, out, 0, payloadLength, nextHeader, now);
  }

  /**
   * The same, in a caller's buffer: the payload sits at `at + payloadOffset(sa)` in `out`, the ESP packet
   * is written from `at` and its length returned. For batching data planes that seal straight into their
   * send slots; `out` should be one long-lived buffer (FFI backends cache its address) with room for
   * padding and ICV after the payload.
   */
  protectAt(sa: SecurityAssociation, out: Uint8Array, at: number, payloadLength: number, nextHeader: number, now: Instant): number {
    if (sa.deleted || sa.direction !== "outbound") return this.#drop(EspCounter.outboundSaExpired);
    const lifetime = sa.lifetime;
    if (!lifetime.usable(now)) {
      this.#sad.report(sa, lifetime.expire("hard-expired", "time"));
      return this.#drop(EspCounter.outboundSaExpired);
    }
    const suite = sa.suite;
    const payloadAt = at + ESP_HEADER_LEN + suite.ivLength;
    let textPayload = payloadLength;
    if (sa.mode === "tunnel" && sa.tfcPadTo > payloadLength && nextHeader !== ESP_NEXT_HEADER_DUMMY) {
      textPayload = Math.min(sa.tfcPadTo, this.maxPayload(sa));
      out.fill(0, payloadAt + payloadLength, payloadAt + textPayload);
    }
    const padLength = espPadLength(textPayload, suite.alignment);
    const textLength = textPayload + padLength + ESP_TRAILER_LEN;
    if (payloadAt + textLength + suite.icvLength > out.length) return this.#drop(EspCounter.tooBig);
    const step = sa.nextSequence();
    if (step === "exhausted") {
      // RFC 4303 §3.3.3: never cycle; the SA is done and a rekey is due.
      this.#sad.report(sa, lifetime.expire("hard-expired", "sequence"));
      return this.#drop(EspCounter.sequenceExhausted);
    }
    if (step === "soft") this.#sad.report(sa, lifetime.expire("soft-expired", "sequence"));
    writeEspHeader(out, at, sa.spi, sa.sequenceLow);
    writeEspTrailer(out, payloadAt + textPayload, padLength, nextHeader);
    sa.transform.seal(out, at, textLength, sa.sequenceHigh, sa.sequenceLow, sa.extendedSequenceNumbers);
    const change = lifetime.count(payloadLength);
    if (change !== undefined) this.#sad.report(sa, change);
    return payloadAt - at + textLength + suite.icvLength;
  }

  #drop(counter: EspCounterName): number {
    this.lastDrop = counter;
    this.#counters.increment(counter);
    return -1;
  }
}
