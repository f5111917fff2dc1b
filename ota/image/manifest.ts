// The OTA manifest: what an image contains and who may install it, in a canonical JSON encoding that is signed.

import * as v from "valibot";
import { ok, type Result } from "../../firmware/core/result.ts";
import { imageError, type ImageError } from "./error.ts";

/** Largest manifest accepted, so a hostile length cannot make the parser buffer without bound. */
export const MAX_MANIFEST_LENGTH = 64 * 1024;
export const MAX_PARTS = 16;
export const MANIFEST_FORMAT = 1;

/** One payload of the image, stored after the signature in manifest order. Names: `binary`, `board`, `config`. */
export interface ManifestPart {
  readonly name: string;
  readonly size: number;
  /** Lower-case hex SHA-256 of the part's bytes. */
  readonly sha256: string;
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  /** Release version (semantic versioning); informative, may go down. */
  readonly version: string;
  /** Anti-rollback counter: an image is refused when this is below the installed one. */
  readonly securityVersion: number;
  /** Board names (board/boards/) this image may be installed on. */
  readonly compatible: readonly string[];
  readonly buildId: string;
  /** Creation time, UTC, `YYYY-MM-DDTHH:MM:SSZ`. */
  readonly created: string;
  readonly parts: readonly ManifestPart[];
}

const partSchema = v.strictObject({
  name: v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{0,31}$/)),
  size: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(2 ** 48)),
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
});

const manifestSchema = v.strictObject({
  format: v.literal(MANIFEST_FORMAT),
  version: v.pipe(v.string(), v.maxLength(64), v.regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/)),
  securityVersion: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(0xffff_ffff)),
  compatible: v.pipe(
    v.array(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,63}$/))),
    v.minLength(1),
    v.maxLength(16),
    v.check((names) => new Set(names).size === names.length, "duplicate board name"),
  ),
  buildId: v.pipe(v.string(), v.regex(/^[0-9A-Za-z._+-]{1,128}$/)),
  created: v.pipe(v.string(), v.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)),
  parts: v.pipe(
    v.array(partSchema),
    v.minLength(1),
    v.maxLength(MAX_PARTS),
    v.check((parts) => new Set(parts.map((p) => p.name)).size === parts.length, "duplicate part name"),
    v.check((parts) => parts.some((p) => p.name === "binary"), "no 'binary' part"),
  ),
});

/** Checks a manifest built in code against the schema (programmer error if it fails). */
export function validateManifest(manifest: Manifest): Result<Manifest, ImageError> {
  const parsed = v.safeParse(manifestSchema, manifest);
  if (!parsed.success) return imageError("bad-manifest", 0, describeIssues(parsed.issues));
  return ok(manifest);
}

/**
 * The canonical encoding: UTF-8 JSON with object keys sorted by code unit, no whitespace,
 * integers only. The signature covers exactly these bytes; `parseManifest` accepts no other encoding.
 */
export function encodeManifest(manifest: Manifest): Uint8Array {
  return new TextEncoder().encode(canonicalJson(manifest));
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Parses manifest bytes found at `at` in an image: schema-valid and canonically encoded, or a typed error. */
export function parseManifest(bytes: Uint8Array, at = 0): Result<Manifest, ImageError> {
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    json = JSON.parse(text);
  } catch (error) {
    return imageError("bad-manifest", at, error instanceof Error ? error.message : "not UTF-8 JSON");
  }
  const parsed = v.safeParse(manifestSchema, json);
  if (!parsed.success) return imageError("bad-manifest", at, describeIssues(parsed.issues));
  const manifest: Manifest = parsed.output;
  if (canonicalJson(manifest) !== text) return imageError("not-canonical", at, "manifest is not in canonical JSON encoding");
  return ok(manifest);
}

/** Sum of the part sizes: the payload length after the signature. */
export function payloadLength(manifest: Manifest): number {
  return manifest.parts.reduce((sum, p) => sum + p.size, 0);
}

function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 3)
    .map((i) => `${i.path?.map((p) => String(p.key)).join(".") || "manifest"}: ${i.message}`)
    .join("; ");
}
