// Proposals in strongSwan's syntax (`aes128gcm16-prfsha256-x25519`), their wire form, and selection (RFC 7296 §2.7, §3.3.6).

import { err, ok, type Result } from "../core/result.ts";
import type { Proposal, Transform } from "../wire/ikev2/security-association.ts";
import { DhGroup, EncryptionId, EsnId, IntegrityId, PrfId, ProtocolId, TransformAttributeType, TransformType } from "./constants.ts";

export interface EncryptionAlgorithm {
  readonly id: number;
  readonly keyBits: number;
  readonly aead: boolean;
  /** ICV octets for AEAD (RFC 5282: 8/12/16). */
  readonly icvLength: number;
  /** strongSwan-style name as `swanctl --list-sas` prints it, e.g. AES_GCM_16. */
  readonly name: string;
}
export interface PrfAlgorithm {
  readonly id: number;
  readonly hash: "sha256" | "sha384" | "sha512";
  /** Output (and preferred key) length in octets. */
  readonly length: number;
  readonly name: string;
}
export interface IntegrityAlgorithm {
  readonly id: number;
  readonly hash: "sha256" | "sha384" | "sha512";
  readonly keyLength: number;
  readonly icvLength: number;
  readonly name: string;
}
export interface DhAlgorithm {
  readonly id: number;
  readonly name: string;
}

/** One proposal as configured: any number of algorithms per transform type (order = preference). */
export interface ProposalSpec {
  readonly protocol: "ike" | "esp";
  readonly encryption: readonly EncryptionAlgorithm[];
  readonly prf: readonly PrfAlgorithm[];
  readonly integrity: readonly IntegrityAlgorithm[];
  readonly dh: readonly DhAlgorithm[];
  readonly esn: readonly boolean[];
}

/** One algorithm per transform type: the outcome of negotiation. */
export interface Negotiated {
  readonly proposalNumber: number;
  readonly encryption: EncryptionAlgorithm;
  readonly prf?: PrfAlgorithm;
  readonly integrity?: IntegrityAlgorithm;
  readonly dh?: DhAlgorithm;
  readonly esn: boolean;
}

const gcm = (bits: number, icv: 8 | 12 | 16): EncryptionAlgorithm => ({
  id: icv === 8 ? EncryptionId.aesGcm8 : icv === 12 ? EncryptionId.aesGcm12 : EncryptionId.aesGcm16,
  keyBits: bits,
  aead: true,
  icvLength: icv,
  name: `AES_GCM_${icv}`,
});
const cbc = (bits: number): EncryptionAlgorithm => ({ id: EncryptionId.aesCbc, keyBits: bits, aead: false, icvLength: 0, name: "AES_CBC" });

const encryptionTokens: Record<string, EncryptionAlgorithm> = {};
for (const bits of [128, 192, 256]) {
  encryptionTokens[`aes${bits}`] = cbc(bits);
  for (const icv of [8, 12, 16] as const) {
    encryptionTokens[`aes${bits}gcm${icv}`] = gcm(bits, icv);
    encryptionTokens[`aes${bits}gcm${icv * 8}`] = gcm(bits, icv);
  }
}
encryptionTokens["aes"] = cbc(128);
/** ESP only here (RFC 7634): 256-bit key, no Key Length attribute. */
encryptionTokens["chacha20poly1305"] = { id: EncryptionId.chacha20Poly1305, keyBits: 256, aead: true, icvLength: 16, name: "CHACHA20_POLY1305" };

const prfTokens: Record<string, PrfAlgorithm> = {
  prfsha256: { id: PrfId.hmacSha2_256, hash: "sha256", length: 32, name: "PRF_HMAC_SHA2_256" },
  prfsha384: { id: PrfId.hmacSha2_384, hash: "sha384", length: 48, name: "PRF_HMAC_SHA2_384" },
  prfsha512: { id: PrfId.hmacSha2_512, hash: "sha512", length: 64, name: "PRF_HMAC_SHA2_512" },
};
const integrityTokens: Record<string, IntegrityAlgorithm> = {
  sha256: { id: IntegrityId.hmacSha2_256_128, hash: "sha256", keyLength: 32, icvLength: 16, name: "HMAC_SHA2_256_128" },
  sha384: { id: IntegrityId.hmacSha2_384_192, hash: "sha384", keyLength: 48, icvLength: 24, name: "HMAC_SHA2_384_192" },
  sha512: { id: IntegrityId.hmacSha2_512_256, hash: "sha512", keyLength: 64, icvLength: 32, name: "HMAC_SHA2_512_256" },
};
integrityTokens["sha2_256"] = integrityTokens["sha256"]!;
integrityTokens["sha2_384"] = integrityTokens["sha384"]!;
integrityTokens["sha2_512"] = integrityTokens["sha512"]!;
const dhTokens: Record<string, DhAlgorithm> = {
  ecp256: { id: DhGroup.ecp256, name: "ECP_256" },
  ecp384: { id: DhGroup.ecp384, name: "ECP_384" },
  x25519: { id: DhGroup.curve25519, name: "CURVE_25519" },
  curve25519: { id: DhGroup.curve25519, name: "CURVE_25519" },
};
/** Tokens strongSwan knows that monami deliberately does not implement, with the reason. */
const unsupportedTokens: Record<string, string> = {
  modp1024: "MODP groups are not implemented (use ecp256, ecp384 or x25519)",
  modp2048: "MODP groups are not implemented (use ecp256, ecp384 or x25519)",
  modp3072: "MODP groups are not implemented (use ecp256, ecp384 or x25519)",
  modp4096: "MODP groups are not implemented (use ecp256, ecp384 or x25519)",
  ecp521: "ECP-521 is not implemented",
  x448: "Curve448 is not implemented",
  curve448: "Curve448 is not implemented",
  sha1: "SHA-1 integrity is not offered",
  md5: "MD5 is not offered",
  prfsha1: "PRF-HMAC-SHA1 is not offered",
  "3des": "3DES is not offered",
  aes128ctr: "AES-CTR is not implemented",
  aes256ctr: "AES-CTR is not implemented",
  aes128ccm16: "AES-CCM is not implemented",
  aes256ccm16: "AES-CCM is not implemented",
};

export interface ProposalError {
  readonly proposal: string;
  readonly token?: string;
  readonly reason: string;
}

/**
 * Parses one proposal in strongSwan syntax. For IKE an AEAD needs an explicit `prf…`; without
 * AEAD the PRF defaults to the integrity hash (as strongSwan does). `esn`/`noesn` are ESP only.
 */
export function parseProposal(text: string, protocol: "ike" | "esp"): Result<ProposalSpec, ProposalError> {
  const encryption: EncryptionAlgorithm[] = [];
  const prf: PrfAlgorithm[] = [];
  const integrity: IntegrityAlgorithm[] = [];
  const dh: DhAlgorithm[] = [];
  const esn: boolean[] = [];
  const fail = (reason: string, token?: string): Result<ProposalSpec, ProposalError> =>
    err(token === undefined ? { proposal: text, reason } : { proposal: text, token, reason });
  const tokens = text.trim().toLowerCase().split("-").filter((t) => t.length > 0);
  if (tokens.length === 0) return fail("empty proposal");
  for (const token of tokens) {
    const e = encryptionTokens[token];
    const p = prfTokens[token];
    const i = integrityTokens[token];
    const d = dhTokens[token];
    if (e) {
      if (protocol === "ike" && e.id === EncryptionId.chacha20Poly1305) return fail("ChaCha20-Poly1305 is not implemented for the IKE SA (ESP only)", token);
      encryption.push(e);
    }
    else if (p) {
      if (protocol === "esp") return fail("an ESP proposal takes no PRF", token);
      prf.push(p);
    } else if (i) integrity.push(i);
    else if (d) dh.push(d);
    else if (token === "esn" || token === "noesn") {
      if (protocol === "ike") return fail("ESN applies to ESP only", token);
      esn.push(token === "esn");
    } else if (unsupportedTokens[token]) return fail(unsupportedTokens[token]!, token);
    else return fail("unknown algorithm", token);
  }
  if (encryption.length === 0) return fail("no encryption algorithm");
  const aead = encryption.filter((a) => a.aead).length;
  if (aead !== 0 && aead !== encryption.length) return fail("AEAD and non-AEAD encryption cannot share one proposal");
  if (aead === 0 && integrity.length === 0) return fail("a non-AEAD cipher needs an integrity algorithm");
  if (aead !== 0 && integrity.length !== 0) return fail("an AEAD cipher takes no integrity algorithm");
  if (protocol === "ike") {
    if (prf.length === 0) {
      if (aead !== 0) return fail("an AEAD IKE proposal needs a PRF (e.g. prfsha256)");
      for (const a of integrity) prf.push(prfTokens[`prf${a.hash}`]!);
    }
    if (dh.length === 0) return fail("an IKE proposal needs a key exchange (DH) group");
  }
  if (protocol === "esp" && esn.length === 0) esn.push(false);
  return ok({ protocol, encryption, prf, integrity, dh, esn });
}

/** Parses a comma-separated list of proposals (as in swanctl.conf `proposals = a, b`). */
export function parseProposals(text: string, protocol: "ike" | "esp"): Result<ProposalSpec[], ProposalError> {
  const out: ProposalSpec[] = [];
  for (const part of text.split(",")) {
    const p = parseProposal(part, protocol);
    if (!p.ok) return p;
    out.push(p.value);
  }
  return ok(out);
}

function encryptionTransform(a: EncryptionAlgorithm): Transform {
  if (a.id === EncryptionId.chacha20Poly1305) return { type: TransformType.encryption, id: a.id, attributes: [] };
  return { type: TransformType.encryption, id: a.id, attributes: [{ type: TransformAttributeType.keyLength, value: a.keyBits }] };
}

/** The wire proposal for a spec (SPI: 8 octets for IKE rekeys, 4 for ESP, empty in IKE_SA_INIT). */
export function proposalToWire(spec: ProposalSpec, number: number, spi: Uint8Array): Proposal {
  const transforms: Transform[] = [];
  for (const a of spec.encryption) transforms.push(encryptionTransform(a));
  for (const a of spec.prf) transforms.push({ type: TransformType.prf, id: a.id, attributes: [] });
  for (const a of spec.integrity) transforms.push({ type: TransformType.integrity, id: a.id, attributes: [] });
  for (const a of spec.dh) transforms.push({ type: TransformType.keyExchange, id: a.id, attributes: [] });
  for (const e of spec.esn) transforms.push({ type: TransformType.extendedSequenceNumbers, id: e ? EsnId.extended : EsnId.none, attributes: [] });
  return { number, protocolId: spec.protocol === "ike" ? ProtocolId.ike : ProtocolId.esp, spi, transforms };
}

/** The single-choice wire proposal a responder returns for what it selected (§3.3.6). */
export function negotiatedToWire(n: Negotiated, protocol: "ike" | "esp", spi: Uint8Array): Proposal {
  return proposalToWire(
    {
      protocol,
      encryption: [n.encryption],
      prf: n.prf ? [n.prf] : [],
      integrity: n.integrity ? [n.integrity] : [],
      dh: n.dh ? [n.dh] : [],
      esn: protocol === "esp" ? [n.esn] : [],
    },
    n.proposalNumber,
    spi,
  );
}

function keyLength(t: Transform): number | undefined {
  const a = t.attributes.find((x) => x.type === TransformAttributeType.keyLength);
  return a && typeof a.value === "number" ? a.value : undefined;
}

function unknownAttributes(t: Transform): boolean {
  return t.attributes.some((a) => a.type !== TransformAttributeType.keyLength);
}

/**
 * Picks the first of our specs (our preference) that a received proposal satisfies, choosing our
 * preferred algorithm per transform type. Transforms with unknown attributes are skipped (§3.3.6).
 */
export function selectProposal(received: readonly Proposal[], ours: readonly ProposalSpec[], protocol: "ike" | "esp"): Negotiated | undefined {
  const protocolId = protocol === "ike" ? ProtocolId.ike : ProtocolId.esp;
  for (const spec of ours) {
    for (const p of received) {
      if (p.protocolId !== protocolId) continue;
      const has = (type: number, id: number, bits?: number) =>
        p.transforms.some((t) => t.type === type && t.id === id && !unknownAttributes(t) && (bits === undefined || (keyLength(t) ?? 256) === bits));
      const offered = (type: number) => p.transforms.some((t) => t.type === type);
      const encryption = spec.encryption.find((a) => has(TransformType.encryption, a.id, a.keyBits));
      if (!encryption) continue;
      const prf = spec.prf.find((a) => has(TransformType.prf, a.id));
      if (protocol === "ike" && !prf) continue;
      const integrity = spec.integrity.find((a) => has(TransformType.integrity, a.id));
      if (!encryption.aead && !integrity) continue;
      if (encryption.aead && offered(TransformType.integrity) && !has(TransformType.integrity, IntegrityId.none)) continue;
      let dh: DhAlgorithm | undefined;
      if (offered(TransformType.keyExchange) && !has(TransformType.keyExchange, DhGroup.none)) {
        dh = spec.dh.find((a) => has(TransformType.keyExchange, a.id));
        if (!dh) continue;
      } else if (protocol === "ike") continue;
      let esn = false;
      if (protocol === "esp") {
        const choice = spec.esn.find((e) => has(TransformType.extendedSequenceNumbers, e ? EsnId.extended : EsnId.none));
        if (choice === undefined && offered(TransformType.extendedSequenceNumbers)) continue;
        esn = choice ?? false;
      }
      const n: Negotiated = {
        proposalNumber: p.number,
        encryption,
        esn,
        ...(prf ? { prf } : {}),
        ...(integrity && !encryption.aead ? { integrity } : {}),
        ...(dh ? { dh } : {}),
      };
      return n;
    }
  }
  return undefined;
}

/** Checks that a responder's answer is one of our offers with exactly one algorithm per type (§2.7). */
export function acceptChosen(chosen: readonly Proposal[], ours: readonly ProposalSpec[], protocol: "ike" | "esp"): Negotiated | undefined {
  if (chosen.length !== 1) return undefined;
  const p = chosen[0]!;
  const perType = new Map<number, number>();
  for (const t of p.transforms) perType.set(t.type, (perType.get(t.type) ?? 0) + 1);
  if ([...perType.values()].some((n) => n !== 1)) return undefined;
  const spec = ours[p.number - 1];
  if (!spec) return undefined;
  return selectProposal(chosen, [spec], protocol);
}

/** strongSwan-like one-line text of a negotiated suite, e.g. AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519. */
export function describeNegotiated(n: Negotiated): string {
  const parts = [`${n.encryption.name}_${n.encryption.keyBits}`];
  if (n.integrity) parts.push(n.integrity.name);
  if (n.prf) parts.push(n.prf.name);
  if (n.dh) parts.push(n.dh.name);
  return parts.join("/");
}
