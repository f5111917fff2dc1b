// A lab for traffic through monami's daemons and strongSwan's charon (kernel-libipsec): lan ─ ours(monami) ═ two uplinks ═ peer(charon, ipsec0 → 2001:db8:b::1). Namespaces h12{l,o,p}<pid>, always deleted.

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { queryRoleControl } from "../../firmware/roles/role-control.ts";
import { charonEnv, type KeyType, listSas, loadSwanctl, makeLabPki, must, sh, swanctlIn } from "./strongswan-lab.ts";

export const CHARON = "/usr/lib/ipsec/charon";
const MAIN = resolve(import.meta.dir, "../../firmware/main.ts");

/** Our uplinks (router) / our address (home agent) and charon's, on two links. */
export const OURS = { lte: "2001:db8:1::a", wifi: "2001:db8:2::a" } as const;
export const PEER = { lte: "2001:db8:1::b", wifi: "2001:db8:2::b" } as const;
/** Behind charon (its ipsec0): the correspondent. Behind monami: the mobile network and its LAN host. */
export const PEER_INNER = "2001:db8:b::1";
export const MOBILE_NETWORK = "2001:db8:a::/64";
export const LAN_HOST = "2001:db8:a::2";
export const LAN_ROUTER = "2001:db8:a::1";
export const HOME_ADDRESS = "2001:db8:10::20";

export class TrafficLab {
  readonly lan: string;
  readonly ours: string;
  readonly peer: string;
  readonly dir: string;
  readonly uri: string;
  readonly logs: string[] = [];
  #charon: Bun.Subprocess | undefined;
  #daemon: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  constructor(tag = "h12") {
    this.lan = `${tag}l${process.pid}`;
    this.ours = `${tag}o${process.pid}`;
    this.peer = `${tag}p${process.pid}`;
    this.dir = mkdtempSync(join(tmpdir(), `monami-${tag}-traffic-`));
    this.uri = `unix://${this.dir}/charon.vici`;
  }

  get env(): Record<string, string> {
    return charonEnv(this.dir);
  }

  exec(ns: string, argv: string[]): { code: number; out: string; err: string } {
    return sh(["ip", "netns", "exec", ns, ...argv]);
  }

  spawn(ns: string, argv: string[]): Bun.Subprocess<"ignore", "pipe", "pipe"> {
    return Bun.spawn(["ip", "netns", "exec", ns, ...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  }

  async up(): Promise<void> {
    for (const ns of [this.lan, this.ours, this.peer]) {
      must(["ip", "netns", "add", ns]);
      must(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    const link = (a: string, aDev: string, b: string, bDev: string) => {
      must(["ip", "link", "add", aDev, "netns", a, "type", "veth", "peer", "name", bDev, "netns", b]);
      must(["ip", "-n", a, "link", "set", aDev, "up"]);
      must(["ip", "-n", b, "link", "set", bDev, "up"]);
    };
    link(this.ours, "lte0", this.peer, "lte-p");
    link(this.ours, "wlan0", this.peer, "wlan-p");
    link(this.ours, "lan0", this.lan, "eth0");
    const addr = (ns: string, dev: string, a: string) => must(["ip", "-n", ns, "-6", "addr", "add", a, "dev", dev, "nodad"]);
    addr(this.ours, "lte0", `${OURS.lte}/64`);
    addr(this.ours, "wlan0", `${OURS.wifi}/64`);
    addr(this.peer, "lte-p", `${PEER.lte}/64`);
    addr(this.peer, "wlan-p", `${PEER.wifi}/64`);
    addr(this.ours, "lan0", `${LAN_ROUTER}/64`);
    addr(this.lan, "eth0", `${LAN_HOST}/64`);
    addr(this.peer, "lo", `${PEER_INNER}/128`);
    must(["ip", "-n", this.lan, "-6", "route", "add", "default", "via", LAN_ROUTER]);
    // Each uplink reaches charon's first address (MOBIKE moves between them); lte is preferred.
    must(["ip", "-n", this.ours, "-6", "route", "add", `${PEER.lte}/128`, "dev", "lte0", "metric", "100"]);
    // Over Wi-Fi through charon's Wi-Fi address (neighbour discovery only answers for addresses of the link).
    must(["ip", "-n", this.ours, "-6", "route", "add", `${PEER.lte}/128`, "via", PEER.wifi, "dev", "wlan0", "metric", "200"]);
    must(["ip", "netns", "exec", this.ours, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    // charon answers the router's wifi address too (home agent tests: charon initiates towards us).
    must(["ip", "-n", this.peer, "-6", "route", "add", `${OURS.lte}/128`, "dev", "lte-p"]);
    for (const d of ["run", "swanctl/x509", "swanctl/x509ca", "swanctl/private", "pki"]) mkdirSync(join(this.dir, d), { recursive: true });
    writeFileSync(
      join(this.dir, "strongswan.conf"),
      `charon {
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 pkcs8 x509 pubkey kernel-libipsec kernel-netlink socket-default vici
  install_routes = yes
  retransmit_tries = 3
  filelog {
    lab {
      path = ${this.dir}/charon.log
      time_format = %T
      append = yes
      flush_line = yes
      default = 1
      ike = 2
      cfg = 1
    }
  }
  syslog { daemon { default = -1 } }
  plugins { vici { socket = ${this.uri} } }
}
swanctl { load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey }
`,
    );
    this.#charon = Bun.spawn(["ip", "netns", "exec", this.peer, "sh", "-c", `mount --bind ${this.dir}/run /run && exec env STRONGSWAN_CONF=${this.dir}/strongswan.conf ${CHARON}`], { stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 100; i++) {
      if (existsSync(`${this.dir}/charon.vici`) && sh(["swanctl", "--stats", "--uri", this.uri], this.env).code === 0) return;
      await Bun.sleep(50);
    }
    throw new Error("charon did not come up");
  }

  /** Test PKI (openssl): a P-256 CA, `ours` and `theirs` end-entity certificates with DNS SANs. */
  makePki(ours: { name: string; type: KeyType }, theirs: { name: string; type: KeyType }): { ca: string; cert: string; key: string } {
    return makeLabPki(this.dir, "monami h12 interop CA", ours, theirs, "peer");
  }

  load(conf: string): void {
    loadSwanctl(this.dir, this.uri, conf);
  }

  swanctl(...args: string[]): { code: number; out: string; err: string } {
    return swanctlIn(this.dir, this.uri, args);
  }

  sas(): Record<string, Record<string, any>> {
    return listSas(this.dir, this.uri);
  }

  /** Starts `monami router|homeagent run CONFIG` in our namespace; resolves once it printed `ready`. */
  async startDaemon(role: "router" | "homeagent", config: Record<string, unknown>): Promise<void> {
    const file = join(this.dir, `${role}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    const proc = Bun.spawn(["ip", "netns", "exec", this.ours, process.execPath, MAIN, role, "run", file], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    this.#daemon = proc;
    const ready = Promise.withResolvers<void>();
    void this.#drain(proc.stderr, (line) => this.#record(`${role}: ${line}`));
    void this.#drain(proc.stdout, (line) => line.trim() === "ready" && ready.resolve());
    const timer = setTimeout(() => ready.reject(new Error(`${role} not ready:\n${this.logs.join("\n")}`)), 20_000);
    void proc.exited.then((code) => ready.reject(new Error(`${role} exited ${code}:\n${this.logs.join("\n")}`)));
    await ready.promise.finally(() => clearTimeout(timer));
  }

  control(command: string): Promise<Record<string, any>> {
    return queryRoleControl(join(this.dir, "control.sock"), command) as Promise<Record<string, any>>;
  }

  get controlSocket(): string {
    return join(this.dir, "control.sock");
  }

  async stopDaemon(): Promise<number | undefined> {
    const d = this.#daemon;
    this.#daemon = undefined;
    if (!d) return undefined;
    d.kill("SIGTERM");
    const code = await Promise.race([d.exited, Bun.sleep(8000).then(() => undefined)]);
    if (code === undefined) d.kill("SIGKILL");
    return code;
  }

  #record(line: string): void {
    this.logs.push(line);
    if (process.env.MONAMI_TEST_VERBOSE) console.log(line);
    for (const w of [...this.#waiters]) {
      if (w.pattern.test(line)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }

  async #drain(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const line of lines) if (line.trim() !== "") onLine(line);
    }
  }

  /** Resolves with the first log line (from `since` on) matching `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs = 15_000, since = 0): Promise<string> {
    const seen = this.logs.slice(since).find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pattern, resolve };
      this.#waiters.push(w);
      setTimeout(() => {
        if (!this.#waiters.includes(w)) return;
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms:\n${this.logs.join("\n")}`));
      }, timeoutMs);
    });
  }

  async down(): Promise<void> {
    await this.stopDaemon();
    const charon = this.#charon;
    if (charon) {
      charon.kill("SIGTERM");
      const gone = await Promise.race([charon.exited.then(() => true), Bun.sleep(4000).then(() => false)]);
      if (!gone) charon.kill("SIGKILL");
    }
    for (const ns of [this.lan, this.ours, this.peer]) sh(["ip", "netns", "del", ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
