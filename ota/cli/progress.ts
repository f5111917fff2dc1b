// Progress display for long writes: a bar with bytes, rate and ETA on a terminal, plain lines otherwise.

export interface ProgressSample {
  readonly done: number;
  readonly total: number;
  readonly elapsedMs: number;
}

const MiB = 1024 * 1024;

export function formatBytes(n: number): string {
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Rate in bytes/s and ETA in seconds; both undefined until some time has passed. */
export function rateAndEta(sample: ProgressSample): { rate: number | undefined; eta: number | undefined } {
  if (sample.elapsedMs <= 0 || sample.done <= 0) return { rate: undefined, eta: undefined };
  const rate = (sample.done * 1000) / sample.elapsedMs;
  return { rate, eta: (sample.total - sample.done) / rate };
}

/** `[##########··········]  50%  12.0 MiB / 24.0 MiB  8.0 MiB/s  ETA 0:02` (fits 80 columns). */
export function formatProgressBar(label: string, sample: ProgressSample, width = 20): string {
  const fraction = sample.total > 0 ? Math.min(1, sample.done / sample.total) : 1;
  const filled = Math.round(fraction * width);
  const { rate, eta } = rateAndEta(sample);
  return `${label} [${"#".repeat(filled)}${"·".repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%  ${formatBytes(sample.done)} / ${formatBytes(sample.total)}  ${rate === undefined ? "-" : `${formatBytes(rate)}/s`}  ETA ${eta === undefined ? "--:--" : formatDuration(eta)}`;
}

/** `flash: 50% 12.0 MiB of 24.0 MiB, 8.0 MiB/s, ETA 0:02` for logs and pipes. */
export function formatProgressLine(label: string, sample: ProgressSample): string {
  const percent = sample.total > 0 ? Math.floor((Math.min(sample.done, sample.total) / sample.total) * 100) : 100;
  const { rate, eta } = rateAndEta(sample);
  return `${label}: ${percent}% ${formatBytes(sample.done)} of ${formatBytes(sample.total)}, ${rate === undefined ? "-" : `${formatBytes(rate)}/s`}, ETA ${eta === undefined ? "--:--" : formatDuration(eta)}`;
}

/**
 * Redraws a bar in place on a TTY (at most every 100 ms), or prints a line per 10 % otherwise.
 * `now` is injected so the output is testable.
 */
export class ProgressReporter {
  readonly #label: string;
  readonly #total: number;
  readonly #tty: boolean;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  readonly #started: number;
  #lastDraw = -Infinity;
  #lastDecile = -1;

  constructor(options: { label: string; total: number; tty: boolean; write: (text: string) => void; now: () => number }) {
    this.#label = options.label;
    this.#total = options.total;
    this.#tty = options.tty;
    this.#write = options.write;
    this.#now = options.now;
    this.#started = options.now();
  }

  update(done: number): void {
    const now = this.#now();
    const sample = { done, total: this.#total, elapsedMs: now - this.#started };
    if (this.#tty) {
      if (now - this.#lastDraw < 100 && done < this.#total) return;
      this.#lastDraw = now;
      this.#write(`\r${formatProgressBar(this.#label, sample)}`);
      return;
    }
    const decile = this.#total > 0 ? Math.floor((done / this.#total) * 10) : 10;
    if (decile === this.#lastDecile) return;
    this.#lastDecile = decile;
    this.#write(`${formatProgressLine(this.#label, sample)}\n`);
  }

  finish(): void {
    this.update(this.#total);
    if (this.#tty) this.#write("\n");
  }
}
