// IKEv2 fixed header (RFC 7296 §3.1): View over the first 28 octets and a plain Repr.

import { ok, type Result } from "../../core/result.ts";
import { readU32, writeU32 } from "../bytes.ts";
import { wireError, type WireError } from "../error.ts";

/*
                         1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                       IKE SA Initiator's SPI                  |
    |                                                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                       IKE SA Responder's SPI                  |
    |                                                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                          Message ID                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                            Length                             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/
export const HeaderField = {
  initiatorSpi: 0,
  responderSpi: 8,
  nextPayload: 16,
  version: 17,
  exchangeType: 18,
  flags: 19,
  messageId: 20,
  length: 24,
} as const;

export const IKE_HEADER_LENGTH = 28;
/** Flags octet bits (RFC 7296 §3.1): R = response, V = higher version, I = original initiator. */
export const HeaderFlag = { response: 0x20, version: 0x10, initiator: 0x08 } as const;
/** Version octet for IKEv2.0: MjVer 2, MnVer 0. */
export const IKEV2_VERSION = 0x20;

/** An 8-octet IKE SA SPI held as an unsigned 64-bit integer (0n = not yet known). */
export type IkeSpi = bigint & { readonly __brand: "IkeSpi" };
export function ikeSpi(value: bigint): IkeSpi {
  return BigInt.asUintN(64, value) as IkeSpi;
}

function readU64(b: Uint8Array, at: number): bigint {
  return (BigInt(readU32(b, at)) << 32n) | BigInt(readU32(b, at + 4));
}
function writeU64(b: Uint8Array, at: number, v: bigint): void {
  writeU32(b, at, Number((v >> 32n) & 0xffffffffn));
  writeU32(b, at + 4, Number(v & 0xffffffffn));
}

export function spiBytes(spi: IkeSpi): Uint8Array {
  const out = new Uint8Array(8);
  writeU64(out, 0, spi);
  return out;
}

/** A checked view of an IKEv2 message's header. Only `parse` creates one; no getter throws. */
export class IkeHeaderView {
  readonly bytes: Uint8Array;
  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * Checks the header: at least 28 octets, Length equal to the datagram length (§3.1),
   * major version 2 (a higher major version is `bad-version`: the caller answers
   * INVALID_MAJOR_VERSION, §2.5).
   */
  static parse(bytes: Uint8Array): Result<IkeHeaderView, WireError> {
    if (bytes.length < IKE_HEADER_LENGTH) return wireError("ikev2", "truncated", bytes.length, "IKE header is 28 octets");
    const length = readU32(bytes, HeaderField.length);
    if (length < IKE_HEADER_LENGTH) return wireError("ikev2", "bad-length", HeaderField.length, `length ${length}`);
    if (length > bytes.length) return wireError("ikev2", "truncated", bytes.length, `length says ${length}`);
    if (length < bytes.length) return wireError("ikev2", "bad-length", HeaderField.length, `length ${length} < datagram ${bytes.length}`);
    if (bytes[HeaderField.version]! >> 4 !== 2) return wireError("ikev2", "bad-version", HeaderField.version, `major ${bytes[HeaderField.version]! >> 4}`);
    return ok(new IkeHeaderView(bytes));
  }

  get initiatorSpi(): IkeSpi {
    return readU64(this.bytes, HeaderField.initiatorSpi) as IkeSpi;
  }
  get responderSpi(): IkeSpi {
    return readU64(this.bytes, HeaderField.responderSpi) as IkeSpi;
  }
  get nextPayload(): number {
    return this.bytes[HeaderField.nextPayload]!;
  }
  get majorVersion(): number {
    return this.bytes[HeaderField.version]! >> 4;
  }
  get minorVersion(): number {
    return this.bytes[HeaderField.version]! & 0x0f;
  }
  get exchangeType(): number {
    return this.bytes[HeaderField.exchangeType]!;
  }
  get flags(): number {
    return this.bytes[HeaderField.flags]!;
  }
  get isResponse(): boolean {
    return (this.flags & HeaderFlag.response) !== 0;
  }
  get isInitiator(): boolean {
    return (this.flags & HeaderFlag.initiator) !== 0;
  }
  get messageId(): number {
    return readU32(this.bytes, HeaderField.messageId);
  }
  get length(): number {
    return readU32(this.bytes, HeaderField.length);
  }
  /** The octets after the header: the payload chain. */
  get body(): Uint8Array {
    return this.bytes.subarray(IKE_HEADER_LENGTH);
  }
}

export interface IkeHeader {
  readonly initiatorSpi: IkeSpi;
  readonly responderSpi: IkeSpi;
  readonly nextPayload: number;
  readonly exchangeType: number;
  /** True when this message is a response (R flag). */
  readonly response: boolean;
  /** True when the sender is the IKE SA's original initiator (I flag). */
  readonly initiator: boolean;
  readonly messageId: number;
  readonly length: number;
}

export const IkeHeaderRepr = {
  parse(view: IkeHeaderView): IkeHeader {
    return {
      initiatorSpi: view.initiatorSpi,
      responderSpi: view.responderSpi,
      nextPayload: view.nextPayload,
      exchangeType: view.exchangeType,
      response: view.isResponse,
      initiator: view.isInitiator,
      messageId: view.messageId,
      length: view.length,
    };
  },
  /** Writes the 28-octet header at `at`; `header.length` must already be the whole message length. */
  emit(header: IkeHeader, into: Uint8Array, at = 0): void {
    writeU64(into, at + HeaderField.initiatorSpi, header.initiatorSpi);
    writeU64(into, at + HeaderField.responderSpi, header.responderSpi);
    into[at + HeaderField.nextPayload] = header.nextPayload;
    into[at + HeaderField.version] = IKEV2_VERSION;
    into[at + HeaderField.exchangeType] = header.exchangeType;
    into[at + HeaderField.flags] = (header.response ? HeaderFlag.response : 0) | (header.initiator ? HeaderFlag.initiator : 0);
    writeU32(into, at + HeaderField.messageId, header.messageId >>> 0);
    writeU32(into, at + HeaderField.length, header.length);
  },
  bufferLen(): number {
    return IKE_HEADER_LENGTH;
  },
};
