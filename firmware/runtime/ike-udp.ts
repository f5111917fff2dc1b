// The IKE I/O edge: UDP 500 and 4500 sockets per local address, the non-ESP marker on 4500 (RFC 3948 §2.2), timers for the sans-IO core.

import { createSocket, type Socket } from "node:dgram";
import { Counters } from "../core/counters.ts";
import { instant, type Instant } from "../core/instant.ts";
import type { Datagram, Endpoint } from "../ike/endpoint.ts";
import type { IkeEvent } from "../ike/events.ts";
import type { IkeEndpoint } from "../ike/ike-endpoint.ts";

const NON_ESP_MARKER_LENGTH = 4;

export interface IkeUdpOptions {
  readonly endpoint: IkeEndpoint;
  readonly ports: { readonly ike: number; readonly natT: number };
  /** Monotonic milliseconds (the runtime's clock). */
  readonly now: () => Instant;
  onEvent(event: IkeEvent): void;
  /** ESP-in-UDP packets that arrive on the NAT-T socket (for the ESP data plane). */
  onEsp?(packet: Uint8Array, from: Endpoint, to: Endpoint): void;
  readonly counters?: Counters;
}

/** Milliseconds since an arbitrary origin, from the process's monotonic clock. */
export function monotonicNow(): Instant {
  return instant(Math.floor(performance.now()));
}

/**
 * Owns the sockets and the timer; everything protocol-related happens in the IkeEndpoint. Call
 * `bind(address)` for every local address IKE may use (MOBIKE binds the new one before moving).
 */
export class IkeUdpEdge {
  readonly #options: IkeUdpOptions;
  readonly #sockets = new Map<string, Socket>();
  readonly counters: Counters;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: IkeUdpOptions) {
    this.#options = options;
    this.counters = options.counters ?? new Counters();
  }

  static key(e: Endpoint): string {
    return `${e.address}|${e.port}`;
  }

  /** Binds the IKE and NAT-T ports on `address`. */
  async bind(address: string): Promise<void> {
    for (const port of [this.#options.ports.ike, this.#options.ports.natT]) {
      const key = IkeUdpEdge.key({ address, port });
      if (this.#sockets.has(key)) continue;
      const socket = createSocket({ type: address.includes(":") ? "udp6" : "udp4" });
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(port, address, () => {
          socket.off("error", reject);
          resolve();
        });
      });
      socket.on("message", (msg, rinfo) => this.#receive(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), { address: rinfo.address, port: rinfo.port }, { address, port }));
      socket.on("error", () => this.counters.increment("ike.udp.socket-error"));
      this.#sockets.set(key, socket);
    }
  }

  #receive(data: Uint8Array, from: Endpoint, to: Endpoint): void {
    const now = this.#options.now();
    if (to.port === this.#options.ports.natT) {
      if (data.length === 1 && data[0] === 0xff) {
        this.counters.increment("ike.udp.keepalive-received");
        return;
      }
      if (data.length >= NON_ESP_MARKER_LENGTH && data[0] === 0 && data[1] === 0 && data[2] === 0 && data[3] === 0) {
        this.#options.endpoint.handleDatagram({ local: to, remote: from, bytes: data.subarray(NON_ESP_MARKER_LENGTH), nonEspMarker: true }, now);
      } else if (this.#options.onEsp) {
        this.#options.onEsp(data, from, to);
      } else {
        this.counters.increment("ike.udp.esp-without-data-plane");
      }
    } else {
      this.#options.endpoint.handleDatagram({ local: to, remote: from, bytes: data, nonEspMarker: false }, now);
    }
    this.pump();
  }

  /** Sends what the core queued, delivers its events and re-arms the timer. Call after any API call on the endpoint. */
  pump(): void {
    if (this.#closed) return;
    const ep = this.#options.endpoint;
    for (let d = ep.pollTransmit(); d; d = ep.pollTransmit()) this.#send(d);
    for (let e = ep.pollEvent(); e; e = ep.pollEvent()) this.#options.onEvent(e);
    // Events may have queued more work (e.g. a DELETE issued from onEvent).
    for (let d = ep.pollTransmit(); d; d = ep.pollTransmit()) this.#send(d);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const at = ep.pollTimeout();
    if (at !== undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        ep.handleTimeout(this.#options.now());
        this.pump();
      }, Math.max(0, at - this.#options.now()));
    }
  }

  #send(d: Datagram): void {
    const socket = this.#sockets.get(IkeUdpEdge.key(d.local));
    if (!socket) {
      this.counters.increment("ike.udp.no-socket");
      return;
    }
    const payload = d.nonEspMarker ? new Uint8Array(NON_ESP_MARKER_LENGTH + d.bytes.length) : d.bytes;
    if (d.nonEspMarker) payload.set(d.bytes, NON_ESP_MARKER_LENGTH);
    socket.send(payload, d.remote.port, d.remote.address, (error) => {
      if (error) this.counters.increment("ike.udp.send-error");
    });
  }

  /** Sends ESP-in-UDP from the NAT-T socket of `local` (for the data plane, RFC 3948 §2.1). */
  sendEsp(packet: Uint8Array, local: Endpoint, remote: Endpoint): boolean {
    const socket = this.#sockets.get(IkeUdpEdge.key(local));
    if (!socket) return false;
    socket.send(packet, remote.port, remote.address);
    return true;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
  }
}
