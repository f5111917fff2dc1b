// The IPv6-in-IPv6 path of both forwarding paths without I/O: bypass flows and `auth-option` payload skip IPsec; every refusal counted by name.
import { beforeEach, describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { toHex } from "../../../firmware/core/hex.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { BindingTable } from "../../../firmware/dataplane/binding-table.ts";
import { DROPPED, HEADROOM, wholeInnerPacket } from "../../../firmware/dataplane/forwarding.ts";
import { HomeAgentForwarding } from "../../../firmware/dataplane/homeagent-forwarding.ts";
import { RouterForwarding } from "../../../firmware/dataplane/router-forwarding.ts";
import { createSecurityState, installPolicy, installSa } from "../../../firmware/dataplane/static-security.ts";
import { FlowSteering, type SteeringSpec } from "../../../firmware/multicoa/flow-steering.ts";
import { authOptionSecurity } from "../../../firmware/roles/auth-option-security.ts";
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
const LTE = "2001:db8:1::2";
const WIFI = "2001:db8:2::2";
const STRANGER = "2001:db8:f::1";
const association = { mobilitySpi: 0x4d48, key: Uint8Array.from({ length: 32 }, (_, i) => i * 3), algorithm: "hmac-sha1-96" as const };
const VOICE: SteeringSpec = { defaultUplink: 1, rules: [], bypass: [{ name: "voice", protocol: 17, remotePorts: { from: 5000, to: 5000 } }] };

/** UDP between the LAN host and cn with the given ports. */
function udp(source: string, destination: string, sourcePort: number, destinationPort: number): Uint8Array {
  const payload = new Uint8Array(8 + 32);
  payload.set([sourcePort >> 8, sourcePort & 0xff, destinationPort >> 8, destinationPort & 0xff, 0, 40, 0, 0]);
  return emitIpv6Packet({ source, destination, upperProtocol: IpProtocol.udp, upperPayload: payload });
}

function slot(packet: Uint8Array): Uint8Array {
  const data = new Uint8Array(new ArrayBuffer(4096));
  data.set(packet, HEADROOM);
  return data;
}

/** Both paths with ESP keyed from the MN-HA key (encryptPayload), so the ESP path is there to be skipped. */
async function paths(): Promise<{ router: RouterForwarding; homeAgent: HomeAgentForwarding; rc: Counters; hc: Counters }> {
  const provider = await fastestCryptoProvider();
  const make = (side: "router" | "homeagent", counters: Counters) => {
    const state = createSecurityState(provider, counters);
    const s = authOptionSecurity(side, association, true, { homeAddress: HOME, mobileNetworkPrefixes: [MNP] });
    for (const sa of s.tunnelSas) expect(installSa(state, sa, now).ok).toBe(true);
    for (const p of s.policies) expect(installPolicy(state, p).ok).toBe(true);
    return state;
  };
  const rc = new Counters();
  const hc = new Counters();
  const r = make("router", rc);
  const h = make("homeagent", hc);
  const router = new RouterForwarding({ ...r, counters: rc, homeAgentAddress: parseIpv6(HA)!, uplinks: [{ careOfAddress: parseIpv6(LTE)!, innerMtu: 1426 }, { careOfAddress: parseIpv6(WIFI)!, innerMtu: 1426 }] });
  const homeAgent = new HomeAgentForwarding({ ...h, counters: hc, innerMtu: 1426 });
  homeAgent.bindings = new BindingTable([{ homeAddress: HOME, prefixes: [MNP], careOfAddresses: [WIFI, LTE] }]);
  return { router, homeAgent, rc, hc };
}

describe("IPv6-in-IPv6 without IPsec (forwarding paths)", () => {
  let p: Awaited<ReturnType<typeof paths>>;
  beforeEach(async () => {
    p = await paths();
  });

  test("wholeInnerPacket: exactly one IPv6 or IPv4 packet, by its own length field", () => {
    const packet = udp(LAN, CN, 5001, 5000);
    expect(wholeInnerPacket(packet, 0, packet.length)).toBe(true);
    expect(wholeInnerPacket(packet, 0, packet.length - 1)).toBe(false);
    expect(wholeInnerPacket(Uint8Array.of(...packet, 0), 0, packet.length + 1)).toBe(false);
    const v4 = Uint8Array.of(0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1);
    expect(wholeInnerPacket(v4, 0, 20)).toBe(true);
    expect(wholeInnerPacket(Uint8Array.of(0x25, ...v4.subarray(1)), 0, 20)).toBe(false);
    expect(wholeInnerPacket(new Uint8Array(0), 0, 0)).toBe(false);
  });

  test("router: a bypass flow leaves unprotected on its uplink (counted); other traffic is still sealed in ESP", () => {
    p.router.steering = new FlowSteering(VOICE, "router");
    const voice = udp(LAN, CN, 5001, 5000);
    const data = slot(voice);
    expect(p.router.fromTunnelInterface(data, 0, voice.length, now)).toBe(1);
    expect(p.router.sealedClear).toBe(true);
    expect(toHex(data.subarray(p.router.sealedAt, p.router.sealedAt + p.router.sealedLength))).toBe(toHex(voice));
    expect(p.rc.get("dataplane.bypass.tx")).toBe(1);
    expect(p.rc.get("dataplane.clear.tx")).toBe(1);
    const other = udp(LAN, CN, 5001, 6000);
    const sealed = slot(other);
    expect(p.router.fromTunnelInterface(sealed, 0, other.length, now)).toBe(1);
    expect(p.router.sealedClear).toBe(false);
    expect(p.router.sealedLength).toBeGreaterThan(other.length + 16);
    expect(p.rc.get("dataplane.clear.tx")).toBe(1);
  });

  test("router: clearPayload (auth-option without ESP) sends every packet unprotected, none counted as bypass", () => {
    p.router.steering = new FlowSteering({ ...VOICE, bypass: [], clearPayload: true }, "router");
    const packet = udp(LAN, CN, 5001, 6000);
    expect(p.router.fromTunnelInterface(slot(packet), 0, packet.length, now)).toBe(1);
    expect(p.router.sealedClear).toBe(true);
    expect(p.rc.get("dataplane.clear.tx")).toBe(1);
    expect(p.rc.get("dataplane.bypass.tx")).toBe(0);
  });

  test("home agent: a bypass packet from a registered care-of address is forwarded and its return path learned", () => {
    p.homeAgent.steering = new FlowSteering(VOICE, "homeagent");
    p.homeAgent.returnPaths = undefined;
    const voice = udp(LAN, CN, 5001, 5000);
    expect(p.homeAgent.fromUplinkClear(0, voice, 0, voice.length, parseIpv6(LTE)!, 0, now)).toBe(true);
    expect([p.homeAgent.payloadOffset, p.homeAgent.payloadLength]).toEqual([0, voice.length]);
    expect(p.hc.get("dataplane.bypass.rx")).toBe(1);
  });

  test("home agent: from an unregistered address, not a bypass flow, or not one whole packet → dropped, each counted", () => {
    p.homeAgent.steering = new FlowSteering(VOICE, "homeagent");
    const voice = udp(LAN, CN, 5001, 5000);
    expect(p.homeAgent.fromUplinkClear(0, voice, 0, voice.length, parseIpv6(STRANGER)!, 0, now)).toBe(false);
    expect(p.hc.get("dataplane.drop.clear-unregistered-care-of")).toBe(1);
    const other = udp(LAN, CN, 5001, 6000);
    expect(p.homeAgent.fromUplinkClear(0, other, 0, other.length, parseIpv6(WIFI)!, 0, now)).toBe(false);
    expect(p.hc.get("dataplane.drop.clear-not-bypass")).toBe(1);
    expect(p.homeAgent.fromUplinkClear(0, voice, 0, voice.length - 4, parseIpv6(WIFI)!, 0, now)).toBe(false);
    expect(p.hc.get("dataplane.drop.clear-malformed")).toBe(1);
    // Without any steering (no bypass configured) nothing comes in clear.
    p.homeAgent.steering = undefined;
    expect(p.homeAgent.fromUplinkClear(0, voice, 0, voice.length, parseIpv6(WIFI)!, 0, now)).toBe(false);
    expect(p.hc.get("dataplane.drop.clear-not-bypass")).toBe(2);
    expect(p.hc.get("dataplane.clear.rx")).toBe(0);
  });

  test("home agent → router: the bypass flow's reply goes in clear to the binding's care-of address; the router takes it only from the home agent", () => {
    p.homeAgent.steering = new FlowSteering(VOICE, "homeagent");
    p.router.steering = new FlowSteering(VOICE, "router");
    const reply = udp(CN, LAN, 5000, 5001);
    const data = slot(reply);
    expect(p.homeAgent.fromTunnelInterface(data, 0, reply.length, now)).toBe(0);
    expect(p.homeAgent.sealedClear).toBe(true);
    expect(p.homeAgent.outerDestination).toEqual(parseIpv6(WIFI)!);
    expect(p.hc.get("dataplane.bypass.tx")).toBe(1);
    const inner = data.slice(p.homeAgent.sealedAt, p.homeAgent.sealedAt + p.homeAgent.sealedLength);
    expect(p.router.fromUplinkClear(1, inner, 0, inner.length, parseIpv6(HA)!, 0, now)).toBe(true);
    expect(p.rc.get("dataplane.bypass.rx")).toBe(1);
    expect(p.router.fromUplinkClear(1, inner, 0, inner.length, parseIpv6(STRANGER)!, 0, now)).toBe(false);
    expect(p.rc.get("dataplane.drop.clear-not-home-agent")).toBe(1);
    const other = udp(CN, LAN, 6000, 5001);
    expect(p.router.fromUplinkClear(1, other, 0, other.length, parseIpv6(HA)!, 0, now)).toBe(false);
    expect(p.rc.get("dataplane.drop.clear-not-bypass")).toBe(1);
  });

  test("a bypass packet towards a mobile network without a binding is dropped (no-binding), not sent", () => {
    p.homeAgent.steering = new FlowSteering(VOICE, "homeagent");
    p.homeAgent.bindings = new BindingTable([]);
    const reply = udp(CN, LAN, 5000, 5001);
    expect(p.homeAgent.fromTunnelInterface(slot(reply), 0, reply.length, now)).toBe(DROPPED);
    expect(p.hc.get("dataplane.drop.no-binding")).toBe(1);
    expect(p.hc.get("dataplane.clear.tx")).toBe(0);
  });
});
