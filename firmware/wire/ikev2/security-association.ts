// IKEv2 SA payload body: proposals, transforms and transform attributes (RFC 7296 §3.3).

import { ok, type Result } from "../../core/result.ts";
import { ByteReader, ByteWriter } from "../bytes.ts";
import { wireError, type WireError } from "../error.ts";

/*  Proposal substructure (§3.3.1)
    | Last Substruc |   RESERVED    |         Proposal Length       |
    | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
    ~                        SPI (variable)                         ~
    ~                        <Transforms>                           ~
    Transform substructure (§3.3.2)
    | Last Substruc |   RESERVED    |        Transform Length       |
    |Transform Type |   RESERVED    |          Transform ID         |
    ~                      Transform Attributes                     ~
    Attribute (§3.3.5): |A|  Attribute Type  |  AF=0 Length / AF=1 Value | [Value] */
const LAST = 0;
const MORE_PROPOSALS = 2;
const MORE_TRANSFORMS = 3;
const PROPOSAL_HEADER = 8;
const TRANSFORM_HEADER = 8;

export interface TransformAttribute {
  readonly type: number;
  /** TV-format value (AF=1) or TLV bytes (AF=0). */
  readonly value: number | Uint8Array;
}

export interface Transform {
  readonly type: number;
  readonly id: number;
  readonly attributes: readonly TransformAttribute[];
}

export interface Proposal {
  readonly number: number;
  readonly protocolId: number;
  readonly spi: Uint8Array;
  readonly transforms: readonly Transform[];
}

function parseAttributes(bytes: Uint8Array, base: number): Result<TransformAttribute[], WireError> {
  const r = new ByteReader(bytes, "ikev2");
  const out: TransformAttribute[] = [];
  while (r.remaining > 0) {
    const typeField = r.u16();
    if (!typeField.ok) return wireError("ikev2", "truncated", base + r.offset, "attribute");
    const tv = (typeField.value & 0x8000) !== 0;
    const type = typeField.value & 0x7fff;
    const second = r.u16();
    if (!second.ok) return wireError("ikev2", "truncated", base + r.offset, "attribute");
    if (tv) {
      out.push({ type, value: second.value });
    } else {
      const value = r.bytes(second.value);
      if (!value.ok) return wireError("ikev2", "truncated", base + r.offset, "attribute value");
      out.push({ type, value: value.value });
    }
  }
  return ok(out);
}

function parseTransforms(bytes: Uint8Array, count: number, base: number): Result<Transform[], WireError> {
  const out: Transform[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (bytes.length - at < TRANSFORM_HEADER) return wireError("ikev2", "truncated", base + at, "transform header");
    const last = bytes[at]!;
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (length < TRANSFORM_HEADER || at + length > bytes.length) return wireError("ikev2", "bad-length", base + at + 2, `transform length ${length}`);
    const expectLast = i === count - 1;
    if (last !== (expectLast ? LAST : MORE_TRANSFORMS)) return wireError("ikev2", "bad-value", base + at, `last substruc ${last}`);
    const attributes = parseAttributes(bytes.subarray(at + TRANSFORM_HEADER, at + length), base + at + TRANSFORM_HEADER);
    if (!attributes.ok) return attributes;
    out.push({ type: bytes[at + 4]!, id: (bytes[at + 6]! << 8) | bytes[at + 7]!, attributes: attributes.value });
    at += length;
  }
  if (at !== bytes.length) return wireError("ikev2", "bad-length", base + at, "octets after the last transform");
  return ok(out);
}

/** Parses an SA payload body into its proposals; `base` is the body's offset for error positions. */
export function parseSecurityAssociation(body: Uint8Array, base = 0): Result<Proposal[], WireError> {
  const out: Proposal[] = [];
  let at = 0;
  if (body.length === 0) return wireError("ikev2", "truncated", base, "SA without proposals");
  for (;;) {
    if (body.length - at < PROPOSAL_HEADER) return wireError("ikev2", "truncated", base + at, "proposal header");
    const last = body[at]!;
    const length = (body[at + 2]! << 8) | body[at + 3]!;
    if (length < PROPOSAL_HEADER || at + length > body.length) return wireError("ikev2", "bad-length", base + at + 2, `proposal length ${length}`);
    if (last !== LAST && last !== MORE_PROPOSALS) return wireError("ikev2", "bad-value", base + at, `last substruc ${last}`);
    const spiSize = body[at + 6]!;
    if (PROPOSAL_HEADER + spiSize > length) return wireError("ikev2", "bad-length", base + at + 6, `SPI size ${spiSize}`);
    const transforms = parseTransforms(body.subarray(at + PROPOSAL_HEADER + spiSize, at + length), body[at + 7]!, base + at + PROPOSAL_HEADER + spiSize);
    if (!transforms.ok) return transforms;
    out.push({
      number: body[at + 4]!,
      protocolId: body[at + 5]!,
      spi: body.subarray(at + PROPOSAL_HEADER, at + PROPOSAL_HEADER + spiSize),
      transforms: transforms.value,
    });
    at += length;
    if (last === LAST) break;
  }
  if (at !== body.length) return wireError("ikev2", "bad-length", base + at, "octets after the last proposal");
  return ok(out);
}

function attributeLen(a: TransformAttribute): number {
  return typeof a.value === "number" ? 4 : 4 + a.value.length;
}
function transformLen(t: Transform): number {
  return TRANSFORM_HEADER + t.attributes.reduce((n, a) => n + attributeLen(a), 0);
}
function proposalLen(p: Proposal): number {
  return PROPOSAL_HEADER + p.spi.length + p.transforms.reduce((n, t) => n + transformLen(t), 0);
}

export function securityAssociationLen(proposals: readonly Proposal[]): number {
  return proposals.reduce((n, p) => n + proposalLen(p), 0);
}

export function emitSecurityAssociation(proposals: readonly Proposal[], w: ByteWriter): void {
  proposals.forEach((p, i) => {
    w.u8(i === proposals.length - 1 ? LAST : MORE_PROPOSALS).u8(0).u16(proposalLen(p));
    w.u8(p.number).u8(p.protocolId).u8(p.spi.length).u8(p.transforms.length).bytes(p.spi);
    p.transforms.forEach((t, j) => {
      w.u8(j === p.transforms.length - 1 ? LAST : MORE_TRANSFORMS).u8(0).u16(transformLen(t));
      w.u8(t.type).u8(0).u16(t.id);
      for (const a of t.attributes) {
        if (typeof a.value === "number") w.u16(0x8000 | a.type).u16(a.value);
        else w.u16(a.type & 0x7fff).u16(a.value.length).bytes(a.value);
      }
    });
  });
}
