// The RFC 5555 I/O edge: UDP sockets on port 4191 ("dsmipv6") carrying whole IPv6 BU/BA packets over IPv4.

import { createSocket, type Socket } from "node:dgram";
import type { Counters } from "../core/counters.ts";
import { DSMIPV6_UDP_PORT, parseDsmipPayload } from "../wire/dsmip-udp.ts";

/** Where a datagram came from (the NAT's address and port when one is on the path). */
export interface DsmipSender {
  readonly address: string;
  readonly port: number;
}

/**
 * One IPv4 UDP socket: the home agent's on port 4191, a router uplink's on its IPv4 care-of address
 * (any port). What arrives must be exactly one IPv6 packet (`parseDsmipPayload`) or it is dropped and
 * counted; `onPacket` gets a copy with the sender.
 */
export class DsmipSocket {
  readonly #socket: Socket;
  readonly #counters: Counters;
  #closed = false;
  onPacket: (packet: Uint8Array, from: DsmipSender) => void = () => {};

  private constructor(socket: Socket, counters: Counters) {
    this.#socket = socket;
    this.#counters = counters;
    socket.on("message", (message, rinfo) => {
      const checked = parseDsmipPayload(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
      if (!checked.ok) {
        this.#counters.increment(`dsmip.drop.${checked.error.kind}`);
        this.#counters.increment("dsmip.drop");
        return;
      }
      this.#counters.increment("dsmip.rx");
      this.onPacket(Uint8Array.from(checked.value), { address: rinfo.address, port: rinfo.port });
    });
    socket.on("error", () => this.#counters.increment("dsmip.socket-error"));
  }

  /** Binds `address`:`port` (port 0: the kernel picks one). */
  static async open(address: string, port: number, counters: Counters): Promise<DsmipSocket> {
    const socket = createSocket({ type: "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, address, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    return new DsmipSocket(socket, counters);
  }

  /** Sends one IPv6 packet to `address`:`port` (default the home agent's 4191). */
  send(packet: Uint8Array, address: string, port: number = DSMIPV6_UDP_PORT): void {
    if (this.#closed) return;
    this.#socket.send(packet, port, address, (e) => this.#counters.increment(e ? "dsmip.send-error" : "dsmip.tx"));
  }

  get localPort(): number {
    return this.#socket.address().port;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
  }
}
