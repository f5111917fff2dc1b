// `monami ike probe|respond`: negotiate once with an IKEv2 peer (like `swanctl --initiate`) or answer as a debug responder.

import { appendFileSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { pskFromFileText } from "../ike/auth.ts";
import { parseCertificatePem, parsePrivateKeyPem } from "../ike/certificate.ts";
import { espSpiHex, type ChildSaInstall, type ChildSaLifetimes } from "../ike/child-sa.ts";
import { defaultChildLifetimes, defaultIkeLifetimes, defaultPorts, defaultRetransmit, type AuthConfig, type IkeConfig } from "../ike/config.ts";
import { notifyName } from "../ike/constants.ts";
import type { IkeEvent, IkeSaSummary } from "../ike/events.ts";
import { IkeEndpoint } from "../ike/ike-endpoint.ts";
import { parseIdentity } from "../ike/identity.ts";
import { IKEV2_TABLE_HEADER, ikev2DecryptionTableLine } from "../ike/key-export.ts";
import { createNobleBackend } from "../crypto/noble-backend.ts";
import { espSaKeyFile, espSaUatLine } from "../ipsec/key-export.ts";
import { SecurityAssociationDatabase } from "../ipsec/sad.ts";
import { SecurityPolicyDatabase } from "../ipsec/spd.ts";
import { IkeSaInstaller } from "../multicoa/sa-installer.ts";
import { parseProposals, type Negotiated } from "../ike/proposal.ts";
import { formatSelector, selectorFromPrefix } from "../ike/traffic-selectors.ts";
import { IkeUdpEdge, monotonicNow } from "../runtime/ike-udp.ts";
import { ExitCode } from "./command.ts";

const USAGE = `usage: monami ike probe --peer ADDR --local ADDR --id ID [--remote-id ID]
                        (--psk-file FILE | --cert FILE --key FILE --ca FILE)
                        [--proposal P] [--esp-proposal P] --local-ts PREFIX --remote-ts PREFIX [options]
       monami ike respond --local ADDR --id ID [--remote-id ID] (--psk-file FILE | --cert FILE --key FILE --ca FILE)
                        [--proposal P] [--esp-proposal P] --local-ts PREFIX --remote-ts PREFIX [--once] [options]

probe    negotiate an IKE SA and its first CHILD_SA with the peer, print them as JSON (algorithms, SPIs,
         lifetimes, NAT detected, MOBIKE; never keys), delete them cleanly and exit 0. On failure print the
         notify or error and exit 1.
respond  a debug responder: answer IKE_SA_INIT/IKE_AUTH from any peer with this configuration and print one
         JSON line per event; with --once exit after the first IKE SA is gone.

Proposals use strongSwan's syntax, comma-separated: aes128gcm16-prfsha256-x25519, aes256gcm16-prfsha384-ecp384,
aes128-sha256-ecp256 (IKE); aes128gcm16, aes256gcm16, aes128-sha256, chacha20poly1305 (ESP; add -x25519 etc. for PFS).

options:
  --peer ADDR            the responder's address (probe)
  --local ADDR           our address (both UDP 500 and 4500 are bound on it)
  --id ID / --remote-id ID  identities: an IP address, @fqdn or fqdn, user@realm (NAI)
  --psk-file FILE        pre-shared key file (the whole file; a single 0x... line is hex)
  --cert FILE --key FILE --ca FILE  X.509 certificate (PEM), its private key (PEM; ECDSA P-256/P-384 or Ed25519)
                         and the CA that must have signed the peer's certificate
  --proposal P           IKE proposals (default aes128gcm16-prfsha256-x25519,aes256gcm16-prfsha384-ecp384)
  --esp-proposal P       ESP proposals (default aes128gcm16,aes256gcm16)
  --local-ts PREFIX      our traffic selector (repeatable), e.g. 2001:db8:a::/64
  --remote-ts PREFIX     the peer's traffic selector (repeatable)
  --transport            ask for a transport-mode CHILD_SA (default tunnel)
  --no-mobike            do not offer MOBIKE
  --no-fragmentation     do not offer IKE fragmentation (RFC 7383)
  --fragment-size N      largest IKE datagram before fragmenting, in octets (default 1280)
  --liveness             probe: run a liveness check before deleting
  --rekey-child          probe: rekey the CHILD_SA once (add --pfs for a fresh key exchange)
  --pfs                  with --rekey-child / --create-child: use the IKE SA's DH group (PFS)
  --create-child         probe: create a second CHILD_SA with CREATE_CHILD_SA
  --rekey-ike            probe: rekey the IKE SA once
  --move-to ADDR         probe: MOBIKE, move the SAs to our other address ADDR (UPDATE_SA_ADDRESSES, RFC 4555)
  --child-rekey SECONDS  rekey every CHILD_SA after this long (up to 10 % earlier; delete at 110 %; default 3600)
  --ike-rekey SECONDS    rekey the IKE SA after this long (same proportions; default 14400)
  --dpd SECONDS          liveness check after this long without traffic from the peer (default 0 = off)
  --hold SECONDS         probe: keep the SAs up this long before deleting them (default 0)
  --timeout SECONDS      give up after this long (default 30; respond: run time, default unlimited)
  --ike-port N / --natt-port N   UDP ports (default 500 / 4500)
  --ikev2-keys FILE      debug: append Wireshark ikev2_decryption_table lines (SECRET KEYS; off by default)
  --esp-keys FILE        debug: append Wireshark esp_sa lines (SECRET KEYS; off by default)
  -h, --help             show this help`;

const options = {
  help: { type: "boolean", short: "h" },
  peer: { type: "string" },
  local: { type: "string" },
  id: { type: "string" },
  "remote-id": { type: "string" },
  "psk-file": { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  ca: { type: "string" },
  proposal: { type: "string" },
  "esp-proposal": { type: "string" },
  "local-ts": { type: "string", multiple: true },
  "remote-ts": { type: "string", multiple: true },
  transport: { type: "boolean" },
  "no-mobike": { type: "boolean" },
  "no-fragmentation": { type: "boolean" },
  liveness: { type: "boolean" },
  "rekey-child": { type: "boolean" },
  "create-child": { type: "boolean" },
  pfs: { type: "boolean" },
  "rekey-ike": { type: "boolean" },
  "move-to": { type: "string" },
  "fragment-size": { type: "string" },
  hold: { type: "string" },
  timeout: { type: "string" },
  once: { type: "boolean" },
  "ike-port": { type: "string" },
  "natt-port": { type: "string" },
  "ikev2-keys": { type: "string" },
  "esp-keys": { type: "string" },
  "child-rekey": { type: "string" },
  "ike-rekey": { type: "string" },
  dpd: { type: "string" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>["values"];

class UsageError extends Error {}

function need(v: string | undefined, name: string): string {
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

function buildAuth(v: Values): AuthConfig {
  if (v["psk-file"] !== undefined) {
    if (v.cert !== undefined) throw new UsageError("give either --psk-file or --cert/--key/--ca");
    return { kind: "psk", secret: pskFromFileText(readFileSync(v["psk-file"], "utf8")) };
  }
  const certs = parseCertificatePem(readFileSync(need(v.cert, "cert (or --psk-file)"), "utf8"));
  if (!certs.ok) throw new UsageError(`--cert: ${certs.error}`);
  const key = parsePrivateKeyPem(readFileSync(need(v.key, "key"), "utf8"));
  if (!key.ok) throw new UsageError(`--key: ${key.error}`);
  const ca = parseCertificatePem(readFileSync(need(v.ca, "ca"), "utf8"));
  if (!ca.ok) throw new UsageError(`--ca: ${ca.error}`);
  return { kind: "pubkey", credential: { certificate: certs.value[0]!, key: key.value }, trust: ca.value };
}

function selectors(list: string[] | undefined, name: string) {
  if (!list || list.length === 0) throw new UsageError(`--${name} is required`);
  return list.map((t) => {
    const s = selectorFromPrefix(t);
    if (!s) throw new UsageError(`--${name}: '${t}' is not a prefix`);
    return s;
  });
}

function port(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${name}: not a port`);
  return n;
}

function fragmentSize(text: string | undefined): number {
  if (text === undefined) return 1280;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 128 || n > 65535) throw new UsageError("--fragment-size: 128..65535 octets");
  return n;
}

function seconds(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 604_800) throw new UsageError(`--${name}: seconds, 0..604800`);
  return n;
}

/** `--child-rekey N` / `--ike-rekey N`: rekey after N s (up to 10 % earlier), hard expiry at 1.1 N (strongSwan's proportions). */
function lifetimes(text: string | undefined, fallback: ChildSaLifetimes, name: string): ChildSaLifetimes {
  if (text === undefined) return fallback;
  const ms = seconds(text, 0, name) * 1000;
  if (ms < 1000) throw new UsageError(`--${name}: at least 1 second`);
  return { rekeyAfterMs: ms, expireAfterMs: Math.round(ms * 1.1), rekeyJitterMs: Math.round(ms * 0.1) };
}

function buildConfig(v: Values, name: string): IkeConfig {
  const ike = parseProposals(v.proposal ?? "aes128gcm16-prfsha256-x25519,aes256gcm16-prfsha384-ecp384", "ike");
  if (!ike.ok) throw new UsageError(`--proposal: ${ike.error.token ? `'${ike.error.token}': ` : ""}${ike.error.reason}`);
  const esp = parseProposals(v["esp-proposal"] ?? "aes128gcm16,aes256gcm16", "esp");
  if (!esp.ok) throw new UsageError(`--esp-proposal: ${esp.error.token ? `'${esp.error.token}': ` : ""}${esp.error.reason}`);
  return {
    name,
    localId: parseIdentity(need(v.id, "id")),
    ...(v["remote-id"] !== undefined ? { remoteId: parseIdentity(v["remote-id"]) } : {}),
    auth: buildAuth(v),
    ikeProposals: ike.value,
    espProposals: esp.value,
    childName: "child",
    localTs: selectors(v["local-ts"], "local-ts"),
    remoteTs: selectors(v["remote-ts"], "remote-ts"),
    mode: v.transport ? "transport" : "tunnel",
    mobike: !v["no-mobike"],
    fragmentation: !v["no-fragmentation"],
    maxMessageSize: fragmentSize(v["fragment-size"]),
    childLifetimes: lifetimes(v["child-rekey"], defaultChildLifetimes, "child-rekey"),
    ikeLifetimes: lifetimes(v["ike-rekey"], defaultIkeLifetimes, "ike-rekey"),
    livenessIntervalMs: seconds(v.dpd, 0, "dpd") * 1000,
    retransmit: defaultRetransmit,
    ports: { ike: port(v["ike-port"], defaultPorts.ike, "ike-port"), natT: port(v["natt-port"], defaultPorts.natT, "natt-port") },
    exportKeys: v["ikev2-keys"] !== undefined,
    wallClockSeconds: () => Math.floor(Date.now() / 1000),
  };
}

function suiteJson(n: Negotiated) {
  return {
    encryption: n.encryption.name,
    keySize: n.encryption.keyBits,
    ...(n.integrity ? { integrity: n.integrity.name } : {}),
    ...(n.prf ? { prf: n.prf.name } : {}),
    ...(n.dh ? { dhGroup: n.dh.name } : {}),
  };
}

function ikeJson(s: IkeSaSummary) {
  return {
    name: s.name,
    initiatorSpi: s.initiatorSpi,
    responderSpi: s.responderSpi,
    initiator: s.initiator,
    local: s.local,
    remote: s.remote,
    localId: s.localId,
    remoteId: s.remoteId,
    ...suiteJson(s.negotiated),
    natLocal: s.natLocal,
    natRemote: s.natRemote,
    natDetected: s.natLocal || s.natRemote,
    mobike: s.mobike,
    fragmentation: s.fragmentation,
  };
}

function childJson(c: ChildSaInstall) {
  return {
    name: c.childName,
    protocol: "ESP",
    mode: c.mode.toUpperCase(),
    spiIn: espSpiHex(c.inboundSpi),
    spiOut: espSpiHex(c.outboundSpi),
    ...suiteJson(c.negotiated),
    esn: c.esn,
    suite: c.suite ?? null,
    encapsulation: c.udpEncapsulation ? "UDP" : "none",
    localTs: c.localTs.map(formatSelector),
    remoteTs: c.remoteTs.map(formatSelector),
    rekeySeconds: c.lifetimes.rekeyAfterMs / 1000,
    lifetimeSeconds: c.lifetimes.expireAfterMs / 1000,
    ...(c.rekeys !== undefined ? { rekeys: espSpiHex(c.rekeys) } : {}),
  };
}

function eventJson(e: IkeEvent): unknown {
  switch (e.kind) {
    case "ike-sa-established":
      return { event: e.kind, ike: ikeJson(e.sa) };
    case "ike-sa-rekeyed":
      return { event: e.kind, oldName: e.oldName, ike: ikeJson(e.sa) };
    case "child-sa-installed":
      return { event: e.kind, ikeSa: e.child.ikeSaName, child: childJson(e.child) };
    case "child-sa-deleted":
      return { event: e.kind, ikeSa: e.ikeSaName, spiIn: espSpiHex(e.inboundSpi), spiOut: espSpiHex(e.outboundSpi) };
    case "ike-sa-closed":
    case "child-sa-failed":
      return { ...e, ...(e.notify !== undefined ? { notifyName: notifyName(e.notify) } : {}), event: e.kind };
    case "ike-sa-keys":
      return { event: e.kind, initiatorSpi: e.keys.initiatorSpi, responderSpi: e.keys.responderSpi };
    default:
      return { ...e, event: e.kind };
  }
}

function random(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

/**
 * Installs every CHILD_SA into a SAD through the IKE → SAD adapter (the same path the daemons use;
 * the probe carries no traffic, so the portable backend suffices) and writes key lines when asked
 * (SECRET KEYS): IKE SAs from the IKE core, ESP SAs from the IPsec core's esp_sa writer.
 */
function keyWriter(v: Values): (e: IkeEvent) => void {
  const backend = createNobleBackend();
  const installer = new IkeSaInstaller(new SecurityAssociationDatabase(() => backend), new SecurityPolicyDatabase());
  const started = new Set<string>();
  const append = (file: string, header: string, lines: string[]) => {
    if (!started.has(file)) {
      started.add(file);
      appendFileSync(file, header, { mode: 0o600 });
    }
    appendFileSync(file, lines.map((l) => `${l}\n`).join(""), { mode: 0o600 });
  };
  return (e) => {
    if (e.kind === "ike-sa-keys" && v["ikev2-keys"]) {
      const line = ikev2DecryptionTableLine(e.keys);
      if (line) append(v["ikev2-keys"], IKEV2_TABLE_HEADER, [line]);
    }
    const now = monotonicNow();
    installer.handleTimeout(now);
    const installed = installer.handleEvent(e, now);
    if (!installed.ok) console.error(`monami ike: CHILD_SA not installed in the SAD: ${installed.error.kind}: ${installed.error.detail}`);
    else if (installed.value.length > 0 && v["esp-keys"]) append(v["esp-keys"], espSaKeyFile([]), installed.value.map((sa) => espSaUatLine(sa)));
  };
}

class EventLog {
  readonly events: IkeEvent[] = [];
  #waiters: { match: (e: IkeEvent) => boolean; resolve: (e: IkeEvent | undefined) => void }[] = [];
  push(e: IkeEvent): void {
    this.events.push(e);
    for (const w of [...this.#waiters]) {
      if (w.match(e)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  }
  /** Resolves with the first (past or future) event matching, or undefined at the deadline. */
  wait(match: (e: IkeEvent) => boolean, deadline: number, since = 0): Promise<IkeEvent | undefined> {
    const seen = this.events.slice(since).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const w = { match, resolve };
      this.#waiters.push(w);
      setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) {
          this.#waiters.splice(i, 1);
          resolve(undefined);
        }
      }, Math.max(0, deadline - Date.now()));
    });
  }
}

function failure(reason: string, notify?: number): number {
  console.error(`monami ike: ${reason}${notify !== undefined ? ` (${notifyName(notify)})` : ""}`);
  console.log(JSON.stringify({ ok: false, error: reason, ...(notify !== undefined ? { notify: notifyName(notify), notifyType: notify } : {}) }, null, 2));
  return ExitCode.failure;
}

async function probe(v: Values): Promise<number> {
  const config = buildConfig(v, "probe");
  const peer = need(v.peer, "peer");
  const local = need(v.local, "local");
  const deadline = Date.now() + 1000 * Number(v.timeout ?? 30);
  const endpoint = new IkeEndpoint({ random });
  const log = new EventLog();
  const writeKeys = keyWriter(v);
  const edge = new IkeUdpEdge({ endpoint, ports: config.ports, now: monotonicNow, onEvent: (e) => (writeKeys(e), log.push(e)) });
  try {
    await edge.bind(local);
  } catch (e) {
    return failure(`cannot bind ${local}: ${(e as Error).message}`);
  }
  try {
    let sa = endpoint.initiate(config, { address: local, port: config.ports.ike }, { address: peer, port: config.ports.ike }, monotonicNow());
    edge.pump();
    const up = await log.wait((e) => e.kind === "ike-sa-established" || e.kind === "ike-sa-closed", deadline);
    if (!up) return failure("timeout waiting for the IKE SA");
    if (up.kind === "ike-sa-closed") return failure(up.reason, up.notify);
    const first = await log.wait((e) => e.kind === "child-sa-installed" || e.kind === "child-sa-failed" || e.kind === "ike-sa-closed", deadline);
    if (!first || first.kind !== "child-sa-installed") {
      return first && (first.kind === "child-sa-failed" || first.kind === "ike-sa-closed") ? failure(`CHILD_SA: ${first.reason}`, first.notify) : failure("timeout waiting for the CHILD_SA");
    }
    const exchanges: unknown[] = [];
    const step = async (name: string, start: () => void, done: (e: IkeEvent) => boolean): Promise<boolean> => {
      const mark = log.events.length;
      start();
      edge.pump();
      const e = await log.wait((x) => done(x) || x.kind === "ike-sa-closed" || x.kind === "child-sa-failed", deadline, mark);
      if (!e || !done(e)) {
        exchanges.push({ exchange: name, ok: false, ...(e ? { event: eventJson(e) } : { error: "timeout" }) });
        return false;
      }
      exchanges.push({ exchange: name, ok: true, result: eventJson(e) });
      return true;
    };
    let ok = true;
    if (v.liveness) ok &&= await step("liveness", () => endpoint.checkLiveness(sa, monotonicNow()), (e) => e.kind === "liveness");
    if (ok && v["create-child"]) ok &&= await step("create-child", () => endpoint.createChild(sa, Boolean(v.pfs), monotonicNow()), (e) => e.kind === "child-sa-installed");
    if (ok && v["rekey-child"]) {
      const child = sa.children[0]!;
      ok &&= await step("rekey-child", () => endpoint.rekeyChild(sa, child, Boolean(v.pfs), monotonicNow()), (e) => e.kind === "child-sa-deleted" && e.inboundSpi === child.inboundSpi);
    }
    if (ok && v["rekey-ike"]) {
      ok &&= await step("rekey-ike", () => endpoint.rekeyIke(sa, monotonicNow()), (e) => e.kind === "ike-sa-closed" && e.name === sa.name);
      const next = endpoint.ikeSas.find((s) => s.state === "established");
      if (next) sa = next;
      else ok = false;
    }
    if (ok && v["move-to"]) {
      const to = v["move-to"];
      await edge.bind(to);
      ok &&= await step("mobike", () => endpoint.updateAddresses(sa, to, undefined, monotonicNow()), (e) => e.kind === "endpoints-updated");
    }
    const hold = Number(v.hold ?? 0);
    if (ok && hold > 0) await new Promise((r) => setTimeout(r, hold * 1000));
    // The peer may have rekeyed the IKE SA meanwhile: delete whichever one is current.
    const current = endpoint.ikeSas.find((s) => s.state === "established");
    if (!current) return failure("the IKE SA is gone before we could delete it");
    sa = current;
    const children = log.events.filter((e): e is Extract<IkeEvent, { kind: "child-sa-installed" }> => e.kind === "child-sa-installed");
    const established = log.events.filter((e): e is Extract<IkeEvent, { kind: "ike-sa-established" | "ike-sa-rekeyed" }> => e.kind === "ike-sa-established" || e.kind === "ike-sa-rekeyed");
    const mark = log.events.length;
    endpoint.deleteIke(sa, monotonicNow());
    edge.pump();
    const closed = await log.wait((e) => e.kind === "ike-sa-closed" && e.name === sa.name, deadline, mark);
    const result = {
      ok,
      ike: ikeJson(established[established.length - 1]!.sa),
      child: childJson(first.child),
      ...(children.length > 1 ? { children: children.map((c) => childJson(c.child)) } : {}),
      ...(exchanges.length > 0 ? { exchanges } : {}),
      deleted: closed !== undefined && closed.kind === "ike-sa-closed" && closed.reason === "deleted by us",
      counters: endpoint.counters.snapshot(),
    };
    console.log(JSON.stringify(result, null, 2));
    return ok && result.deleted ? ExitCode.ok : ExitCode.failure;
  } finally {
    edge.close();
  }
}

async function respond(v: Values): Promise<number> {
  const config = buildConfig(v, "respond");
  const local = need(v.local, "local");
  const endpoint = new IkeEndpoint({ random, responder: config });
  const writeKeys = keyWriter(v);
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));
  let established = 0;
  const edge = new IkeUdpEdge({
    endpoint,
    ports: config.ports,
    now: monotonicNow,
    onEvent: (e) => {
      writeKeys(e);
      console.log(JSON.stringify(eventJson(e)));
      if (e.kind === "ike-sa-established") established++;
      if (v.once && e.kind === "ike-sa-closed" && established > 0 && endpoint.ikeSas.length === 0) finish(ExitCode.ok);
    },
  });
  try {
    await edge.bind(local);
  } catch (e) {
    return failure(`cannot bind ${local}: ${(e as Error).message}`);
  }
  console.log(JSON.stringify({ event: "listening", local, ports: config.ports }));
  const stop = () => finish(ExitCode.ok);
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  const timer = v.timeout !== undefined ? setTimeout(() => finish(established > 0 ? ExitCode.ok : ExitCode.failure), Number(v.timeout) * 1000) : undefined;
  const code = await done;
  if (timer) clearTimeout(timer);
  process.off("SIGTERM", stop);
  process.off("SIGINT", stop);
  console.log(JSON.stringify({ event: "stopped", counters: endpoint.counters.snapshot() }));
  edge.close();
  return code;
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options });
  } catch (e) {
    console.error(`monami ike: ${(e as Error).message}\n${USAGE}`);
    return ExitCode.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return ExitCode.ok;
  }
  try {
    if (positionals[0] === "probe" && positionals.length === 1) return await probe(values);
    if (positionals[0] === "respond" && positionals.length === 1) return await respond(values);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`monami ike: ${e.message}`);
      return ExitCode.usage;
    }
    throw e;
  }
  console.error(USAGE);
  return ExitCode.usage;
}

