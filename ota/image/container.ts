// The image container: header + manifest + signature (the "head", verified first) followed by the parts, streamable.

import { ok, type Result } from "../../firmware/core/result.ts";
import { imageError, type ImageError } from "./error.ts";
import { emitHeader, HEADER_LENGTH, IMAGE_FORMAT_VERSION, parseHeader, SIGNATURE_ALGORITHM_ED25519, SIGNATURE_LENGTH, type ImageHeader } from "./header.ts";
import { encodeManifest, parseManifest, payloadLength, type Manifest } from "./manifest.ts";

/** Domain separation for the signature, so no other monami signature can be replayed as an image's. */
export const SIGNATURE_CONTEXT = new TextEncoder().encode("monami-image-v1\0");

/** Everything before the parts: enough to verify the signature and decide before writing a byte. */
export interface ImageHead {
  readonly header: ImageHeader;
  readonly manifest: Manifest;
  /** Header and manifest exactly as in the image: the signed bytes (after `SIGNATURE_CONTEXT`). */
  readonly signedBytes: Uint8Array;
  readonly signature: Uint8Array;
  /** The head's bytes as they appear at the start of the image (header, manifest, signature). */
  readonly raw: Uint8Array;
  /** Offset of the first part, i.e. the head's length. */
  readonly partsOffset: number;
  /** Length of the whole image: head plus every part. */
  readonly imageLength: number;
}

/** The head's length once the header is known; `parseImageHead` needs that many bytes. */
export function headLength(header: ImageHeader): number {
  return HEADER_LENGTH + header.manifestLength + SIGNATURE_LENGTH;
}

/** Parses the head from the start of an image (the rest of `bytes`, if any, is ignored). */
export function parseImageHead(bytes: Uint8Array): Result<ImageHead, ImageError> {
  const header = parseHeader(bytes);
  if (!header.ok) return header;
  const length = headLength(header.value);
  if (bytes.length < length) return imageError("truncated", bytes.length, `head needs ${length} bytes, have ${bytes.length}`);
  const manifestEnd = HEADER_LENGTH + header.value.manifestLength;
  const manifest = parseManifest(bytes.subarray(HEADER_LENGTH, manifestEnd), HEADER_LENGTH);
  if (!manifest.ok) return manifest;
  return ok({
    header: header.value,
    manifest: manifest.value,
    signedBytes: bytes.subarray(0, manifestEnd),
    signature: bytes.subarray(manifestEnd, length),
    raw: bytes.subarray(0, length),
    partsOffset: length,
    imageLength: length + payloadLength(manifest.value),
  });
}

/** The message the Ed25519 signature covers: context || header || manifest. */
export function signedMessage(signedBytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIGNATURE_CONTEXT.length + signedBytes.length);
  out.set(SIGNATURE_CONTEXT, 0);
  out.set(signedBytes, SIGNATURE_CONTEXT.length);
  return out;
}

/** Builds the head for `manifest` signed by `sign` (which receives `signedMessage(...)`). */
export function emitImageHead(manifest: Manifest, keyId: Uint8Array, sign: (message: Uint8Array) => Uint8Array): Uint8Array {
  const manifestBytes = encodeManifest(manifest);
  const header: ImageHeader = {
    formatVersion: IMAGE_FORMAT_VERSION,
    signatureAlgorithm: SIGNATURE_ALGORITHM_ED25519,
    manifestLength: manifestBytes.length,
    keyId,
  };
  const head = new Uint8Array(headLength(header));
  emitHeader(header, head);
  head.set(manifestBytes, HEADER_LENGTH);
  const signedBytes = head.subarray(0, HEADER_LENGTH + manifestBytes.length);
  const signature = sign(signedMessage(signedBytes));
  if (signature.length !== SIGNATURE_LENGTH) throw new RangeError("signature must be 64 bytes");
  head.set(signature, signedBytes.length);
  return head;
}

export type ImageEvent =
  | { readonly kind: "head"; readonly head: ImageHead }
  /** Bytes of part `index` starting at `offset` within the part; a view into the pushed chunk, valid until the next push. */
  | { readonly kind: "part-data"; readonly index: number; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly kind: "part-end"; readonly index: number };

/**
 * A push decoder for streaming installs: feed chunks of any size in order, get events back.
 * The head is buffered (at most 24 + 64 KiB + 64 bytes) and reported before any part byte;
 * part bytes are passed through without copying. After an error the decoder stays failed.
 */
export class ImageDecoder {
  readonly #ignoreTrailing: boolean;
  #buffer: Uint8Array = new Uint8Array(0);
  #head: ImageHead | undefined;
  #consumed = 0;
  #part = 0;
  #partOffset = 0;
  #failed: ImageError | undefined;

  /** `ignoreTrailing`: bytes after the last part are skipped, not an error (an image at the start of a slot). */
  constructor(options: { readonly ignoreTrailing?: boolean } = {}) {
    this.#ignoreTrailing = options.ignoreTrailing ?? false;
  }

  /** True once the head and every part have arrived. */
  get complete(): boolean {
    return this.#head !== undefined && this.#part >= this.#head.manifest.parts.length;
  }

  get head(): ImageHead | undefined {
    return this.#head;
  }

  /** Image bytes consumed so far. */
  get consumed(): number {
    return this.#consumed;
  }

  push(chunk: Uint8Array): Result<ImageEvent[], ImageError> {
    if (this.#failed) return { ok: false, error: this.#failed };
    const events: ImageEvent[] = [];
    let rest = chunk;
    if (!this.#head) {
      const needed = this.#headBytesNeeded(rest);
      if (!needed.ok) return this.#fail(needed.error);
      const take = Math.min(needed.value, rest.length);
      this.#append(rest.subarray(0, take));
      rest = rest.subarray(take);
      if (this.#failed) return { ok: false, error: this.#failed };
      if (!this.#head) return ok(events);
      events.push({ kind: "head", head: this.#head });
      this.#emitEmptyParts(events);
    }
    const head = this.#head;
    const parts = head.manifest.parts;
    while (rest.length > 0) {
      const part = parts[this.#part];
      if (!part && this.#ignoreTrailing) break;
      if (!part) return this.#fail({ kind: "trailing-data", at: this.#consumed, detail: `${rest.length} byte(s) after the last part` });
      const take = Math.min(part.size - this.#partOffset, rest.length);
      events.push({ kind: "part-data", index: this.#part, offset: this.#partOffset, bytes: rest.subarray(0, take) });
      this.#partOffset += take;
      this.#consumed += take;
      rest = rest.subarray(take);
      if (this.#partOffset === part.size) {
        events.push({ kind: "part-end", index: this.#part });
        this.#part++;
        this.#partOffset = 0;
        this.#emitEmptyParts(events);
      }
    }
    return ok(events);
  }

  /** Call at end of input: an error unless the head and every part arrived in full. */
  finish(): Result<ImageHead, ImageError> {
    if (this.#failed) return { ok: false, error: this.#failed };
    if (!this.#head) {
      const header = parseHeader(this.#buffer);
      const need = header.ok ? headLength(header.value) : HEADER_LENGTH;
      return this.#fail({ kind: "truncated", at: this.#consumed, detail: `image ends inside the head (${this.#consumed} of ${need} bytes)` });
    }
    if (this.#part < this.#head.manifest.parts.length) {
      return this.#fail({
        kind: "truncated",
        at: this.#consumed,
        detail: `image ends inside part '${this.#head.manifest.parts[this.#part]!.name}' (${this.#consumed} of ${this.#head.imageLength} bytes)`,
      });
    }
    return ok(this.#head);
  }

  /** How many more head bytes to buffer; parses the head as soon as it is complete. */
  #headBytesNeeded(next: Uint8Array): Result<number, ImageError> {
    if (this.#buffer.length < HEADER_LENGTH) {
      const probe = this.#buffer.length + next.length >= HEADER_LENGTH ? concat(this.#buffer, next.subarray(0, HEADER_LENGTH - this.#buffer.length)) : undefined;
      if (!probe) return ok(next.length);
      const header = parseHeader(probe);
      if (!header.ok) return header;
      return ok(headLength(header.value) - this.#buffer.length);
    }
    const header = parseHeader(this.#buffer);
    if (!header.ok) return header;
    return ok(headLength(header.value) - this.#buffer.length);
  }

  #append(bytes: Uint8Array): void {
    this.#buffer = concat(this.#buffer, bytes);
    this.#consumed += bytes.length;
    const header = this.#buffer.length >= HEADER_LENGTH ? parseHeader(this.#buffer) : undefined;
    if (!header?.ok || this.#buffer.length < headLength(header.value)) return;
    const head = parseImageHead(this.#buffer);
    if (!head.ok) {
      this.#failed = head.error;
      return;
    }
    this.#head = head.value;
  }

  #emitEmptyParts(events: ImageEvent[]): void {
    const parts = this.#head?.manifest.parts ?? [];
    while (this.#part < parts.length && parts[this.#part]!.size === 0) {
      events.push({ kind: "part-end", index: this.#part });
      this.#part++;
    }
  }

  #fail(error: ImageError): Result<never, ImageError> {
    this.#failed = error;
    return { ok: false, error };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
