// Key zeroisation: overwrite key copies and scratch buffers that held secrets.

/** Overwrites every given buffer with zeros. Use on each private copy of key material before dropping it. */
export function zeroize(...buffers: (Uint8Array | null | undefined)[]): void {
  for (const buffer of buffers) buffer?.fill(0);
}
