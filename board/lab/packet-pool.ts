// Preallocated packet buffers for the link emulator: fixed-size slots in one ArrayBuffer, a free stack.

/** `slots` buffers of `slotBytes` each; `take` and `free` are O(1) and allocate nothing. */
export class PacketPool {
  readonly #memory: Uint8Array;
  readonly #views: Uint8Array[];
  readonly #free: Int32Array;
  readonly #length: Int32Array;
  #freeCount: number;

  constructor(
    readonly slots: number,
    readonly slotBytes: number,
  ) {
    this.#memory = new Uint8Array(slots * slotBytes);
    this.#views = Array.from({ length: slots }, (_, i) => this.#memory.subarray(i * slotBytes, (i + 1) * slotBytes));
    this.#free = new Int32Array(slots);
    this.#length = new Int32Array(slots);
    for (let i = 0; i < slots; i++) this.#free[i] = slots - 1 - i;
    this.#freeCount = slots;
  }

  get available(): number {
    return this.#freeCount;
  }

  /** A free slot number, or -1 when every slot is in use. */
  take(): number {
    return this.#freeCount === 0 ? -1 : this.#free[--this.#freeCount]!;
  }

  free(slot: number): void {
    this.#free[this.#freeCount++] = slot;
  }

  /** The whole slot buffer, to read a packet into. */
  buffer(slot: number): Uint8Array {
    return this.#views[slot]!;
  }

  setLength(slot: number, length: number): void {
    this.#length[slot] = length;
  }

  /** The packet stored in the slot (its recorded length). */
  packet(slot: number): Uint8Array {
    return this.#views[slot]!.subarray(0, this.#length[slot]!);
  }
}
