// Fuzzing the OTA image parser: never throws on any input, every bit flip is refused, build/parse round-trips.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ImageDecoder, parseImageHead } from "../../ota/image/container.ts";
import { encodeManifest, parseManifest } from "../../ota/image/manifest.ts";
import { buildImage, concatImage } from "../../ota/sign/build-image.ts";
import { verifyImageStream } from "../../ota/verify/verify-image.ts";
import { fleetKey, fleetPublic, testImage } from "../unit/ota/fixtures.ts";

const runs = Number(process.env["MONAMI_FUZZ_RUNS"] ?? 300);
const seedImage = testImage({}, fleetKey, 512);

async function* chunked(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = Math.max(1, sizes[i % Math.max(1, sizes.length)] ?? 64);
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

describe("image parser fuzz", () => {
  test("parseImageHead and the streaming decoder never throw on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 8 }), (bytes, sizes) => {
        const head = parseImageHead(bytes);
        expect(typeof head.ok).toBe("boolean");
        const decoder = new ImageDecoder();
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = sizes[i % sizes.length]!;
          const r = decoder.push(bytes.subarray(at, at + n));
          at += n;
          if (!r.ok) return;
        }
        expect(typeof decoder.finish().ok).toBe("boolean");
      }),
      { numRuns: runs },
    );
  });

  test("arbitrary bytes behind a valid magic and header still never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (tail) => {
        const bytes = new Uint8Array(24 + tail.length);
        bytes.set(seedImage.subarray(0, 24));
        bytes.set(tail, 24);
        const r = parseImageHead(bytes);
        if (!r.ok) expect(["truncated", "bad-manifest", "not-canonical", "bad-length"]).toContain(r.error.kind);
      }),
      { numRuns: runs },
    );
  });

  test("parseManifest never throws on arbitrary JSON", () => {
    fc.assert(
      fc.property(fc.json(), (json) => {
        const r = parseManifest(new TextEncoder().encode(json));
        expect(typeof r.ok).toBe("boolean");
      }),
      { numRuns: runs },
    );
  });

  test("every single-bit flip anywhere in a signed image is refused (any chunking)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: seedImage.length * 8 - 1 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), async (bit, sizes) => {
        const mutated = seedImage.slice();
        mutated[bit >> 3]! ^= 1 << (bit & 7);
        const r = await verifyImageStream(chunked(mutated, sizes), [fleetPublic]);
        expect(r.ok).toBe(false);
      }),
      { numRuns: runs },
    );
  });

  test("truncations and extensions are refused; the untouched image verifies", async () => {
    expect((await verifyImageStream(chunked(seedImage, [100]), [fleetPublic])).ok).toBe(true);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: seedImage.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 10 }), async (cut, extra) => {
        expect((await verifyImageStream(chunked(seedImage.subarray(0, cut), [77]), [fleetPublic])).ok).toBe(false);
        const longer = new Uint8Array(seedImage.length + extra.length);
        longer.set(seedImage);
        longer.set(extra, seedImage.length);
        const r = await verifyImageStream(chunked(longer, [77]), [fleetPublic]);
        expect(!r.ok && r.error.kind).toBe("bad-image");
      }),
      { numRuns: Math.ceil(runs / 3) },
    );
  });

  test("build then parse round-trips any valid manifest input", () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
    fc.assert(
      fc.property(
        fc.record({
          version: fc.tuple(fc.nat(99), fc.nat(99), fc.nat(99)).map(([a, b, c]) => `${a}.${b}.${c}`),
          securityVersion: fc.nat(0xffff_ffff),
          compatible: fc.uniqueArray(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/), { minLength: 1, maxLength: 4 }),
          buildId: fc.stringMatching(/^[0-9A-Za-z._+-]{1,40}$/),
          extra: fc.uniqueArray(name.filter((n) => n !== "binary"), { maxLength: 3 }),
          binary: fc.uint8Array({ maxLength: 200 }),
        }),
        (input) => {
          const built = buildImage(
            {
              version: input.version,
              securityVersion: input.securityVersion,
              compatible: input.compatible,
              buildId: input.buildId,
              created: new Date(Date.UTC(2030, 5, 6, 7, 8, 9)),
              parts: [{ name: "binary", bytes: input.binary }, ...input.extra.map((n, i) => ({ name: n, bytes: new Uint8Array(i) }))],
            },
            fleetKey,
          );
          const head = parseImageHead(concatImage(built));
          expect(head.ok && head.value.manifest).toEqual(built.manifest);
          const again = parseManifest(encodeManifest(built.manifest));
          expect(again.ok && again.value).toEqual(built.manifest);
        },
      ),
      { numRuns: Math.ceil(runs / 3) },
    );
  });
});
