// Refusal: every reason an image is not installed or flashed, typed, with the one clear message shown to users.

import { toHex } from "../../firmware/core/hex.ts";
import { assertNever } from "../../firmware/core/result.ts";
import { formatImageError, type ImageError } from "../image/error.ts";

export type Refusal =
  | { readonly kind: "bad-image"; readonly error: ImageError }
  | { readonly kind: "wrong-key"; readonly imageKeyId: Uint8Array; readonly trustedKeyIds: readonly Uint8Array[] }
  | { readonly kind: "bad-signature" }
  | { readonly kind: "wrong-board"; readonly board: string; readonly compatible: readonly string[] }
  | { readonly kind: "downgrade"; readonly imageSecurityVersion: number; readonly installedSecurityVersion: number }
  | { readonly kind: "digest-mismatch"; readonly part: string; readonly expected: string; readonly actual: string }
  | { readonly kind: "too-large"; readonly imageLength: number; readonly capacity: number }
  | { readonly kind: "no-space"; readonly target: string; readonly written: number }
  | { readonly kind: "io-error"; readonly target: string; readonly detail: string }
  | { readonly kind: "readback-mismatch"; readonly target: string; readonly expected: string; readonly actual: string }
  | { readonly kind: "busy"; readonly detail: string };

export type RefusalKind = Refusal["kind"];

export function formatRefusal(r: Refusal): string {
  switch (r.kind) {
    case "bad-image":
      return `not a valid image: ${formatImageError(r.error)}`;
    case "wrong-key":
      return `image is signed by key ${toHex(r.imageKeyId)}, which is not a trusted fleet key (trusted: ${r.trustedKeyIds.map(toHex).join(", ") || "none"})`;
    case "bad-signature":
      return "image signature does not verify: the head was altered or signed by another key with the same id";
    case "wrong-board":
      return `image is for ${r.compatible.join(", ")}, not for board '${r.board}'`;
    case "downgrade":
      return `image security version ${r.imageSecurityVersion} is below the installed security version ${r.installedSecurityVersion} (rollback refused)`;
    case "digest-mismatch":
      return `part '${r.part}' is corrupt: SHA-256 ${r.actual} does not match the manifest's ${r.expected}`;
    case "too-large":
      return `image is ${r.imageLength} bytes but the target holds only ${r.capacity}`;
    case "no-space":
      return `no space left on ${r.target} after ${r.written} bytes`;
    case "io-error":
      return `I/O error on ${r.target}: ${r.detail}`;
    case "readback-mismatch":
      return `read-back of ${r.target} does not match what was written (SHA-256 ${r.actual}, expected ${r.expected})`;
    case "busy":
      return `another install is in progress: ${r.detail}`;
    default:
      return assertNever(r, "refusal");
  }
}
