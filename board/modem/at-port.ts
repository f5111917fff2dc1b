// AT command transport: reply framing (final result codes, 27.007 §5.x / V.250) and a serial-port implementation.

import { createReadStream, createWriteStream, type ReadStream, type WriteStream } from "node:fs";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { CommandRunner, LinkMetricsError } from "../api/link-metrics.ts";

/** Sends one command line and resolves to the full reply text (up to and including the final result code). */
export interface AtPort {
  transact(command: string, timeoutMs: number): Promise<Result<string, LinkMetricsError>>;
}

/** V.250 final result codes that end a reply (the `+CME ERROR: n` / `+CMS ERROR: n` forms included). */
const FINAL = /^(OK|ERROR|NO CARRIER|\+CME ERROR:.*|\+CMS ERROR:.*)$/;

/**
 * Collects bytes from a modem's AT channel and cuts them into replies at final result codes.
 * Unsolicited lines that arrive between replies are kept in the next reply; parsers look for their prefix.
 */
export class AtReplyAssembler {
  #buffer = "";
  #lines: string[] = [];
  readonly #replies: string[] = [];

  /** Feeds received text; complete replies become available from `pollReply`. */
  push(chunk: string): void {
    this.#buffer += chunk;
    for (;;) {
      const end = this.#buffer.search(/\r\n|\r|\n/);
      if (end < 0) break;
      const line = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + (this.#buffer.startsWith("\r\n", end) ? 2 : 1));
      if (line.trim() === "") continue;
      this.#lines.push(line);
      if (FINAL.test(line.trim())) {
        this.#replies.push(this.#lines.join("\n"));
        this.#lines = [];
      }
    }
    // A runaway line without terminator (noise on the line) must not grow without bound.
    if (this.#buffer.length > 4096) this.#buffer = this.#buffer.slice(-1024);
  }

  pollReply(): string | undefined {
    return this.#replies.shift();
  }

  /** Drops everything pending (before a new command, so a late reply is not taken for the next one). */
  clear(): void {
    this.#buffer = "";
    this.#lines = [];
    this.#replies.length = 0;
  }
}

/**
 * An AT channel on a tty (`/dev/ttyUSB2`, `/dev/ttyACM0`). `open` puts the line in raw mode without
 * echo through `stty`; commands are serialised (one in flight).
 */
export class SerialAtPort implements AtPort {
  readonly #device: string;
  readonly #assembler = new AtReplyAssembler();
  #reader: ReadStream | undefined;
  #writer: WriteStream | undefined;
  #waiter: (() => void) | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(device: string) {
    this.#device = device;
  }

  static async open(device: string, runner: CommandRunner, baud = 115200): Promise<Result<SerialAtPort, LinkMetricsError>> {
    const stty = await runner.run(["stty", "-F", device, String(baud), "raw", "-echo", "-hupcl"], 3000);
    if (stty.exitCode !== 0) return err({ source: "at-port", kind: "io", line: 0, detail: `stty ${device}: ${stty.stderr.trim().slice(0, 120)}` });
    const port = new SerialAtPort(device);
    try {
      port.#reader = createReadStream(device, { encoding: "latin1", highWaterMark: 256 });
      port.#writer = createWriteStream(device, { flags: "r+" });
    } catch (e) {
      return err({ source: "at-port", kind: "io", line: 0, detail: `${device}: ${e instanceof Error ? e.message : String(e)}` });
    }
    port.#reader.on("data", (chunk) => {
      port.#assembler.push(String(chunk));
      port.#waiter?.();
    });
    port.#reader.on("error", () => port.#waiter?.());
    return ok(port);
  }

  transact(command: string, timeoutMs: number): Promise<Result<string, LinkMetricsError>> {
    const run = this.#queue.then(() => this.#transactNow(command, timeoutMs));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #transactNow(command: string, timeoutMs: number): Promise<Result<string, LinkMetricsError>> {
    this.#assembler.clear();
    this.#writer!.write(`${command}\r`);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const reply = this.#assembler.pollReply();
      if (reply !== undefined) return ok(reply);
      const left = deadline - performance.now();
      if (left <= 0) return err({ source: "at-port", kind: "timeout", line: 0, detail: `${this.#device}: no final result code for ${command}` });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }

  close(): void {
    this.#reader?.destroy();
    this.#writer?.destroy();
  }
}
