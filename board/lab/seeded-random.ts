// A small seeded pseudo-random source (sfc32) so that emulated loss, jitter and reordering replay exactly in tests.

/** Uniform numbers in [0, 1). The emulator and its tests inject one; nothing here reads global randomness. */
export interface RandomSource {
  next(): number;
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counter), seeded from one 32-bit integer. Not for cryptography. */
export function seededRandom(seed: number): RandomSource {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const step = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) step();
  return { next: () => step() / 4294967296 };
}
