// A classic pcap reader for tests and tools: either byte order, micro- or nanosecond timestamps; records are subarrays.

import { ok, type Result } from "../core/result.ts";
import { wireError, type WireError } from "../wire/error.ts";
import {
  FILE_FIELD,
  PCAP_FILE_HEADER_LEN,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_MAGIC_NANOSECONDS,
  PCAP_RECORD_HEADER_LEN,
  PCAP_VERSION_MAJOR,
  RECORD_FIELD,
} from "./pcap-format.ts";

export interface PcapRecord {
  readonly linkType: number;
  readonly seconds: number;
  /** Fraction of the second in nanoseconds (a microsecond file gives multiples of 1000). */
  readonly nanoseconds: number;
  /** Octets the packet had on the wire; `data` may be shorter (snap length). */
  readonly originalLength: number;
  /** A subarray of the input. */
  readonly data: Uint8Array;
}

/** Reads a whole classic pcap file. Bad magic, version, lengths or truncation give a WireError (layer `pcap`). */
export function readPcap(bytes: Uint8Array): Result<PcapRecord[], WireError> {
  if (bytes.length < PCAP_FILE_HEADER_LEN) return wireError("pcap", "truncated", bytes.length, "file header needs 24 octets");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let littleEndian: boolean;
  let nanosecondsPerUnit: number;
  const magicLe = view.getUint32(FILE_FIELD.magic, true);
  const magicBe = view.getUint32(FILE_FIELD.magic, false);
  if (magicLe === PCAP_MAGIC_MICROSECONDS || magicLe === PCAP_MAGIC_NANOSECONDS) {
    littleEndian = true;
    nanosecondsPerUnit = magicLe === PCAP_MAGIC_MICROSECONDS ? 1000 : 1;
  } else if (magicBe === PCAP_MAGIC_MICROSECONDS || magicBe === PCAP_MAGIC_NANOSECONDS) {
    littleEndian = false;
    nanosecondsPerUnit = magicBe === PCAP_MAGIC_MICROSECONDS ? 1000 : 1;
  } else {
    return wireError("pcap", "bad-value", FILE_FIELD.magic, `magic 0x${magicBe.toString(16).padStart(8, "0")} is not classic pcap`);
  }
  const major = view.getUint16(FILE_FIELD.versionMajor, littleEndian);
  if (major !== PCAP_VERSION_MAJOR) return wireError("pcap", "bad-version", FILE_FIELD.versionMajor, `version ${major}`);
  const linkType = view.getUint32(FILE_FIELD.linkType, littleEndian) & 0xffff;
  const records: PcapRecord[] = [];
  let at = PCAP_FILE_HEADER_LEN;
  while (at < bytes.length) {
    if (at + PCAP_RECORD_HEADER_LEN > bytes.length) return wireError("pcap", "truncated", at, "record header cut short");
    const seconds = view.getUint32(at + RECORD_FIELD.seconds, littleEndian);
    const fraction = view.getUint32(at + RECORD_FIELD.fraction, littleEndian);
    const includedLength = view.getUint32(at + RECORD_FIELD.includedLength, littleEndian);
    const originalLength = view.getUint32(at + RECORD_FIELD.originalLength, littleEndian);
    if (fraction * nanosecondsPerUnit >= 1_000_000_000) {
      return wireError("pcap", "bad-value", at + RECORD_FIELD.fraction, `sub-second field ${fraction}`);
    }
    if (includedLength > originalLength) {
      return wireError("pcap", "bad-length", at + RECORD_FIELD.includedLength, `included ${includedLength} > original ${originalLength}`);
    }
    const start = at + PCAP_RECORD_HEADER_LEN;
    if (start + includedLength > bytes.length) return wireError("pcap", "truncated", at, `record of ${includedLength} octets cut short`);
    records.push({ linkType, seconds, nanoseconds: fraction * nanosecondsPerUnit, originalLength, data: bytes.subarray(start, start + includedLength) });
    at = start + includedLength;
  }
  return ok(records);
}
