// The `router` daemon: mobile network → ESP tunnel over the chosen uplink; BU/BA from the care-of address under ESP transport mode.

import { Counters } from "../core/counters.ts";
import { DataplaneHandle, type LoopPlacement } from "../dataplane/dataplane-handle.ts";
import { BindingUpdateList } from "../mobility/binding-update-list.ts";
import { bindingId, linkId } from "../mobility/types.ts";
import { fastestCryptoProvider } from "../runtime/crypto-backends.ts";
import { type RouterServices, startRouterServices } from "../runtime/router-runtime.ts";
import { parsePrefix, type Prefix } from "../wire/address.ts";
import { CoreTimer, type Daemon, monotonicNow, TimerLateness } from "./daemon.ts";
import { routerSteps, runSteps, undoSteps } from "./host-network.ts";
import { LINK_PROBE_UDP_PORT, linkProbeKey } from "./link-probes.ts";
import type { RouterConfig } from "./role-config.ts";
import { serveRoleControl } from "./role-control.ts";
import { roleSecurity } from "./security-specs.ts";
import { SignallingSecurity } from "./signalling-security.ts";

export interface RouterOptions {
  readonly log: (line: string) => void;
  readonly placement?: LoopPlacement;
}

/** How long shutdown waits for the de-registration BA before closing the sockets. */
const DEREGISTRATION_GRACE_MS = 300;

/**
 * Starts the mobile router. Control commands on `config.controlSocket`: `status`, `counters`,
 * `uplink ID` (moves all traffic and the home registration to that uplink's care-of address).
 */
export async function startRouter(config: RouterConfig, options: RouterOptions): Promise<Daemon> {
  const log = options.log;
  const counters = new Counters();
  const security = roleSecurity("router", config.ipsec, { homeAddress: config.homeAddress, homeAgent: config.homeAgent, mobileNetworkPrefixes: config.mobileNetworkPrefixes });
  if (!security.ok) throw new Error(security.error);
  const provider = await fastestCryptoProvider();
  const signalling = new SignallingSecurity(provider, counters, security.value.signallingSas, monotonicNow());
  let active = config.uplinks.findIndex((u) => u.id === config.activeUplink);
  // Before the loop takes the SAs over (installing one wipes the caller's key copy).
  const tunnelKey = (direction: "outbound" | "inbound") => security.value.tunnelSas.find((s) => s.direction === direction)!.encryptionKey;
  const probeKey = linkProbeKey(tunnelKey("outbound"), tunnelKey("inbound"));
  const { handle, ready } = await DataplaneHandle.start(
    {
      role: "router",
      tunName: config.tunnel.interface,
      tunnelSuite: config.ipsec.tunnel.suite,
      batchSize: config.loop.batchSize,
      uplinks: config.uplinks.map((u) => ({ id: u.id, interfaceName: u.interface, mtu: u.mtu, sourceAddress: u.careOfAddress })),
      homeAgentAddress: config.homeAgent,
      tooBigSource: config.lan.address,
      sas: security.value.tunnelSas,
      policies: security.value.policies,
      signalling: true,
      socketBufferBytes: config.loop.socketBufferBytes,
      offload: config.loop.offload,
      activeUplink: active,
      localPort: { address: config.homeAddress, port: LINK_PROBE_UDP_PORT },
    },
    options.placement ?? config.loop.placement,
  );
  for (const e of ready.uplinkErrors) log(`uplink: ${e}`);
  log(`packet loop (${handle.placement}) on ${ready.tunName}, MTU ${ready.tunnelMtu}; inner MTU per uplink ${ready.innerMtus.join("/")}`);
  const steps = routerSteps({ tun: ready.tunName, mtu: ready.tunnelMtu, lanInterface: config.lan.interface, table: config.tunnel.routingTable });
  try {
    await runSteps(steps.up);
  } catch (e) {
    await handle.stop();
    await undoSteps(steps.down);
    throw e;
  }

  const prefixes: Prefix[] = config.mobileNetworkPrefixes.map((p) => parsePrefix(p)!);
  const bul = new BindingUpdateList(
    {
      homeAddress: config.homeAddress,
      homeAgentAddress: config.homeAgent,
      mobileNetworkPrefixes: prefixes,
      prefixMode: "explicit",
      // RFC 6275 §6.1.7: with manual keys the K bit MUST be 0.
      keyManagementCapability: false,
      espProtected: true,
      requestedLifetimeSeconds: config.bindingLifetimeSeconds,
      initialSequenceNumber: 1 + Math.floor(Math.random() * 0xfffe),
    },
    counters,
  );
  const uplinkIndex = new Map(config.uplinks.map((u, i) => [u.id, i]));
  const drive = () => {
    const now = monotonicNow();
    for (let t = bul.pollTransmit(now); t !== undefined; t = bul.pollTransmit(now)) {
      const index = t.linkId === undefined ? active : (uplinkIndex.get(t.linkId) ?? active);
      const sealed = signalling.seal(t, now);
      if (!sealed.ok) {
        log(`BU not sent: ${sealed.error}`);
        continue;
      }
      handle.sendSignalling(index, t.destination, sealed.value);
      counters.increment("router.bu.sent");
    }
    let events = 0;
    for (let e = bul.pollEvent(); e !== undefined; e = bul.pollEvent(), events++) log(`binding: ${JSON.stringify(e)}`);
    if (events > 0) services?.bindingsChanged();
    timer.rearm();
  };
  const timer = new CoreTimer(
    () => bul.pollTimeout(),
    (now) => {
      bul.handleTimeout(now);
      drive();
    },
  );
  handle.onSignalling = (_uplink, packet) => {
    const received = signalling.open(packet, monotonicNow());
    if (!received.ok) return;
    const r = received.value;
    bul.handleMessage({ message: r.message, source: r.source, destination: r.routingType2Address ?? r.destination }, monotonicNow());
    drive();
  };
  const register = (index: number) => {
    const u = config.uplinks[index]!;
    bul.addCareOfAddress(monotonicNow(), { bindingId: bindingId(u.bindingId), linkId: linkId(u.id), careOfAddress: { family: "ipv6", address: u.careOfAddress } });
    bul.setPreferredBindingId(bindingId(u.bindingId));
  };
  register(active);
  drive();

  const switchUplink = (id: string) => {
    const next = uplinkIndex.get(id);
    if (next === undefined) throw new Error(`no uplink '${id}'`);
    if (next === active) return { uplink: id, changed: false };
    const previous = active;
    register(next);
    bul.removeCareOfAddress(monotonicNow(), bindingId(config.uplinks[previous]!.bindingId));
    active = next;
    handle.setActiveUplink(next);
    counters.increment("router.uplink.switches");
    log(`uplink ${config.uplinks[previous]!.id} → ${id}`);
    drive();
    return { uplink: id, changed: true };
  };

  // With a device config: automatic link selection, fleet link, OTA agent, watchdog (firmware/runtime/router-runtime.ts).
  const addBinding = (index: number) => {
    const u = config.uplinks[index]!;
    bul.addCareOfAddress(monotonicNow(), { bindingId: bindingId(u.bindingId), linkId: linkId(u.id), careOfAddress: { family: "ipv6", address: u.careOfAddress } });
    drive();
  };
  let services: RouterServices | undefined;
  handle.onLocal = (uplink, _source, packet) => services?.handleLocal(uplink, packet);
  if (config.device !== undefined) {
    try {
      services = await startRouterServices(
        {
          config,
          handle,
          counters,
          log,
          probeKey,
          bindings: () => bul.bindings(),
          activeUplink: () => active,
          register: addBinding,
          deregister: (index) => {
            bul.removeCareOfAddress(monotonicNow(), bindingId(config.uplinks[index]!.bindingId));
            drive();
          },
          moveTraffic: (index) => {
            if (index === active) return;
            log(`uplink ${config.uplinks[active]?.id ?? "none"} → ${config.uplinks[index]?.id ?? "none"}`);
            active = index;
            handle.setActiveUplink(index);
            if (index >= 0) bul.setPreferredBindingId(bindingId(config.uplinks[index]!.bindingId));
            counters.increment("router.uplink.switches");
            drive();
          },
        },
        config.device,
      );
    } catch (e) {
      timer.stop();
      await handle.stop();
      await undoSteps(steps.down);
      signalling.clear();
      throw e;
    }
  }

  const lateness = new TimerLateness();
  lateness.start();
  const control = serveRoleControl(config.controlSocket, async (words) => {
    switch (words[0]) {
      case "status":
        return {
          role: "router",
          pid: process.pid,
          placement: handle.placement,
          activeUplink: config.uplinks[active]?.id ?? null,
          tunnelMtu: ready.tunnelMtu,
          innerMtus: ready.innerMtus,
          bindings: bul.bindings(),
          ...services?.status(),
        };
      case "counters":
        return { ...counters.snapshot(), ...(await handle.counters()) };
      case "lateness":
        return lateness.take();
      case "uplink":
        if (words[1] === undefined) throw new Error("usage: uplink ID");
        if (services) throw new Error("uplink selection is automatic (the device config's link policy); see 'status' for its decisions");
        return switchUplink(words[1]);
      default:
        throw new Error(`unknown command '${words[0] ?? ""}'; try status, counters, lateness, uplink ID`);
    }
  }, services?.controlGroup);
  log(`router up: home address ${config.homeAddress}, home agent ${config.homeAgent}, control ${config.controlSocket}`);

  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      await services?.stop();
      probeKey.wipe();
      bul.deregisterAll(monotonicNow());
      drive();
      await Bun.sleep(DEREGISTRATION_GRACE_MS);
      timer.stop();
      lateness.stop();
      control.stop();
      const closed = await handle.stop();
      await undoSteps(steps.down);
      signalling.clear();
      log(`router down: ${closed} descriptors closed`);
    },
  };
}
