// Classic pcap file format (libpcap 2.4): file header, record header, link types, little-endian on write.

/*
 * File header (24 octets), written little-endian by monami:
 *   magic (4) | version major (2) | version minor (2) | thiszone (4) | sigfigs (4) | snaplen (4) | network (4)
 * Record header (16 octets):
 *   ts_sec (4) | ts_usec or ts_nsec (4) | incl_len (4) | orig_len (4)
 */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const PCAP_FILE_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
/** tcpdump's default snapshot length. */
export const PCAP_DEFAULT_SNAP_LENGTH = 262144;

/** LINKTYPE_RAW: each record is an IPv4 or IPv6 packet, told apart by its version nibble. */
export const LINKTYPE_RAW = 101;

export const FILE_FIELD = { magic: 0, versionMajor: 4, versionMinor: 6, thisZone: 8, sigFigs: 12, snapLength: 16, linkType: 20 } as const;
export const RECORD_FIELD = { seconds: 0, fraction: 4, includedLength: 8, originalLength: 12 } as const;

/** The 24-octet file header for microsecond timestamps. */
export function encodePcapFileHeader(linkType: number, snapLength: number): Uint8Array {
  const out = new Uint8Array(PCAP_FILE_HEADER_LEN);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(FILE_FIELD.magic, PCAP_MAGIC_MICROSECONDS, true);
  view.setUint16(FILE_FIELD.versionMajor, PCAP_VERSION_MAJOR, true);
  view.setUint16(FILE_FIELD.versionMinor, PCAP_VERSION_MINOR, true);
  view.setUint32(FILE_FIELD.snapLength, snapLength, true);
  view.setUint32(FILE_FIELD.linkType, linkType, true);
  return out;
}

/**
 * Writes a record header at `offset` for a packet of `originalLength` octets of which
 * `includedLength` are kept. `timestampMs` is milliseconds since the Unix epoch (fractions kept
 * to the microsecond); a negative or non-finite time, or one past 2106, throws RangeError.
 */
export function writePcapRecordHeader(into: Uint8Array, offset: number, timestampMs: number, includedLength: number, originalLength: number): void {
  const micros = Math.round(timestampMs * 1000);
  const seconds = Math.floor(micros / 1_000_000);
  if (!Number.isFinite(micros) || micros < 0 || seconds > 0xffffffff) throw new RangeError(`pcap timestamp ${timestampMs} ms`);
  const view = new DataView(into.buffer, into.byteOffset + offset, PCAP_RECORD_HEADER_LEN);
  view.setUint32(RECORD_FIELD.seconds, seconds, true);
  view.setUint32(RECORD_FIELD.fraction, micros - seconds * 1_000_000, true);
  view.setUint32(RECORD_FIELD.includedLength, includedLength, true);
  view.setUint32(RECORD_FIELD.originalLength, originalLength, true);
}

export function checkSnapLength(snapLength: number): void {
  if (!Number.isInteger(snapLength) || snapLength < 1 || snapLength > 0x7fffffff) throw new RangeError(`pcap snap length ${snapLength}`);
}
