// One daemon's IKEv2: the sans-IO endpoint, UDP 500 here and NAT-T (4500) through the packet loop, CHILD_SAs into the loop's SAD or the signalling SAD, reports back.

import { appendFileSync } from "node:fs";
import { createSocket, type Socket } from "node:dgram";
import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import { createNobleBackend } from "../crypto/noble-backend.ts";
import { type ChildSaInstall, espSpiHex } from "../ike/child-sa.ts";
import type { Datagram, Endpoint } from "../ike/endpoint.ts";
import { endpointText } from "../ike/endpoint.ts";
import type { IkeEvent } from "../ike/events.ts";
import type { IkeEndpoint } from "../ike/ike-endpoint.ts";
import { notifyName } from "../ike/constants.ts";
import { IKEV2_TABLE_HEADER, ikev2DecryptionTableLine } from "../ike/key-export.ts";
import { espSaKeyFile, espSaUatLine } from "../ipsec/key-export.ts";
import { SecurityAssociationDatabase } from "../ipsec/sad.ts";
import { SecurityPolicyDatabase } from "../ipsec/spd.ts";
import { IkeSaInstaller } from "../multicoa/sa-installer.ts";
import type { DataplaneHandle } from "../dataplane/dataplane-handle.ts";
import { childSaTransfer, type IkeFromLoop, isSaLifecycleEvent } from "../dataplane/ike-loop-protocol.ts";
import { NON_ESP_MARKER_LENGTH } from "../dataplane/udp-encap-path.ts";
import { CoreTimer, monotonicNow } from "./daemon.ts";
import type { IkeSignallingSecurity } from "./ike-signalling.ts";

export interface IkeSessionOptions {
  readonly endpoint: IkeEndpoint;
  readonly dataplane: DataplaneHandle;
  /** Where transport-mode CHILD_SAs (BU/BA) go; undefined: none are expected. */
  readonly signalling: IkeSignallingSecurity | undefined;
  readonly ports: { readonly ike: number; readonly natT: number };
  /** The uplink (index in the loop's setup) whose NAT-T socket serves a local address. */
  readonly uplinkOf: (localAddress: string) => number;
  readonly counters: Counters;
  readonly log: (line: string) => void;
  /** Debug key export files (SECRET KEYS), when configured. */
  readonly keyExport?: { readonly ikev2: string; readonly esp: string } | undefined;
  /** The inbound anti-replay window of a tunnel CHILD_SA (its peer's ipsec.multiCoa.replayWindow); undefined: the SAD default. */
  readonly replayWindowOf?: (child: ChildSaInstall) => number | undefined;
  /** Every IKE event after it was applied (the role's hook: first BU once the BU/BA SA exists, …). */
  readonly onEvent?: (event: IkeEvent) => void;
}

/**
 * Runs the IKE endpoint of a daemon. Port 500 is a node:dgram socket per local address (`bind`);
 * port 4500 is the packet loop's NAT-T socket of the uplink (one socket for IKE with the non-ESP
 * marker and ESP in UDP, RFC 3948 §2.2), so IKE there crosses the thread boundary as messages.
 * Keys cross it only inside transferred buffers and are never logged.
 */
export class IkeSession {
  readonly #o: IkeSessionOptions;
  readonly #sockets = new Map<string, Socket>();
  readonly #timer: CoreTimer;
  readonly #export: KeyExport | undefined;
  #closed = false;

  constructor(options: IkeSessionOptions) {
    this.#o = options;
    this.#export = options.keyExport ? new KeyExport(options.keyExport) : undefined;
    this.#timer = new CoreTimer(
      () => {
        const a = options.endpoint.pollTimeout();
        const b = options.signalling?.pollTimeout();
        return a === undefined ? b : b === undefined ? a : (Math.min(a, b) as Instant);
      },
      (now) => {
        options.endpoint.handleTimeout(now);
        options.signalling?.tick(now, options.endpoint);
        this.pump();
      },
    );
    options.dataplane.onIke = (report) => this.#fromLoop(report);
  }

  get endpoint(): IkeEndpoint {
    return this.#o.endpoint;
  }

  /** Opens UDP port 500 on `address` (the router: each care-of address it may use; the home agent: its address). */
  async bind(address: string): Promise<void> {
    if (this.#sockets.has(address)) return;
    const socket = createSocket({ type: address.includes(":") ? "udp6" : "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(this.#o.ports.ike, address, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    const local: Endpoint = { address, port: this.#o.ports.ike };
    socket.on("message", (msg, rinfo) => {
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      this.#o.endpoint.handleDatagram({ local, remote: { address: rinfo.address, port: rinfo.port }, bytes, nonEspMarker: false }, monotonicNow());
      this.pump();
    });
    socket.on("error", () => this.#o.counters.increment("ike.udp.socket-error"));
    this.#sockets.set(address, socket);
  }

  #fromLoop(report: IkeFromLoop): void {
    const ep = this.#o.endpoint;
    const now = monotonicNow();
    switch (report.kind) {
      case "datagram":
        ep.handleDatagram({ local: report.local, remote: report.remote, bytes: report.bytes, nonEspMarker: true }, now);
        break;
      case "lifetime":
        ep.childLifetimeExpired(report.spi, report.direction, report.hard, now);
        break;
      case "activity":
        for (const spi of report.inboundSpis) ep.noteEspActivity(spi, now);
        break;
      case "install-failed":
        this.#o.log(`IKE: CHILD_SA ${report.childName} not installed in the data plane: ${report.detail}`);
        break;
    }
    this.pump();
  }

  /** Sends what the core queued, applies its events, re-arms the timer. Call after any call on the endpoint. */
  pump(): void {
    if (this.#closed) return;
    const ep = this.#o.endpoint;
    for (let round = 0; round < 4; round++) {
      let moved = false;
      for (let d = ep.pollTransmit(); d; d = ep.pollTransmit()) {
        moved = true;
        this.#send(d);
      }
      for (let e = ep.pollEvent(); e; e = ep.pollEvent()) {
        moved = true;
        this.#apply(e);
      }
      if (!moved) break;
    }
    this.#timer.rearm();
  }

  #send(d: Datagram): void {
    if (d.local.port === this.#o.ports.natT) {
      const keepalive = !d.nonEspMarker && d.bytes.length === 1 && d.bytes[0] === 0xff;
      const bytes = d.nonEspMarker ? new Uint8Array(NON_ESP_MARKER_LENGTH + d.bytes.length) : d.bytes;
      if (d.nonEspMarker) bytes.set(d.bytes, NON_ESP_MARKER_LENGTH);
      this.#o.dataplane.ike({ kind: "send", uplink: this.#o.uplinkOf(d.local.address), local: d.local.address, remote: d.remote, bytes, keepalive });
      return;
    }
    const socket = this.#sockets.get(d.local.address);
    if (!socket) {
      this.#o.counters.increment("ike.udp.no-socket");
      return;
    }
    socket.send(d.bytes, d.remote.port, d.remote.address, (error) => {
      if (error) this.#o.counters.increment("ike.udp.send-error");
    });
  }

  #apply(e: IkeEvent): void {
    const now = monotonicNow();
    const log = this.#o.log;
    this.#export?.event(e, now);
    switch (e.kind) {
      case "child-sa-installed": {
        const c = e.child;
        log(`IKE: CHILD_SA ${c.childName} ${c.mode} ${espSpiHex(c.inboundSpi)}_i ${espSpiHex(c.outboundSpi)}_o ${c.suite ?? c.negotiated.encryption.name}${c.udpEncapsulation ? " in UDP" : ""}${c.rekeys !== undefined ? ` (rekeys ${espSpiHex(c.rekeys)})` : ""}`);
        if (c.mode === "transport") {
          if (!this.#o.signalling) log(`IKE: transport-mode CHILD_SA ${c.childName} has no use here`);
          else {
            const r = this.#o.signalling.handleEvent(e, now);
            if (!r.ok) log(`IKE: signalling SA not installed: ${r.error}`);
          }
        } else {
          const { transfer, buffer } = childSaTransfer(c);
          const replayWindow = this.#o.replayWindowOf?.(c);
          this.#o.dataplane.ike({ kind: "install", child: transfer, ...(replayWindow !== undefined ? { replayWindow } : {}) }, [buffer]);
        }
        break;
      }
      case "ike-sa-established":
        log(`IKE: SA ${e.sa.name} up ${endpointText(e.sa.local)} ↔ ${endpointText(e.sa.remote)} ${e.sa.negotiated.encryption.name}_${e.sa.negotiated.encryption.keyBits}/${e.sa.negotiated.prf?.name ?? "?"}/${e.sa.negotiated.dh?.name ?? "?"} id ${e.sa.remoteId}${e.sa.natLocal || e.sa.natRemote ? " NAT" : ""}${e.sa.mobike ? " MOBIKE" : ""}`);
        break;
      case "ike-sa-closed":
        log(`IKE: SA ${e.name} closed: ${e.reason}${e.notify !== undefined ? ` (${notifyName(e.notify)})` : ""}`);
        break;
      case "child-sa-failed":
        log(`IKE: CHILD_SA ${e.childName} failed: ${e.reason}${e.notify !== undefined ? ` (${notifyName(e.notify)})` : ""}`);
        break;
      case "ike-sa-rekeyed":
        log(`IKE: SA ${e.oldName} rekeyed as ${e.sa.name}`);
        break;
      case "endpoints-updated":
        log(`IKE: SA ${e.ikeSaName} now ${endpointText(e.local)} ↔ ${endpointText(e.remote)}${e.udpEncapsulation ? " (ESP in UDP)" : ""}`);
        break;
      case "child-sa-deleted":
        log(`IKE: CHILD_SA ${espSpiHex(e.inboundSpi)}_i deleted`);
        break;
      default:
        break;
    }
    if (isSaLifecycleEvent(e)) {
      this.#o.dataplane.ike({ kind: "event", event: e });
      this.#o.signalling?.handleEvent(e, now);
    }
    this.#o.onEvent?.(e);
  }

  /** Deletes every IKE SA (INFORMATIONAL DELETE) and waits up to `graceMs` for the answers. */
  async deleteAll(graceMs: number): Promise<void> {
    const ep = this.#o.endpoint;
    const now = monotonicNow();
    for (const sa of ep.ikeSas) if (sa.state === "established") ep.deleteIke(sa, now);
    this.pump();
    const deadline = performance.now() + graceMs;
    while (performance.now() < deadline && ep.ikeSas.some((sa) => sa.state !== "closed")) await Bun.sleep(20);
  }

  close(): void {
    this.#closed = true;
    this.#timer.stop();
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
  }
}

/** Debug key export (SECRET KEYS, off unless configured): IKE SAs as ikev2_decryption_table lines, CHILD_SAs as esp_sa lines. */
class KeyExport {
  readonly #files: { readonly ikev2: string; readonly esp: string };
  readonly #started = new Set<string>();
  readonly #sad = new SecurityAssociationDatabase(() => createNobleBackend());
  readonly #installer = new IkeSaInstaller(this.#sad, new SecurityPolicyDatabase());

  constructor(files: { readonly ikev2: string; readonly esp: string }) {
    this.#files = files;
  }

  #append(file: string, header: string, lines: readonly string[]): void {
    if (!this.#started.has(file)) {
      this.#started.add(file);
      appendFileSync(file, header, { mode: 0o600 });
    }
    appendFileSync(file, lines.map((l) => `${l}\n`).join(""), { mode: 0o600 });
  }

  event(e: IkeEvent, now: Instant): void {
    if (e.kind === "ike-sa-keys") {
      const line = ikev2DecryptionTableLine(e.keys);
      if (line) this.#append(this.#files.ikev2, IKEV2_TABLE_HEADER, [line]);
      return;
    }
    if (e.kind !== "child-sa-installed") return;
    // A throwaway SAD makes the esp_sa lines from the same SaConfigs the data plane installs, then forgets them.
    const installed = this.#installer.handleEvent(e, now);
    if (!installed.ok || installed.value.length === 0) return;
    this.#append(this.#files.esp, espSaKeyFile([]), installed.value.map((sa) => espSaUatLine(sa)));
    for (const sa of installed.value) this.#sad.delete(sa.spi, sa.direction);
  }
}
