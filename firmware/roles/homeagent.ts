// The `homeagent` daemon: BU/BA under ESP transport mode, the binding cache steering ESP to care-of addresses, and the home network behind.

import { Counters } from "../core/counters.ts";
import { DataplaneHandle, type LoopPlacement } from "../dataplane/dataplane-handle.ts";
import type { StaticPolicySpec, StaticSaSpec } from "../dataplane/static-security.ts";
import { BindingCache } from "../mobility/binding-cache.ts";
import { earliest } from "../core/instant.ts";
import { createHomeAgentMode } from "../multicoa/modes.ts";
import { AuthOptionHomeAgentSignalling } from "../multicoa/auth-option-signalling.ts";
import type { MnHaAssociation } from "../multicoa/auth-option.ts";
import { fastestCryptoProvider } from "../runtime/crypto-backends.ts";
import { formatIpv6, parseIpv6, parsePrefix } from "../wire/address.ts";
import { CoreTimer, type Daemon, monotonicNow, TimerLateness } from "./daemon.ts";
import { homeAgentSteps, runSteps, undoSteps } from "./host-network.ts";
import { LINK_PROBE_UDP_PORT, linkProbeKey, ProbeResponder } from "./link-probes.ts";
import { HomeAgentIke } from "./ike-daemon.ts";
import { DSMIPV6_UDP_PORT } from "../wire/dsmip-udp.ts";
import { IKE_NAT_T_PORT } from "../ike/constants.ts";
import { AUTH_OPTION_ESP_SUITE, authOptionSecurity, mnHaAssociation } from "./auth-option-security.ts";
import { type HomeAgentConfig, staticKeys } from "./role-config.ts";
import { serveRoleControl } from "./role-control.ts";
import { roleSecurity } from "./security-specs.ts";
import { SignallingSecurity } from "./signalling-security.ts";

/** Where a UDP-encapsulated BU came from (RFC 5555: the NAT's address and port when one is on the path). */
interface DsmipSender {
  readonly address: string;
  readonly port: number;
}

export interface HomeAgentOptions {
  readonly log: (line: string) => void;
  readonly placement?: LoopPlacement;
}

/** Starts the home agent. Control commands: `status` (bindings), `counters`. */
export async function startHomeAgent(config: HomeAgentConfig, options: HomeAgentOptions): Promise<Daemon> {
  const log = options.log;
  const counters = new Counters();
  const tunnelSas: StaticSaSpec[] = [];
  const policies: StaticPolicySpec[] = [];
  const signallingSas: StaticSaSpec[] = [];
  const probeKeys = new Map<string, ReturnType<typeof linkProbeKey>>();
  // IKEv2 (per mobile router, the default) or static keys: one kind for all routers of this home agent.
  const ikeMode = config.mobileRouters.every((mr) => mr.security === "ikev2");
  if (!ikeMode && config.mobileRouters.some((mr) => mr.security === "ikev2")) throw new Error("mobileRouters: mixing IKEv2 and static keys on one home agent is not supported");
  // multiCoaMode "auth-option" (security "mn-ha", RFC 4285): each router's MN-HA association; payload ESP keyed from it only with encryptPayload.
  const associations: { homeAddress: string; association: MnHaAssociation }[] = [];
  for (const [i, mr] of (ikeMode ? [] : config.mobileRouters).entries()) {
    const authOption = mr.ipsec.multiCoa.authOption;
    if (mr.security === "mn-ha" && authOption) {
      const association = mnHaAssociation(authOption);
      if (!association.ok) throw new Error(`mobileRouters[${i}]: ${association.error}`);
      associations.push({ homeAddress: mr.homeAddress, association: association.value });
      const a = authOptionSecurity("homeagent", association.value, authOption.encryptPayload, mr, `mr${i}-`);
      probeKeys.set(formatIpv6(parseIpv6(mr.homeAddress)!), linkProbeKey(a.probeKeymat.towardsHomeAgent, a.probeKeymat.towardsRouter));
      tunnelSas.push(...a.tunnelSas.map((sa) => ({ ...sa, replayWindow: mr.ipsec.multiCoa.replayWindow, extendedSequenceNumbers: mr.ipsec.multiCoa.extendedSequenceNumbers })));
      policies.push(...a.policies);
      if (!authOption.encryptPayload) log(`WARNING: ${mr.homeAddress}: auth-option without encryptPayload: its payload crosses the access networks unencrypted (IPv6-in-IPv6)`);
      continue;
    }
    const s = roleSecurity("homeagent", staticKeys(mr.ipsec), { homeAddress: mr.homeAddress, homeAgent: config.address, mobileNetworkPrefixes: mr.mobileNetworkPrefixes }, `mr${i}-`);
    if (!s.ok) throw new Error(`mobileRouters[${i}]: ${s.error}`);
    // Link probes (router-links.ts): keyed from this router's tunnel SA pair, before the loop takes the keys.
    const key = (d: "outbound" | "inbound") => s.value.tunnelSas.find((sa) => sa.direction === d)!.encryptionKey;
    probeKeys.set(formatIpv6(parseIpv6(mr.homeAddress)!), linkProbeKey(key("inbound"), key("outbound")));
    // ESN and a replay window sized for multi-path reordering (ipsec.multiCoa, docs/modes.md).
    tunnelSas.push(...s.value.tunnelSas.map((sa) => ({ ...sa, replayWindow: mr.ipsec.multiCoa.replayWindow, extendedSequenceNumbers: mr.ipsec.multiCoa.extendedSequenceNumbers })));
    policies.push(...s.value.policies);
    signallingSas.push(...s.value.signallingSas);
  }
  const provider = await fastestCryptoProvider();
  const created = ikeMode ? HomeAgentIke.create(config, provider, counters, log) : undefined;
  if (created && !created.ok) throw new Error(created.error);
  const ike = created?.value;
  /** The UDP sender (RFC 5555) of the BU being opened: an RFC 4285 refusal goes back the way that BU came. */
  let udpSender: DsmipSender | undefined;
  const signalling =
    ike?.signalling ??
    (associations.length > 0
      ? new AuthOptionHomeAgentSignalling({
          associations,
          windowSeconds: config.mobileRouters[0]!.ipsec.multiCoa.authOption!.timestampWindowSeconds,
          wallClockMs: Date.now,
          counters,
          // A BU refused by RFC 4285 (144/145/146) is answered at once, outside the binding cache.
          onReject: (packet, destination) => {
            if (udpSender !== undefined) handle.sendSignallingUdp(0, udpSender.address, udpSender.port, packet);
            else handle.sendSignalling(0, destination, packet);
            counters.increment("homeagent.ba.sent");
            counters.increment("homeagent.signalling.bytes", packet.length);
          },
        })
      : new SignallingSecurity(provider, counters, signallingSas, monotonicNow()));
  const { handle, ready } = await DataplaneHandle.start(
    {
      role: "homeagent",
      tunName: config.tunnel.interface,
      tunnelSuite: ike?.loop.tunnelSuite ?? (associations.length > 0 ? AUTH_OPTION_ESP_SUITE : staticKeys(config.mobileRouters[0]!.ipsec).tunnel.suite),
      // auth-option with encryptPayload and IPv4 care-of addresses: the MN-HA-keyed ESP comes and goes in UDP (RFC 3948).
      ...(ike
        ? { udpEncapsulationPort: ike.loop.udpEncapsulationPort }
        : config.ipv4Address !== undefined && config.mobileRouters.some((mr) => mr.security === "mn-ha" && mr.ipsec.multiCoa.authOption?.encryptPayload === true)
          ? { udpEncapsulationPort: IKE_NAT_T_PORT }
          : {}),
      // RFC 5555 §4.1: one UDP socket on ipv4Address:4191 in the loop for BUs/BAs and IPv6-in-UDP payload.
      ...(config.ipv4Address !== undefined ? { dsmip: { homeAgentAddress: config.address, port: DSMIPV6_UDP_PORT } } : {}),
      batchSize: config.loop.batchSize,
      uplinks: [{ id: "core", interfaceName: config.uplink.interface, mtu: config.uplink.mtu, sourceAddress: config.address, ...(config.ipv4Address !== undefined ? { ipv4Address: config.ipv4Address } : {}) }],
      tooBigSource: config.address,
      sas: tunnelSas,
      policies,
      signalling: true,
      // Bypass flows and auth-option payload without ESP go IPv6-in-IPv6 (a protocol-41 socket).
      clearTunnel: config.mobileRouters.some((mr) => mr.ipsec.multiCoa.bypass.length > 0 || (mr.security === "mn-ha" && mr.ipsec.multiCoa.authOption?.encryptPayload === false)),
      socketBufferBytes: config.loop.socketBufferBytes,
      offload: config.loop.offload,
      localPort: { address: config.address, port: LINK_PROBE_UDP_PORT },
    },
    options.placement ?? config.loop.placement,
  );
  for (const e of ready.uplinkErrors) log(`uplink: ${e}`);
  log(`packet loop (${handle.placement}) on ${ready.tunName}, MTU ${ready.tunnelMtu}`);
  const routes = config.mobileRouters.flatMap((mr) => [`${mr.homeAddress}/128`, ...mr.mobileNetworkPrefixes]);
  const steps = homeAgentSteps({ tun: ready.tunName, mtu: ready.tunnelMtu, routes });
  try {
    await runSteps(steps.up);
  } catch (e) {
    await handle.stop();
    await undoSteps(steps.down);
    throw e;
  }

  const homes = config.mobileRouters.map((mr) => mr.homeAddress);
  const cache = new BindingCache(
    {
      homeAgentAddress: config.address,
      mobileNodes: config.mobileRouters.map((mr) => ({ homeAddress: mr.homeAddress, prefixes: mr.mobileNetworkPrefixes.map((p) => parsePrefix(p)!), mobileRouter: true })),
      maxLifetimeSeconds: config.maxBindingLifetimeSeconds,
      multipleCareOfAddresses: true,
      bulkRegistration: true,
      // K=1 in BAs only where a router's IKE SA follows its care-of address by the K bit (RFC 4877 §7.4); manual keys: 0 (RFC 6275 §6.1.7).
      keyManagementCapability: ike?.kBit === true,
      // RFC 5555: NAT detection on BUs from IPv4 care-of addresses, BAs back UDP-encapsulated.
      natKeepaliveSeconds: config.natKeepaliveSeconds,
      ...(config.ipv4Address !== undefined ? { homeAgentIpv4Address: config.ipv4Address } : {}),
    },
    counters,
  );
  // The multi-CoA design (firmware/multicoa): one for this home agent, named the same as on its routers.
  const modeName = config.mobileRouters[0]!.ipsec.multiCoaMode;
  if (config.mobileRouters.some((mr) => mr.ipsec.multiCoaMode !== modeName)) throw new Error("mobileRouters: one ipsec.multiCoaMode for all routers of a home agent");
  const bypass = config.mobileRouters.flatMap((mr) => mr.ipsec.multiCoa.bypass);
  if (bypass.length > 0) log(`WARNING: ${bypass.length} flow(s) configured to bypass IPsec: ${bypass.map((b) => b.name).join(", ")}`);
  const multiCoa = createHomeAgentMode(modeName, config.mobileRouters[0]!.ipsec.multiCoa, log);
  handle.setSteering({ steering: { defaultUplink: 0, rules: [], bypass, clearPayload: multiCoa.clearPayload === true }, learnReturnPaths: multiCoa.learnReturnPaths });
  const drive = (tableDue = false) => {
    const now = monotonicNow();
    let changed = tableDue;
    // BAs leave after the data plane has the table they imply: a router that moves on the BA finds its new CoA accepted.
    const sends: (() => void)[] = [];
    for (let t = cache.pollTransmit(now); t !== undefined; t = cache.pollTransmit(now)) {
      multiCoa.observeTransmit(t, now);
      ike?.observeTransmit(t);
      changed = true;
      const sealed = signalling.seal(t, now);
      if (!sealed.ok) {
        log(`BA not sent: ${sealed.error}`);
        continue;
      }
      const udp = t.ipv4Encapsulation;
      const packet = sealed.value;
      if (udp?.destination !== undefined && udp.destinationPort !== undefined) sends.push(() => handle.sendSignallingUdp(0, udp.destination!, udp.destinationPort!, packet));
      else sends.push(() => handle.sendSignalling(0, t.destination, packet));
      counters.increment("homeagent.ba.sent");
      counters.increment("homeagent.signalling.bytes", sealed.value.length);
    }
    for (let e = cache.pollEvent(); e !== undefined; e = cache.pollEvent()) {
      log(`binding: ${JSON.stringify(e)}`);
      changed = true;
    }
    // The binding cache and the design, not the SA, say which care-of addresses each router's ESP may come from and goes to (RFC 5648 §9.3.2).
    // Routers keyed by IKE without Mobile IPv6 signalling (`ike.signalling: false`) are reached at their IKE SA's address.
    if (changed) multiCoa.observeIkePeers?.(ike?.ikePeers() ?? [], now);
    if (changed) handle.setBindings([...multiCoa.table(cache, homes, now), ...(ike?.ikeOnlyBindings() ?? [])]);
    for (const send of sends) send();
    timer.rearm();
  };
  const timer = new CoreTimer(
    () => earliest(cache.pollTimeout(), multiCoa.pollTimeout()),
    (now) => {
      cache.handleTimeout(now);
      multiCoa.handleTimeout(now);
      drive(true);
    },
  );
  const onSignalling = (packet: Uint8Array, from?: DsmipSender) => {
    udpSender = from;
    const received = signalling.open(packet, monotonicNow());
    udpSender = undefined;
    if (!received.ok) return;
    const r = received.value;
    const input = {
      message: r.message,
      source: r.source,
      destination: r.destination,
      ...(r.homeAddressOption ? { homeAddressOption: r.homeAddressOption } : {}),
      protectedByEsp: associations.length === 0,
      // RFC 5555 §4.1: where the UDP-encapsulated BU came from (a NAT's address and port), for NAT detection.
      ...(from !== undefined ? { udpEncapsulation: { address: from.address, port: from.port } } : {}),
    };
    multiCoa.observeBindingUpdate(input, monotonicNow());
    ike?.observeBindingUpdate(input);
    cache.handleMessage(input, monotonicNow());
    drive();
  };
  // RFC 5555 §4.1: BUs from IPv4 care-of addresses arrive in UDP on port 4191 (the whole IPv6 packet), with their sender.
  handle.onSignalling = (_uplink, packet, from) => onSignalling(packet, from);
  if (config.ipv4Address !== undefined) log(`RFC 5555: BUs from IPv4 care-of addresses on ${config.ipv4Address}:${DSMIPV6_UDP_PORT}`);

  // A probe is answered on the path it came by: to its outer source, through the uplink it arrived on.
  // The hold time reported is 0: the reply leaves within the same turn of this thread.
  const responder = new ProbeResponder(ike ? ike.probeKeys : probeKeys, counters);
  handle.onLocal = (uplink, source, packet) => {
    const reply = responder.answer(packet, 0);
    if (reply) handle.sendLocal(uplink, reply, source);
  };

  if (ike) ike.onPeersChanged = () => drive(true);
  await ike?.start(handle);

  const lateness = new TimerLateness();
  lateness.start();
  const control = serveRoleControl(config.controlSocket, async (words) => {
    switch (words[0]) {
      case "status":
        return { role: "homeagent", pid: process.pid, placement: handle.placement, tunnelMtu: ready.tunnelMtu, bindings: Object.fromEntries(homes.map((h) => [h, cache.bindingsOf(h)])), table: multiCoa.table(cache, homes, monotonicNow()), multiCoa: multiCoa.status(), ...(ike ? { ike: ike.status() } : {}) };
      case "counters":
        return { ...counters.snapshot(), ...(await handle.counters()) };
      case "lateness":
        return lateness.take();
      default:
        throw new Error(`unknown command '${words[0] ?? ""}'; try status, counters, lateness`);
    }
  });
  log(`home agent up at ${config.address}, control ${config.controlSocket}`);

  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      await ike?.stop();
      timer.stop();
      lateness.stop();
      control.stop();
      const closed = await handle.stop();
      await undoSteps(steps.down);
      signalling.clear();
      responder.clear();
      log(`home agent down: ${closed} descriptors closed`);
    },
  };
}
