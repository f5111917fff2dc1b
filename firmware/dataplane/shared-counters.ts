// Counters in a SharedArrayBuffer: written by the packet loop's thread, read by the main thread without messages.

/** The data plane's hot counters; the index of each name is its slot. Drop reasons stay in a `Counters` map. */
export const HOT_COUNTERS = [
  "tun.rx.packets",
  "tun.rx.bytes",
  "tun.rx.reads",
  "tun.tx.packets",
  "tun.tx.bytes",
  "tun.tx.writes",
  "esp.tx.packets",
  "esp.tx.bytes",
  "esp.rx.packets",
  "esp.rx.bytes",
  "esp.tx.errors",
  "signalling.rx.packets",
  "signalling.tx.packets",
  "loop.passes",
  "loop.polls",
  "loop.yields",
  "loop.batch.tx",
  "loop.batch.rx",
] as const;
export type HotCounterName = (typeof HOT_COUNTERS)[number];

export const HotCounter: Readonly<Record<HotCounterName, number>> = Object.fromEntries(HOT_COUNTERS.map((name, i) => [name, i])) as Record<HotCounterName, number>;

/**
 * Float64 slots (exact up to 2^53). One writer only (the loop); readers may see a value a batch old.
 * A float64 store is a single 8-octet write on x86_64 and aarch64, so a reader never sees a torn value.
 */
export class SharedCounters {
  readonly buffer: SharedArrayBuffer;
  readonly #values: Float64Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(HOT_COUNTERS.length * 8);
    if (this.buffer.byteLength < HOT_COUNTERS.length * 8) throw new RangeError("shared counter buffer too small");
    this.#values = new Float64Array(this.buffer);
  }

  add(slot: number, by: number): void {
    this.#values[slot] = this.#values[slot]! + by;
  }

  get(name: HotCounterName): number {
    return this.#values[HotCounter[name]]!;
  }

  snapshot(): Record<HotCounterName, number> {
    const out = {} as Record<HotCounterName, number>;
    HOT_COUNTERS.forEach((name, i) => (out[name] = this.#values[i]!));
    return out;
  }
}
