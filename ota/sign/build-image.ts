// Assembling a signed image from its parts: digests into the manifest, canonical manifest, Ed25519 signature.

import { createHash } from "node:crypto";
import { emitImageHead } from "../image/container.ts";
import { MANIFEST_FORMAT, validateManifest, type Manifest } from "../image/manifest.ts";
import { sign, type SigningKey } from "./ed25519.ts";

export interface ImagePartInput {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface ImageBuildInput {
  readonly version: string;
  readonly securityVersion: number;
  readonly compatible: readonly string[];
  readonly buildId: string;
  /** Creation instant; rendered as `YYYY-MM-DDTHH:MM:SSZ`. */
  readonly created: Date;
  readonly parts: readonly ImagePartInput[];
}

export interface BuiltImage {
  readonly manifest: Manifest;
  /** Header, manifest and signature; the parts follow in `parts` order. */
  readonly head: Uint8Array;
  readonly parts: readonly Uint8Array[];
  readonly length: number;
}

/** Throws on a manifest that breaks the schema: the caller (a build step) passed bad input. */
export function buildImage(input: ImageBuildInput, key: SigningKey): BuiltImage {
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    version: input.version,
    securityVersion: input.securityVersion,
    compatible: [...input.compatible],
    buildId: input.buildId,
    created: input.created.toISOString().replace(/\.\d{3}Z$/, "Z"),
    parts: input.parts.map((p) => ({ name: p.name, size: p.bytes.length, sha256: createHash("sha256").update(p.bytes).digest("hex") })),
  };
  const valid = validateManifest(manifest);
  if (!valid.ok) throw new RangeError(`image build: ${valid.error.detail ?? valid.error.kind}`);
  const head = emitImageHead(manifest, key.keyId, (message) => sign(key, message));
  const parts = input.parts.map((p) => p.bytes);
  return { manifest, head, parts, length: head.length + parts.reduce((n, p) => n + p.length, 0) };
}

/** The image as one buffer (tests and small images; large ones are written head-then-parts). */
export function concatImage(image: BuiltImage): Uint8Array {
  const out = new Uint8Array(image.length);
  let at = 0;
  for (const piece of [image.head, ...image.parts]) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}
