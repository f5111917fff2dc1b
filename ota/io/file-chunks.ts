// Reading a file or block device as a stream of chunks over a byte range (positional reads, one reused buffer per call).

import { open } from "node:fs/promises";

export const DEFAULT_CHUNK = 256 * 1024;

/**
 * Yields `[start, end)` of `path` (to end of file when `end` is undefined). Each chunk is a fresh
 * view that stays valid after the next one is read. Stops early at end of file: callers check lengths.
 */
export async function* fileChunks(path: string, start = 0, end?: number, chunkSize = DEFAULT_CHUNK): AsyncGenerator<Uint8Array> {
  const handle = await open(path, "r");
  try {
    let position = start;
    while (end === undefined || position < end) {
      const want = end === undefined ? chunkSize : Math.min(chunkSize, end - position);
      const buffer = new Uint8Array(want);
      const { bytesRead } = await handle.read(buffer, 0, want, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** Reads exactly `length` bytes at `position`, or fewer if the file ends first. */
export async function readAt(path: string, position: number, length: number): Promise<Uint8Array> {
  const handle = await open(path, "r");
  try {
    const buffer = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await handle.read(buffer, got, length - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buffer.subarray(0, got);
  } finally {
    await handle.close();
  }
}
