// The `router` daemon: mobile network → ESP tunnel over the chosen uplink; BU/BA from the care-of address under ESP transport mode.

import { readFileSync } from "node:fs";
import { Counters } from "../core/counters.ts";
import { DataplaneHandle, type LoopPlacement } from "../dataplane/dataplane-handle.ts";
import { BindingUpdateList } from "../mobility/binding-update-list.ts";
import { bindingId, linkId } from "../mobility/types.ts";
import { modeUplinks } from "../multicoa/mode.ts";
import { createRouterMode } from "../multicoa/modes.ts";
import { AuthOptionRouterSignalling } from "../multicoa/auth-option-signalling.ts";
import { fastestCryptoProvider } from "../runtime/crypto-backends.ts";
import { type RouterServices, startRouterServices } from "../runtime/router-runtime.ts";
import { formatIpv6, parseIpv6, parsePrefix, type Prefix } from "../wire/address.ts";
import { CoreTimer, type Daemon, monotonicNow, TimerLateness } from "./daemon.ts";
import { routerSteps, runSteps, undoSteps } from "./host-network.ts";
import { LINK_PROBE_UDP_PORT, linkProbeKey, ProbeKeyRing } from "./link-probes.ts";
import { RouterIke } from "./ike-daemon.ts";
import { RouterDsmip } from "./dsmip-router.ts";
import { IKE_NAT_T_PORT } from "../ike/constants.ts";
import { DSMIPV6_UDP_PORT } from "../wire/dsmip-udp.ts";
import { AUTH_OPTION_ESP_SUITE, authOptionSecurity, mnHaAssociation } from "./auth-option-security.ts";
import { type RouterConfig, staticKeys } from "./role-config.ts";
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
  const addresses = { homeAddress: config.homeAddress, homeAgent: config.homeAgent, mobileNetworkPrefixes: config.mobileNetworkPrefixes };
  const provider = await fastestCryptoProvider();
  // IKEv2 (default) keys the SAs after start; static keys are installed with the loop.
  const created = config.security === "ikev2" ? RouterIke.create(config.ike!, { ...addresses, homeAgentIpv4: config.homeAgentIpv4, uplinks: config.uplinks, multiCoa: config.ipsec.multiCoa, multiCoaMode: config.ipsec.multiCoaMode }, provider, counters, log) : undefined;
  if (created && !created.ok) throw new Error(created.error);
  const ike = created?.value;
  // multiCoaMode "auth-option" (security "mn-ha", RFC 4285): BU/BA authenticated in clear, payload in ESP only with encryptPayload.
  const authOption = config.ipsec.multiCoa.authOption;
  const mnHa = config.security === "mn-ha" ? mnHaAssociation(authOption!) : undefined;
  if (mnHa && !mnHa.ok) throw new Error(mnHa.error);
  const mnHaSecurity = mnHa ? authOptionSecurity("router", mnHa.value, authOption!.encryptPayload, addresses) : undefined;
  if (mnHa && !authOption!.encryptPayload) log("WARNING: auth-option without encryptPayload: the payload crosses the uplinks unencrypted (IPv6-in-IPv6, or IPv6 in UDP on an IPv4 uplink)");
  // RFC 5555: IPv4-only uplinks register (and tunnel clear payload) in UDP to the home agent's port 4191.
  const ipv4Uplinks = config.uplinks.flatMap((u, index) => (u.careOfAddress.includes(":") ? [] : [{ index, id: u.id, bindingId: u.bindingId, careOfAddress: u.careOfAddress }]));
  const rfc5555 = ipv4Uplinks.length > 0 && config.homeAgentIpv4 !== undefined;
  const security = ike || mnHaSecurity ? { ok: true as const, value: { tunnelSas: mnHaSecurity?.tunnelSas ?? [], policies: mnHaSecurity?.policies ?? [], signallingSas: [] } } : roleSecurity("router", staticKeys(config.ipsec), addresses);
  if (!security.ok) throw new Error(security.error);
  const signalling =
    ike?.signalling ??
    (mnHa ? new AuthOptionRouterSignalling({ association: mnHa.value, wallClockMs: Date.now, counters }) : new SignallingSecurity(provider, counters, security.value.signallingSas, monotonicNow()));
  let active = config.uplinks.findIndex((u) => u.id === config.activeUplink);
  // Before the loop takes the SAs over (installing one wipes the caller's key copy).
  const tunnelKey = (direction: "outbound" | "inbound") => security.value.tunnelSas.find((s) => s.direction === direction)!.encryptionKey;
  // IKE mode: the probe key follows the tunnel CHILD_SA (after IKE_AUTH, re-derived at each rekey).
  const probeKey = ike
    ? ike.probeKeys
    : mnHaSecurity
      ? linkProbeKey(mnHaSecurity.probeKeymat.towardsHomeAgent, mnHaSecurity.probeKeymat.towardsRouter)
      : linkProbeKey(tunnelKey("outbound"), tunnelKey("inbound"));
  const { handle, ready } = await DataplaneHandle.start(
    {
      role: "router",
      tunName: config.tunnel.interface,
      tunnelSuite: ike?.loop.tunnelSuite ?? (mnHa ? AUTH_OPTION_ESP_SUITE : staticKeys(config.ipsec).tunnel.suite),
      // auth-option with encryptPayload over an IPv4 uplink: its MN-HA-keyed ESP goes in UDP as IKE's would (RFC 3948).
      ...(ike ? { udpEncapsulationPort: ike.loop.udpEncapsulationPort } : mnHa && authOption!.encryptPayload && rfc5555 ? { udpEncapsulationPort: IKE_NAT_T_PORT } : {}),
      ...(rfc5555 ? { dsmip: { homeAgentAddress: config.homeAgent, port: DSMIPV6_UDP_PORT } } : {}),
      batchSize: config.loop.batchSize,
      // An IPv4 care-of address (RFC 5555): ESP in UDP to the home agent's IPv4 address on that uplink.
      uplinks: config.uplinks.map((u) => ({ id: u.id, interfaceName: u.interface, mtu: u.mtu, ...(u.careOfAddress.includes(":") ? { sourceAddress: u.careOfAddress } : { ipv4Address: u.careOfAddress }) })),
      homeAgentAddress: config.homeAgent,
      ...(config.homeAgentIpv4 !== undefined ? { homeAgentIpv4Address: config.homeAgentIpv4 } : {}),
      tooBigSource: config.lan.address,
      // ESN and a replay window sized for multi-path reordering (ipsec.multiCoa, docs/modes.md).
      sas: security.value.tunnelSas.map((sa) => ({ ...sa, replayWindow: config.ipsec.multiCoa.replayWindow, extendedSequenceNumbers: config.ipsec.multiCoa.extendedSequenceNumbers })),
      policies: security.value.policies,
      signalling: true,
      // Bypass flows and auth-option payload without ESP go IPv6-in-IPv6 (protocol-41 sockets).
      clearTunnel: config.ipsec.multiCoa.bypass.length > 0 || (mnHa !== undefined && !authOption!.encryptPayload),
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
      ...(config.homeAgentIpv4 !== undefined ? { homeAgentIpv4Address: config.homeAgentIpv4 } : {}),
      mobileNetworkPrefixes: prefixes,
      prefixMode: "explicit",
      // RFC 6275 §6.1.7: with manual keys the K bit MUST be 0; with IKEv2 it is 1 when the IKE SA moves by it (RFC 4877 §7.4, ike.addressUpdate).
      keyManagementCapability: ike?.addressUpdate === "k-bit",
      espProtected: true,
      requestedLifetimeSeconds: config.bindingLifetimeSeconds,
      initialSequenceNumber: 1 + Math.floor(Math.random() * 0xfffe),
    },
    counters,
  );
  const uplinkIndex = new Map(config.uplinks.map((u, i) => [u.id, i]));
  // RFC 5555: BU/BA of IPv4-only uplinks in UDP to the home agent's port 4191, on the loop's socket (firmware/roles/dsmip-router.ts).
  const dsmip = rfc5555 ? new RouterDsmip(ipv4Uplinks, config.homeAgentIpv4!, (index, destination, port, packet) => handle.sendSignallingUdp(index, destination, port, packet), counters, log) : undefined;
  // The multi-CoA design (firmware/multicoa, ipsec.multiCoaMode): registrations, BU routing, per-flow uplinks.
  if (config.ipsec.multiCoa.bypass.length > 0) log(`WARNING: ${config.ipsec.multiCoa.bypass.length} flow(s) configured to bypass IPsec: ${config.ipsec.multiCoa.bypass.map((b) => b.name).join(", ")}`);
  const multiCoa = createRouterMode(config.ipsec.multiCoaMode, { bul, uplinks: modeUplinks(config.uplinks), config: config.ipsec.multiCoa, preferred: active, log, signalling: config.ike?.signalling !== false });
  const drive = () => {
    const now = monotonicNow();
    for (let round = 0, moved = true; moved && round < 4; round++) {
      moved = false;
      for (let t = bul.pollTransmit(now); t !== undefined; t = bul.pollTransmit(now)) {
        const routed = multiCoa.routeSignalling(t);
        const index = routed.linkId === undefined ? active : (uplinkIndex.get(routed.linkId) ?? active);
        moved = true;
        let sealed: ReturnType<typeof signalling.seal>;
        try {
          sealed = signalling.seal(routed, now);
        } catch (e) {
          // A design that routed a BU it cannot carry (e.g. an IPv6 header from an IPv4 address) costs that BU, never the router.
          counters.increment("router.bu.unsendable");
          log(`BU not sent: ${e instanceof Error ? e.message : String(e)}`);
          continue;
        }
        if (!sealed.ok) {
          log(`BU not sent: ${sealed.error}`);
          continue;
        }
        if (routed.ipv4Encapsulation !== undefined) dsmip?.send(index, sealed.value, routed.ipv4Encapsulation.destination);
        else handle.sendSignalling(index, routed.destination, sealed.value);
        counters.increment("router.bu.sent");
        counters.increment("router.signalling.bytes", sealed.value.length);
      }
      let events = 0;
      for (let e = bul.pollEvent(); e !== undefined; e = bul.pollEvent(), events++) {
        log(`binding: ${JSON.stringify(e)}`);
        multiCoa.handleBindingEvent(e, now);
      }
      if (events > 0) services?.bindingsChanged();
      moved ||= events > 0;
      // `mobike`: the design moves the IKE SA (UPDATE_SA_ADDRESSES) and moves traffic when it is answered.
      for (let m = multiCoa.pollIkeMove(); m !== undefined; m = multiCoa.pollIkeMove()) ike?.moveTo(m.uplink, m.additionalUplinks);
      // `per-coa`: an IKE SA per care-of address.
      for (let r = multiCoa.pollIkeRequest(); r !== undefined; r = multiCoa.pollIkeRequest()) (r.kind === "open" ? ike?.openOn(r.uplink) : ike?.closeOn(r.uplink));
      const directive = multiCoa.pollDirective();
      if (directive) {
        handle.setSteering({ steering: directive.steering, careOfAddresses: directive.careOfAddresses });
        const next = directive.steering.defaultUplink;
        if (next !== active) {
          log(`uplink ${config.uplinks[active]?.id ?? "none"} → ${config.uplinks[next]?.id ?? "none"} (${multiCoa.name})`);
          active = next;
          if (next >= 0 && !multiCoa.movesIkeSa) ike?.moveTo(next);
          counters.increment("router.uplink.switches");
        }
      }
    }
    timer.rearm();
  };
  /** Uplinks with carrier at start are usable; the link monitor (or `link ID up|down`) says so later. */
  const startLinks = () => {
    for (const u of config.uplinks) if (hasCarrier(u.interface)) multiCoa.linkUp(u.id, monotonicNow());
    drive();
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
    multiCoa.observeReceived(r.message, monotonicNow());
    bul.handleMessage({ message: r.message, source: r.source, destination: r.routingType2Address ?? r.destination }, monotonicNow());
    drive();
  };
  if (dsmip) {
    // A BA over UDP (RFC 5555 §4.1) comes through handle.onSignalling like one over IPv6, the same checks.
    dsmip.watch(
      (index) => ({ rx: handle.hotCounters.uplink(index, "rx"), tx: handle.hotCounters.uplink(index, "tx") }),
      (index) => multiCoa.isRegistered(config.uplinks[index]!.id),
      bul,
      monotonicNow,
      (suspected) => {
        // The IKE SA on that address (`per-coa`) hears from it too, so the home agent's IKE follows the new mapping.
        for (const index of suspected) ike?.checkLivenessOn(index);
        drive();
      },
      log,
    );
  }
  if (ike) {
    // RFC 4877 §4.3: the first BU goes out once its transport-mode SA exists.
    ike.onSignallingReady = startLinks;
    ike.kBitAgreed = () => bul.keyManagementCapability === true;
    ike.onTunnelKeyed = (index, outboundSpi) => {
      multiCoa.tunnelKeyed(index, outboundSpi, monotonicNow());
      drive();
    };
    ike.onMoved = (index) => {
      multiCoa.ikeMoved(index, monotonicNow());
      drive();
    };
    await ike.start(handle, active);
  } else {
    startLinks();
  }

  /** A new address on an uplink (SLAAC, DHCPv6): its BID is registered again with it (RFC 5648 §6.2), the IKE SA follows. */
  const addressChanged = (index: number, careOfAddress: string) => {
    ike?.setUplinkAddress(index, careOfAddress);
    multiCoa.addressChanged(config.uplinks[index]!.id, careOfAddress, monotonicNow());
    drive();
  };

  const switchUplink = (id: string) => {
    const next = uplinkIndex.get(id);
    if (next === undefined) throw new Error(`no uplink '${id}'`);
    if (next === active) return { uplink: id, changed: false };
    // The link policy's choice: the design moves traffic (and the primary) there, make-before-break.
    multiCoa.prefer(id, monotonicNow());
    drive();
    return { uplink: id, changed: true };
  };

  // With a device config: automatic link selection, fleet link, OTA agent, watchdog (firmware/runtime/router-runtime.ts).
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
          register: (index) => {
            multiCoa.linkUp(config.uplinks[index]!.id, monotonicNow());
            drive();
          },
          deregister: (index) => {
            multiCoa.linkDown(config.uplinks[index]!.id, monotonicNow());
            drive();
          },
          // The link engine's primary is the design's first preference even when traffic is already there
          // (a link coming up later then waits for the engine's choice instead of the start-up preference).
          moveTraffic: (index) => {
            if (index < 0) return;
            multiCoa.prefer(config.uplinks[index]!.id, monotonicNow());
            drive();
          },
          addressChanged,
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
          multiCoa: multiCoa.status(),
          ...(ike ? { ike: ike.status() } : {}),
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
      case "link": {
        // The link monitor's verdicts (carrier, probes): `link ID up|down`.
        const [, id, state] = words;
        if (id === undefined || (state !== "up" && state !== "down")) throw new Error("usage: link ID up|down");
        if (state === "up") multiCoa.linkUp(id, monotonicNow());
        else multiCoa.linkDown(id, monotonicNow());
        drive();
        return { link: id, state, activeUplink: config.uplinks[active]?.id ?? null };
      }
      case "address": {
        // A new address on an uplink (SLAAC, DHCPv6): its BID is registered again with it (RFC 5648 §6.2).
        const [, id, address] = words;
        if (id === undefined || address === undefined || parseIpv6(address) === undefined) throw new Error("usage: address ID IPV6");
        const index = uplinkIndex.get(id);
        if (index === undefined) throw new Error(`no uplink '${id}'`);
        addressChanged(index, formatIpv6(parseIpv6(address)!));
        return { uplink: id, careOfAddress: address };
      }
      default:
        throw new Error(`unknown command '${words[0] ?? ""}'; try status, counters, lateness, uplink ID, link ID up|down, address ID IPV6`);
    }
  }, services?.controlGroup);
  log(`router up: home address ${config.homeAddress}, home agent ${config.homeAgent}, control ${config.controlSocket}`);

  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      await services?.stop();
      // IKE mode: the ring is RouterIke's and wiped by its stop.
      if (!(probeKey instanceof ProbeKeyRing)) probeKey.wipe();
      bul.deregisterAll(monotonicNow());
      drive();
      await Bun.sleep(DEREGISTRATION_GRACE_MS);
      await ike?.stop();
      dsmip?.close();
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

/** Whether the interface has carrier now (`/sys/class/net/IF/carrier`; unreadable: assume yes). */
function hasCarrier(interfaceName: string): boolean {
  try {
    return readFileSync(`/sys/class/net/${interfaceName}/carrier`, "utf8").trim() === "1";
  } catch {
    return true;
  }
}
