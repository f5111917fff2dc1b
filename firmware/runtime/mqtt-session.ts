// The MQTT session (MQTT.js): persistent session, birth and Will with a session counter, our own back-off, outbox drain.

import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Counters } from "../core/counters.ts";
import type { SecretBytes } from "../core/secret.ts";
import { ReconnectBackoff, type BackoffPolicy } from "../fleet/backoff.ts";
import { presencePayload, type OfflineReason } from "../fleet/messages.ts";
import type { Outbox } from "../fleet/outbox.ts";
import type { MqttConnectionState, MqttStatus } from "../fleet/telemetry.ts";
import type { FleetTopics } from "../fleet/topics.ts";

/** Outbox messages published but not yet acknowledged, at most, on one connection. */
const IN_FLIGHT_WINDOW = 16;
/** How long a graceful stop waits for the broker to acknowledge the clean `offline`. */
const OFFLINE_ACK_TIMEOUT_MS = 2000;
/** Outbox meta key of the session counter (grows on every connection attempt, survives restarts). */
const SESSION_COUNTER_KEY = "mqtt.session";

export interface MqttSessionOptions {
  readonly url: string;
  readonly clientId: string;
  readonly protocol: "5" | "3.1.1";
  readonly fallbackTo311: boolean;
  readonly username?: string;
  readonly password?: SecretBytes;
  readonly tls?: { readonly ca?: Uint8Array; readonly cert?: Uint8Array; readonly key?: SecretBytes; readonly serverName?: string };
  readonly keepaliveSeconds: number;
  readonly sessionExpirySeconds: number;
  readonly connectTimeoutMs: number;
  readonly reconnect: BackoffPolicy;
  readonly topics: FleetTopics;
  readonly outbox: Outbox;
  readonly firmware: string;
  readonly counters: Counters;
  /** Wall-clock milliseconds for the `at` field of presence messages. */
  readonly wallClock: () => number;
  readonly random?: () => number;
  readonly log: (line: string) => void;
  /** A desired-config payload arrived (QoS 1 subscription). */
  readonly onDesired: (payload: Uint8Array) => void;
  /** More topics subscribed (QoS 1) on every connection, e.g. the OTA job and chunk topics; delivered to `onMessage`. */
  readonly subscriptions?: readonly string[];
  readonly onMessage?: (topic: string, payload: Uint8Array) => void;
  /** The connection state changed (used as the `broker` health check). */
  readonly onStateChange?: (state: MqttConnectionState) => void;
}

/**
 * Whether a refused or failed CONNECT means "this broker does not speak MQTT 5": CONNACK return code 1
 * (MQTT 3.1.1 §3.2.2.3, unacceptable protocol version) or reason code 0x84 (MQTT 5 §3.2.2.2).
 */
export function isProtocolVersionRefusal(code: unknown): boolean {
  return code === 1 || code === 0x84;
}

/**
 * One device's MQTT session. Every connection uses the fixed client id with `clean: false` (and an MQTT 5
 * session expiry), so the broker keeps the QoS 1 subscription across disconnects. MQTT.js never reconnects
 * by itself here (`reconnectPeriod: 0`): each attempt is a new client after an exponential, jittered delay,
 * with a new session counter in its Will. Nothing is published from MQTT.js's own queue: the durable outbox
 * is drained in order after each CONNACK and a message is deleted only once the broker acknowledged it.
 */
export class MqttSession {
  readonly #options: MqttSessionOptions;
  readonly #backoff: ReconnectBackoff;
  #client: MqttClient | undefined;
  #state: MqttConnectionState = "stopped";
  #protocol: "5" | "3.1.1";
  #session = 0;
  #reconnects = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastError: string | undefined;
  #lastSent = 0;
  readonly #inFlight = new Set<number>();

  constructor(options: MqttSessionOptions) {
    this.#options = options;
    this.#protocol = options.protocol;
    this.#backoff = new ReconnectBackoff(options.reconnect);
  }

  get state(): MqttConnectionState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state === "connected";
  }

  get session(): number {
    return this.#session;
  }

  start(): void {
    if (this.#state !== "stopped") return;
    this.#connect();
  }

  /** New outbox messages are waiting: send them now if connected. */
  kick(): void {
    this.#drain();
  }

  /**
   * A care-of address appeared or went away: the current TCP connection may be bound to a dead source
   * address, so drop it and reconnect at once (the broker hands the persistent session over).
   */
  networkChanged(): void {
    if (this.#state === "stopped") return;
    this.#options.counters.increment("mqtt.network-change");
    this.#teardown();
    this.#backoff.reset();
    this.#connect();
  }

  /** Publishes a QoS 0 message if connected (high-rate metrics); false when it was dropped. */
  publishVolatile(topic: string, payload: Uint8Array): boolean {
    if (!this.connected || !this.#client) {
      this.#options.counters.increment("mqtt.volatile.dropped");
      return false;
    }
    this.#client.publish(topic, Buffer.from(payload), { qos: 0, retain: false });
    return true;
  }

  /**
   * Stops the session. With a reason, first publishes a retained clean `offline` (planned reboot, OTA,
   * shutdown) and waits briefly for its acknowledgement, then sends DISCONNECT so the Will is discarded.
   */
  async stop(reason?: OfflineReason): Promise<void> {
    const client = this.#client;
    const wasConnected = this.connected;
    this.#setState("stopped");
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#client = undefined;
    if (!client) return;
    if (reason && wasConnected) {
      const payload = presencePayload("offline", this.#session, { reason, at: this.#options.wallClock() });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, OFFLINE_ACK_TIMEOUT_MS);
        client.publish(this.#options.topics.presence, Buffer.from(payload), { qos: 1, retain: true }, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    } else {
      client.removeAllListeners();
      client.on("error", () => {});
      client.end(true);
    }
  }

  status(): MqttStatus {
    return {
      state: this.#state,
      protocol: this.#state === "connected" ? this.#protocol : null,
      broker: this.#options.url,
      clientId: this.#options.clientId,
      session: this.#session,
      reconnects: this.#reconnects,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
      outbox: this.#options.outbox.stats(),
    };
  }

  #setState(state: MqttConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#options.onStateChange?.(state);
  }

  #nextSessionCounter(): number {
    const outbox = this.#options.outbox;
    const next = Number(outbox.getMeta(SESSION_COUNTER_KEY) ?? "0") + 1;
    outbox.setMeta(SESSION_COUNTER_KEY, String(next));
    return next;
  }

  #clientOptions(session: number): IClientOptions {
    const o = this.#options;
    const v5 = this.#protocol === "5";
    const will = presencePayload("offline", session, { reason: "lost" });
    return {
      clientId: o.clientId,
      protocolVersion: v5 ? 5 : 4,
      clean: false,
      keepalive: o.keepaliveSeconds,
      reconnectPeriod: 0,
      connectTimeout: o.connectTimeoutMs,
      resubscribe: false,
      queueQoSZero: false,
      ...(v5 ? { properties: { sessionExpiryInterval: o.sessionExpirySeconds } } : {}),
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: Buffer.from(o.password.expose()) } : {}),
      will: { topic: o.topics.presence, payload: Buffer.from(will), qos: 1, retain: true },
      ...(o.tls?.ca ? { ca: Buffer.from(o.tls.ca) } : {}),
      ...(o.tls?.cert ? { cert: Buffer.from(o.tls.cert) } : {}),
      ...(o.tls?.key ? { key: Buffer.from(o.tls.key.expose()) } : {}),
      ...(o.tls?.serverName ? { servername: o.tls.serverName } : {}),
      rejectUnauthorized: true,
    };
  }

  #connect(): void {
    this.#timer = undefined;
    this.#session = this.#nextSessionCounter();
    this.#setState("connecting");
    this.#options.counters.increment("mqtt.connect.attempt");
    const client = mqtt.connect(this.#options.url, this.#clientOptions(this.#session));
    this.#client = client;
    client.on("connect", () => {
      if (client !== this.#client) return;
      this.#onConnected(client);
    });
    client.on("message", (topic, payload) => {
      if (client !== this.#client) return;
      if (topic !== this.#options.topics.desired) {
        if (this.#options.subscriptions?.includes(topic)) this.#options.onMessage?.(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
        return;
      }
      this.#options.counters.increment("mqtt.rx.desired");
      this.#options.onDesired(new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    });
    client.on("error", (error) => {
      if (client !== this.#client) return;
      const code = (error as { code?: unknown }).code;
      this.#lastError = error.message;
      this.#options.counters.increment("mqtt.error");
      if (this.#protocol === "5" && this.#options.fallbackTo311 && isProtocolVersionRefusal(code)) {
        this.#options.log("mqtt: broker refused MQTT 5; falling back to 3.1.1");
        this.#options.counters.increment("mqtt.fallback-311");
        this.#protocol = "3.1.1";
      }
    });
    client.on("close", () => {
      if (client !== this.#client) return;
      this.#onClosed();
    });
  }

  #onConnected(client: MqttClient): void {
    const o = this.#options;
    this.#backoff.reset();
    this.#lastError = undefined;
    this.#lastSent = 0;
    this.#inFlight.clear();
    this.#setState("connected");
    o.counters.increment("mqtt.connected");
    o.log(`mqtt: connected to ${o.url} as ${o.clientId} (MQTT ${this.#protocol}, session ${this.#session})`);
    const birth = presencePayload("online", this.#session, { firmware: o.firmware, at: o.wallClock() });
    client.publish(o.topics.presence, Buffer.from(birth), { qos: 1, retain: true });
    client.subscribe([o.topics.desired, ...(o.subscriptions ?? [])], { qos: 1 }, (error) => {
      if (error && client === this.#client) o.log(`mqtt: subscribe failed: ${error.message}`);
    });
    this.#drain();
  }

  #onClosed(): void {
    const wasConnected = this.#state === "connected";
    this.#teardown();
    this.#options.counters.increment(wasConnected ? "mqtt.disconnected" : "mqtt.connect.failed");
    if (wasConnected) this.#options.log(`mqtt: connection lost${this.#lastError ? ` (${this.#lastError})` : ""}`);
    this.#scheduleReconnect();
  }

  #teardown(): void {
    const client = this.#client;
    this.#client = undefined;
    this.#inFlight.clear();
    if (client) {
      client.removeAllListeners();
      client.on("error", () => {});
      client.end(true);
    }
  }

  #scheduleReconnect(): void {
    const delay = this.#backoff.next(this.#options.random ?? Math.random);
    this.#reconnects++;
    this.#setState("waiting");
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  /** Sends outbox messages in sequence order, at most `IN_FLIGHT_WINDOW` unacknowledged. */
  #drain(): void {
    const client = this.#client;
    if (!client || this.#state !== "connected") return;
    const outbox = this.#options.outbox;
    const room = IN_FLIGHT_WINDOW - this.#inFlight.size;
    if (room <= 0) return;
    for (const message of outbox.peek(this.#lastSent, room)) {
      this.#lastSent = message.seq;
      this.#inFlight.add(message.seq);
      client.publish(message.topic, Buffer.from(message.payload), { qos: message.qos, retain: message.retain }, (error) => {
        if (client !== this.#client) return;
        this.#inFlight.delete(message.seq);
        if (error) {
          this.#options.counters.increment("mqtt.publish.failed");
          return;
        }
        outbox.acknowledge(message.seq);
        this.#options.counters.increment("mqtt.outbox.delivered");
        this.#drain();
      });
    }
  }
}
