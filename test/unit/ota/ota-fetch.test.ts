// The resumable fetch core: contiguous ranges, window, go-back-N on timeout and disconnect, reordering, resume, allowance, rate cap.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant, VirtualClock } from "../../../firmware/core/instant.ts";
import { OtaFetch, type RangeRequest } from "../../../firmware/fleet/ota-fetch.ts";
import { pseudoRandomBytes } from "./fixtures.ts";

function drain(fetch: OtaFetch, now = instant(0)): RangeRequest[] {
  const out: RangeRequest[] = [];
  for (let r = fetch.pollTransmit(now); r; r = fetch.pollTransmit(now)) out.push(r);
  return out;
}

function concat(pieces: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const image = pseudoRandomBytes(10_000, 7);
const answer = (r: RangeRequest) => image.subarray(r.offset, r.offset + r.length);

describe("OtaFetch", () => {
  test("asks for contiguous ranges up to the window, then one per answered range, to the end", () => {
    const fetch = new OtaFetch({ size: 10_000, offset: 0, rangeBytes: 3000, window: 2, requestTimeoutMs: 1000 });
    fetch.setAllowance(undefined, undefined);
    expect(drain(fetch)).toEqual([{ offset: 0, length: 3000 }, { offset: 3000, length: 3000 }]);
    const stored: Uint8Array[] = [];
    stored.push(...fetch.handleData(0, answer({ offset: 0, length: 3000 })));
    expect(drain(fetch)).toEqual([{ offset: 6000, length: 3000 }]);
    stored.push(...fetch.handleData(3000, answer({ offset: 3000, length: 3000 })));
    expect(drain(fetch)).toEqual([{ offset: 9000, length: 1000 }]);
    stored.push(...fetch.handleData(6000, answer({ offset: 6000, length: 3000 })));
    stored.push(...fetch.handleData(9000, answer({ offset: 9000, length: 1000 })));
    expect(fetch.complete).toBe(true);
    expect(drain(fetch)).toEqual([]);
    expect(concat(stored)).toEqual(image);
    expect(fetch.transferredBytes).toBe(10_000);
  });

  test("out-of-order replies inside the window are reassembled; duplicates are dropped and counted", () => {
    const counters = new Counters();
    const fetch = new OtaFetch({ size: 10_000, offset: 0, rangeBytes: 2500, window: 4, requestTimeoutMs: 1000, counters });
    fetch.setAllowance(undefined, undefined);
    const requests = drain(fetch);
    expect(requests.length).toBe(4);
    expect(fetch.handleData(5000, answer(requests[2]!))).toEqual([]);
    expect(fetch.handleData(2500, answer(requests[1]!))).toEqual([]);
    const pieces = fetch.handleData(0, answer(requests[0]!));
    expect(concat(pieces)).toEqual(image.subarray(0, 7500));
    expect(fetch.handleData(2500, answer(requests[1]!))).toEqual([]);
    expect(counters.get("ota.fetch.duplicate")).toBe(1);
    expect(concat(fetch.handleData(7500, answer(requests[3]!)))).toEqual(image.subarray(7500));
  });

  test("a timeout asks again from the write offset (go-back-N); a late reply to the first ask still counts", () => {
    const clock = new VirtualClock();
    const counters = new Counters();
    const fetch = new OtaFetch({ size: 10_000, offset: 0, rangeBytes: 2000, window: 3, requestTimeoutMs: 500, counters });
    fetch.setAllowance(undefined, undefined);
    drain(fetch, clock.now());
    fetch.handleData(0, image.subarray(0, 2000), clock.now());
    expect(fetch.pollTimeout()).toBe(instant(500));
    clock.advance(500);
    fetch.handleTimeout(clock.now());
    expect(counters.get("ota.fetch.timeout")).toBe(1);
    expect(drain(fetch, clock.now())).toEqual([{ offset: 2000, length: 2000 }, { offset: 4000, length: 2000 }, { offset: 6000, length: 2000 }]);
    expect(fetch.handleData(2000, image.subarray(2000, 4000), clock.now()).length).toBe(1);
    expect(fetch.offset).toBe(4000);
  });

  test("a disconnect forgets what is in flight; spurious timeouts are harmless", () => {
    const fetch = new OtaFetch({ size: 10_000, offset: 0, rangeBytes: 4000, window: 2, requestTimeoutMs: 500 });
    fetch.setAllowance(undefined, undefined);
    drain(fetch);
    fetch.handleTimeout(instant(10));
    expect(drain(fetch)).toEqual([]);
    fetch.handleDisconnect();
    expect(drain(fetch)).toEqual([{ offset: 0, length: 4000 }, { offset: 4000, length: 4000 }]);
  });

  test("resumes at a stored offset: the first ask starts there", () => {
    const fetch = new OtaFetch({ size: 10_000, offset: 6500, rangeBytes: 4000, window: 4, requestTimeoutMs: 500 });
    fetch.setAllowance(undefined, undefined);
    expect(drain(fetch)).toEqual([{ offset: 6500, length: 3500 }]);
    expect(concat(fetch.handleData(6000, image.subarray(6000, 10_000)))).toEqual(image.subarray(6500));
    expect(fetch.complete).toBe(true);
  });

  test("the allowance counts requested bytes and pauses at zero; paused asks nothing but takes late replies", () => {
    const fetch = new OtaFetch({ size: 10_000, offset: 0, rangeBytes: 3000, window: 8, requestTimeoutMs: 500 });
    expect(drain(fetch)).toEqual([]); // starts paused until the policy speaks
    fetch.setAllowance(4000, undefined);
    expect(drain(fetch)).toEqual([{ offset: 0, length: 3000 }, { offset: 3000, length: 1000 }]);
    expect(fetch.paused).toBe(true);
    expect(fetch.handleData(0, image.subarray(0, 3000)).length).toBe(1);
    expect(fetch.requestedBytes).toBe(4000);
  });

  test("the rate cap spaces requests by length / rate on the injected clock", () => {
    const clock = new VirtualClock();
    const fetch = new OtaFetch({ size: 10_000, offset: 0, rangeBytes: 1000, window: 8, requestTimeoutMs: 60_000 });
    fetch.setAllowance(undefined, 10_000); // 10 kB/s: one 1000-byte range per 100 ms
    const times: number[] = [];
    while (times.length < 5) {
      if (fetch.pollTransmit(clock.now())) times.push(clock.now());
      else clock.set(fetch.pollTimeout()!);
    }
    expect(times).toEqual([0, 100, 200, 300, 400]);
  });

  test("property: any mix of loss, duplication, reordering and timeouts ends with exactly the image", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 700 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (size, rangeBytes, window, seed) => {
        const data = pseudoRandomBytes(size, seed);
        let x = seed;
        const rand = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) % 1000) / 1000;
        const clock = new VirtualClock();
        const fetch = new OtaFetch({ size, offset: 0, rangeBytes, window, requestTimeoutMs: 100 });
        fetch.setAllowance(undefined, undefined);
        const pending: RangeRequest[] = [];
        const stored: Uint8Array[] = [];
        // Bounded (a livelock fails the test), with room for the number of ranges: 1-byte ranges of a 5000-byte image need thousands of steps.
        const maxSteps = 2_000 + 40 * Math.ceil(size / rangeBytes);
        for (let step = 0; step < maxSteps && !fetch.complete; step++) {
          for (let r = fetch.pollTransmit(clock.now()); r; r = fetch.pollTransmit(clock.now())) pending.push(r);
          if (pending.length > 0 && rand() < 0.8) {
            const r = pending.splice(Math.floor(rand() * pending.length), 1)[0]!;
            if (rand() < 0.15) continue; // lost
            const reply = data.subarray(r.offset, r.offset + r.length);
            if (rand() < 0.1) pending.push(r); // duplicated
            stored.push(...fetch.handleData(r.offset, reply, clock.now()).map((p) => p.slice()));
          } else {
            clock.advance(50);
            fetch.handleTimeout(clock.now());
          }
        }
        expect(fetch.complete).toBe(true);
        expect(concat(stored)).toEqual(data);
      }),
      { numRuns: 200 },
    );
  });

  test("property counterexample found in CI: 1-byte ranges of a 4737-byte image complete", () => {
    const size = 4737;
    const data = pseudoRandomBytes(size, 1);
    const clock = new VirtualClock();
    const fetch = new OtaFetch({ size, offset: 0, rangeBytes: 1, window: 6, requestTimeoutMs: 100 });
    fetch.setAllowance(undefined, undefined);
    const stored: Uint8Array[] = [];
    for (let step = 0; step < 200_000 && !fetch.complete; step++) {
      const r = fetch.pollTransmit(clock.now());
      if (r) stored.push(...fetch.handleData(r.offset, data.subarray(r.offset, r.offset + r.length), clock.now()).map((p) => p.slice()));
      else {
        clock.advance(50);
        fetch.handleTimeout(clock.now());
      }
    }
    expect(fetch.complete).toBe(true);
    expect(concat(stored)).toEqual(data);
  });
});
