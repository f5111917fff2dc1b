// The anti-replay window (RFC 4303 §3.4.3, Appendix A2) as an RFC 6479 ring of 32-bit blocks.

import { REPLAY_WINDOW_MAX, REPLAY_WINDOW_MIN } from "./constants.ts";

export type ReplayVerdict = "fresh" | "duplicate" | "too-old";

const TWO_32 = 0x1_0000_0000;

/**
 * Tracks the highest authenticated sequence number ("top") and which of the `size` numbers at
 * and below it have been seen. Sequence numbers are 64-bit, given as (high, low) 32-bit halves;
 * with 32-bit sequence numbers `high` is always 0.
 *
 * The bitmap is a ring of 2^k blocks of 32 bits with at least one block more than the window
 * (RFC 6479 §2): advancing clears whole blocks instead of shifting bits, so `check` and `update`
 * cost O(1) except for clearing the blocks skipped over. Per RFC 4303 §3.4.3 call `check` before
 * the ICV verification and `update` only after it succeeds.
 */
export class ReplayWindow {
  readonly size: number;
  readonly #bitmap: Uint32Array;
  readonly #blockMask: number;
  #topHigh = 0;
  #topLow = 0;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < REPLAY_WINDOW_MIN || size > REPLAY_WINDOW_MAX) {
      throw new RangeError(`replay window ${size} outside ${REPLAY_WINDOW_MIN}..${REPLAY_WINDOW_MAX}`);
    }
    this.size = size;
    let blocks = 1;
    while (blocks < Math.ceil(size / 32) + 1) blocks <<= 1;
    this.#bitmap = new Uint32Array(blocks);
    this.#blockMask = blocks - 1;
  }

  get topHigh(): number {
    return this.#topHigh;
  }
  get topLow(): number {
    return this.#topLow;
  }

  /**
   * RFC 4303 Appendix A2.2: the high-order 32 bits for a received low half, relative to the
   * window. Returns −1 when the number would lie below sequence number 0 (it can only be a replay
   * or garbage), or 2^32 when it would overflow 64 bits.
   */
  inferHigh(low: number): number {
    const top = this.#topLow;
    const w = this.size;
    if (top >= w - 1) {
      // Case A: the window lies within one 2^32 subspace.
      return low >= top - w + 1 ? this.#topHigh : this.#topHigh + 1;
    }
    // Case B: the window spans two subspaces.
    return low >= ((top - w + 1) >>> 0) ? this.#topHigh - 1 : this.#topHigh;
  }

  /** Whether (high, low) may be accepted. Sequence number 0 is never sent (RFC 4303 §3.3.3). */
  check(high: number, low: number): ReplayVerdict {
    if (high < 0 || high >= TWO_32 || (high === 0 && low === 0)) return "too-old";
    const behind = (this.#topHigh - high) * TWO_32 + (this.#topLow - low);
    if (behind < 0) return "fresh";
    if (behind >= this.size) return "too-old";
    const block = (low >>> 5) & this.#blockMask;
    return (this.#bitmap[block]! >>> (low & 31)) & 1 ? "duplicate" : "fresh";
  }

  /** Marks (high, low) as received, moving the top when it is newer. Call only after `check` said fresh and the ICV verified. */
  update(high: number, low: number): void {
    const topHigh = this.#topHigh;
    const topLow = this.#topLow;
    const ahead = (high - topHigh) * TWO_32 + (low - topLow);
    if (ahead > 0) {
      // Blocks between the old top's block and the new one are reused for new numbers: clear them.
      const blocksAhead = (high - topHigh) * (TWO_32 / 32) + ((low >>> 5) - (topLow >>> 5));
      const bitmap = this.#bitmap;
      if (blocksAhead >= bitmap.length) {
        bitmap.fill(0);
      } else {
        let block = topLow >>> 5;
        for (let i = 0; i < blocksAhead; i++) {
          block = (block + 1) & this.#blockMask;
          bitmap[block] = 0;
        }
      }
      this.#topHigh = high;
      this.#topLow = low;
    }
    const block = (low >>> 5) & this.#blockMask;
    this.#bitmap[block] = this.#bitmap[block]! | (1 << (low & 31));
  }
}
