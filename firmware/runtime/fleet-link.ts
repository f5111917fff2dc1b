// The device's fleet link: stored config, MQTT session, durable outbox, telemetry timers and the config transaction.

import { readFileSync } from "node:fs";
import { Counters } from "../core/counters.ts";
import { instant, type Instant } from "../core/instant.ts";
import { err, ok, type Result } from "../core/result.ts";
import { commitStoredConfig, configStorePaths, loadStoredConfig, type ConfigStorePaths } from "../config/store.ts";
import type { DeviceConfig, HealthCheckName } from "../config/schema.ts";
import { resolveSecret } from "../config/secrets.ts";
import { formatIssue } from "../config/validate.ts";
import { ConfigTransaction, type TransactionAction } from "../fleet/config-transaction.ts";
import { eventPayload, metricsPayload, reportedPayload, resultPayload, telemetryPayload, type EventType, type OfflineReason, type Stamp } from "../fleet/messages.ts";
import type { Outbox, Qos } from "../fleet/outbox.ts";
import type { ShadowRecord } from "../fleet/shadow.ts";
import { selectTelemetry, type DeviceSnapshot, type StatusDocument } from "../fleet/telemetry.ts";
import { fleetTopics, type FleetTopics } from "../fleet/topics.ts";
import { MqttSession, type MqttSessionOptions } from "./mqtt-session.ts";
import { SqliteOutbox } from "./outbox-sqlite.ts";

const SHADOW_KEY = "shadow";
const RUNNING_VERSION_KEY = "config.version";
/** How often the home-agent and bindings checks are sampled while a candidate config is watched. */
const HEALTH_SAMPLE_MS = 500;

export interface FleetLinkOptions {
  /** The stored config file (its last-known-good copy sits beside it). */
  readonly configPath: string;
  readonly firmware: string;
  /** What the roles know now (links, bindings, SAs, decisions, system health). */
  readonly snapshot: () => DeviceSnapshot;
  /** Health checks other than the broker, sampled during a config watch. */
  readonly health?: Partial<Record<Exclude<HealthCheckName, "broker">, () => boolean>>;
  /** Reconfigures the other subsystems; an error rolls the candidate back at once. */
  readonly applyConfig?: (config: DeviceConfig) => Promise<Result<void, string>>;
  /** More topics to subscribe to (from this link's topics), delivered to `onMessage`: the OTA agent's job and chunks. */
  readonly subscriptions?: (topics: FleetTopics) => readonly string[];
  readonly onMessage?: (topic: string, payload: Uint8Array) => void;
  readonly log?: (line: string) => void;
  readonly env?: Record<string, string | undefined>;
  readonly monotonic?: () => Instant;
  readonly wallClock?: () => number;
}

/**
 * Runs the fleet side of the device. Messages that must not be lost (telemetry snapshots, events, reported
 * state, config results) go through the durable outbox; high-rate metrics are QoS 0 and only sent while
 * connected. Desired configs go through `ConfigTransaction`; this class performs its actions.
 */
export class FleetLink {
  readonly counters = new Counters();
  readonly #options: FleetLinkOptions;
  readonly #paths: ConfigStorePaths;
  readonly #outbox: Outbox;
  readonly #transaction: ConfigTransaction;
  readonly #log: (line: string) => void;
  readonly #monotonic: () => Instant;
  readonly #wallClock: () => number;
  #session: MqttSession | undefined;
  /** The settings the current session was made from; a config change that keeps them keeps the session. */
  #sessionKey: string | undefined;
  #topics: FleetTopics;
  #timers: ReturnType<typeof setInterval>[] = [];
  #watchTimer: ReturnType<typeof setTimeout> | undefined;
  #healthTimer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  private constructor(options: FleetLinkOptions, paths: ConfigStorePaths, config: DeviceConfig, outbox: Outbox) {
    this.#options = options;
    this.#paths = paths;
    this.#outbox = outbox;
    this.#log = options.log ?? ((line) => console.error(line));
    const start = performance.now();
    this.#monotonic = options.monotonic ?? (() => instant(Math.floor(performance.now() - start)));
    this.#wallClock = options.wallClock ?? (() => Date.now());
    const shadow = readShadow(outbox.getMeta(SHADOW_KEY));
    const runningVersion = Number(outbox.getMeta(RUNNING_VERSION_KEY) ?? "0");
    this.#transaction = new ConfigTransaction({ running: config, runningVersion, counters: this.counters, ...(shadow ? { shadow } : {}) });
    this.#topics = topicsFor(config);
  }

  /** Loads the stored config, opens the outbox and connects. Throws when no usable config exists. */
  static async start(options: FleetLinkOptions): Promise<FleetLink> {
    const paths = configStorePaths(options.configPath);
    const loaded = loadStoredConfig(paths);
    if (!loaded.ok) {
      const issues = [...loaded.error.active, ...loaded.error.lastGood].map(formatIssue).join("; ");
      throw new Error(`no usable configuration: ${issues}`);
    }
    const { config, source } = loaded.value;
    const outbox = new SqliteOutbox(config.telemetry.outbox.path, config.telemetry.outbox.maxBytes);
    const link = new FleetLink(options, paths, config, outbox);
    if (source === "last-good") {
      link.#log(`config: ${paths.active} is unusable; running the last-known-good copy`);
      link.counters.increment("config.fallback-last-good");
    }
    const started = link.#startSession(config);
    if (!started.ok) {
      outbox.close();
      throw new Error(started.error);
    }
    link.publishEvent("started", { configSource: source, configVersion: link.#transaction.running.version });
    link.#publishReported();
    link.#startTimers(config);
    return link;
  }

  get running(): { readonly config: DeviceConfig; readonly version: number } {
    return this.#transaction.running;
  }

  get topics(): FleetTopics {
    return this.#topics;
  }

  get session(): MqttSession | undefined {
    return this.#session;
  }

  /** Queues a QoS 1 event (handover, decision…) in the outbox. */
  publishEvent(type: EventType, data: unknown): void {
    this.#enqueue(this.#topics.events, 1, false, (stamp) => eventPayload(stamp, type, data));
  }

  /** Queues a message on any device topic through the durable outbox (QoS 1), stamped with seq/session/at. */
  publishDurable(topic: string, retain: boolean, build: (stamp: Stamp) => Uint8Array): void {
    this.#enqueue(topic, 1, retain, build);
  }

  /** Queues one durable telemetry snapshot now (the interval timer calls this too). */
  publishTelemetry(): void {
    const config = this.#transaction.effective;
    const body = selectTelemetry(this.#options.snapshot(), config.telemetry.include);
    body.outbox = this.#outbox.stats();
    this.#enqueue(this.#topics.telemetry, 1, false, (stamp) => telemetryPayload(stamp, body));
  }

  /** A care-of address changed: reconnect now instead of waiting for the keep-alive to notice. */
  networkChanged(): void {
    this.#session?.networkChanged();
  }

  status(): StatusDocument {
    const snapshot = this.#options.snapshot();
    const mqttStatus = this.#session?.status() ?? {
      state: "stopped" as const,
      protocol: null,
      broker: "",
      clientId: "",
      session: 0,
      reconnects: 0,
      outbox: this.#outbox.stats(),
    };
    return {
      ...snapshot,
      deviceId: this.#transaction.effective.device.id,
      mqtt: mqttStatus,
      config: { version: this.#transaction.running.version, transaction: this.#transaction.state },
      counters: { ...this.counters.snapshot() },
    };
  }

  /** Stops everything; with a reason, publishes a clean retained `offline` first (planned reboot, OTA). */
  async stop(reason?: OfflineReason): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    if (this.#watchTimer) clearTimeout(this.#watchTimer);
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    await this.#session?.stop(reason);
    this.#outbox.close();
  }

  // -------------------------------------------------------------------------------------------

  #enqueue(topic: string, qos: Qos, retain: boolean, build: (stamp: Stamp) => Uint8Array): void {
    if (this.#stopped) return;
    const session = this.#session?.session ?? 0;
    const before = this.#outbox.stats().dropped;
    const appended = this.#outbox.append(topic, qos, retain, (seq) => build({ seq, session, at: this.#wallClock() }));
    if (!appended.ok) {
      this.counters.increment("fleet.outbox.too-large");
      this.#log(`outbox: refused a ${appended.error.bytes}-byte message on ${topic} (bound ${appended.error.maxBytes})`);
      return;
    }
    const dropped = this.#outbox.stats().dropped - before;
    if (dropped > 0) this.counters.increment("fleet.outbox.dropped", dropped);
    this.#session?.kick();
  }

  #publishReported(): void {
    const { config, version } = this.#transaction.running;
    this.#enqueue(this.#topics.reported, 1, true, (stamp) => reportedPayload(stamp, version, config, this.#options.firmware));
  }

  #startTimers(config: DeviceConfig): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [setInterval(() => this.publishTelemetry(), config.telemetry.intervalSeconds * 1000)];
    if (config.telemetry.metricsIntervalMs > 0) {
      this.#timers.push(
        setInterval(() => {
          const links = this.#options.snapshot().links;
          this.#session?.publishVolatile(this.#topics.metrics, metricsPayload(this.#wallClock(), { links }));
        }, config.telemetry.metricsIntervalMs),
      );
    }
  }

  /** (Re)creates the MQTT session when the MQTT settings differ from the current ones. */
  #startSession(config: DeviceConfig): Result<void, string> {
    const key = sessionKey(config);
    if (this.#session && this.#sessionKey === key) return ok(undefined);
    const options = this.#sessionOptions(config);
    if (!options.ok) return options;
    const previous = this.#session;
    this.#session = undefined;
    void previous?.stop();
    this.#topics = options.value.topics;
    this.#sessionKey = key;
    this.#session = new MqttSession(options.value);
    this.#session.start();
    return ok(undefined);
  }

  #sessionOptions(config: DeviceConfig): Result<MqttSessionOptions, string> {
    const m = config.mqtt;
    const topics = fleetTopics(m.topicPrefix, config.device.id);
    if (!topics.ok) return topics;
    const env = this.#options.env ?? process.env;
    let password;
    if (m.password) {
      const secret = resolveSecret(m.password, env);
      if (!secret.ok) return err(`mqtt.password: ${secret.error}`);
      password = secret.value;
    }
    let tls: MqttSessionOptions["tls"];
    if (m.tls) {
      try {
        const key = m.tls.privateKey ? resolveSecret(m.tls.privateKey, env) : undefined;
        if (key && !key.ok) return err(`mqtt.tls.privateKey: ${key.error}`);
        tls = {
          ...(m.tls.caFile ? { ca: readFileSync(m.tls.caFile) } : {}),
          ...(m.tls.certificateFile ? { cert: readFileSync(m.tls.certificateFile) } : {}),
          ...(key?.ok ? { key: key.value } : {}),
          ...(m.tls.serverName ? { serverName: m.tls.serverName } : {}),
        };
      } catch (e) {
        return err(`mqtt.tls: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }
    return ok({
      url: m.url,
      clientId: config.device.id,
      protocol: m.protocol,
      fallbackTo311: m.fallbackTo311,
      ...(m.username !== undefined ? { username: m.username } : {}),
      ...(password ? { password } : {}),
      ...(tls ? { tls } : {}),
      keepaliveSeconds: m.keepaliveSeconds,
      sessionExpirySeconds: m.sessionExpirySeconds,
      connectTimeoutMs: m.connectTimeoutMs,
      reconnect: m.reconnect,
      topics: topics.value,
      outbox: this.#outbox,
      firmware: this.#options.firmware,
      counters: this.counters,
      wallClock: this.#wallClock,
      log: this.#log,
      ...(this.#options.subscriptions ? { subscriptions: this.#options.subscriptions(topics.value) } : {}),
      ...(this.#options.onMessage ? { onMessage: this.#options.onMessage } : {}),
      onDesired: (payload) => {
        this.#transaction.handleDesired(payload, this.#monotonic());
        void this.#runActions();
      },
      onStateChange: (state) => {
        this.#transaction.handleHealth("broker", state === "connected", this.#monotonic());
      },
    });
  }

  #actionChain = Promise.resolve();

  /** Performs the transaction's actions one at a time, in order (applies are awaited). */
  #runActions(): Promise<void> {
    this.#actionChain = this.#actionChain.then(async () => {
      for (let action = this.#transaction.pollAction(); action; action = this.#transaction.pollAction()) {
        if (this.#stopped) return;
        await this.#perform(action);
      }
      this.#armWatch();
    });
    return this.#actionChain;
  }

  async #perform(action: TransactionAction): Promise<void> {
    switch (action.type) {
      case "record-version":
        this.#outbox.setMeta(SHADOW_KEY, JSON.stringify(action.record));
        return;
      case "publish-result": {
        const result = action.result;
        this.#log(`config: version ${result.version ?? "?"} ${result.status}${result.error ? ` (${result.error.kind}: ${result.error.detail})` : ""}${result.reason ? ` (${result.reason})` : ""}`);
        this.#enqueue(this.#topics.result, 1, false, (stamp) => resultPayload(stamp, result));
        return;
      }
      case "publish-reported":
        this.#publishReported();
        return;
      case "commit":
        commitStoredConfig(this.#paths, `${JSON.stringify(action.config, null, 2)}\n`);
        this.#outbox.setMeta(RUNNING_VERSION_KEY, String(action.version));
        return;
      case "apply": {
        const started = this.#startSession(action.config);
        const applied = started.ok ? ((await this.#options.applyConfig?.(action.config)) ?? ok(undefined)) : started;
        this.#startTimers(action.config);
        if (action.cause === "candidate") {
          if (!applied.ok) this.#transaction.handleApplyFailed(applied.error, this.#monotonic());
          else this.#transaction.handleHealth("broker", this.#session?.connected ?? false, this.#monotonic());
        } else if (!applied.ok) {
          this.#log(`config: rollback could not be applied: ${applied.error}`);
          this.counters.increment("fleet.config.rollback-failed");
        }
        return;
      }
    }
  }

  /** Keeps a timer for the transaction's deadline and samples the health checks while it watches. */
  #armWatch(): void {
    if (this.#watchTimer) clearTimeout(this.#watchTimer);
    this.#watchTimer = undefined;
    const deadline = this.#transaction.pollTimeout();
    if (deadline === undefined || this.#stopped) {
      if (this.#healthTimer) clearInterval(this.#healthTimer);
      this.#healthTimer = undefined;
      return;
    }
    const sample = () => {
      const now = this.#monotonic();
      for (const check of ["home-agent", "bindings"] as const) {
        const probe = this.#options.health?.[check];
        this.#transaction.handleHealth(check, probe ? probe() : true, now);
      }
    };
    sample();
    if (!this.#healthTimer) this.#healthTimer = setInterval(sample, HEALTH_SAMPLE_MS);
    this.#watchTimer = setTimeout(() => {
      sample();
      this.#transaction.handleTimeout(this.#monotonic());
      void this.#runActions();
    }, Math.max(0, deadline - this.#monotonic()));
  }
}

/** The persisted shadow record; anything unreadable counts as none (every version is then new). */
function readShadow(text: string | undefined): ShadowRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const r = JSON.parse(text) as Partial<ShadowRecord>;
    return typeof r.version === "number" && typeof r.digest === "string" ? { version: r.version, digest: r.digest } : undefined;
  } catch {
    return undefined;
  }
}

function sessionKey(config: DeviceConfig): string {
  return JSON.stringify({ mqtt: config.mqtt, deviceId: config.device.id });
}

function topicsFor(config: DeviceConfig): FleetTopics {
  const topics = fleetTopics(config.mqtt.topicPrefix, config.device.id);
  if (!topics.ok) throw new Error(topics.error);
  return topics.value;
}
