// A partially downloaded image on disk: positional appends, fsync checkpoints, truncation to the last checkpoint on resume, running SHA-256.

import { createHash, type Hash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { open, rm, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import { fileChunks } from "../io/file-chunks.ts";

/**
 * The data file of one download. Bytes past the last checkpoint may not have reached the disk before a
 * power cut, so `open` truncates the file to the checkpointed offset and re-hashes what is kept; the caller
 * records a new offset only after `sync()` returned.
 */
export class PartialDownload {
  readonly path: string;
  readonly #handle: FileHandle;
  #hash: Hash;
  #offset: number;

  private constructor(path: string, handle: FileHandle, hash: Hash, offset: number) {
    this.path = path;
    this.#handle = handle;
    this.#hash = hash;
    this.#offset = offset;
  }

  /** Opens (or creates) `path` and resumes at `checkpoint`, or at the file's end if it is shorter. */
  static async open(path: string, checkpoint: number): Promise<Result<PartialDownload, string>> {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
      const handle = await open(path, "a+").then(async (h) => {
        await h.close();
        return open(path, "r+");
      });
      const size = (await handle.stat()).size;
      const offset = Math.min(size, Math.max(0, checkpoint));
      if (size !== offset) await handle.truncate(offset);
      const hash = createHash("sha256");
      if (offset > 0) for await (const chunk of fileChunks(path, 0, offset)) hash.update(chunk);
      return ok(new PartialDownload(path, handle, hash, offset));
    } catch (error) {
      return err(`${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Bytes stored (the next append goes here). */
  get offset(): number {
    return this.#offset;
  }

  async append(bytes: Uint8Array): Promise<Result<void, string>> {
    try {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await this.#handle.write(bytes, done, bytes.length - done, this.#offset + done);
        if (bytesWritten === 0) return err(`${this.path}: no space left after ${this.#offset + done} bytes`);
        done += bytesWritten;
      }
      this.#hash.update(bytes);
      this.#offset += bytes.length;
      return ok(undefined);
    } catch (error) {
      return err(`${this.path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Flushes to stable storage: only then may `offset` be recorded as a checkpoint. */
  async sync(): Promise<Result<void, string>> {
    try {
      await this.#handle.sync();
      return ok(undefined);
    } catch (error) {
      return err(`${this.path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** SHA-256 (hex) of the bytes stored so far; appending may continue afterwards. */
  digest(): string {
    return this.#hash.copy().digest("hex");
  }

  async close(): Promise<void> {
    await this.#handle.close().catch(() => undefined);
  }

  /** Closes and deletes the data file (a finished or abandoned download). */
  async remove(): Promise<void> {
    await this.close();
    await rm(this.path, { force: true });
  }
}
