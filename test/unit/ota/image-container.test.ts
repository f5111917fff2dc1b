// Image container codec: parse, emit, truncation at every offset, streaming decoder in arbitrary chunkings.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { ImageDecoder, parseImageHead, type ImageEvent } from "../../../ota/image/container.ts";
import { HEADER_LENGTH, parseHeader } from "../../../ota/image/header.ts";
import { encodeManifest, parseManifest } from "../../../ota/image/manifest.ts";
import { buildImage } from "../../../ota/sign/build-image.ts";
import { fleetKey, testImage, testImageInput } from "./fixtures.ts";

const image = testImage({}, fleetKey, 1000);

function decodeAll(bytes: Uint8Array, chunk: number): { events: ImageEvent[]; error?: string; parts: Uint8Array[] } {
  const decoder = new ImageDecoder();
  const events: ImageEvent[] = [];
  const parts: number[][] = [];
  for (let at = 0; at < bytes.length; at += chunk) {
    const r = decoder.push(bytes.subarray(at, at + chunk));
    if (!r.ok) return { events, error: r.error.kind, parts: [] };
    for (const e of r.value) {
      events.push(e);
      if (e.kind === "part-data") (parts[e.index] ??= []).push(...e.bytes);
    }
  }
  const done = decoder.finish();
  return { events, ...(done.ok ? {} : { error: done.error.kind }), parts: parts.map((p) => Uint8Array.from(p)) };
}

describe("image container", () => {
  test("deconstruct: the head parses and names its parts", () => {
    const head = parseImageHead(image);
    expect(head.ok).toBe(true);
    if (!head.ok) return;
    expect(head.value.header.manifestLength).toBeGreaterThan(50);
    expect(head.value.manifest.parts.map((p) => p.name)).toEqual(["binary", "board", "config"]);
    expect(head.value.imageLength).toBe(image.length);
    expect(head.value.partsOffset).toBe(HEADER_LENGTH + head.value.header.manifestLength + 64);
    expect(Buffer.from(head.value.header.keyId).equals(Buffer.from(fleetKey.keyId))).toBe(true);
  });

  test("construct: the same input builds the same bytes (Ed25519 is deterministic)", () => {
    expect(Buffer.from(testImage({}, fleetKey, 1000)).equals(Buffer.from(image))).toBe(true);
  });

  test("manifest round trip: parse(encode(m)) equals m", () => {
    const built = buildImage(testImageInput(), fleetKey);
    const parsed = parseManifest(encodeManifest(built.manifest));
    expect(parsed.ok && parsed.value).toEqual(built.manifest);
  });

  test("a non-canonical manifest (extra whitespace, reordered keys) is refused", () => {
    const built = buildImage(testImageInput(), fleetKey);
    const spaced = new TextEncoder().encode(JSON.stringify(built.manifest, null, 1));
    const r = parseManifest(spaced);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.kind).toBe("not-canonical");
    const reordered = new TextEncoder().encode(JSON.stringify(Object.assign({ version: built.manifest.version }, built.manifest)));
    const r2 = parseManifest(reordered);
    expect(!r2.ok && r2.error.kind).toBe("not-canonical");
  });

  test("manifest schema: unknown keys, missing binary part, duplicate boards are refused", () => {
    const m = buildImage(testImageInput(), fleetKey).manifest;
    const cases = [
      { ...m, extra: 1 },
      { ...m, parts: m.parts.filter((p) => p.name !== "binary") },
      { ...m, compatible: ["simulated", "simulated"] },
      { ...m, securityVersion: -1 },
      { ...m, securityVersion: 1.5 },
      { ...m, created: "yesterday" },
    ];
    for (const c of cases) {
      const r = parseManifest(encodeManifest(c as typeof m));
      expect(!r.ok && r.error.kind).toBe("bad-manifest");
    }
  });

  test("truncated at every offset of the head: a typed error, never a throw", () => {
    const head = parseImageHead(image);
    if (!head.ok) throw new Error("fixture");
    for (let n = 0; n < head.value.partsOffset; n++) {
      const r = parseImageHead(image.subarray(0, n));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.kind).toBe("truncated");
    }
  });

  test("streaming: every chunk size yields the same parts, with matching digests", () => {
    const head = parseImageHead(image);
    if (!head.ok) throw new Error("fixture");
    for (const chunk of [1, 7, 24, 100, 4096, image.length]) {
      const { events, error, parts } = decodeAll(image, chunk);
      expect(error).toBeUndefined();
      expect(events[0]?.kind).toBe("head");
      expect(events.filter((e) => e.kind === "part-end").map((e) => (e as { index: number }).index)).toEqual([0, 1, 2]);
      head.value.manifest.parts.forEach((p, i) => {
        expect(createHash("sha256").update(parts[i]!).digest("hex")).toBe(p.sha256);
      });
    }
  });

  test("streaming: truncated at every offset is reported by finish() as truncated", () => {
    for (let n = 0; n < image.length; n += 37) {
      const { error } = decodeAll(image.subarray(0, n), 64);
      expect(error).toBe("truncated");
    }
  });

  test("streaming: trailing data after the last part is refused, or ignored when asked", () => {
    const longer = new Uint8Array(image.length + 5);
    longer.set(image);
    expect(decodeAll(longer, 100).error).toBe("trailing-data");
    const decoder = new ImageDecoder({ ignoreTrailing: true });
    expect(decoder.push(longer).ok).toBe(true);
    expect(decoder.complete).toBe(true);
    expect(decoder.finish().ok).toBe(true);
  });

  test("header: bad magic, version, algorithm and manifest length are typed errors", () => {
    const mutate = (at: number, value: number) => {
      const copy = image.slice(0, HEADER_LENGTH);
      copy[at] = value;
      const r = parseHeader(copy);
      return r.ok ? "ok" : r.error.kind;
    };
    expect(mutate(0, 0x58)).toBe("bad-magic");
    expect(mutate(9, 2)).toBe("bad-version");
    expect(mutate(11, 9)).toBe("bad-algorithm");
    expect(mutate(12, 0xff)).toBe("bad-length");
  });
});
