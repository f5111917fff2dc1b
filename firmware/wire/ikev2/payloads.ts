// IKEv2 payloads (RFC 7296 §3.2–3.16) as one tagged union, and the generic-header chain that links them.

import { ok, type Result } from "../../core/result.ts";
import { ByteWriter } from "../bytes.ts";
import { wireError, type WireError } from "../error.ts";
import { PayloadType } from "./payload-type.ts";
import { emitSecurityAssociation, parseSecurityAssociation, securityAssociationLen, type Proposal } from "./security-association.ts";
import { emitTrafficSelectors, parseTrafficSelectors, trafficSelectorsLen, type TrafficSelector } from "./traffic-selector.ts";

/*  Generic payload header (§3.2)
    | Next Payload  |C|  RESERVED   |         Payload Length        |   */
export const GENERIC_HEADER_LENGTH = 4;
const CRITICAL = 0x80;

export interface ConfigurationAttribute {
  readonly type: number;
  readonly value: Uint8Array;
}

export type Payload =
  | { readonly kind: "sa"; readonly proposals: readonly Proposal[] }
  | { readonly kind: "ke"; readonly group: number; readonly data: Uint8Array }
  | { readonly kind: "idi"; readonly idType: number; readonly data: Uint8Array }
  | { readonly kind: "idr"; readonly idType: number; readonly data: Uint8Array }
  | { readonly kind: "cert"; readonly encoding: number; readonly data: Uint8Array }
  | { readonly kind: "certreq"; readonly encoding: number; readonly data: Uint8Array }
  | { readonly kind: "auth"; readonly method: number; readonly data: Uint8Array }
  | { readonly kind: "nonce"; readonly data: Uint8Array }
  | { readonly kind: "notify"; readonly protocolId: number; readonly spi: Uint8Array; readonly notifyType: number; readonly data: Uint8Array }
  | { readonly kind: "delete"; readonly protocolId: number; readonly spiSize: number; readonly spis: readonly Uint8Array[] }
  | { readonly kind: "vendor"; readonly data: Uint8Array }
  | { readonly kind: "tsi"; readonly selectors: readonly TrafficSelector[] }
  | { readonly kind: "tsr"; readonly selectors: readonly TrafficSelector[] }
  | { readonly kind: "cp"; readonly cfgType: number; readonly attributes: readonly ConfigurationAttribute[] }
  | { readonly kind: "eap"; readonly data: Uint8Array }
  /** A payload type monami does not know; `critical` ones make the message unprocessable (§2.5). */
  | { readonly kind: "unknown"; readonly type: number; readonly critical: boolean; readonly data: Uint8Array };

export type PayloadKind = Payload["kind"];

const typeOfKind: Record<Exclude<PayloadKind, "unknown">, number> = {
  sa: PayloadType.securityAssociation,
  ke: PayloadType.keyExchange,
  idi: PayloadType.identificationInitiator,
  idr: PayloadType.identificationResponder,
  cert: PayloadType.certificate,
  certreq: PayloadType.certificateRequest,
  auth: PayloadType.authentication,
  nonce: PayloadType.nonce,
  notify: PayloadType.notify,
  delete: PayloadType.delete,
  vendor: PayloadType.vendorId,
  tsi: PayloadType.trafficSelectorInitiator,
  tsr: PayloadType.trafficSelectorResponder,
  cp: PayloadType.configuration,
  eap: PayloadType.eap,
};

export function payloadTypeOf(p: Payload): number {
  return p.kind === "unknown" ? p.type : typeOfKind[p.kind];
}

/** A payload found in a chain, before its body is decoded. */
export interface RawPayload {
  readonly type: number;
  readonly critical: boolean;
  readonly body: Uint8Array;
  /** Offset of the generic header in the buffer the chain was read from. */
  readonly at: number;
}

/** The chain ends at an SK or SKF payload: its body is opaque here and must be the last octets. */
export interface EncryptedTail {
  readonly type: typeof PayloadType.encrypted | typeof PayloadType.encryptedFragment;
  /** Next Payload of the SK/SKF header: the type of the first inner payload (0 in non-first fragments). */
  readonly firstInner: number;
  /** Offset of the SK/SKF generic header. */
  readonly at: number;
  /** Everything after the generic header (for SKF this starts with Fragment Number and Total Fragments). */
  readonly body: Uint8Array;
}

export interface Chain {
  readonly payloads: RawPayload[];
  readonly encrypted?: EncryptedTail;
}

/** Walks a payload chain starting with type `first` over `bytes` (`base` = offset of `bytes` in the message). */
export function walkChain(bytes: Uint8Array, first: number, base = 0): Result<Chain, WireError> {
  const payloads: RawPayload[] = [];
  let type = first;
  let at = 0;
  while (type !== PayloadType.none) {
    if (bytes.length - at < GENERIC_HEADER_LENGTH) return wireError("ikev2", "truncated", base + at, "generic payload header");
    const next = bytes[at]!;
    const critical = (bytes[at + 1]! & CRITICAL) !== 0;
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (length < GENERIC_HEADER_LENGTH) return wireError("ikev2", "bad-length", base + at + 2, `payload length ${length}`);
    if (at + length > bytes.length) return wireError("ikev2", "truncated", base + at, `payload ${type} length ${length}`);
    if (type === PayloadType.encrypted || type === PayloadType.encryptedFragment) {
      if (at + length !== bytes.length) return wireError("ikev2", "bad-value", base + at, "encrypted payload is not last");
      return ok({ payloads, encrypted: { type, firstInner: next, at: base + at, body: bytes.subarray(at + GENERIC_HEADER_LENGTH, at + length) } });
    }
    payloads.push({ type, critical, body: bytes.subarray(at + GENERIC_HEADER_LENGTH, at + length), at: base + at });
    at += length;
    type = next;
  }
  if (at !== bytes.length) return wireError("ikev2", "bad-length", base + at, "octets after the last payload");
  return ok({ payloads });
}

function needs(body: Uint8Array, n: number, at: number, what: string): WireError | undefined {
  return body.length < n ? { layer: "ikev2", kind: "truncated", at, detail: what } : undefined;
}

/** Decodes one payload body. Unknown types become `unknown` (the caller decides on `critical`). */
export function decodePayload(raw: RawPayload): Result<Payload, WireError> {
  const b = raw.body;
  const at = raw.at + GENERIC_HEADER_LENGTH;
  let short: WireError | undefined;
  switch (raw.type) {
    case PayloadType.securityAssociation: {
      const proposals = parseSecurityAssociation(b, at);
      return proposals.ok ? ok({ kind: "sa", proposals: proposals.value }) : proposals;
    }
    case PayloadType.keyExchange:
      if ((short = needs(b, 4, at, "KE"))) return { ok: false, error: short };
      return ok({ kind: "ke", group: (b[0]! << 8) | b[1]!, data: b.subarray(4) });
    case PayloadType.identificationInitiator:
    case PayloadType.identificationResponder:
      if ((short = needs(b, 4, at, "ID"))) return { ok: false, error: short };
      return ok({ kind: raw.type === PayloadType.identificationInitiator ? "idi" : "idr", idType: b[0]!, data: b.subarray(4) });
    case PayloadType.certificate:
    case PayloadType.certificateRequest:
      if ((short = needs(b, 1, at, "CERT"))) return { ok: false, error: short };
      return ok({ kind: raw.type === PayloadType.certificate ? "cert" : "certreq", encoding: b[0]!, data: b.subarray(1) });
    case PayloadType.authentication:
      if ((short = needs(b, 4, at, "AUTH"))) return { ok: false, error: short };
      return ok({ kind: "auth", method: b[0]!, data: b.subarray(4) });
    case PayloadType.nonce:
      // §3.9: 16..256 octets.
      if (b.length < 16 || b.length > 256) return wireError("ikev2", "bad-length", at, `nonce of ${b.length} octets`);
      return ok({ kind: "nonce", data: b });
    case PayloadType.notify: {
      if ((short = needs(b, 4, at, "N"))) return { ok: false, error: short };
      const spiSize = b[1]!;
      if ((short = needs(b, 4 + spiSize, at, "N SPI"))) return { ok: false, error: short };
      return ok({ kind: "notify", protocolId: b[0]!, notifyType: (b[2]! << 8) | b[3]!, spi: b.subarray(4, 4 + spiSize), data: b.subarray(4 + spiSize) });
    }
    case PayloadType.delete: {
      if ((short = needs(b, 4, at, "D"))) return { ok: false, error: short };
      const spiSize = b[1]!;
      const count = (b[2]! << 8) | b[3]!;
      if (b.length !== 4 + spiSize * count) return wireError("ikev2", "bad-length", at, `D: ${count} SPI(s) of ${spiSize}`);
      const spis: Uint8Array[] = [];
      for (let i = 0; i < count; i++) spis.push(b.subarray(4 + i * spiSize, 4 + (i + 1) * spiSize));
      return ok({ kind: "delete", protocolId: b[0]!, spiSize, spis });
    }
    case PayloadType.vendorId:
      return ok({ kind: "vendor", data: b });
    case PayloadType.trafficSelectorInitiator:
    case PayloadType.trafficSelectorResponder: {
      const selectors = parseTrafficSelectors(b, at);
      return selectors.ok ? ok({ kind: raw.type === PayloadType.trafficSelectorInitiator ? "tsi" : "tsr", selectors: selectors.value }) : selectors;
    }
    case PayloadType.configuration: {
      if ((short = needs(b, 4, at, "CP"))) return { ok: false, error: short };
      const attributes: ConfigurationAttribute[] = [];
      let i = 4;
      while (i < b.length) {
        if (b.length - i < 4) return wireError("ikev2", "truncated", at + i, "CP attribute");
        const length = (b[i + 2]! << 8) | b[i + 3]!;
        if (i + 4 + length > b.length) return wireError("ikev2", "truncated", at + i, "CP attribute value");
        attributes.push({ type: ((b[i]! << 8) | b[i + 1]!) & 0x7fff, value: b.subarray(i + 4, i + 4 + length) });
        i += 4 + length;
      }
      return ok({ kind: "cp", cfgType: b[0]!, attributes });
    }
    case PayloadType.eap:
      return ok({ kind: "eap", data: b });
    default:
      return ok({ kind: "unknown", type: raw.type, critical: raw.critical, data: b });
  }
}

export function decodePayloads(chain: readonly RawPayload[]): Result<Payload[], WireError> {
  const out: Payload[] = [];
  for (const raw of chain) {
    const p = decodePayload(raw);
    if (!p.ok) return p;
    out.push(p.value);
  }
  return ok(out);
}

/** Body length of a payload (without its generic header). */
export function payloadBodyLen(p: Payload): number {
  switch (p.kind) {
    case "sa":
      return securityAssociationLen(p.proposals);
    case "ke":
    case "idi":
    case "idr":
    case "auth":
      return 4 + p.data.length;
    case "cert":
    case "certreq":
      return 1 + p.data.length;
    case "nonce":
    case "vendor":
    case "eap":
    case "unknown":
      return p.data.length;
    case "notify":
      return 4 + p.spi.length + p.data.length;
    case "delete":
      return 4 + p.spis.reduce((n, s) => n + s.length, 0);
    case "tsi":
    case "tsr":
      return trafficSelectorsLen(p.selectors);
    case "cp":
      return 4 + p.attributes.reduce((n, a) => n + 4 + a.value.length, 0);
  }
}

function emitBody(p: Payload, w: ByteWriter): void {
  switch (p.kind) {
    case "sa":
      return emitSecurityAssociation(p.proposals, w);
    case "ke":
      w.u16(p.group).u16(0).bytes(p.data);
      return;
    case "idi":
    case "idr":
      w.u8(p.idType).zeros(3).bytes(p.data);
      return;
    case "auth":
      w.u8(p.method).zeros(3).bytes(p.data);
      return;
    case "cert":
    case "certreq":
      w.u8(p.encoding).bytes(p.data);
      return;
    case "nonce":
    case "vendor":
    case "eap":
    case "unknown":
      w.bytes(p.data);
      return;
    case "notify":
      w.u8(p.protocolId).u8(p.spi.length).u16(p.notifyType).bytes(p.spi).bytes(p.data);
      return;
    case "delete":
      w.u8(p.protocolId).u8(p.spiSize).u16(p.spis.length);
      for (const s of p.spis) w.bytes(s);
      return;
    case "tsi":
    case "tsr":
      return emitTrafficSelectors(p.selectors, w);
    case "cp":
      w.u8(p.cfgType).zeros(3);
      for (const a of p.attributes) w.u16(a.type & 0x7fff).u16(a.value.length).bytes(a.value);
      return;
  }
}

export function chainLen(payloads: readonly Payload[]): number {
  return payloads.reduce((n, p) => n + GENERIC_HEADER_LENGTH + payloadBodyLen(p), 0);
}

/**
 * Emits a chain; the last payload's Next Payload is `nextAfterLast` (0, or SK's inner-first
 * convention does not apply here). Payloads of kind `unknown` keep their critical bit.
 */
export function emitChain(payloads: readonly Payload[], w: ByteWriter, nextAfterLast = 0): void {
  payloads.forEach((p, i) => {
    const next = i + 1 < payloads.length ? payloadTypeOf(payloads[i + 1]!) : nextAfterLast;
    w.u8(next).u8(p.kind === "unknown" && p.critical ? CRITICAL : 0).u16(GENERIC_HEADER_LENGTH + payloadBodyLen(p));
    emitBody(p, w);
  });
}

export function encodeChain(payloads: readonly Payload[]): Uint8Array {
  const out = new Uint8Array(chainLen(payloads));
  emitChain(payloads, new ByteWriter(out));
  return out;
}

/** Type of the first payload of a chain (0 when empty). */
export function firstPayloadType(payloads: readonly Payload[]): number {
  return payloads.length === 0 ? PayloadType.none : payloadTypeOf(payloads[0]!);
}
