// Writing an image into a slot (block device or file): positional writes, capacity limit, fsync, read-back hash.

import { createHash } from "node:crypto";
import { open, stat, type FileHandle } from "node:fs/promises";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import { fileChunks } from "../io/file-chunks.ts";
import type { Refusal } from "../verify/refusal.ts";

export interface SlotWriterOptions {
  /** Bytes the slot can hold; a write beyond it fails with `no-space` as ENOSPC would. */
  readonly capacityBytes: number;
  /** Truncate an existing regular file first (a slot file holds one image); false writes in place (an SD card image file). */
  readonly truncate?: boolean;
}

/**
 * Sequential writer into one slot. Regular files are truncated on open (a slot file holds one image);
 * block devices are written in place. Every failure is a `Refusal`; ENOSPC becomes `no-space`.
 */
export class SlotWriter {
  readonly path: string;
  readonly #handle: FileHandle;
  readonly #capacity: number;
  #position = 0;

  private constructor(path: string, handle: FileHandle, capacity: number) {
    this.path = path;
    this.#handle = handle;
    this.#capacity = capacity;
  }

  static async open(path: string, options: SlotWriterOptions): Promise<Result<SlotWriter, Refusal>> {
    try {
      const info = await stat(path).catch(() => undefined);
      const inPlace = info?.isBlockDevice() || (info !== undefined && options.truncate === false);
      const handle = await open(path, inPlace ? "r+" : "w", 0o644);
      return ok(new SlotWriter(path, handle, options.capacityBytes));
    } catch (error) {
      return err(ioRefusal(path, error, 0));
    }
  }

  get written(): number {
    return this.#position;
  }

  async write(bytes: Uint8Array): Promise<Result<void, Refusal>> {
    if (this.#position + bytes.length > this.#capacity) return err({ kind: "no-space", target: this.path, written: this.#position });
    try {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await this.#handle.write(bytes, done, bytes.length - done, this.#position + done);
        if (bytesWritten === 0) return err({ kind: "no-space", target: this.path, written: this.#position + done });
        done += bytesWritten;
      }
      this.#position += done;
      return ok(undefined);
    } catch (error) {
      return err(ioRefusal(this.path, error, this.#position));
    }
  }

  /** Flushes to stable storage; call before reading back or switching the boot state. */
  async sync(): Promise<Result<void, Refusal>> {
    try {
      await this.#handle.sync();
      return ok(undefined);
    } catch (error) {
      return err(ioRefusal(this.path, error, this.#position));
    }
  }

  async close(): Promise<void> {
    await this.#handle.close().catch(() => undefined);
  }
}

/** SHA-256 of the first `length` bytes of `path`: the read-back check after writing. */
export async function hashPrefix(path: string, length: number): Promise<Result<string, Refusal>> {
  try {
    const hash = createHash("sha256");
    let got = 0;
    for await (const chunk of fileChunks(path, 0, length)) {
      hash.update(chunk);
      got += chunk.length;
    }
    if (got !== length) return err({ kind: "io-error", target: path, detail: `read back ${got} of ${length} bytes` });
    return ok(hash.digest("hex"));
  } catch (error) {
    return err(ioRefusal(path, error, 0));
  }
}

export function ioRefusal(target: string, error: unknown, written: number): Refusal {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENOSPC" || code === "EFBIG") return { kind: "no-space", target, written };
  return { kind: "io-error", target, detail: error instanceof Error ? error.message : String(error) };
}
