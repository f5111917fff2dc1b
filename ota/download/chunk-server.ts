// The fleet side of chunked transfer over MQTT: answers every device's chunk requests from the images it serves (reference back-end).

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { MqttClient } from "mqtt";
import { answerChunkRequest, decodeChunkRequest, encodeChunk, type ChunkRepr } from "../../firmware/fleet/ota-chunk.ts";

/** An image the server can read ranges of. */
export interface ChunkImage {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export function memoryImage(bytes: Uint8Array): ChunkImage {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/** An image file read with positional reads (kept open until `close`). */
export function fileImage(path: string): ChunkImage & { close(): void } {
  const fd = openSync(path, "r");
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, out, got, length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return out.subarray(0, got);
    },
    close: () => closeSync(fd),
  };
}

export interface ChunkServerStats {
  readonly requests: number;
  readonly refused: number;
  /** Image bytes sent in chunk replies. */
  readonly bytesServed: number;
}

/**
 * Subscribes to `{prefix}/+/ota/chunk/request` and answers each request on that device's `…/ota/chunk`
 * with QoS 0: a lost reply costs one request timeout on the device, and the broker never queues stale chunks
 * for an offline device. Images are registered per job id (`serve`); a request for an unknown job is answered
 * with `unknown-job`, which ends that device's download. `transform` lets tests corrupt a reply in transit.
 */
export class ChunkServer {
  readonly #client: MqttClient;
  readonly #prefix: string;
  readonly #images = new Map<string, ChunkImage>();
  readonly #listener: (topic: string, payload: Buffer) => void;
  #requests = 0;
  #refused = 0;
  #bytesServed = 0;
  transform: ((reply: ChunkRepr) => ChunkRepr) | undefined;

  private constructor(client: MqttClient, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
    this.#listener = (topic, payload) => this.#handle(topic, payload);
  }

  static async start(client: MqttClient, topicPrefix = "monami"): Promise<ChunkServer> {
    const server = new ChunkServer(client, topicPrefix);
    client.on("message", server.#listener);
    await new Promise<void>((resolve, reject) => client.subscribe(`${topicPrefix}/+/ota/chunk/request`, { qos: 0 }, (e) => (e ? reject(e) : resolve())));
    return server;
  }

  serve(jobId: string, image: ChunkImage): void {
    this.#images.set(jobId, image);
  }

  withdraw(jobId: string): void {
    this.#images.delete(jobId);
  }

  stats(): ChunkServerStats {
    return { requests: this.#requests, refused: this.#refused, bytesServed: this.#bytesServed };
  }

  stop(): void {
    this.#client.removeListener("message", this.#listener);
    this.#client.unsubscribe(`${this.#prefix}/+/ota/chunk/request`);
  }

  #handle(topic: string, payload: Buffer): void {
    const levels = topic.split("/");
    const prefixLevels = this.#prefix.split("/").length;
    if (levels.length !== prefixLevels + 4 || !topic.startsWith(`${this.#prefix}/`) || levels.slice(-3).join("/") !== "ota/chunk/request") return;
    const device = levels[prefixLevels]!;
    this.#requests++;
    const request = decodeChunkRequest(new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    if (!request.ok) {
      this.#refused++;
      return;
    }
    let reply = answerChunkRequest(request.value, this.#images.get(request.value.jobId));
    if (reply.status !== "data") this.#refused++;
    if (this.transform) reply = this.transform(reply);
    this.#bytesServed += reply.data.length;
    this.#client.publish(`${this.#prefix}/${device}/ota/chunk`, Buffer.from(encodeChunk(reply)), { qos: 0, retain: false });
  }
}
