// ImageError: the typed error every OTA image codec returns for bad input (never thrown).

import { err, type Err } from "../../firmware/core/result.ts";

export type ImageErrorKind =
  | "truncated" // the input ends before the header, manifest, signature or a part does
  | "bad-magic" // not a monami image
  | "bad-version" // an image format version this build does not read
  | "bad-algorithm" // a signature algorithm this build does not verify
  | "bad-length" // a length field is impossible (zero, or over the limit)
  | "bad-manifest" // the manifest is not UTF-8 JSON of the manifest schema
  | "not-canonical" // the manifest is valid but not in canonical encoding (so two encodings could share a signature)
  | "trailing-data"; // bytes after the last part

export interface ImageError {
  readonly kind: ImageErrorKind;
  /** Byte offset in the image where the problem was found. */
  readonly at: number;
  readonly detail?: string;
}

export function imageError(kind: ImageErrorKind, at: number, detail?: string): Err<ImageError> {
  return err(detail === undefined ? { kind, at } : { kind, at, detail });
}

/** Counter name for an image error, e.g. `ota.image.truncated`. */
export function imageErrorCounter(error: ImageError): string {
  return `ota.image.${error.kind}`;
}

export function formatImageError(error: ImageError): string {
  return `image: ${error.kind} at byte ${error.at}${error.detail ? ` (${error.detail})` : ""}`;
}
