// The lab's side of the link emulator's control channel: requests as JSON lines on its stdin, replies by id.

import type { Subprocess } from "bun";
import type { EmulatorCommand, EmulatorCounters, EmulatorReply } from "./emulator-protocol.ts";

type Pending = { resolve: (reply: EmulatorReply) => void; reject: (error: Error) => void };

/** Talks to one running emulator process. Requests fail (never hang) if it exits or does not answer in time. */
export class EmulatorClient {
  readonly #process: Subprocess<"pipe", "pipe", "inherit" | "pipe">;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: string | undefined;
  #ready: Promise<number>;
  readonly #log: (line: string) => void;

  constructor(process: Subprocess<"pipe", "pipe", "inherit" | "pipe">, log: (line: string) => void) {
    this.#process = process;
    this.#log = log;
    let onReady!: (pid: number) => void;
    let onFail!: (error: Error) => void;
    this.#ready = new Promise<number>((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    void this.#readLines(onReady, onFail);
  }

  /** Resolves with the emulator's pid once it opened its TUN devices. */
  ready(timeoutMs = 10_000): Promise<number> {
    return withTimeout(this.#ready, timeoutMs, "link emulator did not report ready");
  }

  async request(command: EmulatorCommand, timeoutMs = 5000): Promise<EmulatorReply> {
    if (this.#closed !== undefined) throw new Error(`link emulator is gone: ${this.#closed}`);
    const id = this.#nextId++;
    const reply = new Promise<EmulatorReply>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#process.stdin.write(`${JSON.stringify({ ...command, id })}\n`);
    this.#process.stdin.flush();
    try {
      return await withTimeout(reply, timeoutMs, `link emulator did not answer ${command.op}`);
    } finally {
      this.#pending.delete(id);
    }
  }

  /** Sends a command and throws unless the emulator accepted it. */
  async command(command: EmulatorCommand): Promise<void> {
    const reply = await this.request(command);
    if (!reply.ok) throw new Error(`link emulator refused ${command.op}: ${reply.error}`);
  }

  async counters(): Promise<EmulatorCounters> {
    const reply = await this.request({ op: "counters" });
    if (!reply.ok || reply.counters === undefined) throw new Error("link emulator gave no counters");
    return reply.counters;
  }

  async #readLines(onReady: (pid: number) => void, onFail: (error: Error) => void): Promise<void> {
    const decoder = new TextDecoder();
    let text = "";
    try {
      for await (const chunk of this.#process.stdout) {
        text += decoder.decode(chunk, { stream: true });
        let newline = text.indexOf("\n");
        while (newline >= 0) {
          this.#dispatch(text.slice(0, newline), onReady);
          text = text.slice(newline + 1);
          newline = text.indexOf("\n");
        }
      }
    } catch (error) {
      this.#log(`link emulator output: ${String(error)}`);
    }
    const code = await this.#process.exited;
    this.#closed = `exited with ${code}`;
    const error = new Error(`link emulator ${this.#closed}`);
    onFail(error);
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  #dispatch(line: string, onReady: (pid: number) => void): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.#log(`link emulator: ${line}`);
      return;
    }
    if (typeof message !== "object" || message === null) return;
    const m = message as Record<string, unknown>;
    if (m.event === "ready" && typeof m.pid === "number") onReady(m.pid);
    else if (m.event === "error") this.#log(`link emulator error: ${String(m.error)}`);
    else if (typeof m.id === "number") this.#pending.get(m.id)?.resolve(m as unknown as EmulatorReply);
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
