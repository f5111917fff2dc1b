// A two-namespace lab with a private strongSwan charon (kernel-libipsec) for IKE interop tests; always torn down.

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const CHARON = "/usr/lib/ipsec/charon";
export const repoRoot = resolve(import.meta.dir, "../..");
export const OUR_ADDRESS = "2001:db8:1::a";
export const PEER_ADDRESS = "2001:db8:1::b";

export function sh(cmd: string[], env?: Record<string, string>): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

export function must(cmd: string[], env?: Record<string, string>): string {
  const r = sh(cmd, env);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.code}: ${r.err || r.out}`);
  return r.out;
}

/** Parses `swanctl --raw` output (`key=value`, `name {…}`, `[a b]`) into nested objects. */
export function parseViciRaw(text: string): Record<string, unknown> {
  const tokens = text.match(/\{|\}|\[[^\]]*\]|[^\s{}=]+=(?:\[[^\]]*\]|[^\s{}]*)|[^\s{}]+/g) ?? [];
  let i = 0;
  const block = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    while (i < tokens.length) {
      const t = tokens[i++]!;
      if (t === "}") return out;
      if (t.includes("=")) {
        const [k, ...rest] = t.split("=");
        const v = rest.join("=");
        out[k!] = v.startsWith("[") ? v.slice(1, -1).split(/\s+/).filter(Boolean) : v;
      } else if (tokens[i] === "{") {
        i++;
        out[t] = block();
      }
    }
    return out;
  };
  return block();
}

export type KeyType = "ec" | "ed25519";

/** The environment that points swanctl and charon at a lab's private configuration in `dir`. */
export function charonEnv(dir: string): Record<string, string> {
  return { STRONGSWAN_CONF: join(dir, "strongswan.conf"), SWANCTL_DIR: join(dir, "swanctl") };
}

/**
 * Test PKI made by openssl in `<dir>/pki`: a P-256 CA and two end-entity certificates (SAN = DNS name).
 * charon gets the CA and `theirs` (as `<peerFile>.pem` / `.key`); ours is returned for monami.
 */
export function makeLabPki(dir: string, caName: string, ours: { name: string; type: KeyType }, theirs: { name: string; type: KeyType }, peerFile: string): { ca: string; cert: string; key: string } {
  const p = (f: string) => join(dir, "pki", f);
  if (!existsSync(p("ca.pem"))) {
    must(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p("ca.key")]);
    must(["openssl", "req", "-x509", "-new", "-key", p("ca.key"), "-subj", `/CN=${caName}`, "-days", "2", "-out", p("ca.pem"), "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  }
  const make = (name: string, type: KeyType) => {
    const base = `${name}-${type}`;
    if (existsSync(p(`${base}.pem`))) return base;
    if (type === "ec") must(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p(`${base}.key`)]);
    else must(["openssl", "genpkey", "-algorithm", "ED25519", "-out", p(`${base}.key`)]);
    must(["openssl", "req", "-new", "-key", p(`${base}.key`), "-subj", `/CN=${name}`, "-out", p(`${base}.csr`)]);
    writeFileSync(p(`${base}.ext`), `subjectAltName=DNS:${name}\n`);
    must(["openssl", "x509", "-req", "-in", p(`${base}.csr`), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-out", p(`${base}.pem`), "-extfile", p(`${base}.ext`)]);
    return base;
  };
  const a = make(ours.name, ours.type);
  const b = make(theirs.name, theirs.type);
  must(["cp", p(`${b}.pem`), join(dir, `swanctl/x509/${peerFile}.pem`)]);
  must(["cp", p(`${b}.key`), join(dir, `swanctl/private/${peerFile}.key`)]);
  must(["cp", p("ca.pem"), join(dir, "swanctl/x509ca/ca.pem")]);
  return { ca: p("ca.pem"), cert: p(`${a}.pem`), key: p(`${a}.key`) };
}

/** Runs swanctl against the charon of the lab in `dir` (vici socket `uri`). */
export function swanctlIn(dir: string, uri: string, args: string[]): { code: number; out: string; err: string } {
  return sh(["swanctl", ...args, "--uri", uri], charonEnv(dir));
}

/** Loads a swanctl.conf into the lab's charon (replacing connections and secrets). */
export function loadSwanctl(dir: string, uri: string, conf: string): void {
  const file = join(dir, "swanctl", "swanctl.conf");
  writeFileSync(file, conf);
  must(["swanctl", "--load-all", "--file", file, "--uri", uri], charonEnv(dir));
}

/** The IKE SAs the lab's charon holds, from `swanctl --list-sas --raw`. */
export function listSas(dir: string, uri: string): Record<string, Record<string, any>> {
  const out: Record<string, Record<string, any>> = {};
  for (const line of swanctlIn(dir, uri, ["--list-sas", "--raw"]).out.split("\n")) {
    if (!line.startsWith("list-sa event")) continue;
    Object.assign(out, parseViciRaw(line.replace(/^list-sa event\s*\{/, "")) as Record<string, Record<string, unknown>>);
  }
  return out;
}

/**
 * Every IKE SA the lab's charon holds, in `swanctl --list-sas` order, with its connection name. Unlike
 * `listSas` (keyed by connection name), two IKE SAs of one connection — one peer from two addresses — are both kept.
 */
export function listIkeSas(dir: string, uri: string): { connection: string; sa: Record<string, any> }[] {
  const out: { connection: string; sa: Record<string, any> }[] = [];
  for (const line of swanctlIn(dir, uri, ["--list-sas", "--raw"]).out.split("\n")) {
    if (!line.startsWith("list-sa event")) continue;
    for (const [connection, sa] of Object.entries(parseViciRaw(line.replace(/^list-sa event\s*\{/, "")))) out.push({ connection, sa: sa as Record<string, any> });
  }
  return out;
}

export class StrongSwanLab {
  readonly ours: string;
  readonly peer: string;
  readonly dir: string;
  readonly uri: string;
  #charon: Bun.Subprocess | undefined;

  /** `tag` names the namespaces (`<tag>a<pid>`, `<tag>b<pid>`) so labs of different suites never meet. */
  constructor(tag = "h8") {
    this.ours = `${tag}a${process.pid}`;
    this.peer = `${tag}b${process.pid}`;
    this.dir = mkdtempSync(join(tmpdir(), `monami-${tag}-ike-`));
    this.uri = `unix://${this.dir}/charon.vici`;
  }

  get env(): Record<string, string> {
    return charonEnv(this.dir);
  }

  async up(): Promise<void> {
    must(["ip", "netns", "add", this.ours]);
    must(["ip", "netns", "add", this.peer]);
    must(["ip", "link", "add", this.ours, "netns", this.ours, "type", "veth", "peer", "name", this.peer, "netns", this.peer]);
    for (const [ns, dev, addr] of [
      [this.ours, this.ours, OUR_ADDRESS],
      [this.peer, this.peer, PEER_ADDRESS],
    ] as const) {
      must(["ip", "-n", ns, "link", "set", "lo", "up"]);
      must(["ip", "-n", ns, "link", "set", dev, "up"]);
      must(["ip", "-n", ns, "-6", "addr", "add", `${addr}/64`, "dev", dev, "nodad"]);
    }
    // libipsec routes the CHILD_SA through its TUN with a source inside local_ts (interop-lab §2.3).
    must(["ip", "-n", this.peer, "-6", "addr", "add", "2001:db8:b::1/128", "dev", "lo"]);
    for (const d of ["run", "swanctl/x509", "swanctl/x509ca", "swanctl/private", "pki"]) mkdirSync(join(this.dir, d), { recursive: true });
    writeFileSync(
      join(this.dir, "strongswan.conf"),
      `charon {
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 pkcs8 x509 pubkey kernel-libipsec kernel-netlink socket-default vici
  install_routes = no
  retransmit_tries = 3
  # Small enough that an IKE_AUTH with a certificate is split into RFC 7383 fragments.
  fragment_size = 400
  filelog {
    lab {
      path = ${this.dir}/charon.log
      time_format = %T
      append = yes
      flush_line = yes
      default = 1
      ike = 2
      cfg = 2
    }
  }
  syslog { daemon { default = -1 } }
  plugins { vici { socket = ${this.uri} } }
}
swanctl { load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey }
`,
    );
    const charon = Bun.spawn(["ip", "netns", "exec", this.peer, "sh", "-c", `mount --bind ${this.dir}/run /run && exec env STRONGSWAN_CONF=${this.dir}/strongswan.conf ${CHARON}`], {
      stdout: "ignore",
      stderr: "ignore",
    });
    this.#charon = charon;
    for (let i = 0; i < 100; i++) {
      if (existsSync(`${this.dir}/charon.vici`) && sh(["swanctl", "--stats", "--uri", this.uri], this.env).code === 0) return;
      await Bun.sleep(50);
    }
    throw new Error("charon did not come up");
  }

  /** Test PKI made by openssl now: a P-256 CA, a.lab and b.lab with the given key types, SAN = DNS name. */
  makePki(ours: KeyType, theirs: KeyType): { ca: string; cert: string; key: string } {
    return makeLabPki(this.dir, "monami h8 interop CA", { name: "a.lab", type: ours }, { name: "b.lab", type: theirs }, "b");
  }

  /** Loads a swanctl.conf (replacing connections and secrets). */
  load(conf: string): void {
    loadSwanctl(this.dir, this.uri, conf);
  }

  swanctl(...args: string[]): { code: number; out: string; err: string } {
    return swanctlIn(this.dir, this.uri, args);
  }

  /** The IKE SAs charon holds, from `swanctl --list-sas --raw`. */
  sas(): Record<string, Record<string, unknown>> {
    return listSas(this.dir, this.uri);
  }

  /** Runs `monami ike …` inside our namespace. */
  monami(args: string[]): Bun.Subprocess<"ignore", "pipe", "pipe"> {
    return Bun.spawn(["ip", "netns", "exec", this.ours, process.execPath, join(repoRoot, "firmware/main.ts"), "ike", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: repoRoot });
  }

  async down(): Promise<void> {
    const charon = this.#charon;
    if (charon) {
      // charon is our own child (ip and sh exec into it): stop it by its pid.
      charon.kill("SIGTERM");
      const gone = await Promise.race([charon.exited.then(() => true), Bun.sleep(4000).then(() => false)]);
      if (!gone) charon.kill("SIGKILL");
    }
    sh(["ip", "netns", "del", this.ours]);
    sh(["ip", "netns", "del", this.peer]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
