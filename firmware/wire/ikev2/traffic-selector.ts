// IKEv2 Traffic Selector payload body (RFC 7296 §3.13.1): address ranges with protocol and port range.

import { ok, type Result } from "../../core/result.ts";
import type { ByteWriter } from "../bytes.ts";
import { wireError, type WireError } from "../error.ts";

/*  | Number of TSs |                 RESERVED                      |
    ~                       <Traffic Selectors>                     ~
    Traffic Selector:
    |   TS Type     |IP Protocol ID*|       Selector Length         |
    |           Start Port*         |           End Port*           |
    ~                         Starting Address*                     ~
    ~                         Ending Address*                       ~            */
export const TsType = { ipv4AddressRange: 7, ipv6AddressRange: 8 } as const;

export interface TrafficSelector {
  readonly tsType: number;
  /** 0 = any protocol. */
  readonly ipProtocol: number;
  readonly startPort: number;
  readonly endPort: number;
  readonly startAddress: Uint8Array;
  readonly endAddress: Uint8Array;
}

function addressLength(tsType: number): number | undefined {
  return tsType === TsType.ipv4AddressRange ? 4 : tsType === TsType.ipv6AddressRange ? 16 : undefined;
}

export function parseTrafficSelectors(body: Uint8Array, base = 0): Result<TrafficSelector[], WireError> {
  if (body.length < 4) return wireError("ikev2", "truncated", base, "TS header");
  const count = body[0]!;
  const out: TrafficSelector[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (body.length - at < 4) return wireError("ikev2", "truncated", base + at, "selector header");
    const tsType = body[at]!;
    const length = (body[at + 2]! << 8) | body[at + 3]!;
    const n = addressLength(tsType);
    if (n === undefined) return wireError("ikev2", "unsupported", base + at, `TS type ${tsType}`);
    if (length !== 8 + 2 * n) return wireError("ikev2", "bad-length", base + at + 2, `selector length ${length}`);
    if (at + length > body.length) return wireError("ikev2", "truncated", base + at, "selector");
    out.push({
      tsType,
      ipProtocol: body[at + 1]!,
      startPort: (body[at + 4]! << 8) | body[at + 5]!,
      endPort: (body[at + 6]! << 8) | body[at + 7]!,
      startAddress: body.subarray(at + 8, at + 8 + n),
      endAddress: body.subarray(at + 8 + n, at + 8 + 2 * n),
    });
    at += length;
  }
  if (at !== body.length) return wireError("ikev2", "bad-length", base + at, "octets after the last selector");
  return ok(out);
}

export function trafficSelectorsLen(selectors: readonly TrafficSelector[]): number {
  return 4 + selectors.reduce((n, s) => n + 8 + s.startAddress.length + s.endAddress.length, 0);
}

export function emitTrafficSelectors(selectors: readonly TrafficSelector[], w: ByteWriter): void {
  w.u8(selectors.length).zeros(3);
  for (const s of selectors) {
    w.u8(s.tsType).u8(s.ipProtocol).u16(8 + s.startAddress.length + s.endAddress.length);
    w.u16(s.startPort).u16(s.endPort).bytes(s.startAddress).bytes(s.endAddress);
  }
}
