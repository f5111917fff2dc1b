// Voice receiver accounting: loss from sequence gaps, duplicates, RFC 3550 jitter, silences, the packet header.
import { describe, expect, test } from "bun:test";
import { AUDIBLE_GAP_MS, decodeVoicePacket, encodeVoicePacket, VOICE_PAYLOAD_BYTES, VoiceReceiver } from "../../../board/lab/demo/voice-stats.ts";

const ms = (x: number) => BigInt(Math.round(x * 1e6));

/** Feeds packets `seqs` sent every 20 ms, each arriving `delay(seq)` ms later. */
function feed(r: VoiceReceiver, seqs: readonly number[], delay: (seq: number) => number = () => 30): void {
  for (const seq of seqs) r.handlePacket(seq, ms(seq * 20), ms(seq * 20 + delay(seq)));
}

describe("voice receiver", () => {
  test("header round trip; a short datagram is no voice packet", () => {
    const buf = new Uint8Array(VOICE_PAYLOAD_BYTES);
    encodeVoicePacket(buf, 0xfffffffe, 123456789012345n);
    expect(decodeVoicePacket(buf)).toEqual({ sequence: 0xfffffffe, sentNs: 123456789012345n });
    expect(decodeVoicePacket(buf.subarray(0, 11))).toBeUndefined();
  });

  test("in order with a constant delay: nothing lost, zero jitter, delay measured", () => {
    const r = new VoiceReceiver();
    feed(r, [...Array(50).keys()]);
    const i = r.takeInterval(ms(49 * 20 + 30));
    expect(i).toMatchObject({ received: 50, expected: 50, lost: 0, duplicates: 0, jitterMs: 0 });
    expect(i.delayMs).toBeCloseTo(30, 6);
    expect(r.outages).toEqual([]);
  });

  test("a gap of 20 packets is 20 lost and one audible outage of 420 ms", () => {
    const r = new VoiceReceiver();
    const seqs = [...Array(100).keys()].filter((s) => s < 40 || s >= 60);
    feed(r, seqs);
    const i = r.takeInterval(ms(99 * 20 + 30));
    expect(i).toMatchObject({ expected: 100, received: 80, lost: 20 });
    expect(r.expected - r.received).toBe(20);
    expect(r.outages).toHaveLength(1);
    expect(r.outages[0]!.durationMs).toBeCloseTo(420, 6);
    expect(r.outages[0]!.durationMs).toBeGreaterThanOrEqual(AUDIBLE_GAP_MS);
    expect(i.maxGapMs).toBeCloseTo(420, 6);
  });

  test("reordered packets count once; duplicates are counted apart", () => {
    const r = new VoiceReceiver();
    feed(r, [0, 1, 3, 2, 4, 4, 5]);
    expect(r.received).toBe(6);
    expect(r.duplicates).toBe(1);
    expect(r.expected).toBe(6);
  });

  test("jitter follows RFC 3550: alternating transit 20/40 ms converges towards 20 ms", () => {
    const r = new VoiceReceiver();
    feed(r, [...Array(400).keys()], (s) => (s % 2 === 0 ? 20 : 40));
    const i = r.takeInterval(ms(400 * 20));
    expect(i.jitterMs).toBeGreaterThan(19);
    expect(i.jitterMs).toBeLessThanOrEqual(20);
  });

  test("a silence still running at the end is an outage; interval loss is per interval", () => {
    const r = new VoiceReceiver();
    feed(r, [0, 1, 2]);
    const first = r.takeInterval(ms(100));
    expect(first.received).toBe(3);
    feed(r, [10]);
    const second = r.takeInterval(ms(300));
    expect(second).toMatchObject({ received: 1, expected: 8, lost: 7 });
    // 160 ms between seq 2 and seq 10 is below the audible threshold; the 500 ms silence at the end is not.
    r.finish(ms(10 * 20 + 30 + 500));
    expect(r.outages.map((o) => Math.round(o.durationMs))).toEqual([500]);
  });
});
