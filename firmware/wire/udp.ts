// UDP (RFC 768) over IPv6 and IPv4: the header View, the Repr, and checksums over the pseudo-header.

import { ok, type Result } from "../core/result.ts";
import { readU16, writeU16 } from "./bytes.ts";
import { wireError, type WireError } from "./error.ts";
import { checkUnsigned } from "./field-range.ts";
import { IpProtocol } from "./protocol-numbers.ts";
import { pseudoHeaderFamily, upperLayerChecksum, type PseudoHeaderAddresses } from "./pseudo-header.ts";

/*
 * RFC 768:
 *  0      7 8     15 16    23 24    31
 * +--------+--------+--------+--------+
 * |     Source      |   Destination   |
 * |      Port       |      Port       |
 * +--------+--------+--------+--------+
 * |     Length      |    Checksum     |
 * +--------+--------+--------+--------+
 */
const FIELD = { sourcePort: 0, destinationPort: 2, length: 4, checksum: 6 } as const;
export const UDP_HEADER_LEN = 8;
const UDP_MAX_LEN = 0xffff;

/** A checked window on a UDP datagram. Built only by `parse`; no getter can throw. */
export class UdpView {
  /** The datagram cut at its Length field (octets after it are ignored, RFC 768). */
  readonly datagram: Uint8Array;

  private constructor(datagram: Uint8Array) {
    this.datagram = datagram;
  }

  /** Checks that the header is present and that Length is at least 8 and within `bytes`. */
  static parse(bytes: Uint8Array): Result<UdpView, WireError> {
    if (bytes.length < UDP_HEADER_LEN) return wireError("udp", "truncated", bytes.length, `need ${UDP_HEADER_LEN} octets, have ${bytes.length}`);
    const length = readU16(bytes, FIELD.length);
    if (length < UDP_HEADER_LEN) return wireError("udp", "bad-length", FIELD.length, `length ${length} below the header`);
    if (length > bytes.length) return wireError("udp", "truncated", bytes.length, `length ${length} beyond ${bytes.length} octets`);
    return ok(new UdpView(bytes.subarray(0, length)));
  }

  get sourcePort(): number {
    return readU16(this.datagram, FIELD.sourcePort);
  }
  get destinationPort(): number {
    return readU16(this.datagram, FIELD.destinationPort);
  }
  get length(): number {
    return this.datagram.length;
  }
  get checksum(): number {
    return readU16(this.datagram, FIELD.checksum);
  }
  get payload(): Uint8Array {
    return this.datagram.subarray(UDP_HEADER_LEN);
  }

  /**
   * Verifies the checksum over `addresses`. A zero checksum means "none" over IPv4 (RFC 768) and
   * is an error over IPv6 (RFC 8200 §8.1; monami takes no RFC 6936 exception).
   */
  verifyChecksum(addresses: PseudoHeaderAddresses): Result<void, WireError> {
    if (this.checksum === 0) {
      if (pseudoHeaderFamily(addresses) === "ipv4") return ok(undefined);
      return wireError("udp", "bad-checksum", FIELD.checksum, "zero checksum over IPv6 (RFC 8200 §8.1)");
    }
    if (upperLayerChecksum(addresses, IpProtocol.udp, this.datagram) !== 0) {
      return wireError("udp", "bad-checksum", FIELD.checksum, `checksum 0x${this.checksum.toString(16).padStart(4, "0")} does not verify`);
    }
    return ok(undefined);
  }
}

export interface UdpRepr {
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** A subarray of the input when parsed. */
  readonly payload: Uint8Array;
}

/** Parses and verifies a datagram (`bytes` is the IP upper-layer payload). */
export function parseUdp(bytes: Uint8Array, addresses: PseudoHeaderAddresses): Result<UdpRepr, WireError> {
  const parsed = UdpView.parse(bytes);
  if (!parsed.ok) return parsed;
  const view = parsed.value;
  const verified = view.verifyChecksum(addresses);
  if (!verified.ok) return verified;
  return ok({ sourcePort: view.sourcePort, destinationPort: view.destinationPort, payload: view.payload });
}

export function udpLen(repr: UdpRepr): number {
  return UDP_HEADER_LEN + repr.payload.length;
}

export interface UdpEmitOptions {
  /** Over IPv4 only: send checksum 0 ("none"), as RFC 3948 §2.1 suggests for ESP-in-UDP. */
  readonly ipv4ZeroChecksum?: boolean;
}

/** Writes the datagram with its checksum at `offset`; returns its length. Bad ports, sizes or buffers throw RangeError. */
export function emitUdpInto(
  repr: UdpRepr,
  addresses: PseudoHeaderAddresses,
  buffer: Uint8Array,
  offset: number,
  options: UdpEmitOptions = {},
): number {
  const len = udpLen(repr);
  const family = pseudoHeaderFamily(addresses);
  if (len > UDP_MAX_LEN) throw new RangeError(`UDP datagram of ${len} octets`);
  checkUnsigned(repr.sourcePort, 0xffff, "UDP source port");
  checkUnsigned(repr.destinationPort, 0xffff, "UDP destination port");
  if (options.ipv4ZeroChecksum && family !== "ipv4") throw new RangeError("a zero UDP checksum is IPv4 only (RFC 8200 §8.1)");
  if (offset < 0 || offset + len > buffer.length) throw new RangeError(`UDP datagram of ${len} octets does not fit at ${offset}`);
  writeU16(buffer, offset + FIELD.sourcePort, repr.sourcePort);
  writeU16(buffer, offset + FIELD.destinationPort, repr.destinationPort);
  writeU16(buffer, offset + FIELD.length, len);
  writeU16(buffer, offset + FIELD.checksum, 0);
  buffer.set(repr.payload, offset + UDP_HEADER_LEN);
  if (!options.ipv4ZeroChecksum) {
    const checksum = upperLayerChecksum(addresses, IpProtocol.udp, buffer.subarray(offset, offset + len));
    // RFC 768: a computed zero is sent as all ones, since zero means "no checksum".
    writeU16(buffer, offset + FIELD.checksum, checksum === 0 ? 0xffff : checksum);
  }
  return len;
}

export function emitUdp(repr: UdpRepr, addresses: PseudoHeaderAddresses, options: UdpEmitOptions = {}): Uint8Array {
  const out = new Uint8Array(udpLen(repr));
  emitUdpInto(repr, addresses, out, 0, options);
  return out;
}
