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

/** Per-uplink slots after the named ones: authenticated packets received and packets sent, for this many uplinks. */
export const MAX_UPLINK_SLOTS = 8;
const UPLINK_KINDS = { rx: 0, tx: 1 } as const;
const SLOT_COUNT = HOT_COUNTERS.length + MAX_UPLINK_SLOTS * 2;

/**
 * Float64 slots (exact up to 2^53). One writer only (the loop); readers may see a value a batch old.
 * A float64 store is a single 8-octet write on x86_64 and aarch64, so a reader never sees a torn value.
 */
export class SharedCounters {
  readonly buffer: SharedArrayBuffer;
  readonly #values: Float64Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(SLOT_COUNT * 8);
    if (this.buffer.byteLength < SLOT_COUNT * 8) throw new RangeError("shared counter buffer too small");
    this.#values = new Float64Array(this.buffer);
  }

  add(slot: number, by: number): void {
    this.#values[slot] = this.#values[slot]! + by;
  }

  /** Per uplink: `rx` = packets that passed ESP and the care-of check, `tx` = packets the kernel took. Uplinks past MAX_UPLINK_SLOTS are not counted. */
  addUplink(uplink: number, kind: keyof typeof UPLINK_KINDS, by: number): void {
    if (by === 0 || uplink >= MAX_UPLINK_SLOTS) return;
    const slot = HOT_COUNTERS.length + uplink * 2 + UPLINK_KINDS[kind];
    this.#values[slot] = this.#values[slot]! + by;
  }

  uplink(uplink: number, kind: keyof typeof UPLINK_KINDS): number {
    return uplink >= MAX_UPLINK_SLOTS ? 0 : this.#values[HOT_COUNTERS.length + uplink * 2 + UPLINK_KINDS[kind]]!;
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
