// RFC 5555 §4.1 payload on the data path without I/O: IPv6 tunnelled in UDP over an IPv4 care-of address (both forwarding paths, both ways), every refusal counted, and the BU/BA-or-payload demultiplexing of the shared socket (fuzzed).
import { beforeEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Counters } from "../../../firmware/core/counters.ts";
import { toHex } from "../../../firmware/core/hex.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { BindingTable } from "../../../firmware/dataplane/binding-table.ts";
import { classifyDsmipDatagram } from "../../../firmware/dataplane/dsmip-path.ts";
import { DROPPED, HEADROOM, isIpv4Mapped } from "../../../firmware/dataplane/forwarding.ts";
import { HomeAgentForwarding } from "../../../firmware/dataplane/homeagent-forwarding.ts";
import { RouterForwarding } from "../../../firmware/dataplane/router-forwarding.ts";
import { createSecurityState } from "../../../firmware/dataplane/static-security.ts";
import { FlowSteering, type SteeringSpec } from "../../../firmware/multicoa/flow-steering.ts";
import { fastestCryptoProvider } from "../../../firmware/runtime/crypto-backends.ts";
import { parseIpv6 } from "../../../firmware/wire/address.ts";
import { emitIpv6Packet } from "../../../firmware/wire/ipv6.ts";
import { IpProtocol } from "../../../firmware/wire/protocol-numbers.ts";

const now = instant(1000);
const HOME = "2001:db8:10::20";
const HA = "2001:db8:10::1";
const MNP = "2001:db8:20::/64";
const LAN = "2001:db8:20::2";
const CN = "2001:db8:30::2";
const WIFI = "2001:db8:2::2";
/** The NAT's public address the home agent observed the LTE CoA's BU from, as the dual-stack data plane sees it. */
const NAT = "::ffff:192.0.2.1";
const NAT_PORT = 40_123;
const HA_V4 = "::ffff:192.0.2.10";
const STRANGER_V4 = "::ffff:198.51.100.7";
const CLEAR: SteeringSpec = { defaultUplink: 0, rules: [], bypass: [], clearPayload: true };
const VOICE: SteeringSpec = { defaultUplink: 0, rules: [], bypass: [{ name: "voice", protocol: 17, remotePorts: { from: 5000, to: 5000 } }] };

function udp(source: string, destination: string, sourcePort: number, destinationPort: number, protocol: number = IpProtocol.udp): Uint8Array {
  const payload = new Uint8Array(8 + 32);
  payload.set([sourcePort >> 8, sourcePort & 0xff, destinationPort >> 8, destinationPort & 0xff, 0, 40, 0, 0]);
  return emitIpv6Packet({ source, destination, upperProtocol: protocol, upperPayload: payload });
}

function slot(packet: Uint8Array): Uint8Array {
  const data = new Uint8Array(new ArrayBuffer(4096));
  data.set(packet, HEADROOM);
  return data;
}

const v6 = (text: string) => parseIpv6(text)!;

/** Router: LTE (index 0) is IPv4-only (no IPv6 CoA), Wi-Fi (1) IPv6. Home agent: LTE's binding observed at the NAT. */
async function paths() {
  const provider = await fastestCryptoProvider();
  const rc = new Counters();
  const hc = new Counters();
  const r = createSecurityState(provider, rc);
  const h = createSecurityState(provider, hc);
  const router = new RouterForwarding({ ...r, counters: rc, homeAgentAddress: v6(HA), homeAgentIpv4: v6(HA_V4), uplinks: [{ careOfAddress: new Uint8Array(16), innerMtu: 1400 }, { careOfAddress: v6(WIFI), innerMtu: 1400 }] });
  const homeAgent = new HomeAgentForwarding({ ...h, counters: hc, innerMtu: 1400 });
  homeAgent.bindings = new BindingTable([{ homeAddress: HOME, prefixes: [MNP], careOfAddresses: [NAT, WIFI], udpPorts: { [NAT]: NAT_PORT } }]);
  return { router, homeAgent, rc, hc };
}

describe("RFC 5555 payload: IPv6 in UDP over an IPv4 care-of address (forwarding paths)", () => {
  let p: Awaited<ReturnType<typeof paths>>;
  beforeEach(async () => {
    p = await paths();
  });

  test("isIpv4Mapped: ::ffff:a.b.c.d only", () => {
    expect(isIpv4Mapped(v6(NAT))).toBe(true);
    expect(isIpv4Mapped(v6(WIFI))).toBe(false);
    expect(isIpv4Mapped(v6("::1.2.3.4"))).toBe(false);
    expect(isIpv4Mapped(v6(NAT), 4)).toBe(false);
  });

  test("binding table: the UDP port of an IPv4 care-of address is the one its BU came from; none for others", () => {
    const t = p.homeAgent.bindings;
    expect(t.udpPortFor(v6(NAT))).toBe(NAT_PORT);
    expect(t.udpPortFor(v6(WIFI))).toBe(0);
    expect(t.udpPortFor(v6(STRANGER_V4))).toBe(0);
  });

  test("router → home agent: on the IPv4 uplink a clear packet goes to port 4191; the home agent takes it from the observed address (any port)", () => {
    p.router.steering = new FlowSteering(CLEAR, "router");
    p.homeAgent.steering = new FlowSteering(CLEAR, "homeagent");
    const packet = udp(LAN, CN, 6200, 6100);
    const data = slot(packet);
    expect(p.router.fromTunnelInterface(data, 0, packet.length, now)).toBe(0);
    expect(p.router.sealedClear).toBe(true);
    expect(p.router.outerPort).toBe(4191);
    const inner = data.slice(p.router.sealedAt, p.router.sealedAt + p.router.sealedLength);
    expect(toHex(inner)).toBe(toHex(packet));
    // The NAT may have given the flow a new port: the address decides, as for IPv6-in-IPv6 (the port is learned from BUs only).
    for (const port of [NAT_PORT, 51_000]) expect(p.homeAgent.fromUplinkUdp(0, inner, 0, inner.length, v6(NAT), 0, port, now)).toBe(true);
    expect([p.homeAgent.payloadOffset, p.homeAgent.payloadLength]).toEqual([0, packet.length]);
    expect(p.hc.get("dataplane.clear.rx")).toBe(2);
    expect(p.homeAgent.bindings.udpPortFor(v6(NAT))).toBe(NAT_PORT);
  });

  test("home agent → router: to the NAT's address and the BU's port; the router takes it only from the home agent's IPv4 address and port 4191", () => {
    p.router.steering = new FlowSteering(CLEAR, "router");
    p.homeAgent.steering = new FlowSteering(CLEAR, "homeagent");
    const reply = udp(CN, LAN, 6100, 6200);
    const data = slot(reply);
    expect(p.homeAgent.fromTunnelInterface(data, 0, reply.length, now)).toBe(0);
    expect(p.homeAgent.sealedClear).toBe(true);
    expect(p.homeAgent.outerDestination).toEqual(v6(NAT));
    expect(p.homeAgent.outerPort).toBe(NAT_PORT);
    const inner = data.slice(p.homeAgent.sealedAt, p.homeAgent.sealedAt + p.homeAgent.sealedLength);
    expect(p.router.fromUplinkUdp(0, inner, 0, inner.length, v6(HA_V4), 0, 4191, now)).toBe(true);
    expect([p.router.payloadOffset, p.router.payloadLength]).toEqual([0, reply.length]);
    expect(p.rc.get("dataplane.clear.rx")).toBe(1);
    // Another sender, or the home agent's address from another port: not the home agent's tunnel.
    expect(p.router.fromUplinkUdp(0, inner, 0, inner.length, v6(STRANGER_V4), 0, 4191, now)).toBe(false);
    expect(p.router.fromUplinkUdp(0, inner, 0, inner.length, v6(HA_V4), 0, 4192, now)).toBe(false);
    expect(p.rc.get("dataplane.drop.clear-not-home-agent")).toBe(2);
    expect(p.rc.get("dataplane.clear.rx")).toBe(1);
  });

  test("home agent: towards an IPv6 care-of address the port is 0 and the IPv6-in-IPv6 path is used", () => {
    p.homeAgent.steering = new FlowSteering(CLEAR, "homeagent");
    p.homeAgent.bindings = new BindingTable([{ homeAddress: HOME, prefixes: [MNP], careOfAddresses: [WIFI, NAT], udpPorts: { [NAT]: NAT_PORT } }]);
    const reply = udp(CN, LAN, 6100, 6200);
    expect(p.homeAgent.fromTunnelInterface(slot(reply), 0, reply.length, now)).toBe(0);
    expect(p.homeAgent.outerDestination).toEqual(v6(WIFI));
    expect(p.homeAgent.outerPort).toBe(0);
  });

  test("home agent refusals, each counted: unregistered source, malformed inner, not a bypass flow, no binding, no observed port", () => {
    p.homeAgent.steering = new FlowSteering(VOICE, "homeagent");
    const voice = udp(LAN, CN, 5001, 5000);
    expect(p.homeAgent.fromUplinkUdp(0, voice, 0, voice.length, v6(STRANGER_V4), 0, NAT_PORT, now)).toBe(false);
    expect(p.hc.get("dataplane.drop.clear-unregistered-care-of")).toBe(1);
    expect(p.homeAgent.fromUplinkUdp(0, voice, 0, voice.length - 3, v6(NAT), 0, NAT_PORT, now)).toBe(false);
    expect(p.hc.get("dataplane.drop.clear-malformed")).toBe(1);
    const other = udp(LAN, CN, 5001, 6000);
    expect(p.homeAgent.fromUplinkUdp(0, other, 0, other.length, v6(NAT), 0, NAT_PORT, now)).toBe(false);
    expect(p.hc.get("dataplane.drop.clear-not-bypass")).toBe(1);
    expect(p.homeAgent.fromUplinkUdp(0, voice, 0, voice.length, v6(NAT), 0, NAT_PORT, now)).toBe(true);
    expect(p.hc.get("dataplane.bypass.rx")).toBe(1);
    // Towards the router: no binding at all, then an IPv4 CoA whose BU was never seen from it (no port).
    const reply = udp(CN, LAN, 5000, 5001);
    p.homeAgent.bindings = new BindingTable([]);
    expect(p.homeAgent.fromTunnelInterface(slot(reply), 0, reply.length, now)).toBe(DROPPED);
    expect(p.hc.get("dataplane.drop.no-binding")).toBe(1);
    p.homeAgent.bindings = new BindingTable([{ homeAddress: HOME, prefixes: [MNP], careOfAddresses: [NAT] }]);
    expect(p.homeAgent.fromTunnelInterface(slot(reply), 0, reply.length, now)).toBe(DROPPED);
    expect(p.hc.get("dataplane.drop.clear-no-udp-port")).toBe(1);
    expect(p.hc.get("dataplane.clear.tx")).toBe(0);
  });

  test("router refusals, each counted: malformed inner, not a bypass flow, no home agent IPv4 address configured", async () => {
    p.router.steering = new FlowSteering(VOICE, "router");
    const voice = udp(CN, LAN, 5000, 5001);
    expect(p.router.fromUplinkUdp(0, voice, 0, voice.length + 1, v6(HA_V4), 0, 4191, now)).toBe(false);
    expect(p.rc.get("dataplane.drop.clear-malformed")).toBe(1);
    const other = udp(CN, LAN, 6000, 5001);
    expect(p.router.fromUplinkUdp(0, other, 0, other.length, v6(HA_V4), 0, 4191, now)).toBe(false);
    expect(p.rc.get("dataplane.drop.clear-not-bypass")).toBe(1);
    expect(p.router.fromUplinkUdp(0, voice, 0, voice.length, v6(HA_V4), 0, 4191, now)).toBe(true);
    expect(p.rc.get("dataplane.bypass.rx")).toBe(1);
    const rc = new Counters();
    const bare = new RouterForwarding({ ...createSecurityState(await fastestCryptoProvider(), rc), counters: rc, homeAgentAddress: v6(HA), uplinks: [{ careOfAddress: new Uint8Array(16), innerMtu: 1400 }] });
    bare.steering = new FlowSteering(CLEAR, "router");
    expect(bare.fromUplinkUdp(0, voice, 0, voice.length, v6(HA_V4), 0, 4191, now)).toBe(false);
    expect(rc.get("dataplane.drop.clear-not-home-agent")).toBe(1);
  });
});

describe("RFC 5555 socket demultiplexing: BU/BA to the control plane, the rest is payload", () => {
  const ha = v6(HA);
  const kind = (packet: Uint8Array) => classifyDsmipDatagram(packet, 0, packet.length, ha);

  test("MH or ESP between a home address and the home agent is signalling, either way", () => {
    expect(kind(udp(HOME, HA, 0, 0, IpProtocol.mobility))).toBe("signalling"); // BU (auth-option: plain MH)
    expect(kind(udp(HA, HOME, 0, 0, IpProtocol.mobility))).toBe("signalling"); // BA
    expect(kind(udp(HOME, HA, 0, 0, IpProtocol.esp))).toBe("signalling"); // BU under the IKE-keyed transport SA
    expect(kind(udp(HA, HOME, 0, 0, IpProtocol.esp))).toBe("signalling");
  });

  test("payload: ordinary traffic, a host's own ESP or MH not involving the home agent, a link probe to the home agent, anything malformed", () => {
    expect(kind(udp(LAN, CN, 6200, 6100))).toBe("payload");
    expect(kind(udp(LAN, CN, 0, 0, IpProtocol.esp))).toBe("payload");
    expect(kind(udp(LAN, CN, 0, 0, IpProtocol.mobility))).toBe("payload");
    expect(kind(udp(HOME, HA, 4242, 4242))).toBe("payload");
    const bu = udp(HOME, HA, 0, 0, IpProtocol.mobility);
    expect(classifyDsmipDatagram(bu, 0, bu.length - 1, ha)).toBe("payload");
    expect(kind(Uint8Array.of(0x45, ...new Uint8Array(39)))).toBe("payload");
    expect(kind(new Uint8Array(0))).toBe("payload");
  });

  test("fuzz: never throws on any bytes at any offset", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(8), (bytes, offset) => {
        const at = Math.min(offset, bytes.length);
        const k = classifyDsmipDatagram(bytes, at, bytes.length - at, ha);
        expect(k === "signalling" || k === "payload").toBe(true);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 2000) },
    );
  });
});
