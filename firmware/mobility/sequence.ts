// Binding Update sequence numbers: 16-bit serial arithmetic (RFC 6275 §9.5.1, RFC 1982 style).

/** A Binding Update Sequence # (0..65535). */
export type SequenceNumber = number;

export const SEQUENCE_MODULUS = 0x1_0000;
const HALF = 0x8000;

/** The number after `n`, wrapping 65535 to 0. */
export function nextSequence(n: SequenceNumber): SequenceNumber {
  return (n + 1) & 0xffff;
}

/**
 * Whether `a` comes after `b` modulo 2^16 (RFC 6275 §9.5.1: "less than" over a window of 2^15).
 * Exactly half the space apart is neither before nor after, so it is rejected both ways.
 */
export function sequenceAfter(a: SequenceNumber, b: SequenceNumber): boolean {
  const distance = (a - b) & 0xffff;
  return distance !== 0 && distance < HALF;
}

/** Throws RangeError unless `n` is a 16-bit integer (a programmer error at an API boundary). */
export function assertSequence(n: number): SequenceNumber {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`sequence number ${n} is not 16-bit`);
  return n;
}
