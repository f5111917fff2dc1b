#!/usr/bin/env bun
// The lab's userspace link emulator: runs in the `net` namespace, reads each access link's packets from its
// per-direction TUN devices, applies the link's PathModel and writes them back into the same TUN when due.
//
// usage: bun board/lab/link-emulator.ts --config <file.json>
// Control: JSON lines on stdin (see emulator-protocol.ts), replies and events as JSON lines on stdout.
// The loop is single-threaded and never blocks except in poll(2): TUN fds and stdin are non-blocking,
// packet buffers are preallocated, and release times sit in a min-heap. It exits when stdin closes.

import { parseArgs } from "node:util";
import { Counters } from "../../firmware/core/counters.ts";
import { type Instant, instant } from "../../firmware/core/instant.ts";
import {
  type Fd,
  formatSysError,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  PollSet,
  read,
  setNonBlocking,
  write,
} from "../linux/ffi/libc.ts";
import { TunDevice } from "../linux/tun.ts";
import {
  type EmulatorConfig,
  type EmulatorCounters,
  type EmulatorReply,
  type EmulatorRequest,
  parseEmulatorConfig,
  parseEmulatorRequest,
} from "./emulator-protocol.ts";
import { PacketPool } from "./packet-pool.ts";
import { PathModel } from "./path-model.ts";
import { ReleaseQueue } from "./release-queue.ts";
import { seededRandom } from "./seeded-random.ts";

const STDIN = 0 as Fd;
const STDOUT = 1 as Fd;
/** Packets read from one TUN per wakeup before due packets are released again. */
const READ_BATCH = 64;
/** Longest sleep when nothing is scheduled; only bounds how late a closed stdin is noticed. */
const IDLE_POLL_MS = 1000;

type Direction = "uplink" | "downlink";

/** One direction of one link: a TUN queue, its model, and its counter names (built once). */
class Pipe {
  readonly names: {
    rxPackets: string;
    rxBytes: string;
    txPackets: string;
    txBytes: string;
    dropCut: string;
    dropQueue: string;
    dropLoss: string;
    dropPool: string;
    reordered: string;
    writeErrors: string;
    readErrors: string;
  };
  pollIndex = -1;
  /** Position in the emulator's pipe list, recorded per queued slot. */
  index = -1;

  constructor(
    readonly link: string,
    readonly direction: Direction,
    readonly tun: TunDevice,
    readonly model: PathModel,
  ) {
    const p = `${link}.${direction}.`;
    this.names = {
      rxPackets: `${p}rx.packets`,
      rxBytes: `${p}rx.bytes`,
      txPackets: `${p}tx.packets`,
      txBytes: `${p}tx.bytes`,
      dropCut: `${p}drop.cut`,
      dropQueue: `${p}drop.queue`,
      dropLoss: `${p}drop.loss`,
      dropPool: `${p}drop.pool`,
      reordered: `${p}reordered`,
      writeErrors: `${p}error.write`,
      readErrors: `${p}error.read`,
    };
  }
}

class Emulator {
  readonly #counters = new Counters();
  readonly #pipes: Pipe[] = [];
  readonly #pool: PacketPool;
  readonly #queue: ReleaseQueue;
  /** Which pipe each queued slot belongs to. */
  readonly #slotPipe: Int32Array;
  readonly #scratch: Uint8Array;
  readonly #poll: PollSet;
  readonly #stdinIndex: number;
  readonly #stdinBuffer = new Uint8Array(64 * 1024);
  readonly #decoder = new TextDecoder();
  #stdinText = "";
  #running = true;
  readonly #startedAt = performance.now();

  constructor(config: EmulatorConfig) {
    this.#pool = new PacketPool(config.slots, config.slotBytes);
    this.#queue = new ReleaseQueue(config.slots);
    this.#slotPipe = new Int32Array(config.slots);
    this.#scratch = new Uint8Array(config.slotBytes);
    const random = seededRandom(config.seed);
    for (const link of config.links) {
      for (const direction of ["uplink", "downlink"] as const) {
        const name = direction === "uplink" ? link.uplinkTun : link.downlinkTun;
        const tun = TunDevice.open(name, { nonBlocking: true });
        if (!tun.ok) throw new Error(`cannot open TUN ${name}: ${formatSysError(tun.error)}`);
        this.#pipes.push(new Pipe(link.name, direction, tun.value, new PathModel(link.profile[direction], random)));
      }
    }
    this.#poll = new PollSet(this.#pipes.length + 1);
    for (const [index, pipe] of this.#pipes.entries()) {
      pipe.index = index;
      pipe.pollIndex = this.#poll.add(pipe.tun.fd, POLLIN);
    }
    const nb = setNonBlocking(STDIN);
    if (!nb.ok) throw new Error(`stdin: ${formatSysError(nb.error)}`);
    this.#stdinIndex = this.#poll.add(STDIN, POLLIN);
  }

  run(): void {
    this.#emit({ event: "ready", pid: process.pid });
    while (this.#running) {
      const next = this.#queue.peekAt();
      const now = performance.now();
      const timeout = next === undefined ? IDLE_POLL_MS : Math.max(0, next - now);
      const polled = this.#poll.poll(timeout);
      if (!polled.ok && polled.error.code !== "EINTR") throw new Error(formatSysError(polled.error));
      if (polled.ok && polled.value > 0) {
        for (const pipe of this.#pipes) {
          if (this.#poll.revents(pipe.pollIndex) & POLLIN) this.#receive(pipe, instant(performance.now()));
        }
        const stdin = this.#poll.revents(this.#stdinIndex);
        if (stdin & POLLIN) this.#readControl();
        else if (stdin & (POLLHUP | POLLERR | POLLNVAL)) this.#running = false;
      }
      this.#release(performance.now());
    }
    for (const pipe of this.#pipes) pipe.tun.close();
  }

  #receive(pipe: Pipe, now: Instant): void {
    const c = this.#counters;
    const n = pipe.names;
    for (let i = 0; i < READ_BATCH; i++) {
      const slot = this.#pool.take();
      const into = slot < 0 ? this.#scratch : this.#pool.buffer(slot);
      const r = pipe.tun.read(into);
      if (!r.ok) {
        if (slot >= 0) this.#pool.free(slot);
        if (r.error.code !== "EAGAIN" && r.error.code !== "EINTR") c.increment(n.readErrors);
        return;
      }
      const length = r.value;
      c.increment(n.rxPackets);
      c.increment(n.rxBytes, length);
      if (slot < 0) {
        c.increment(n.dropPool);
        continue;
      }
      const verdict = pipe.model.admit(now, length);
      if (verdict.kind === "drop") {
        this.#pool.free(slot);
        c.increment(verdict.reason === "cut" ? n.dropCut : verdict.reason === "queue" ? n.dropQueue : n.dropLoss);
        continue;
      }
      if (verdict.reordered) c.increment(n.reordered);
      this.#pool.setLength(slot, length);
      this.#slotPipe[slot] = pipe.index;
      this.#queue.push(slot, verdict.at);
    }
  }

  #release(now: number): void {
    const c = this.#counters;
    for (;;) {
      const at = this.#queue.peekAt();
      if (at === undefined || at > now) return;
      const slot = this.#queue.pop();
      const pipe = this.#pipes[this.#slotPipe[slot]!]!;
      const packet = this.#pool.packet(slot);
      const w = pipe.tun.write(packet);
      if (w.ok) {
        c.increment(pipe.names.txPackets);
        c.increment(pipe.names.txBytes, packet.length);
      } else {
        c.increment(pipe.names.writeErrors);
      }
      this.#pool.free(slot);
    }
  }

  #readControl(): void {
    for (;;) {
      const r = read(STDIN, this.#stdinBuffer);
      if (!r.ok) {
        if (r.error.code !== "EAGAIN" && r.error.code !== "EINTR") this.#running = false;
        break;
      }
      if (r.value === 0) {
        this.#running = false;
        break;
      }
      this.#stdinText += this.#decoder.decode(this.#stdinBuffer.subarray(0, r.value), { stream: true });
    }
    let newline = this.#stdinText.indexOf("\n");
    while (newline >= 0) {
      const line = this.#stdinText.slice(0, newline).trim();
      this.#stdinText = this.#stdinText.slice(newline + 1);
      if (line !== "") this.#handle(line);
      newline = this.#stdinText.indexOf("\n");
    }
  }

  #handle(line: string): void {
    const parsed = parseEmulatorRequest(line);
    if (!parsed.ok) {
      this.#counters.increment("control.bad-request");
      this.#emit({ event: "error", error: parsed.error });
      return;
    }
    this.#emit(this.#apply(parsed.value));
  }

  #apply(request: EmulatorRequest): EmulatorReply {
    switch (request.op) {
      case "counters":
        return { id: request.id, ok: true, counters: this.#snapshot() };
      case "quit":
        this.#running = false;
        return { id: request.id, ok: true };
      case "set-profile":
      case "cut":
      case "restore": {
        const pipes = this.#pipes.filter((p) => p.link === request.link);
        if (pipes.length === 0) return { id: request.id, ok: false, error: `unknown link ${request.link}` };
        for (const pipe of pipes) {
          if (request.op === "set-profile") pipe.model.setProfile(request.profile[pipe.direction]);
          else pipe.model.setCut(request.op === "cut");
        }
        return { id: request.id, ok: true };
      }
    }
  }

  #snapshot(): EmulatorCounters {
    const cpu = process.cpuUsage();
    return {
      counters: this.#counters.snapshot(),
      cpuUserMicros: cpu.user,
      cpuSystemMicros: cpu.system,
      uptimeMs: Math.round(performance.now() - this.#startedAt),
    };
  }

  #emit(message: object): void {
    const bytes = new TextEncoder().encode(`${JSON.stringify(message)}\n`);
    let offset = 0;
    while (offset < bytes.length) {
      const w = write(STDOUT, bytes.subarray(offset));
      if (!w.ok) {
        if (w.error.code === "EAGAIN" || w.error.code === "EINTR") continue;
        this.#running = false;
        return;
      }
      offset += w.value;
    }
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: "string" }, help: { type: "boolean" } } });
  if (values.help || values.config === undefined) {
    console.error("usage: bun board/lab/link-emulator.ts --config <file.json>");
    return values.help ? 0 : 2;
  }
  const config = parseEmulatorConfig(await Bun.file(values.config).json());
  if (!config.ok) {
    console.error(`link-emulator: bad config: ${config.error}`);
    return 2;
  }
  new Emulator(config.value).run();
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`link-emulator: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
