// Chunked image transfer over MQTT: the device's chunk request (JSON) and the fleet's chunk reply (binary header + bytes).

import * as v from "valibot";
import { err, ok, type Result } from "../core/result.ts";
import { readU32, writeU32 } from "../wire/bytes.ts";
import { MAX_CHUNK_BYTES, MAX_IMAGE_BYTES } from "./ota-job.ts";

// Chunk reply, fleet → device on `…/ota/chunk` (MQTT 3.1.1 has no properties, so the header is in the payload):
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  version (1)  |    status     | job id length |   reserved    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                     offset in the image                       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                     image size (octets)                       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  job id (job id length octets, ASCII) ...     |  data ...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const field = { version: 0, status: 1, jobIdLength: 2, reserved: 3, offset: 4, imageSize: 8, jobId: 12 } as const;

export const CHUNK_HEADER_LENGTH = 12;
export const CHUNK_FORMAT_VERSION = 1;

/** `data`: bytes follow. The others carry no data and end the download (the fleet cannot serve this job). */
export type ChunkStatus = "data" | "unknown-job" | "bad-range";
const STATUS_CODES: Readonly<Record<ChunkStatus, number>> = { data: 0, "unknown-job": 1, "bad-range": 2 };
const STATUS_BY_CODE: readonly ChunkStatus[] = ["data", "unknown-job", "bad-range"];

export type OtaChunkErrorKind = "truncated" | "bad-version" | "bad-length" | "bad-value";

/** A malformed chunk reply (never thrown); counted as `ota.chunk.<kind>`. */
export interface OtaChunkError {
  readonly kind: OtaChunkErrorKind;
  readonly at: number;
  readonly detail?: string;
}

function chunkError(kind: OtaChunkErrorKind, at: number, detail: string): Result<never, OtaChunkError> {
  return err({ kind, at, detail });
}

export function otaChunkErrorCounter(error: OtaChunkError): string {
  return `ota.chunk.${error.kind}`;
}

/** A parsed chunk reply; every length was checked once in `parse`, the getters cannot fail. */
export class ChunkView {
  private constructor(readonly bytes: Uint8Array) {}

  static parse(bytes: Uint8Array): Result<ChunkView, OtaChunkError> {
    if (bytes.length < CHUNK_HEADER_LENGTH) return chunkError("truncated", bytes.length, `header needs ${CHUNK_HEADER_LENGTH} octets, have ${bytes.length}`);
    if (bytes[field.version] !== CHUNK_FORMAT_VERSION) return chunkError("bad-version", field.version, `version ${bytes[field.version]}`);
    if (STATUS_BY_CODE[bytes[field.status]!] === undefined) return chunkError("bad-value", field.status, `status ${bytes[field.status]}`);
    const idLength = bytes[field.jobIdLength]!;
    if (idLength === 0 || idLength > 64) return chunkError("bad-length", field.jobIdLength, `job id length ${idLength}`);
    if (bytes.length < CHUNK_HEADER_LENGTH + idLength) return chunkError("truncated", bytes.length, "ends inside the job id");
    const view = new ChunkView(bytes);
    const dataLength = bytes.length - CHUNK_HEADER_LENGTH - idLength;
    if (view.status !== "data" && dataLength !== 0) return chunkError("bad-length", CHUNK_HEADER_LENGTH + idLength, "an error reply carries no data");
    if (dataLength > MAX_CHUNK_BYTES) return chunkError("bad-length", CHUNK_HEADER_LENGTH + idLength, `${dataLength} data octets`);
    if (view.offset + dataLength > view.imageSize) return chunkError("bad-length", field.offset, "data runs past the image size");
    return ok(view);
  }

  get status(): ChunkStatus {
    return STATUS_BY_CODE[this.bytes[field.status]!]!;
  }
  get offset(): number {
    return readU32(this.bytes, field.offset);
  }
  get imageSize(): number {
    return readU32(this.bytes, field.imageSize);
  }
  get jobId(): string {
    const length = this.bytes[field.jobIdLength]!;
    return String.fromCharCode(...this.bytes.subarray(field.jobId, field.jobId + length));
  }
  /** The image bytes `[offset, offset + data.length)`, a view into the payload. */
  get data(): Uint8Array {
    return this.bytes.subarray(CHUNK_HEADER_LENGTH + this.bytes[field.jobIdLength]!);
  }
}

export interface ChunkRepr {
  readonly jobId: string;
  readonly status: ChunkStatus;
  readonly offset: number;
  readonly imageSize: number;
  readonly data: Uint8Array;
}

export function parseChunk(view: ChunkView): ChunkRepr {
  return { jobId: view.jobId, status: view.status, offset: view.offset, imageSize: view.imageSize, data: view.data };
}

export function chunkBufferLen(repr: ChunkRepr): number {
  return CHUNK_HEADER_LENGTH + repr.jobId.length + repr.data.length;
}

/** Writes `repr` into `into` (at least `chunkBufferLen(repr)` long). Throws on a repr no parser would accept. */
export function emitChunk(repr: ChunkRepr, into: Uint8Array): void {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(repr.jobId)) throw new RangeError("job id must be 1-64 ASCII id characters");
  if (repr.offset + repr.data.length > repr.imageSize || repr.imageSize > MAX_IMAGE_BYTES) throw new RangeError("chunk outside the image");
  into[field.version] = CHUNK_FORMAT_VERSION;
  into[field.status] = STATUS_CODES[repr.status];
  into[field.jobIdLength] = repr.jobId.length;
  into[field.reserved] = 0;
  writeU32(into, field.offset, repr.offset);
  writeU32(into, field.imageSize, repr.imageSize);
  for (let i = 0; i < repr.jobId.length; i++) into[field.jobId + i] = repr.jobId.charCodeAt(i);
  into.set(repr.data, CHUNK_HEADER_LENGTH + repr.jobId.length);
}

export function encodeChunk(repr: ChunkRepr): Uint8Array {
  const out = new Uint8Array(chunkBufferLen(repr));
  emitChunk(repr, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Chunk request, device → fleet on `…/ota/chunk/request` (QoS 0; the device re-asks on timeout)
// ---------------------------------------------------------------------------------------------

export interface ChunkRequest {
  readonly jobId: string;
  readonly offset: number;
  readonly length: number;
}

const RequestSchema = v.strictObject({
  jobId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,64}$/)),
  offset: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_IMAGE_BYTES)),
  length: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(MAX_CHUNK_BYTES)),
});

export function encodeChunkRequest(request: ChunkRequest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ jobId: request.jobId, offset: request.offset, length: request.length }));
}

/** For the fleet side: a request it can serve, or why not (never throws). */
export function decodeChunkRequest(payload: Uint8Array): Result<ChunkRequest, string> {
  if (payload.length > 512) return err(`request of ${payload.length} bytes is too large`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    return err("request is not JSON");
  }
  const parsed = v.safeParse(RequestSchema, json);
  return parsed.success ? ok(parsed.output) : err(`invalid request: ${parsed.issues[0]?.message ?? "schema"}`);
}

/**
 * The fleet side's answer to a request, given the image it serves for that job (undefined: unknown job).
 * A request running past the end is answered with the bytes up to the end; one starting past it with `bad-range`.
 */
export function answerChunkRequest(request: ChunkRequest, image: { readonly size: number; read(offset: number, length: number): Uint8Array } | undefined): ChunkRepr {
  const empty = new Uint8Array(0);
  if (!image) return { jobId: request.jobId, status: "unknown-job", offset: 0, imageSize: 0, data: empty };
  if (request.offset >= image.size) return { jobId: request.jobId, status: "bad-range", offset: 0, imageSize: image.size, data: empty };
  const length = Math.min(request.length, image.size - request.offset);
  return { jobId: request.jobId, status: "data", offset: request.offset, imageSize: image.size, data: image.read(request.offset, length) };
}
