// Download storage and HTTP: partial file resume and digest, the OTA record, HTTP Range requests against a local Bun.serve.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeOtaJob } from "../../../firmware/fleet/ota-job.ts";
import { HttpRangeSource, parseContentRange } from "../../../ota/download/http-range.ts";
import { OtaJobStateStore } from "../../../ota/download/job-state.ts";
import { PartialDownload } from "../../../ota/download/partial-download.ts";
import { pseudoRandomBytes } from "./fixtures.ts";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function joinPieces(pieces: readonly [number, Uint8Array][]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, [, b]) => n + b.length, 0));
  let at = 0;
  for (const [, b] of pieces) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "monami-h10-dl-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("PartialDownload", () => {
  test("appends, hashes, and on reopen drops what lies past the checkpoint and re-hashes the rest", async () => {
    const data = pseudoRandomBytes(50_000, 3);
    const path = join(dir, "a.part");
    const first = await PartialDownload.open(path, 0);
    if (!first.ok) throw new Error(first.error);
    await first.value.append(data.subarray(0, 30_000));
    expect((await first.value.sync()).ok).toBe(true);
    await first.value.append(data.subarray(30_000, 35_000)); // written after the checkpoint at 30 000
    await first.value.close();
    expect(statSync(path).size).toBe(35_000);

    const resumed = await PartialDownload.open(path, 30_000);
    if (!resumed.ok) throw new Error(resumed.error);
    expect(resumed.value.offset).toBe(30_000);
    expect(statSync(path).size).toBe(30_000);
    await resumed.value.append(data.subarray(30_000));
    expect(resumed.value.digest()).toBe(sha256(data));
    expect(resumed.value.digest()).toBe(sha256(data)); // digest() does not consume the hash
    await resumed.value.remove();
    expect(() => statSync(path)).toThrow();
  });

  test("a checkpoint beyond the file (never synced) resumes at the file's end", async () => {
    const path = join(dir, "b.part");
    writeFileSync(path, new Uint8Array(100));
    const p = await PartialDownload.open(path, 5000);
    expect(p.ok && p.value.offset).toBe(100);
    if (p.ok) await p.value.remove();
  });
});

describe("OtaJobStateStore", () => {
  test("round trip; a missing file is an empty record; a corrupt one is an error", () => {
    const store = new OtaJobStateStore(join(dir, "state"));
    expect(store.read()).toEqual({ ok: true, value: { finished: [] } });
    const job = decodeOtaJob(new TextEncoder().encode(JSON.stringify({ jobId: "j1", version: "2", size: 10, sha256: "0".repeat(64), source: { kind: "mqtt" } })));
    if (!job.ok) throw new Error(job.error.detail);
    const record = { current: { job: job.value, phase: "downloading" as const, offset: 5, meteredBytes: 2 }, finished: ["j0"] };
    expect(store.write(record).ok).toBe(true);
    expect(store.read()).toEqual({ ok: true, value: record });
    writeFileSync(store.path, "{ nope");
    expect(store.read().ok).toBe(false);
  });
});

describe("HTTP Range source", () => {
  const image = pseudoRandomBytes(300_000, 11);
  let server: ReturnType<typeof Bun.serve>;
  const ranges: string[] = [];
  beforeAll(() => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const url = new URL(request.url);
        const range = request.headers.get("range") ?? "";
        ranges.push(`${url.pathname} ${range}`);
        if (url.pathname === "/missing") return new Response("no", { status: 404 });
        if (url.pathname === "/no-ranges") return new Response(image);
        const m = /^bytes=(\d+)-(\d+)$/.exec(range);
        if (!m) return new Response(image);
        const start = Number(m[1]);
        const end = Math.min(Number(m[2]), image.length - 1);
        const total = url.pathname === "/other-size" ? image.length + 1 : image.length;
        return new Response(image.subarray(start, end + 1), { status: 206, headers: { "Content-Range": `bytes ${start}-${end}/${total}` } });
      },
    });
  });
  afterAll(() => server.stop(true));

  function fetchRange(path: string, offset: number, length: number): Promise<{ pieces: [number, Uint8Array][]; error?: { permanent: boolean; detail: string } }> {
    return new Promise((resolve) => {
      const pieces: [number, Uint8Array][] = [];
      let got = 0;
      const source = new HttpRangeSource(
        `http://127.0.0.1:${server.port}${path}`,
        { size: image.length },
        {
          onData: (at, bytes) => {
            pieces.push([at, bytes.slice()]);
            got += bytes.length;
            if (got >= length) resolve({ pieces });
          },
          onError: (permanent, detail) => resolve({ pieces, error: { permanent, detail } }),
        },
      );
      source.request(offset, length);
    });
  }

  test("asks for exactly the range and streams it in order", async () => {
    const { pieces, error } = await fetchRange("/img", 100_000, 150_000);
    expect(error).toBeUndefined();
    expect(ranges.at(-1)).toBe("/img bytes=100000-249999");
    expect(pieces[0]![0]).toBe(100_000);
    expect(joinPieces(pieces)).toEqual(image.subarray(100_000, 250_000));
  });

  test("404 is permanent; a server image of another size is permanent; ignoring Range past offset 0 is permanent", async () => {
    expect((await fetchRange("/missing", 0, 10)).error?.permanent).toBe(true);
    const other = await fetchRange("/other-size", 0, 10);
    expect(other.error?.permanent).toBe(true);
    expect(other.error?.detail).toContain(`job says ${image.length}`);
    const noRanges = await fetchRange("/no-ranges", 10, 10);
    expect(noRanges.error).toMatchObject({ permanent: true });
    expect(noRanges.error?.detail).toContain("ignores Range");
  });

  test("a server that ignores Range is still usable from offset 0 (the body is cut at the requested length)", async () => {
    const { pieces, error } = await fetchRange("/no-ranges", 0, 1000);
    expect(error).toBeUndefined();
    expect(joinPieces(pieces)).toEqual(image.subarray(0, 1000));
  });

  test("a connection refused is transient (the fetch core asks again after its timeout)", async () => {
    const result = await new Promise<{ permanent: boolean }>((resolve) => {
      const source = new HttpRangeSource("http://127.0.0.1:1/img", { size: 10 }, { onData: () => {}, onError: (permanent) => resolve({ permanent }) });
      source.request(0, 10);
    });
    expect(result.permanent).toBe(false);
  });

  test("Content-Range parsing (RFC 9110 §14.4)", () => {
    expect(parseContentRange("bytes 0-9/100")).toEqual({ start: 0, end: 9, complete: 100 });
    expect(parseContentRange("bytes 5-9/*")).toEqual({ start: 5, end: 9, complete: undefined });
    expect(parseContentRange("bytes 9-5/100")).toBeUndefined();
    expect(parseContentRange("bytes 0-100/100")).toBeUndefined();
    expect(parseContentRange(null)).toBeUndefined();
  });
});
