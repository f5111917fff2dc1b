// Progress output: bar with bytes/rate/ETA on a TTY (throttled), one plain line per 10 % otherwise.
import { describe, expect, test } from "bun:test";
import { formatProgressBar, formatProgressLine, ProgressReporter } from "../../../ota/cli/progress.ts";

const MiB = 1024 * 1024;

describe("progress", () => {
  test("bar and line carry bytes, rate and ETA", () => {
    const sample = { done: 12 * MiB, total: 24 * MiB, elapsedMs: 1500 };
    expect(formatProgressBar("flash", sample)).toBe("flash [##########··········]  50%  12.0 MiB / 24.0 MiB  8.0 MiB/s  ETA 0:02");
    expect(formatProgressLine("flash", sample)).toBe("flash: 50% 12.0 MiB of 24.0 MiB, 8.0 MiB/s, ETA 0:02");
    expect(formatProgressLine("flash", { done: 0, total: 10, elapsedMs: 0 })).toBe("flash: 0% 0 B of 10 B, -, ETA --:--");
  });

  test("plain mode prints one line per decile; TTY mode redraws in place at most every 100 ms", () => {
    let now = 0;
    const plain: string[] = [];
    const p = new ProgressReporter({ label: "flash", total: 1000, tty: false, write: (t) => plain.push(t), now: () => now });
    for (let done = 0; done <= 1000; done += 10) {
      now += 5;
      p.update(done);
    }
    expect(plain).toHaveLength(11);
    expect(plain.every((l) => l.endsWith("\n") && !l.includes("\r"))).toBe(true);
    now = 0;
    const tty: string[] = [];
    const t = new ProgressReporter({ label: "flash", total: 1000, tty: true, write: (s) => tty.push(s), now: () => now });
    for (let done = 0; done < 1000; done += 10) {
      now += 10;
      t.update(done);
    }
    t.finish();
    expect(tty.length).toBeGreaterThan(5);
    expect(tty.length).toBeLessThan(15);
    expect(tty.slice(0, -1).every((s) => s.startsWith("\r"))).toBe(true);
    expect(tty.at(-2)).toContain("100%");
    expect(tty.at(-1)).toBe("\n");
  });
});
