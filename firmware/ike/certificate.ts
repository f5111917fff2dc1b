// X.509 certificates and keys for IKE public-key authentication: parse (DER, minimal), check a chain against a CA, sign and verify.

import { ed25519 } from "@noble/curves/ed25519.js";
import { p256, p384 } from "@noble/curves/nist.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { err, ok, type Result } from "../core/result.ts";
import { bytesEqual } from "../wire/bytes.ts";
import { IdType } from "./constants.ts";
import { children, contextTag, expectTlv, oidHex, pemBlocks, readTlv, Tag, type Tlv } from "./der.ts";
import type { Identity } from "./identity.ts";

/** Object identifiers (hex of the DER content octets). */
export const Oid = {
  ecPublicKey: "2a8648ce3d0201", // 1.2.840.10045.2.1
  prime256v1: "2a8648ce3d030107", // 1.2.840.10045.3.1.7
  secp384r1: "2b81040022", // 1.3.132.0.34
  ed25519: "2b6570", // 1.3.101.112 (RFC 8410)
  ecdsaWithSha256: "2a8648ce3d040302", // 1.2.840.10045.4.3.2
  ecdsaWithSha384: "2a8648ce3d040303", // 1.2.840.10045.4.3.3
  subjectAltName: "551d11", // 2.5.29.17
  basicConstraints: "551d13", // 2.5.29.19
} as const;

export type KeyAlgorithm = "ecdsa-p256" | "ecdsa-p384" | "ed25519";

export interface PublicKey {
  readonly algorithm: KeyAlgorithm;
  /** SEC1 uncompressed point for ECDSA, 32 octets for Ed25519. */
  readonly bytes: Uint8Array;
}

export interface Certificate {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subjectPublicKeyInfo: Uint8Array;
  readonly publicKey: PublicKey;
  readonly isCa: boolean;
  readonly dnsNames: readonly string[];
  readonly emails: readonly string[];
  readonly ipAddresses: readonly Uint8Array[];
}

/** A trusted CA certificate. */
export type TrustAnchor = Certificate;

export interface SigningKey {
  readonly algorithm: KeyAlgorithm;
  readonly secret: Uint8Array;
}

export interface LocalCredential {
  readonly certificate: Certificate;
  readonly key: SigningKey;
}

function parseTime(t: Tlv): number | undefined {
  const s = new TextDecoder().decode(t.value);
  const m = t.tag === Tag.utcTime ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  let year = Number(m[1]);
  if (t.tag === Tag.utcTime) year += year < 50 ? 2000 : 1900; // RFC 5280 §4.1.2.5.1
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
}

function parsePublicKey(spki: Tlv): Result<PublicKey, string> {
  const parts = children(spki.value);
  if (!parts.ok || parts.value.length !== 2) return err("X.509: bad SubjectPublicKeyInfo");
  const alg = children(parts.value[0]!.value);
  if (!alg.ok) return err("X.509: bad key algorithm");
  const bits = parts.value[1]!;
  if (bits.tag !== Tag.bitString || bits.value[0] !== 0) return err("X.509: bad key bit string");
  const key = bits.value.subarray(1);
  const oid = oidHex(alg.value[0]);
  if (oid === Oid.ed25519) return key.length === 32 ? ok({ algorithm: "ed25519", bytes: key }) : err("X.509: Ed25519 key length");
  if (oid === Oid.ecPublicKey) {
    const curve = oidHex(alg.value[1]);
    if (curve === Oid.prime256v1) return ok({ algorithm: "ecdsa-p256", bytes: key });
    if (curve === Oid.secp384r1) return ok({ algorithm: "ecdsa-p384", bytes: key });
    return err("X.509: unsupported EC curve");
  }
  return err("X.509: unsupported public key algorithm (ECDSA P-256/P-384 and Ed25519 only)");
}

/** Parses a DER X.509 v3 certificate (RFC 5280 §4.1) far enough for IKE: names, key, validity, SAN, CA flag. */
export function parseCertificate(der: Uint8Array): Result<Certificate, string> {
  const top = expectTlv(der, Tag.sequence);
  if (!top.ok) return top;
  const parts = children(top.value.value);
  if (!parts.ok || parts.value.length !== 3) return err("X.509: certificate is not tbs/alg/signature");
  const [tbs, sigAlg, sig] = parts.value as [Tlv, Tlv, Tlv];
  const fields = children(tbs.value);
  if (!fields.ok) return fields;
  let f = fields.value;
  if (f[0]?.tag === contextTag(0)) f = f.slice(1);
  if (f.length < 6) return err("X.509: short TBSCertificate");
  const [, , issuer, validity, subject, spki] = f as [Tlv, Tlv, Tlv, Tlv, Tlv, Tlv];
  const times = children(validity.value);
  if (!times.ok || times.value.length !== 2) return err("X.509: bad validity");
  const notBefore = parseTime(times.value[0]!);
  const notAfter = parseTime(times.value[1]!);
  if (notBefore === undefined || notAfter === undefined) return err("X.509: bad time");
  const publicKey = parsePublicKey(spki);
  if (!publicKey.ok) return publicKey;
  const sigAlgParts = children(sigAlg.value);
  if (!sigAlgParts.ok || sig.tag !== Tag.bitString || sig.value[0] !== 0) return err("X.509: bad signature");
  let isCa = false;
  const dnsNames: string[] = [];
  const emails: string[] = [];
  const ipAddresses: Uint8Array[] = [];
  const extWrapper = f.slice(6).find((t) => t.tag === contextTag(3));
  if (extWrapper) {
    const seq = expectTlv(extWrapper.value, Tag.sequence);
    if (!seq.ok) return seq;
    const exts = children(seq.value.value);
    if (!exts.ok) return exts;
    for (const ext of exts.value) {
      const e = children(ext.value);
      if (!e.ok || e.value.length < 2) return err("X.509: bad extension");
      const oid = oidHex(e.value[0]);
      const value = e.value[e.value.length - 1]!;
      if (value.tag !== Tag.octetString) return err("X.509: bad extension value");
      if (oid === Oid.basicConstraints) {
        const bc = expectTlv(value.value, Tag.sequence);
        if (!bc.ok) return bc;
        const items = children(bc.value.value);
        isCa = items.ok && items.value[0]?.tag === Tag.boolean && items.value[0].value[0] !== 0;
      } else if (oid === Oid.subjectAltName) {
        const san = expectTlv(value.value, Tag.sequence);
        if (!san.ok) return san;
        const names = children(san.value.value);
        if (!names.ok) return names;
        for (const n of names.value) {
          if (n.tag === contextTag(1, false)) emails.push(new TextDecoder().decode(n.value));
          else if (n.tag === contextTag(2, false)) dnsNames.push(new TextDecoder().decode(n.value));
          else if (n.tag === contextTag(7, false)) ipAddresses.push(n.value);
        }
      }
    }
  }
  return ok({
    der: top.value.raw,
    tbs: tbs.raw,
    signatureAlgorithm: oidHex(sigAlgParts.value[0]),
    signature: sig.value.subarray(1),
    issuer: issuer.raw,
    subject: subject.raw,
    notBefore,
    notAfter,
    subjectPublicKeyInfo: spki.raw,
    publicKey: publicKey.value,
    isCa,
    dnsNames,
    emails,
    ipAddresses,
  });
}

export function parseCertificatePem(text: string): Result<Certificate[], string> {
  const blocks = pemBlocks(text, "CERTIFICATE");
  if (blocks.length === 0) return err("no CERTIFICATE block");
  const out: Certificate[] = [];
  for (const b of blocks) {
    const c = parseCertificate(b);
    if (!c.ok) return c;
    out.push(c.value);
  }
  return ok(out);
}

function ecPrivate(ecPrivateKey: Uint8Array, curveHint: string): Result<SigningKey, string> {
  const seq = expectTlv(ecPrivateKey, Tag.sequence);
  if (!seq.ok) return seq;
  const items = children(seq.value.value);
  if (!items.ok || items.value.length < 2 || items.value[1]!.tag !== Tag.octetString) return err("key: bad ECPrivateKey");
  const params = items.value.find((t) => t.tag === contextTag(0));
  let curve = curveHint;
  if (params) {
    const oid = readTlv(params.value);
    if (oid.ok) curve = oidHex(oid.value.tlv);
  }
  if (curve === Oid.prime256v1) return ok({ algorithm: "ecdsa-p256", secret: items.value[1]!.value.slice() });
  if (curve === Oid.secp384r1) return ok({ algorithm: "ecdsa-p384", secret: items.value[1]!.value.slice() });
  return err("key: unsupported EC curve");
}

/** Reads a private key PEM: PKCS#8 "PRIVATE KEY" (EC or Ed25519) or SEC1 "EC PRIVATE KEY". */
export function parsePrivateKeyPem(text: string): Result<SigningKey, string> {
  const sec1 = pemBlocks(text, "EC PRIVATE KEY")[0];
  if (sec1) return ecPrivate(sec1, "");
  const pkcs8 = pemBlocks(text, "PRIVATE KEY")[0];
  if (!pkcs8) return err("key: no PRIVATE KEY or EC PRIVATE KEY block (encrypted keys are not supported)");
  const seq = expectTlv(pkcs8, Tag.sequence);
  if (!seq.ok) return seq;
  const items = children(seq.value.value);
  if (!items.ok || items.value.length < 3) return err("key: bad PKCS#8");
  const alg = children(items.value[1]!.value);
  if (!alg.ok) return alg;
  const oid = oidHex(alg.value[0]);
  const inner = items.value[2]!;
  if (inner.tag !== Tag.octetString) return err("key: bad PKCS#8 key");
  if (oid === Oid.ed25519) {
    const k = expectTlv(inner.value, Tag.octetString);
    if (!k.ok || k.value.value.length !== 32) return err("key: bad Ed25519 key");
    return ok({ algorithm: "ed25519", secret: k.value.value.slice() });
  }
  if (oid === Oid.ecPublicKey) return ecPrivate(inner.value, oidHex(alg.value[1]));
  return err("key: unsupported key algorithm (ECDSA P-256/P-384 and Ed25519 only)");
}

/** Verifies `signature` over `data` with `key`; ECDSA signatures are DER (RFC 3279) unless `rawEcdsa`. */
export function verifySignature(key: PublicKey, data: Uint8Array, signature: Uint8Array, rawEcdsa = false): boolean {
  try {
    switch (key.algorithm) {
      case "ed25519":
        return ed25519.verify(signature, data, key.bytes);
      case "ecdsa-p256":
        return p256.verify(signature, data, key.bytes, { format: rawEcdsa ? "compact" : "der", lowS: false });
      case "ecdsa-p384":
        return p384.verify(signature, data, key.bytes, { format: rawEcdsa ? "compact" : "der", lowS: false });
    }
  } catch {
    return false;
  }
}

/** Signs `data`: Ed25519 (RFC 8032) or ECDSA with SHA-256 (P-256) / SHA-384 (P-384), DER-encoded. */
export function sign(key: SigningKey, data: Uint8Array): Uint8Array {
  switch (key.algorithm) {
    case "ed25519":
      return ed25519.sign(data, key.secret);
    case "ecdsa-p256":
      return p256.sign(data, key.secret, { format: "der" });
    case "ecdsa-p384":
      return p384.sign(data, key.secret, { format: "der" });
  }
}

export function publicKeyOf(key: SigningKey): PublicKey {
  switch (key.algorithm) {
    case "ed25519":
      return { algorithm: "ed25519", bytes: ed25519.getPublicKey(key.secret) };
    case "ecdsa-p256":
      return { algorithm: "ecdsa-p256", bytes: p256.getPublicKey(key.secret, false) };
    case "ecdsa-p384":
      return { algorithm: "ecdsa-p384", bytes: p384.getPublicKey(key.secret, false) };
  }
}

function signatureMatchesKey(alg: string, key: PublicKey): boolean {
  if (key.algorithm === "ed25519") return alg === Oid.ed25519;
  return alg === Oid.ecdsaWithSha256 || alg === Oid.ecdsaWithSha384;
}

function verifyCertSignature(cert: Certificate, issuerKey: PublicKey): boolean {
  if (!signatureMatchesKey(cert.signatureAlgorithm, issuerKey)) return false;
  if (issuerKey.algorithm === "ed25519") return verifySignature(issuerKey, cert.tbs, cert.signature);
  // ECDSA: the certificate's hash follows its signature algorithm, which may differ from the curve's default.
  const hashLen = cert.signatureAlgorithm === Oid.ecdsaWithSha384 ? "sha384" : "sha256";
  const curveDefault = issuerKey.algorithm === "ecdsa-p256" ? "sha256" : "sha384";
  if (hashLen === curveDefault) return verifySignature(issuerKey, cert.tbs, cert.signature);
  return false;
}

export type ChainError = "untrusted" | "bad-signature" | "expired" | "not-yet-valid" | "issuer-not-ca";

/**
 * Checks `leaf` (plus optional intermediates) up to one of `anchors` (RFC 5280 §6, reduced: names
 * chain by exact DER, every issuer is a CA, signatures verify, times hold at `nowSeconds`).
 */
export function verifyChain(leaf: Certificate, intermediates: readonly Certificate[], anchors: readonly TrustAnchor[], nowSeconds?: number): Result<TrustAnchor, ChainError> {
  let current = leaf;
  for (let depth = 0; depth < 8; depth++) {
    if (nowSeconds !== undefined) {
      if (nowSeconds < current.notBefore) return err("not-yet-valid");
      if (nowSeconds > current.notAfter) return err("expired");
    }
    const anchor = anchors.find((a) => bytesEqual(a.subject, current.issuer));
    if (anchor) {
      if (!anchor.isCa) return err("issuer-not-ca");
      return verifyCertSignature(current, anchor.publicKey) ? ok(anchor) : err("bad-signature");
    }
    const next = intermediates.find((c) => bytesEqual(c.subject, current.issuer) && c !== current);
    if (!next) return err("untrusted");
    if (!next.isCa) return err("issuer-not-ca");
    if (!verifyCertSignature(current, next.publicKey)) return err("bad-signature");
    current = next;
  }
  return err("untrusted");
}

/** Whether the certificate vouches for `id` (subject DN, or a subjectAltName of the ID's type). */
export function certificateCoversIdentity(cert: Certificate, id: Identity): boolean {
  const text = new TextDecoder().decode(id.data);
  switch (id.type) {
    case IdType.derAsn1Dn:
      return bytesEqual(id.data, cert.subject);
    case IdType.fqdn:
      return cert.dnsNames.some((n) => n.toLowerCase() === text.toLowerCase());
    case IdType.rfc822Address:
      return cert.emails.some((n) => n.toLowerCase() === text.toLowerCase());
    case IdType.ipv4Address:
    case IdType.ipv6Address:
      return cert.ipAddresses.some((a) => bytesEqual(a, id.data));
    default:
      return false;
  }
}

/** CERTREQ Certification Authority data: SHA-1 of the CA's SubjectPublicKeyInfo (RFC 7296 §3.7). */
export function certificateAuthorityHash(ca: TrustAnchor): Uint8Array {
  return sha1(ca.subjectPublicKeyInfo);
}
