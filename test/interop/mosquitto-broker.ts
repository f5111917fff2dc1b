// Test helper: a real Mosquitto on free 127.0.0.1 ports in a temp dir, with a test CA, mutual TLS and a password file.

import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";

export const hasMosquitto = Bun.which("mosquitto") !== null && Bun.which("mosquitto_passwd") !== null && Bun.which("openssl") !== null;

/** A port that was free a moment ago (bind to 0, read it, close). */
export function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

function run(cmd: string[], cwd: string): void {
  const result = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${result.stderr.toString()}`);
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.end();
      return;
    } catch {
      await Bun.sleep(25);
    }
  }
  throw new Error(`mosquitto did not open port ${port} within ${timeoutMs} ms`);
}

export interface BrokerOptions {
  /** Keep sessions and queued messages across a restart (persistence db in the temp dir). */
  readonly persistence?: boolean;
  /** Use this TLS port instead of a fresh one (to start a broker where a device already points). */
  readonly tlsPort?: number;
}

/**
 * A Mosquitto child process. The TLS listener requires a client certificate signed by the test CA *and* a
 * username/password; the plain listener (password only) is for quick checks. `stop()` always kills the
 * process; `cleanup()` also removes the temp dir. When run as root the broker drops to user `mosquitto`, so
 * every file is made readable by it.
 */
export class MosquittoBroker {
  readonly dir: string;
  readonly tlsPort: number;
  readonly plainPort: number;
  readonly username = "device1";
  readonly password: string;
  readonly observerUser = "fleet";
  readonly observerPassword: string;
  #process: ReturnType<typeof Bun.spawn> | undefined;
  #log = "";

  private constructor(readonly options: BrokerOptions) {
    this.dir = mkdtempSync(join(tmpdir(), "monami-h7-mosquitto-"));
    chmodSync(this.dir, 0o755);
    this.tlsPort = options.tlsPort ?? freePort();
    this.plainPort = freePort();
    this.password = `pw-${crypto.randomUUID()}`;
    this.observerPassword = `obs-${crypto.randomUUID()}`;
  }

  static async start(options: BrokerOptions = {}): Promise<MosquittoBroker> {
    const broker = new MosquittoBroker(options);
    try {
      broker.#makeFiles();
      await broker.startProcess();
    } catch (e) {
      broker.cleanup();
      throw e;
    }
    return broker;
  }

  get caFile(): string {
    return join(this.dir, "ca.crt");
  }
  get clientCertFile(): string {
    return join(this.dir, "client.crt");
  }
  get clientKeyFile(): string {
    return join(this.dir, "client.key");
  }
  get tlsUrl(): string {
    return `mqtts://127.0.0.1:${this.tlsPort}`;
  }
  get log(): string {
    return this.#log;
  }

  #makeFiles(): void {
    const d = this.dir;
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(["openssl", "req", "-x509", ...ec, "-days", "30", "-subj", "/CN=monami-test-ca", "-keyout", "ca.key", "-out", "ca.crt"], d);
    run(["openssl", "req", ...ec, "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"], d);
    writeFileSync(join(d, "server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    run(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30", "-extfile", "server.ext", "-out", "server.crt"], d);
    run(["openssl", "req", ...ec, "-subj", "/CN=device1", "-keyout", "client.key", "-out", "client.csr"], d);
    writeFileSync(join(d, "client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
    run(["openssl", "x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30", "-extfile", "client.ext", "-out", "client.crt"], d);
    run(["mosquitto_passwd", "-c", "-b", "passwd", this.username, this.password], d);
    run(["mosquitto_passwd", "-b", "passwd", this.observerUser, this.observerPassword], d);
    for (const f of ["ca.crt", "server.crt", "server.key", "passwd"]) chmodSync(join(d, f), 0o644);
    // The device's own key stays private to the test process (the secret resolver refuses world-readable keys).
    chmodSync(join(d, "client.key"), 0o600);
    const data = join(d, "data");
    mkdirSync(data, { mode: 0o755 });
    if (process.getuid?.() === 0) {
      const uid = Bun.spawnSync(["id", "-u", "mosquitto"]).stdout.toString().trim();
      const gid = Bun.spawnSync(["id", "-g", "mosquitto"]).stdout.toString().trim();
      if (/^\d+$/.test(uid) && /^\d+$/.test(gid)) chownSync(data, Number(uid), Number(gid));
    }
    const conf = [
      "per_listener_settings false",
      "allow_anonymous false",
      `password_file ${join(d, "passwd")}`,
      this.options.persistence ? `persistence true\npersistence_location ${data}/\nautosave_interval 1` : "persistence false",
      "max_queued_messages 0",
      "max_inflight_messages 0",
      "log_dest stdout",
      "log_type error",
      "log_type warning",
      "log_type notice",
      "log_type information",
      `listener ${this.plainPort} 127.0.0.1`,
      `listener ${this.tlsPort} 127.0.0.1`,
      `cafile ${join(d, "ca.crt")}`,
      `certfile ${join(d, "server.crt")}`,
      `keyfile ${join(d, "server.key")}`,
      "require_certificate true",
      "tls_version tlsv1.2",
      "",
    ].join("\n");
    writeFileSync(join(d, "mosquitto.conf"), conf, { mode: 0o644 });
  }

  /** Starts (or restarts) the broker process on the same ports and waits until both listen. */
  async startProcess(): Promise<void> {
    if (this.#process) throw new Error("broker already running");
    const proc = Bun.spawn(["mosquitto", "-c", join(this.dir, "mosquitto.conf")], { stdout: "pipe", stderr: "pipe" });
    this.#process = proc;
    void (async () => {
      for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) this.#log += new TextDecoder().decode(chunk);
    })();
    void (async () => {
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) this.#log += new TextDecoder().decode(chunk);
    })();
    try {
      await waitForPort(this.plainPort, 5000);
      await waitForPort(this.tlsPort, 5000);
    } catch (e) {
      await this.stopProcess();
      throw new Error(`${(e as Error).message}\n${this.#log}`);
    }
  }

  /** Stops the broker process (SIGTERM: a persistent broker saves its sessions) and waits for it to exit. */
  async stopProcess(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const proc = this.#process;
    this.#process = undefined;
    if (!proc) return;
    proc.kill(signal);
    await proc.exited;
  }

  async restart(): Promise<void> {
    await this.stopProcess();
    await this.startProcess();
  }

  /** Kills the broker and removes every file. Safe to call twice. */
  cleanup(): void {
    const proc = this.#process;
    this.#process = undefined;
    proc?.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** An observer client (the "fleet back-end") on the TLS listener. */
  async observer(options: { clientId?: string; clean?: boolean; reconnectPeriod?: number } = {}): Promise<MqttClient> {
    const client = mqtt.connect(this.tlsUrl, {
      clientId: options.clientId ?? `observer-${crypto.randomUUID().slice(0, 8)}`,
      clean: options.clean ?? true,
      protocolVersion: 5,
      username: this.observerUser,
      password: this.observerPassword,
      ca: await Bun.file(this.caFile).text(),
      cert: await Bun.file(this.clientCertFile).text(),
      key: await Bun.file(this.clientKeyFile).text(),
      reconnectPeriod: options.reconnectPeriod ?? 0,
      ...(options.clean === false ? { properties: { sessionExpiryInterval: 3600 } } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    return client;
  }
}

/** Collects messages of a subscription, with a helper to wait for one that matches. */
export class Inbox {
  readonly messages: { topic: string; payload: string; retain: boolean }[] = [];
  readonly #waiters: { match: (m: { topic: string; json: Record<string, unknown>; retain: boolean }) => boolean; resolve: (m: Record<string, unknown>) => void }[] = [];

  constructor(client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      const message = { topic, payload: payload.toString("utf8"), retain: packet.retain };
      this.messages.push(message);
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(message.payload) as Record<string, unknown>;
      } catch {
        return;
      }
      for (const w of [...this.#waiters]) {
        if (w.match({ topic, json, retain: packet.retain })) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(json);
        }
      }
    });
  }

  json(topic: string): Record<string, unknown>[] {
    return this.messages.filter((m) => m.topic === topic).map((m) => JSON.parse(m.payload) as Record<string, unknown>);
  }

  /** Resolves with the first message (already received or future) that matches, or rejects after `timeoutMs`. */
  waitFor(
    match: (m: { topic: string; json: Record<string, unknown>; retain: boolean }) => boolean,
    timeoutMs = 10_000,
    what = "message",
    since = 0,
  ): Promise<Record<string, unknown>> {
    for (const m of this.messages.slice(since)) {
      try {
        const json = JSON.parse(m.payload) as Record<string, unknown>;
        if (match({ topic: m.topic, json, retain: m.retain })) return Promise.resolve(json);
      } catch {
        // not JSON
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.#waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }
}

export async function subscribe(client: MqttClient, topic: string): Promise<void> {
  await new Promise<void>((resolve, reject) => client.subscribe(topic, { qos: 1 }, (e) => (e ? reject(e) : resolve())));
}

export async function publish(client: MqttClient, topic: string, payload: string | Uint8Array, retain = false): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    client.publish(topic, typeof payload === "string" ? payload : Buffer.from(payload), { qos: 1, retain }, (e) => (e ? reject(e) : resolve())),
  );
}
