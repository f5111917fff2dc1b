// Verifying a whole image from a stream of chunks: head signature (and policy) first, then every part's digest.

import { createHash } from "node:crypto";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import { headLength, ImageDecoder, parseImageHead, type ImageHead } from "../image/container.ts";
import { HEADER_LENGTH, parseHeader } from "../image/header.ts";
import { fileChunks, readAt } from "../io/file-chunks.ts";
import type { PublicKey } from "../sign/ed25519.ts";
import { PartDigests } from "./part-digests.ts";
import type { Refusal } from "./refusal.ts";
import { verifyHead, verifyHeadSignature, type InstallPolicy } from "./verify-head.ts";

export interface VerifiedImage {
  readonly head: ImageHead;
  readonly key: PublicKey;
  /** SHA-256 of the whole image (head and parts), as written to a slot or device. */
  readonly imageSha256: string;
}

export interface VerifyOptions {
  /** Also check board and security version. */
  readonly policy?: InstallPolicy;
  /**
   * Stop at the image's end instead of refusing trailing bytes: for slots and block devices,
   * which are larger than the image they hold.
   */
  readonly stopAtImageEnd?: boolean;
}

export async function verifyImageStream(chunks: AsyncIterable<Uint8Array>, trusted: readonly PublicKey[], options: VerifyOptions = {}): Promise<Result<VerifiedImage, Refusal>> {
  const decoder = new ImageDecoder({ ignoreTrailing: options.stopAtImageEnd ?? false });
  const whole = createHash("sha256");
  let digests: PartDigests | undefined;
  let key: PublicKey | undefined;
  for await (const chunk of chunks) {
    const before = decoder.consumed;
    const events = decoder.push(chunk);
    if (!events.ok) return err({ kind: "bad-image", error: events.error });
    whole.update(chunk.subarray(0, decoder.consumed - before));
    for (const event of events.value) {
      if (event.kind === "head") {
        const verified = options.policy ? verifyHead(event.head, trusted, options.policy) : verifyHeadSignature(event.head, trusted);
        if (!verified.ok) return verified;
        key = verified.value;
        digests = new PartDigests(event.head);
      }
      const checked = digests?.handle(event);
      if (checked && !checked.ok) return checked;
    }
    if (options.stopAtImageEnd && decoder.complete) break;
  }
  const done = decoder.finish();
  if (!done.ok) return err({ kind: "bad-image", error: done.error });
  if (!key) return err({ kind: "bad-signature" });
  return ok({ head: done.value, key, imageSha256: whole.digest("hex") });
}

/** Verifies the image file at `path` (exactly one image), or the image at the start of a slot/device. */
export function verifyImageFile(path: string, trusted: readonly PublicKey[], options: VerifyOptions = {}): Promise<Result<VerifiedImage, Refusal>> {
  return verifyImageStream(fileChunks(path), trusted, options);
}

/** Reads and parses only the head at the start of `path` (no signature check): e.g. the installed security version. */
export async function readImageHead(path: string): Promise<Result<ImageHead, Refusal>> {
  let bytes: Uint8Array;
  try {
    bytes = await readAt(path, 0, HEADER_LENGTH);
    const header = parseHeader(bytes);
    if (!header.ok) return err({ kind: "bad-image", error: header.error });
    bytes = await readAt(path, 0, headLength(header.value));
  } catch (error) {
    return err({ kind: "io-error", target: path, detail: error instanceof Error ? error.message : String(error) });
  }
  const head = parseImageHead(bytes);
  return head.ok ? head : err({ kind: "bad-image", error: head.error });
}
