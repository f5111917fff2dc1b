// A minimal DER reader for X.509 and key files (ITU-T X.690 §8.1: tag, definite length, value); never throws.

import { err, ok, type Result } from "../core/result.ts";

export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
  /** The whole encoding (tag, length, value). */
  readonly raw: Uint8Array;
}

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Context-specific tag number n, constructed (0xa0 | n) or primitive (0x80 | n). */
export const contextTag = (n: number, constructed = true) => (constructed ? 0xa0 : 0x80) | n;

/** Reads one TLV at `at`; returns it and the offset after it. Long-form lengths up to 4 octets. */
export function readTlv(b: Uint8Array, at = 0): Result<{ tlv: Tlv; next: number }, string> {
  if (at + 2 > b.length) return err("DER: truncated header");
  const tag = b[at]!;
  if ((tag & 0x1f) === 0x1f) return err("DER: high tag numbers unsupported");
  let length = b[at + 1]!;
  let head = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) return err("DER: bad length form");
    if (at + 2 + n > b.length) return err("DER: truncated length");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + b[at + 2 + i]!;
    head += n;
  }
  const end = at + head + length;
  if (end > b.length) return err("DER: value beyond buffer");
  return ok({ tlv: { tag, value: b.subarray(at + head, end), raw: b.subarray(at, end) }, next: end });
}

/** All TLVs inside a constructed value. */
export function children(value: Uint8Array): Result<Tlv[], string> {
  const out: Tlv[] = [];
  let at = 0;
  while (at < value.length) {
    const r = readTlv(value, at);
    if (!r.ok) return r;
    out.push(r.value.tlv);
    at = r.value.next;
  }
  return ok(out);
}

/** Reads a single TLV that must fill `b` exactly and carry `tag`. */
export function expectTlv(b: Uint8Array, tag: number): Result<Tlv, string> {
  const r = readTlv(b);
  if (!r.ok) return r;
  if (r.value.next !== b.length) return err("DER: trailing octets");
  if (r.value.tlv.tag !== tag) return err(`DER: tag ${r.value.tlv.tag.toString(16)}, want ${tag.toString(16)}`);
  return ok(r.value.tlv);
}

export function oidHex(tlv: Tlv | undefined): string {
  return tlv && tlv.tag === Tag.oid ? Buffer.from(tlv.value).toString("hex") : "";
}

/** DER encoding helpers for the few structures we write (AlgorithmIdentifier in RFC 7427 AUTH data). */
export function encodeTlv(tag: number, value: Uint8Array): Uint8Array {
  const n = value.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  const out = new Uint8Array(1 + len.length + n);
  out[0] = tag;
  out.set(len, 1);
  out.set(value, 1 + len.length);
  return out;
}

/** Base64 body of the first PEM block with `label` (or any label when omitted). */
export function pemBlocks(text: string, label?: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const m of text.matchAll(re)) {
    if (label !== undefined && m[1] !== label) continue;
    out.push(Uint8Array.from(Buffer.from(m[2]!.replace(/\s+/g, ""), "base64")));
  }
  return out;
}
