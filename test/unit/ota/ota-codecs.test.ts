// OTA job and chunk codecs: accepted and refused jobs, the chunk reply's six codec tests, requests, answers, and a no-throw fuzz.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  answerChunkRequest,
  CHUNK_HEADER_LENGTH,
  chunkBufferLen,
  ChunkView,
  decodeChunkRequest,
  emitChunk,
  encodeChunk,
  encodeChunkRequest,
  parseChunk,
  type ChunkRepr,
} from "../../../firmware/fleet/ota-chunk.ts";
import { decodeOtaJob, encodeOtaJob, validateOtaJob } from "../../../firmware/fleet/ota-job.ts";

const enc = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const sha = "ab".repeat(32);
const goodJob = { jobId: "rel-2.0.0", version: "2.0.0", size: 4096, sha256: sha, source: { kind: "mqtt" } };

describe("OTA job codec", () => {
  test("a minimal chunked job gets its defaults; an HTTP job keeps its URL and policy", () => {
    const job = decodeOtaJob(enc(goodJob));
    expect(job.ok && job.value).toEqual({ jobId: "rel-2.0.0", version: "2.0.0", size: 4096, sha256: sha, source: { kind: "mqtt", chunkBytes: 32768 }, confirmWithinSeconds: 120 });
    const http = decodeOtaJob(enc({ ...goodJob, source: { kind: "http", url: "https://updates.example/monami.img" }, policy: { meteredBudgetBytes: 1000 }, confirmWithinSeconds: 30 }));
    expect(http.ok && http.value).toMatchObject({ source: { kind: "http", url: "https://updates.example/monami.img" }, policy: { meteredBudgetBytes: 1000 }, confirmWithinSeconds: 30 });
    expect(http.ok && validateOtaJob(JSON.parse(encodeOtaJob(http.value)))).toEqual(http);
  });

  test.each([
    ["oversized", "x".repeat(9000)],
    ["malformed-json", "{not json"],
    ["wrong-type", "[1,2]"],
    ["unknown-field", JSON.stringify({ ...goodJob, sizee: 1 })],
    ["missing-field", JSON.stringify({ ...goodJob, sha256: undefined })],
    ["invalid-value", JSON.stringify({ ...goodJob, sha256: "AB".repeat(32) })],
    ["invalid-value", JSON.stringify({ ...goodJob, size: 0 })],
    ["invalid-value", JSON.stringify({ ...goodJob, jobId: "a/b" })],
    ["invalid-value", JSON.stringify({ ...goodJob, source: { kind: "http", url: "file:///etc/passwd" } })],
    ["invalid-value", JSON.stringify({ ...goodJob, source: { kind: "mqtt", chunkBytes: 10 } })],
  ])("refused as %s", (kind, text) => {
    const job = decodeOtaJob(enc(text));
    expect(job.ok).toBe(false);
    if (!job.ok) expect(job.error.kind).toBe(kind as never);
  });

  test("never throws on arbitrary bytes or JSON", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.json().map((j) => enc(j))), (bytes) => {
        const job = decodeOtaJob(bytes);
        expect(typeof job.ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });
});

// A captured reply: job "j1", bytes 16..19 of a 64-byte image.
const captured = Uint8Array.from([0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x40, 0x6a, 0x31, 0xde, 0xad, 0xbe, 0xef]);
const capturedRepr: ChunkRepr = { jobId: "j1", status: "data", offset: 16, imageSize: 64, data: Uint8Array.from([0xde, 0xad, 0xbe, 0xef]) };

describe("chunk reply codec", () => {
  test("deconstruct", () => {
    const view = ChunkView.parse(captured);
    expect(view.ok).toBe(true);
    if (!view.ok) return;
    expect(view.value.status).toBe("data");
    expect(view.value.jobId).toBe("j1");
    expect(view.value.offset).toBe(16);
    expect(view.value.imageSize).toBe(64);
    expect([...view.value.data]).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  test("construct", () => {
    const out = new Uint8Array(chunkBufferLen(capturedRepr));
    emitChunk(capturedRepr, out);
    expect(out).toEqual(captured);
  });

  test("truncated at every offset inside the header and job id: a typed error, never a throw", () => {
    for (let n = 0; n < CHUNK_HEADER_LENGTH + 2; n++) {
      const view = ChunkView.parse(captured.subarray(0, n));
      expect(view.ok).toBe(false);
      if (!view.ok) expect(view.error.kind).toBe("truncated");
    }
  });

  test("parse", () => {
    const view = ChunkView.parse(captured);
    expect(view.ok && parseChunk(view.value)).toEqual(capturedRepr);
  });

  test("emit round-trips", () => {
    const repr: ChunkRepr = { jobId: "rel-2.0.0", status: "bad-range", offset: 0, imageSize: 1000, data: new Uint8Array(0) };
    const view = ChunkView.parse(encodeChunk(repr));
    expect(view.ok && parseChunk(view.value)).toEqual(repr);
  });

  test("buffer length", () => {
    expect(chunkBufferLen(capturedRepr)).toBe(captured.length);
  });

  test("refused: wrong version, unknown status, data past the image, data on an error reply", () => {
    const with_ = (at: number, value: number) => {
      const b = captured.slice();
      b[at] = value;
      return b;
    };
    const kind = (bytes: Uint8Array) => {
      const v = ChunkView.parse(bytes);
      return v.ok ? "ok" : v.error.kind;
    };
    expect(kind(with_(0, 2))).toBe("bad-version");
    expect(kind(with_(1, 9))).toBe("bad-value");
    expect(kind(with_(11, 18))).toBe("bad-length"); // image size 18 < offset 16 + 4
    expect(kind(with_(1, 1))).toBe("bad-length"); // unknown-job carrying data
    expect(kind(with_(2, 0))).toBe("bad-length");
  });

  test("fuzz: parse never throws", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const view = ChunkView.parse(bytes);
        if (view.ok) expect(view.value.offset + view.value.data.length).toBeLessThanOrEqual(view.value.imageSize);
      }),
      { numRuns: 20_000 },
    );
  });
});

describe("chunk requests and the fleet's answers", () => {
  const image = { size: 100, read: (offset: number, length: number) => new Uint8Array(length).fill(offset) };

  test("request round trip; malformed requests are refused, not thrown", () => {
    expect(decodeChunkRequest(encodeChunkRequest({ jobId: "j1", offset: 10, length: 20 }))).toEqual({ ok: true, value: { jobId: "j1", offset: 10, length: 20 } });
    expect(decodeChunkRequest(enc({ jobId: "j1", offset: -1, length: 20 })).ok).toBe(false);
    expect(decodeChunkRequest(enc({ jobId: "j1", offset: 0, length: 20, extra: 1 })).ok).toBe(false);
    expect(decodeChunkRequest(enc("nope")).ok).toBe(false);
  });

  test("answers: data clipped at the end, bad-range past it, unknown-job without an image; every answer parses", () => {
    const data = answerChunkRequest({ jobId: "j1", offset: 90, length: 20 }, image);
    expect(data).toMatchObject({ status: "data", offset: 90, imageSize: 100 });
    expect(data.data.length).toBe(10);
    expect(answerChunkRequest({ jobId: "j1", offset: 100, length: 1 }, image).status).toBe("bad-range");
    expect(answerChunkRequest({ jobId: "j9", offset: 50, length: 1 }, undefined).status).toBe("unknown-job");
    for (const a of [data, answerChunkRequest({ jobId: "j1", offset: 100, length: 1 }, image), answerChunkRequest({ jobId: "j9", offset: 50, length: 1 }, undefined)]) {
      expect(ChunkView.parse(encodeChunk(a)).ok).toBe(true);
    }
  });
});
