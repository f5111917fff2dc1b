// pcap writers: in memory (tests, CLI) and appending to a file with bounded memory (the daemon's capture).

import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import {
  checkSnapLength,
  encodePcapFileHeader,
  FILE_FIELD,
  LINKTYPE_RAW,
  PCAP_DEFAULT_SNAP_LENGTH,
  PCAP_FILE_HEADER_LEN,
  PCAP_RECORD_HEADER_LEN,
  RECORD_FIELD,
  writePcapRecordHeader,
} from "./pcap-format.ts";

export interface PcapWriterOptions {
  /** Defaults to LINKTYPE_RAW (101): IPv4 and IPv6 packets without a link header. */
  readonly linkType?: number;
  /** Longer packets are cut to this many octets; the record keeps their original length. */
  readonly snapLength?: number;
}

/** Collects a capture in memory: `add` packets, then take the file with `bytes()`. Memory grows with the capture. */
export class PcapWriter {
  readonly #snapLength: number;
  readonly #chunks: Uint8Array[];
  #length: number;
  #records = 0;

  constructor(options: PcapWriterOptions = {}) {
    this.#snapLength = options.snapLength ?? PCAP_DEFAULT_SNAP_LENGTH;
    checkSnapLength(this.#snapLength);
    const header = encodePcapFileHeader(options.linkType ?? LINKTYPE_RAW, this.#snapLength);
    this.#chunks = [header];
    this.#length = header.length;
  }

  /** Appends `packet` (copied) stamped `timestampMs` milliseconds after the Unix epoch. */
  add(packet: Uint8Array, timestampMs: number): void {
    const record = encodeRecord(packet, timestampMs, this.#snapLength);
    this.#chunks.push(record);
    this.#length += record.length;
    this.#records++;
  }

  get recordCount(): number {
    return this.#records;
  }

  /** The whole file so far. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

function encodeRecord(packet: Uint8Array, timestampMs: number, snapLength: number): Uint8Array {
  const included = Math.min(packet.length, snapLength);
  const record = new Uint8Array(PCAP_RECORD_HEADER_LEN + included);
  writePcapRecordHeader(record, 0, timestampMs, included, packet.length);
  record.set(packet.subarray(0, included), PCAP_RECORD_HEADER_LEN);
  return record;
}

export interface PcapFileWriterOptions extends PcapWriterOptions {
  /** Records are gathered up to this many octets before a write; 0 writes each record at once. Default 64 KiB. */
  readonly bufferBytes?: number;
  /** Once the file would pass this size, further records are dropped and counted. Default: no limit. */
  readonly maxFileBytes?: number;
}

const DEFAULT_BUFFER_BYTES = 64 * 1024;

/**
 * Appends a capture to a file for a long-running process: memory stays within `bufferBytes`
 * whatever the capture length. An existing pcap file is continued if its header matches
 * (little-endian, microseconds, same link type); a torn last record (a crash mid-write) is cut
 * off first. A file that is not such a pcap throws at `open`. Call `flush()` to make recent
 * records visible to readers, and `close()` at the end.
 */
export class PcapFileWriter {
  readonly #fd: number;
  readonly #snapLength: number;
  readonly #buffer: Uint8Array;
  readonly #maxFileBytes: number;
  #buffered = 0;
  #position: number;
  #closed = false;
  #recordsWritten = 0;
  #recordsDropped = 0;

  private constructor(fd: number, position: number, snapLength: number, bufferBytes: number, maxFileBytes: number) {
    this.#fd = fd;
    this.#position = position;
    this.#snapLength = snapLength;
    this.#buffer = new Uint8Array(bufferBytes);
    this.#maxFileBytes = maxFileBytes;
  }

  static open(path: string, options: PcapFileWriterOptions = {}): PcapFileWriter {
    const linkType = options.linkType ?? LINKTYPE_RAW;
    const snapLength = options.snapLength ?? PCAP_DEFAULT_SNAP_LENGTH;
    checkSnapLength(snapLength);
    const bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
    if (!Number.isInteger(bufferBytes) || bufferBytes < 0) throw new RangeError(`pcap buffer of ${bufferBytes} octets`);
    const maxFileBytes = options.maxFileBytes ?? Number.POSITIVE_INFINITY;
    const fd = openSync(path, "a+");
    try {
      const size = fstatSync(fd).size;
      let position: number;
      if (size === 0) {
        const header = encodePcapFileHeader(linkType, snapLength);
        writeSync(fd, header, 0, header.length);
        position = header.length;
      } else {
        position = validEnd(fd, size, linkType);
        if (position < size) ftruncateSync(fd, position);
      }
      return new PcapFileWriter(fd, position, snapLength, bufferBytes, maxFileBytes);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Queues `packet` stamped `timestampMs` after the Unix epoch; false if it was dropped because the file is full. */
  add(packet: Uint8Array, timestampMs: number): boolean {
    if (this.#closed) throw new Error("pcap writer is closed");
    const included = Math.min(packet.length, this.#snapLength);
    const recordLen = PCAP_RECORD_HEADER_LEN + included;
    if (this.#position + this.#buffered + recordLen > this.#maxFileBytes) {
      this.#recordsDropped++;
      return false;
    }
    if (this.#buffered + recordLen > this.#buffer.length) this.flush();
    if (recordLen > this.#buffer.length) {
      this.#write(encodeRecord(packet, timestampMs, this.#snapLength));
    } else {
      writePcapRecordHeader(this.#buffer, this.#buffered, timestampMs, included, packet.length);
      this.#buffer.set(packet.subarray(0, included), this.#buffered + PCAP_RECORD_HEADER_LEN);
      this.#buffered += recordLen;
    }
    this.#recordsWritten++;
    return true;
  }

  /** Writes buffered records to the file. */
  flush(): void {
    if (this.#buffered === 0) return;
    this.#write(this.#buffer.subarray(0, this.#buffered));
    this.#buffered = 0;
  }

  close(): void {
    if (this.#closed) return;
    try {
      this.flush();
    } finally {
      this.#closed = true;
      closeSync(this.#fd);
    }
  }

  /** Records accepted (written or buffered). */
  get recordsWritten(): number {
    return this.#recordsWritten;
  }
  /** Records refused because of `maxFileBytes`. */
  get recordsDropped(): number {
    return this.#recordsDropped;
  }
  /** File size once buffered records are flushed. */
  get fileBytes(): number {
    return this.#position + this.#buffered;
  }

  #write(bytes: Uint8Array): void {
    let done = 0;
    // The file is opened for appending, so every write lands at its end (which #position tracks).
    while (done < bytes.length) done += writeSync(this.#fd, bytes, done, bytes.length - done);
    this.#position += bytes.length;
  }
}

/** Checks an existing file's header against ours and returns the end of its last whole record. */
function validEnd(fd: number, size: number, linkType: number): number {
  const header = new Uint8Array(PCAP_FILE_HEADER_LEN);
  if (size < PCAP_FILE_HEADER_LEN || readSync(fd, header, 0, PCAP_FILE_HEADER_LEN, 0) !== PCAP_FILE_HEADER_LEN) {
    throw new Error("existing file is too short to be a pcap file");
  }
  const view = new DataView(header.buffer);
  const expected = new DataView(encodePcapFileHeader(linkType, 0).buffer);
  for (const field of [FILE_FIELD.magic, FILE_FIELD.linkType]) {
    if (view.getUint32(field, true) !== expected.getUint32(field, true)) {
      throw new Error("existing file is not a little-endian microsecond pcap of the same link type");
    }
  }
  const recordHeader = new Uint8Array(PCAP_RECORD_HEADER_LEN);
  const recordView = new DataView(recordHeader.buffer);
  let at = PCAP_FILE_HEADER_LEN;
  while (at + PCAP_RECORD_HEADER_LEN <= size) {
    readSync(fd, recordHeader, 0, PCAP_RECORD_HEADER_LEN, at);
    const end = at + PCAP_RECORD_HEADER_LEN + recordView.getUint32(RECORD_FIELD.includedLength, true);
    if (end > size) break;
    at = end;
  }
  return at;
}
