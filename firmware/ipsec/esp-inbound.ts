// Inbound ESP (RFC 4303 §3.4): cheapest checks first, crypto last, one named counter per drop, in place.

import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import { readU16, readU32 } from "../wire/bytes.ts";
import { checkEspTrailer, ESP_HEADER_LEN, ESP_NEXT_HEADER_DUMMY } from "../wire/esp.ts";
import { EspCounter, NEXT_HEADER_IPV4, NEXT_HEADER_IPV6, type EspCounterName } from "./constants.ts";
import type { SecurityAssociation, SecurityAssociationDatabase } from "./sad.ts";
import {
  packetSelectorOf,
  prefixMatchesAt,
  selectorMatches,
  selectorNeedsUpperLayer,
  upperLayerFields,
  type TrafficSelector,
} from "./traffic-selector.ts";

/** The accepted packet, overwritten by each call (so the datapath allocates nothing). */
export class EspInboundResult {
  sa: SecurityAssociation | undefined;
  nextHeader = 0;
  /** Where the payload (inner packet or upper-layer data) starts in the processed buffer. */
  payloadOffset = 0;
  payloadLength = 0;
  sequenceHigh = 0;
  sequenceLow = 0;
}

/**
 * Addresses a transport-mode packet is checked with (RFC 4301 §5.2 step 4): the source is the
 * home address when a Home Address option is present, per RFC 4877 §4.2.
 */
export interface TransportAddresses {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
}

/**
 * Processes received ESP packets. Order (wireguard-go style, RFC 4303 §3.4): length → SPI →
 * lifetime → replay check → ICV/AEAD → replay update → padding → next header → inner selectors.
 * Decryption happens in place in the caller's buffer; on a drop its bytes are unspecified.
 */
export class EspInbound {
  readonly #sad: SecurityAssociationDatabase;
  readonly #counters: Counters;
  readonly result = new EspInboundResult();
  /** Why the last call returned false. */
  lastDrop: EspCounterName | undefined;

  constructor(sad: SecurityAssociationDatabase, counters: Counters) {
    this.#sad = sad;
    this.#counters = counters;
  }

  /**
   * Processes the ESP packet `packet[at, at+length)` (after the IP header, or the UDP header for
   * RFC 3948). True: `result` describes the payload. False: dropped and counted. Tunnel mode
   * ignores the outer addresses (RFC 5648 §9.3.2: the outer source is irrelevant to IPsec);
   * transport mode needs them for the selector check.
   */
  process(packet: Uint8Array, at: number, length: number, now: Instant, transport?: TransportAddresses): boolean {
    if (length < ESP_HEADER_LEN || at < 0 || at + length > packet.length) return this.#drop(EspCounter.truncated);
    const spi = readU32(packet, at);
    if (spi === 0) return this.#drop(EspCounter.badSpi);
    const sa = this.#sad.inbound(spi);
    if (sa === undefined) return this.#drop(EspCounter.unknownSpi);
    const lifetime = sa.lifetime;
    if (sa.deleted || !lifetime.usable(now)) {
      this.#sad.report(sa, lifetime.expire("hard-expired", "time"));
      return this.#drop(EspCounter.saExpired);
    }
    const suite = sa.suite;
    const textAt = at + ESP_HEADER_LEN + suite.ivLength;
    const textLength = length - ESP_HEADER_LEN - suite.ivLength - suite.icvLength;
    if (textLength < 2 || textLength % suite.alignment !== 0) return this.#drop(EspCounter.badLength);
    const replay = sa.replay!;
    const low = readU32(packet, at + 4);
    const esn = sa.extendedSequenceNumbers;
    const high = esn ? replay.inferHigh(low) : 0;
    const verdict = replay.check(high, low);
    if (verdict !== "fresh") return this.#drop(verdict === "duplicate" ? EspCounter.replayDuplicate : EspCounter.replayTooOld);
    if (!sa.transform.open(packet, at, textLength, high, esn)) return this.#drop(EspCounter.icv);
    replay.update(high, low);
    let payloadLength = checkEspTrailer(packet, textAt, textAt + textLength);
    if (payloadLength < 0) return this.#drop(EspCounter.badPadding);
    const nextHeader = packet[textAt + textLength - 1]!;
    const change = lifetime.count(payloadLength);
    if (change !== undefined) this.#sad.report(sa, change);
    if (nextHeader === ESP_NEXT_HEADER_DUMMY) return this.#drop(EspCounter.dummy);
    if (sa.mode === "tunnel") {
      payloadLength = innerPacketLength(packet, textAt, payloadLength, nextHeader);
      if (payloadLength < 0) return this.#drop(EspCounter.badNextHeader);
      if (!innerSelectorsMatch(sa.selectors, packet, textAt, payloadLength)) return this.#drop(EspCounter.selectorMismatch);
    } else if (!transportSelectorsMatch(sa.selectors, transport, nextHeader, packet, textAt, payloadLength)) {
      return this.#drop(EspCounter.selectorMismatch);
    }
    const result = this.result;
    result.sa = sa;
    result.nextHeader = nextHeader;
    result.payloadOffset = textAt;
    result.payloadLength = payloadLength;
    result.sequenceHigh = high;
    result.sequenceLow = low;
    return true;
  }

  #drop(counter: EspCounterName): boolean {
    this.lastDrop = counter;
    this.#counters.increment(counter);
    return false;
  }
}

/**
 * The inner packet's own length (so TFC padding after it is stripped, RFC 4303 §2.7), or −1 when
 * Next Header is not IPv4/IPv6, the version disagrees, or the inner header claims more than is there.
 */
function innerPacketLength(packet: Uint8Array, at: number, available: number, nextHeader: number): number {
  if (nextHeader === NEXT_HEADER_IPV6) {
    if (available < 40 || packet[at]! >>> 4 !== 6) return -1;
    const length = 40 + readU16(packet, at + 4);
    return length <= available ? length : -1;
  }
  if (nextHeader === NEXT_HEADER_IPV4) {
    if (available < 20 || packet[at]! >>> 4 !== 4) return -1;
    const length = readU16(packet, at + 2);
    return length >= 20 && length <= available ? length : -1;
  }
  return -1;
}

/** RFC 4301 §5.2 step 4: the decrypted inner packet must match one of the SA's selectors. */
function innerSelectorsMatch(selectors: readonly TrafficSelector[], packet: Uint8Array, at: number, length: number): boolean {
  if (selectors.length === 0) return true;
  const v6 = packet[at]! >>> 4 === 6;
  const addressLength = v6 ? 16 : 4;
  const sourceAt = at + (v6 ? 8 : 12);
  const destinationAt = at + (v6 ? 24 : 16);
  for (let i = 0; i < selectors.length; i++) {
    const selector = selectors[i]!;
    if (selector.source !== undefined && !prefixMatchesAt(selector.source, packet, sourceAt, addressLength)) continue;
    if (selector.destination !== undefined && !prefixMatchesAt(selector.destination, packet, destinationAt, addressLength)) continue;
    if (!selectorNeedsUpperLayer(selector)) return true;
    // Protocol, ports or types: walk to the upper layer (the slow path, for narrow SAs only).
    const parsed = packetSelectorOf(packet.subarray(at, at + length));
    if (parsed.ok && selectorMatches(selector, parsed.value)) return true;
  }
  return false;
}

function transportSelectorsMatch(
  selectors: readonly TrafficSelector[],
  addresses: TransportAddresses | undefined,
  protocol: number,
  packet: Uint8Array,
  at: number,
  length: number,
): boolean {
  if (selectors.length === 0) return true;
  if (addresses === undefined) return false;
  const fields = { source: addresses.source, destination: addresses.destination, protocol, ...upperLayerFields(protocol, packet.subarray(at, at + length)) };
  return selectors.some((selector) => selectorMatches(selector, fields));
}
