// Streaming SHA-256 of each image part, checked against the manifest as each part ends.

import { createHash, type Hash } from "node:crypto";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { ImageEvent, ImageHead } from "../image/container.ts";
import type { Refusal } from "./refusal.ts";

export class PartDigests {
  readonly #head: ImageHead;
  #hash: Hash | undefined;
  #index = -1;

  constructor(head: ImageHead) {
    this.#head = head;
  }

  /** Feeds a decoder event; a `part-end` whose digest differs from the manifest is a refusal. */
  handle(event: ImageEvent): Result<void, Refusal> {
    switch (event.kind) {
      case "head":
        return ok(undefined);
      case "part-data":
        this.#hashFor(event.index).update(event.bytes);
        return ok(undefined);
      case "part-end": {
        const part = this.#head.manifest.parts[event.index]!;
        const actual = this.#hashFor(event.index).digest("hex");
        this.#hash = undefined;
        return actual === part.sha256 ? ok(undefined) : err({ kind: "digest-mismatch", part: part.name, expected: part.sha256, actual });
      }
    }
  }

  #hashFor(index: number): Hash {
    if (this.#index !== index || !this.#hash) {
      this.#index = index;
      this.#hash = createHash("sha256");
    }
    return this.#hash;
  }
}
