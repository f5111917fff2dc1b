// Constant-time comparison of MACs and tags (time depends only on the length, never on the bytes).

/**
 * Whether `a[aAt, aAt+length)` equals `b[bAt, bAt+length)`. Every byte is visited whatever
 * differs, so the running time leaks nothing about where a forged tag first goes wrong.
 * Out-of-range regions compare unequal.
 */
export function constantTimeEqual(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, length: number): boolean {
  if (aAt < 0 || bAt < 0 || length < 0 || aAt + length > a.length || bAt + length > b.length) return false;
  let diff = 0;
  for (let i = 0; i < length; i++) diff |= a[aAt + i]! ^ b[bAt + i]!;
  return diff === 0;
}
