// Hosts the packet loop in one thread: opens the tunnel interface and sockets, applies control messages, runs, closes every descriptor.

import { openSignallingPacketSocket } from "../../board/linux/packet-socket.ts";
import { type DatagramSocket, openRawSocket } from "../../board/linux/raw-socket.ts";
import { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TunDevice } from "../../board/linux/tun.ts";
import { formatSysError, interfaceIndex, type SysResult } from "../../board/linux/ffi/libc.ts";
import { Counters } from "../core/counters.ts";
import { instant, type Instant } from "../core/instant.ts";
import { ESP_SUITES } from "../crypto/suites.ts";
import { fastestCryptoProvider } from "../runtime/crypto-backends.ts";
import { formatIpv4, formatIpv6, parseIpv6 } from "../wire/address.ts";
import { BindingTable } from "./binding-table.ts";
import type { ForwardingPath } from "./forwarding.ts";
import { HomeAgentForwarding } from "./homeagent-forwarding.ts";
import { applySteering } from "./multicoa-steering.ts";
import { IkeSaSink } from "./ike-sa-sink.ts";
import { addressBytes, openNatTSocket, UdpEncapsulationPath } from "./udp-encap-path.ts";
import { openDsmipSocket } from "./dsmip-path.ts";
import { LocalPort } from "./local-delivery.ts";
import { CONTROL_PENDING, type FromLoop, type LoopSetup, type ToLoop } from "./loop-protocol.ts";
import { innerMtu, tunnelInterfaceMtu } from "./mtu.ts";
import { type LoopUplink, PacketLoop } from "./packet-loop.ts";
import { RouterForwarding } from "./router-forwarding.ts";
import { HotCounter, SharedCounters } from "./shared-counters.ts";
import { createSecurityState, installPolicy, installSa } from "./static-security.ts";

/** How long an idle loop sleeps in ppoll before looking at control messages again. */
const IDLE_POLL_MS = 10;
/** A busy loop yields to its thread's event loop at least this often (control messages, GC). */
const BUSY_YIELD_MS = 25;

const now = (): Instant => instant(performance.now());

/** Everything one running packet loop owns. */
export class LoopHost {
  readonly #post: (message: FromLoop) => void;
  #tun: TunDevice | undefined;
  #sockets: DatagramSocket[] = [];
  #loop: PacketLoop | undefined;
  #path: ForwardingPath | undefined;
  #uplinks: LoopUplink[] = [];
  #control: Int32Array | undefined;
  #hot: SharedCounters | undefined;
  #ike: IkeSaSink | undefined;
  #udp: UdpEncapsulationPath | undefined;
  readonly #counters = new Counters();
  #running = false;
  #stopped: Promise<void> | undefined;

  constructor(post: (message: FromLoop) => void) {
    this.#post = post;
  }

  /** Applies one control message. `start` resolves once the loop runs (or failed and closed everything). */
  async handle(message: ToLoop, mode: "blocking" | "cooperative"): Promise<void> {
    switch (message.type) {
      case "start":
        await this.#start(message.setup, message.counters, message.control, mode);
        return;
      case "active-uplink":
        if (this.#path instanceof RouterForwarding) this.#path.activeUplink = message.index;
        return;
      case "bindings":
        if (this.#path instanceof HomeAgentForwarding) this.#path.bindings = new BindingTable(message.entries);
        return;
      case "steering":
        applySteering(this.#path, this.#uplinks, message);
        return;
      case "send-signalling": {
        const destination = parseIpv6(message.destination);
        if (destination && this.#loop) this.#loop.sendSignalling(message.uplink, message.packet, destination);
        return;
      }
      case "send-signalling-udp": {
        const destination = addressBytes(message.destination);
        if (destination && this.#loop) this.#loop.sendSignallingUdp(message.uplink, message.packet, destination, message.port);
        return;
      }
      case "send-local": {
        const destination = message.destination === undefined ? undefined : parseIpv6(message.destination);
        if (this.#loop && (message.destination === undefined || destination)) this.#loop.sendLocal(message.uplink, message.packet, destination, now());
        return;
      }
      case "ike":
        if (message.command.kind !== "send") this.#ike?.handle(message.command, now());
        else this.#udp?.send(message.command.uplink, message.command.local, message.command.remote, message.command.bytes, message.command.keepalive, now());
        return;
      case "counters":
        this.#post({ type: "counters", id: message.id, values: { ...this.#counters.snapshot(), ...this.#hot?.snapshot() } });
        return;
      case "stop":
        await this.stop();
        return;
    }
  }

  async #start(setup: LoopSetup, counters: SharedArrayBuffer, control: SharedArrayBuffer, mode: "blocking" | "cooperative"): Promise<void> {
    try {
      this.#hot = new SharedCounters(counters);
      this.#control = new Int32Array(control);
      const provider = await fastestCryptoProvider();
      const security = createSecurityState(provider, this.#counters);
      for (const sa of setup.sas) {
        const r = installSa(security, sa, now());
        if (!r.ok) throw new Error(r.error);
      }
      for (const p of setup.policies) {
        const r = installPolicy(security, p);
        if (!r.ok) throw new Error(r.error);
      }
      this.#ike = new IkeSaSink(security.sad, security.spd, (report) => this.#post({ type: "ike", report }));
      const suite = ESP_SUITES[setup.tunnelSuite];
      const innerMtus = setup.uplinks.map((u) => innerMtu(u.mtu, suite, setup.udpEncapsulationPort === undefined ? "esp6" : "udp6"));
      const tunnelMtu = tunnelInterfaceMtu(innerMtus);
      if (tunnelMtu === undefined) throw new Error("no uplink can carry 1280-octet inner packets without fragmentation");
      const tun = TunDevice.open(setup.tunName, { nonBlocking: true, vnetHeader: setup.offload, offload: TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 });
      if (!tun.ok) throw new Error(`tun ${setup.tunName}: ${formatSysError(tun.error)}`);
      this.#tun = tun.value;
      const uplinkErrors: string[] = [];
      const homeAgentIpv4 = setup.homeAgentIpv4Address === undefined ? undefined : addressBytes(setup.homeAgentIpv4Address);
      const uplinks: LoopUplink[] = setup.uplinks.map((u) => ({
        ...this.#openUplink(setup, u.id, u.interfaceName, u.sourceAddress, uplinkErrors),
        ...this.#openDsmip(setup, u.id, u.ipv4Address, uplinkErrors),
        // An IPv4-only uplink (RFC 5555 care-of address): ESP in UDP to the home agent's IPv4 address.
        ...(u.ipv4Address !== undefined && homeAgentIpv4 !== undefined ? { ipv4Peer: homeAgentIpv4 } : {}),
      }));
      this.#uplinks = uplinks;
      const localPort = setup.localPort === undefined ? undefined : new LocalPort(setup.localPort);
      const common = { spd: security.spd, sad: security.sad, outbound: security.outbound, inbound: security.inbound, counters: this.#counters, localPort };
      if (setup.role === "router") {
        const homeAgent = parseIpv6(setup.homeAgentAddress ?? "");
        if (!homeAgent) throw new Error("router: homeAgentAddress must be an IPv6 address");
        const path = new RouterForwarding({
          ...common,
          homeAgentAddress: homeAgent,
          homeAgentIpv4,
          uplinks: setup.uplinks.map((u, i) => ({ careOfAddress: parseIpv6(u.sourceAddress ?? "::")!, innerMtu: innerMtus[i]! })),
        });
        path.activeUplink = setup.activeUplink ?? -1;
        this.#path = path;
      } else {
        this.#path = new HomeAgentForwarding({ ...common, innerMtu: Math.min(...innerMtus) });
      }
      this.#loop = new PacketLoop(tun.value.fd, uplinks, this.#path, this.#hot, this.#counters, {
        batchSize: setup.batchSize,
        tunnelMtu,
        vnetHeader: setup.offload,
        tooBigSource: setup.tooBigSource,
        onSignalling: (uplink, packet, from) => this.#post({ type: "signalling", uplink, packet, ...(from !== undefined ? { from } : {}) }),
        dsmipSignallingPeer: setup.dsmip === undefined ? undefined : parseIpv6(setup.dsmip.homeAgentAddress),
        udpEncapsulation: (this.#udp = setup.udpEncapsulationPort === undefined ? undefined : new UdpEncapsulationPath(security.sad, uplinks, this.#counters, setup.udpEncapsulationPort)),
        onIkeDatagram: (uplink, local, remote, bytes) => this.#post({ type: "ike", report: { kind: "datagram", uplink, local: { address: local.address, port: setup.udpEncapsulationPort! }, remote, bytes } }),
        onLocal: (uplink, source, packet) => this.#post({ type: "local", uplink, source: source.length === 16 ? formatIpv6(source) : formatIpv4(source), packet }),
      });
      this.#running = true;
      this.#post({ type: "ready", tunName: tun.value.name, tunnelMtu, innerMtus, uplinkErrors });
      this.#stopped = mode === "blocking" ? this.#runBlocking() : this.#runCooperative();
    } catch (e) {
      this.#closeAll();
      this.#post({ type: "failed", message: e instanceof Error ? e.message : String(e) });
    }
  }

  #openUplink(setup: LoopSetup, id: string, device: string, sourceAddress: string | undefined, errors: string[]): LoopUplink {
    const index = interfaceIndex(device);
    const keep = (r: SysResult<DatagramSocket>, what: string) => {
      if (r.ok) {
        this.#sockets.push(r.value);
        return r.value;
      }
      errors.push(`${id}: ${what}: ${formatSysError(r.error)}`);
      return undefined;
    };
    if (!index.ok) {
      errors.push(`${id}: interface ${device}: ${formatSysError(index.error)}`);
      return { id, interfaceIndex: 0, esp: undefined, signallingReceive: undefined, signallingSend: undefined, source: undefined };
    }
    const clear = setup.clearTunnel ? keep(openRawSocket("ipv6-in-ipv6", { device, bufferBytes: setup.socketBufferBytes }), "IPv6-in-IPv6 socket") : undefined;
    const esp = keep(openRawSocket("esp6", { device, bufferBytes: setup.socketBufferBytes }), "ESP socket");
    const signallingReceive = setup.signalling ? keep(openSignallingPacketSocket(device), "signalling packet socket") : undefined;
    const signallingSend = setup.signalling ? keep(openRawSocket("ipv6-header-included", { device }), "signalling raw socket") : undefined;
    const source = sourceAddress === undefined ? undefined : parseIpv6(sourceAddress);
    const udp = setup.udpEncapsulationPort === undefined ? undefined : keep(openNatTSocket(device, setup.udpEncapsulationPort, setup.socketBufferBytes), "NAT-T socket");
    return { id, interfaceIndex: index.value, esp, signallingReceive, signallingSend, source, udp, clear };
  }

  /** RFC 5555: the uplink's UDP socket on its IPv4 address (router: any port; home agent: 4191), when asked for. */
  #openDsmip(setup: LoopSetup, id: string, ipv4Address: string | undefined, errors: string[]): { dsmip?: DatagramSocket } {
    if (setup.dsmip === undefined || ipv4Address === undefined) return {};
    const port = setup.role === "homeagent" ? setup.dsmip.port : 0;
    const r = openDsmipSocket(ipv4Address, port, setup.socketBufferBytes);
    if (!r.ok) {
      errors.push(`${id}: RFC 5555 socket ${ipv4Address}:${port}: ${formatSysError(r.error)}`);
      return {};
    }
    this.#sockets.push(r.value);
    return { dsmip: r.value };
  }

  /** The Worker's loop: pump while there is work, sleep in ppoll when idle, yield when asked or every BUSY_YIELD_MS. */
  async #runBlocking(): Promise<void> {
    const loop = this.#loop!;
    const control = this.#control!;
    const hot = this.#hot!;
    let yieldedAt = performance.now();
    while (this.#running) {
      const t = performance.now();
      if (!loop.pump(instant(t))) loop.wait(IDLE_POLL_MS);
      if (Atomics.load(control, CONTROL_PENDING) !== 0 || t - yieldedAt > BUSY_YIELD_MS) {
        Atomics.store(control, CONTROL_PENDING, 0);
        this.#ike?.tick(instant(t));
        this.#udp?.tick(instant(t));
        hot.add(HotCounter["loop.yields"], 1);
        await new Promise<void>((resolve) => setImmediate(resolve));
        yieldedAt = performance.now();
      }
    }
  }

  /** The main-thread variant (for comparison): bounded slices between event-loop turns, never blocking. */
  #runCooperative(): Promise<void> {
    const loop = this.#loop!;
    const hot = this.#hot!;
    return new Promise<void>((resolve) => {
      const slice = () => {
        if (!this.#running) return resolve();
        const started = performance.now();
        let moved = false;
        for (;;) {
          const t = performance.now();
          if (!loop.pump(instant(t))) break;
          moved = true;
          if (t - started > 2) break;
        }
        hot.add(HotCounter["loop.yields"], 1);
        this.#ike?.tick(instant(performance.now()));
        this.#udp?.tick(instant(performance.now()));
        if (moved) setImmediate(slice);
        else setTimeout(slice, 1);
      };
      slice();
    });
  }

  /** Stops the loop and closes every descriptor it opened; resolves to how many it closed. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#stopped;
    const closed = this.#closeAll();
    this.#post({ type: "stopped", closedDescriptors: closed });
  }

  #closeAll(): number {
    let closed = 0;
    for (const s of this.#sockets) {
      if (s.isOpen) closed++;
      s.close();
    }
    this.#sockets = [];
    if (this.#tun) {
      this.#tun.close();
      closed++;
      this.#tun = undefined;
    }
    this.#loop = undefined;
    return closed;
  }
}
