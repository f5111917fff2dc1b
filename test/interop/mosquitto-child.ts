// Test helper: runs mosquitto-device-child.ts as a separate process and reads its JSON event lines.

import { join } from "node:path";

export class DeviceChild {
  readonly events: Record<string, unknown>[] = [];
  readonly #proc: ReturnType<typeof Bun.spawn>;
  #stderr = "";
  readonly exited: Promise<number>;

  constructor(configPath: string, appendCount = 0) {
    const proc = Bun.spawn(["bun", join(import.meta.dir, "mosquitto-device-child.ts"), configPath, String(appendCount)], {
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
    });
    this.#proc = proc;
    this.exited = proc.exited;
    void (async () => {
      let buffer = "";
      for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
        buffer += new TextDecoder().decode(chunk);
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          try {
            this.events.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            // not an event line
          }
        }
      }
    })();
    void (async () => {
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) this.#stderr += new TextDecoder().decode(chunk);
    })();
  }

  get pid(): number {
    return this.#proc.pid;
  }

  get output(): string {
    return `${this.events.map((e) => JSON.stringify(e)).join("\n")}\n${this.#stderr}`;
  }

  async waitFor(match: (e: Record<string, unknown>) => boolean, timeoutMs = 10_000, what = "event"): Promise<Record<string, unknown>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (performance.now() > deadline) throw new Error(`device child: timed out waiting for ${what}\n${this.output}`);
      await Bun.sleep(20);
    }
  }

  /** kill -9: no DISCONNECT, no clean offline, nothing flushed by the process. */
  async kill(): Promise<void> {
    this.#proc.kill("SIGKILL");
    await this.#proc.exited;
  }

  async terminate(): Promise<void> {
    this.#proc.kill("SIGTERM");
    await this.#proc.exited;
  }
}
