// Range checks for emitters: a repr field out of range is a programmer error (RangeError), never bad wire input.

/** Throws RangeError unless `value` is an integer in 0..max. */
export function checkUnsigned(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${what} ${value} outside 0..${max}`);
}
