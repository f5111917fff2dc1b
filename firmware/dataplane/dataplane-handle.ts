// The control plane's handle on a running packet loop: in a Worker (the design) or on the main thread (for comparison).

import { SharedCounters } from "./shared-counters.ts";
import { LoopHost } from "./loop-host.ts";
import { CONTROL_PENDING, type FromLoop, type LoopSetup, type ToLoop } from "./loop-protocol.ts";
import type { BindingTableEntry } from "./binding-table.ts";
import type { IkeFromLoop, IkeToLoop } from "./ike-loop-protocol.ts";

export type LoopPlacement = "worker" | "main-thread";

export interface DataplaneReady {
  readonly tunName: string;
  readonly tunnelMtu: number;
  readonly innerMtus: readonly number[];
  readonly uplinkErrors: readonly string[];
}

/**
 * Starts, controls and stops one packet loop. Hot counters are read from shared memory (`hot()`);
 * drop counters come by message (`counters()`). Signalling packets arrive through `onSignalling`.
 */
export class DataplaneHandle {
  readonly placement: LoopPlacement;
  readonly hotCounters = new SharedCounters();
  readonly #control = new Int32Array(new SharedArrayBuffer(8));
  readonly #send: (message: ToLoop, transfer?: ArrayBuffer[]) => void;
  readonly #worker: Worker | undefined;
  readonly #pending = new Map<number, (values: Record<string, number>) => void>();
  #nextId = 1;
  #ready: { resolve: (r: DataplaneReady) => void; reject: (e: Error) => void } | undefined;
  #stopped: ((closed: number) => void) | undefined;
  /** `from`: the UDP sender of a packet that came on an RFC 5555 socket (the NAT's address and port). */
  onSignalling: (uplink: number, packet: Uint8Array, from?: { readonly address: string; readonly port: number }) => void = () => {};
  /** Reports of the loop's IKE side: SA lifetimes, ESP activity, IKE from the NAT-T sockets. */
  onIke: (report: IkeFromLoop) => void = () => {};
  /** Inner packets to the setup's `localPort` (link probes), with the uplink and outer source they came by. */
  onLocal: (uplink: number, source: string, packet: Uint8Array) => void = () => {};

  private constructor(placement: LoopPlacement) {
    this.placement = placement;
    if (placement === "worker") {
      const worker = new Worker(new URL("./loop-worker.ts", import.meta.url).href);
      worker.onmessage = (event: MessageEvent<FromLoop>) => this.#receive(event.data);
      worker.onerror = (event) => this.#ready?.reject(new Error(`packet loop worker: ${event.message}`));
      this.#worker = worker;
      this.#send = (message, transfer) => {
        worker.postMessage(message, transfer ?? []);
        Atomics.store(this.#control, CONTROL_PENDING, 1);
      };
    } else {
      const host = new LoopHost((message) => queueMicrotask(() => this.#receive(message)));
      this.#send = (message) => void host.handle(message, "cooperative");
    }
  }

  /** Starts a loop with `setup`; rejects (with everything closed) when it cannot run. */
  static async start(setup: LoopSetup, placement: LoopPlacement = "worker"): Promise<{ handle: DataplaneHandle; ready: DataplaneReady }> {
    const handle = new DataplaneHandle(placement);
    const ready = new Promise<DataplaneReady>((resolve, reject) => (handle.#ready = { resolve, reject }));
    handle.#send({ type: "start", setup, counters: handle.hotCounters.buffer, control: handle.#control.buffer as SharedArrayBuffer });
    try {
      return { handle, ready: await ready };
    } catch (e) {
      handle.#worker?.terminate();
      throw e;
    }
  }

  #receive(message: FromLoop): void {
    switch (message.type) {
      case "ready":
        this.#ready?.resolve(message);
        return;
      case "failed":
        this.#ready?.reject(new Error(message.message));
        return;
      case "signalling":
        this.onSignalling(message.uplink, message.packet, message.from);
        return;
      case "local":
        this.onLocal(message.uplink, message.source, message.packet);
        return;
      case "ike":
        this.onIke(message.report);
        return;
      case "counters":
        this.#pending.get(message.id)?.(message.values);
        this.#pending.delete(message.id);
        return;
      case "stopped":
        this.#stopped?.(message.closedDescriptors);
        return;
    }
  }

  setActiveUplink(index: number): void {
    this.#send({ type: "active-uplink", index });
  }

  setBindings(entries: readonly BindingTableEntry[]): void {
    this.#send({ type: "bindings", entries });
  }

  /** The multi-CoA design's directive (firmware/multicoa/mode.ts). */
  setSteering(message: Omit<Extract<ToLoop, { type: "steering" }>, "type">): void {
    this.#send({ type: "steering", ...message });
  }

  sendSignalling(uplink: number, destination: string, packet: Uint8Array): void {
    this.#send({ type: "send-signalling", uplink, destination, packet });
  }

  /** RFC 5555 §4.1: a whole IPv6 BU/BA in UDP from `uplink`'s socket to `destination` (IPv4) and `port`. */
  sendSignallingUdp(uplink: number, destination: string, port: number, packet: Uint8Array): void {
    this.#send({ type: "send-signalling-udp", uplink, destination, port, packet });
  }

  /** Seals an inner packet on `uplink`, towards `destination` when given (see `ForwardingPath.sealLocal`). */
  sendLocal(uplink: number, packet: Uint8Array, destination?: string): void {
    this.#send({ type: "send-local", uplink, packet, ...(destination === undefined ? {} : { destination }) });
  }

  /** An IKE command for the loop; `transfer` moves key buffers into the loop's thread (see ike-loop-protocol.ts). */
  ike(command: IkeToLoop, transfer?: ArrayBuffer[]): void {
    this.#send({ type: "ike", command }, transfer);
  }

  /** Every counter: the shared hot ones and the loop's drop counters. */
  counters(): Promise<Record<string, number>> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#send({ type: "counters", id });
    });
  }

  /** Stops the loop; resolves to the number of descriptors it closed. */
  async stop(): Promise<number> {
    const stopped = new Promise<number>((resolve) => (this.#stopped = resolve));
    this.#send({ type: "stop" });
    const closed = await stopped;
    this.#worker?.terminate();
    return closed;
  }
}
