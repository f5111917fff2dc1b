// The emulator's timer queue: a binary min-heap of packet slots ordered by release time, then arrival.

/**
 * Holds up to `capacity` slot numbers (0 ≤ slot < capacity), each at most once, keyed by release
 * time; ties leave in push order. Allocation-free after construction.
 */
export class ReleaseQueue {
  readonly #heap: Int32Array;
  readonly #at: Float64Array;
  readonly #order: Float64Array;
  #size = 0;
  #pushes = 0;

  constructor(readonly capacity: number) {
    this.#heap = new Int32Array(capacity);
    this.#at = new Float64Array(capacity);
    this.#order = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(slot: number, at: number): void {
    if (this.#size === this.capacity) throw new RangeError("ReleaseQueue is full");
    if (slot < 0 || slot >= this.capacity) throw new RangeError(`slot ${slot} out of range`);
    this.#at[slot] = at;
    this.#order[slot] = this.#pushes++;
    let i = this.#size++;
    const heap = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!this.#before(slot, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = slot;
  }

  /** Release time of the earliest slot, or undefined when empty. */
  peekAt(): number | undefined {
    return this.#size === 0 ? undefined : this.#at[this.#heap[0]!];
  }

  /** Removes and returns the earliest slot; -1 when empty. */
  pop(): number {
    if (this.#size === 0) return -1;
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap[--this.#size]!;
    let i = 0;
    const n = this.#size;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.#before(heap[right]!, heap[left]!) ? right : left;
      if (!this.#before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    if (n > 0) heap[i] = last;
    return top;
  }

  #before(a: number, b: number): boolean {
    const ta = this.#at[a]!;
    const tb = this.#at[b]!;
    return ta < tb || (ta === tb && this.#order[a]! < this.#order[b]!);
  }
}
