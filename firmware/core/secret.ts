// SecretBytes: key material that redacts itself in logs and JSON and can be wiped.

const REDACTED = "[redacted]";

/**
 * Wraps key bytes. `toString`, `toJSON` and Bun's/Node's inspect print `[redacted]`;
 * only `expose()` gives the bytes, and `wipe()` zeroes them (after which `expose()` throws).
 */
export class SecretBytes {
  #bytes: Uint8Array;
  #wiped = false;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  static fromHex(hex: string): SecretBytes {
    const clean = hex.replace(/^0x/i, "");
    if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new TypeError("secret: not a hex string");
    return new SecretBytes(Uint8Array.from(Buffer.from(clean, "hex")));
  }

  get length(): number {
    return this.#bytes.length;
  }

  get wiped(): boolean {
    return this.#wiped;
  }

  expose(): Uint8Array {
    if (this.#wiped) throw new Error("secret used after wipe");
    return this.#bytes;
  }

  wipe(): void {
    this.#bytes.fill(0);
    this.#wiped = true;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return REDACTED;
  }
}
