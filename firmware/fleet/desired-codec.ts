// Codec of the desired-config document the fleet publishes: size, JSON, envelope, Ed25519 signature, config schema.

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import * as v from "valibot";
import { toHex } from "../core/hex.ts";
import { err, ok, type Result } from "../core/result.ts";
import type { DeviceConfig } from "../config/schema.ts";
import { toConfigIssue, validateConfig, type ConfigIssue } from "../config/validate.ts";
import { canonicalJson } from "./canonical-json.ts";
import type { FleetError, FleetErrorKind } from "./errors.ts";

/** Domain-separation prefix of the signed message, so a config signature cannot be reused for anything else. */
export const SIGNATURE_CONTEXT = "monami desired config v1\n";

const Base64 = v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64"));

const EnvelopeSchema = v.strictObject({
  version: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  config: v.record(v.string(), v.unknown()),
  clientToken: v.optional(v.pipe(v.string(), v.maxLength(64))),
  signature: v.optional(
    v.strictObject({
      algorithm: v.literal("ed25519"),
      keyId: v.optional(v.pipe(v.string(), v.maxLength(64))),
      value: Base64,
    }),
  ),
});

/** The checked envelope of a desired document; `config` is still raw until `validateDesiredConfig`. */
export interface DesiredEnvelope {
  readonly version: number;
  readonly config: Record<string, unknown>;
  readonly clientToken?: string;
  /** SHA-256 (hex) of the signed message: identical documents have identical digests. */
  readonly digest: string;
  readonly signed: boolean;
}

export interface DesiredLimits {
  readonly maxBytes: number;
  readonly requireSignature: boolean;
  /** Ed25519 public key (32 bytes); without it, signatures cannot be checked and a present one is refused. */
  readonly publicKey?: Uint8Array;
}

/** The exact bytes an Ed25519 signature covers: the context, then JCS of `{ config, version }`. */
export function signedMessage(version: number, config: unknown): Uint8Array | undefined {
  const body = canonicalJson({ config, version });
  return body === undefined ? undefined : new TextEncoder().encode(SIGNATURE_CONTEXT + body);
}

/** Signs a document for the fleet side (tests, tools): returns the `signature` member to add. */
export function signDesired(version: number, config: unknown, secretKey: Uint8Array): { algorithm: "ed25519"; value: string } {
  const message = signedMessage(version, config);
  if (!message) throw new TypeError("config is not representable as JSON");
  return { algorithm: "ed25519", value: Buffer.from(ed25519.sign(message, secretKey)).toString("base64") };
}

function refusal(kind: FleetErrorKind, detail: string, extra: Partial<FleetError> = {}): Result<never, FleetError> {
  return err({ kind, detail, ...extra });
}

/** The refusal kind of a set of issues: unknown fields first, then wrong types, missing fields, values. */
export function dominantKind(issues: readonly ConfigIssue[]): FleetErrorKind {
  for (const kind of ["unknown-field", "wrong-type", "missing-field", "invalid-value"] as const) {
    if (issues.some((i) => i.kind === kind)) return kind;
  }
  return "invalid-value";
}

/**
 * Checks an incoming payload up to and including the signature: cheapest first (size, UTF-8, JSON, envelope
 * shape), crypto last. Never throws; every refusal is a typed `FleetError`.
 */
export function decodeDesiredEnvelope(payload: Uint8Array, limits: DesiredLimits): Result<DesiredEnvelope, FleetError> {
  if (payload.length > limits.maxBytes) return refusal("oversized", `${payload.length} bytes is above the ${limits.maxBytes}-byte limit`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (e) {
    return refusal("malformed-json", e instanceof Error ? e.message : "not JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return refusal("wrong-type", "the document must be a JSON object");
  }
  const envelope = v.safeParse(EnvelopeSchema, json, { abortEarly: false });
  const loose = json as Record<string, unknown>;
  const version = typeof loose.version === "number" && Number.isSafeInteger(loose.version) ? loose.version : undefined;
  const clientToken = typeof loose.clientToken === "string" && loose.clientToken.length <= 64 ? loose.clientToken : undefined;
  const known = { ...(version !== undefined ? { version } : {}), ...(clientToken !== undefined ? { clientToken } : {}) };
  if (!envelope.success) {
    const issues = envelope.issues.map((issue) => toConfigIssue(issue));
    return refusal(dominantKind(issues), "the document envelope is invalid", { issues, ...known });
  }
  const doc = envelope.output;
  const message = signedMessage(doc.version, doc.config);
  if (!message) return refusal("invalid-value", "config holds values JSON cannot sign", known);
  const digest = toHex(sha256(message));
  const base = { version: doc.version, config: doc.config, digest, ...(doc.clientToken !== undefined ? { clientToken: doc.clientToken } : {}) };
  if (doc.signature === undefined) {
    if (limits.requireSignature) return refusal("missing-signature", "this device only accepts signed documents", known);
    return ok({ ...base, signed: false });
  }
  if (!limits.publicKey) return refusal("bad-signature", "the document is signed but no signing key is configured", known);
  const signature = Buffer.from(doc.signature.value, "base64");
  let valid = false;
  try {
    valid = signature.length === 64 && ed25519.verify(signature, message, limits.publicKey);
  } catch {
    valid = false;
  }
  if (!valid) return refusal("bad-signature", "the Ed25519 signature does not verify", known);
  return ok({ ...base, signed: true });
}

/** Validates the envelope's config against the device schema; issue paths start with `config.`. */
export function validateDesiredConfig(envelope: DesiredEnvelope): Result<DeviceConfig, FleetError> {
  const checked = validateConfig(envelope.config);
  if (checked.ok) return checked;
  const issues = checked.error.map((i) => ({ ...i, path: i.path === "(document)" ? "config" : `config.${i.path}` }));
  return err({
    kind: dominantKind(issues),
    detail: `${issues.length} configuration issue${issues.length === 1 ? "" : "s"}`,
    issues,
    version: envelope.version,
    ...(envelope.clientToken !== undefined ? { clientToken: envelope.clientToken } : {}),
  });
}
