// Router and home-agent forwarding paths without I/O: seal on one side, open on the other, every drop counted by name.
import { beforeAll, describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { toHex } from "../../../firmware/core/hex.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { BindingTable } from "../../../firmware/dataplane/binding-table.ts";
import { DROPPED, HEADROOM, TOO_BIG } from "../../../firmware/dataplane/forwarding.ts";
import { HomeAgentForwarding } from "../../../firmware/dataplane/homeagent-forwarding.ts";
import { RouterForwarding } from "../../../firmware/dataplane/router-forwarding.ts";
import { createSecurityState, installPolicy, installSa, type SecurityState } from "../../../firmware/dataplane/static-security.ts";
import { roleSecurity } from "../../../firmware/roles/security-specs.ts";
import { fastestCryptoProvider } from "../../../firmware/runtime/crypto-backends.ts";
import { parseIpv6 } from "../../../firmware/wire/address.ts";
import { emitIpv6Packet } from "../../../firmware/wire/ipv6.ts";
import { IpProtocol } from "../../../firmware/wire/protocol-numbers.ts";

const now = instant(1000);
const HOME = "2001:db8:10::20";
const HA = "2001:db8:10::1";
const MNP = "2001:db8:20::/64";
const LTE = "2001:db8:1::2";
const WIFI = "2001:db8:2::2";

const env: Record<string, string> = {
  K1: toHex(Uint8Array.from({ length: 20 }, (_, i) => i + 1)),
  K2: toHex(Uint8Array.from({ length: 20 }, (_, i) => 100 + i)),
  K3: toHex(Uint8Array.from({ length: 20 }, (_, i) => 50 + i)),
  K4: toHex(Uint8Array.from({ length: 20 }, (_, i) => 200 - i)),
};
const ref = (name: string) => ({ ref: `env:${name}` });
const ipsecFor = (side: "router" | "homeagent") => {
  const toHa = { spi: 0x1001, key: ref("K1") };
  const toMr = { spi: 0x2001, key: ref("K2") };
  const mhToHa = { spi: 0x1002, key: ref("K3") };
  const mhToMr = { spi: 0x2002, key: ref("K4") };
  return side === "router"
    ? { tunnel: { suite: "aes128gcm16" as const, outbound: toHa, inbound: toMr }, signalling: { suite: "aes128gcm16" as const, outbound: mhToHa, inbound: mhToMr } }
    : { tunnel: { suite: "aes128gcm16" as const, outbound: toMr, inbound: toHa }, signalling: { suite: "aes128gcm16" as const, outbound: mhToMr, inbound: mhToHa } };
};

async function side(local: "router" | "homeagent"): Promise<{ state: SecurityState; counters: Counters }> {
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  const specs = roleSecurity(local, ipsecFor(local), { homeAddress: HOME, homeAgent: HA, mobileNetworkPrefixes: [MNP] });
  if (!specs.ok) throw new Error(specs.error);
  const counters = new Counters();
  const state = createSecurityState(await fastestCryptoProvider(), counters);
  for (const sa of specs.value.tunnelSas) expect(installSa(state, sa, now)).toEqual({ ok: true, value: undefined });
  for (const p of specs.value.policies) expect(installPolicy(state, p).ok).toBe(true);
  return { state, counters };
}

function inner(source: string, destination: string, payload = 64): Uint8Array {
  return emitIpv6Packet({ source, destination, upperProtocol: IpProtocol.udp, upperPayload: new Uint8Array(payload).fill(0xab) });
}

/** A slot as the packet loop lays it out: the inner packet at HEADROOM. */
function slot(packet: Uint8Array): Uint8Array {
  const data = new Uint8Array(new ArrayBuffer(4096));
  data.set(packet, HEADROOM);
  return data;
}

describe("forwarding paths", () => {
  let router: RouterForwarding;
  let homeAgent: HomeAgentForwarding;
  let routerCounters: Counters;
  let haCounters: Counters;

  beforeAll(async () => {
    const r = await side("router");
    const h = await side("homeagent");
    routerCounters = r.counters;
    haCounters = h.counters;
    router = new RouterForwarding({ ...r.state, counters: r.counters, homeAgentAddress: parseIpv6(HA)!, uplinks: [{ careOfAddress: parseIpv6(LTE)!, innerMtu: 1426 }, { careOfAddress: parseIpv6(WIFI)!, innerMtu: 1326 }] });
    homeAgent = new HomeAgentForwarding({ ...h.state, counters: h.counters, innerMtu: 1426 });
    homeAgent.bindings = new BindingTable([{ homeAddress: HOME, prefixes: [MNP], careOfAddresses: [LTE] }]);
  });

  test("link-scope multicast from the tunnel interface (MLD reports, ND) never enters the tunnel, at either end (RFC 4291 §2.7)", () => {
    router.activeUplink = 0;
    for (const [destination, dropped] of [["ff02::16", true], ["ff02::1:ff00:1", true], ["ff01::1", true], ["ff05::2", false], ["ff0e::101", false]] as const) {
      const before = routerCounters.get("dataplane.drop.link-scope-multicast");
      const packet = inner("2001:db8:20::5", destination);
      const r = router.fromTunnelInterface(slot(packet), 0, packet.length, now);
      expect({ destination, dropped: r === DROPPED && routerCounters.get("dataplane.drop.link-scope-multicast") === before + 1 }).toEqual({ destination, dropped });
    }
    const mld = inner("fe80::1", "ff02::16");
    expect(homeAgent.fromTunnelInterface(slot(mld), 0, mld.length, now)).toBe(DROPPED);
    expect(haCounters.get("dataplane.drop.link-scope-multicast")).toBe(1);
    const v4 = new Uint8Array(28);
    v4.set([0x45, 0, 0, 28, 0, 0, 0, 0, 1, 17, 0, 0, 10, 0, 0, 1, 224, 0, 0, 251]);
    expect(router.fromTunnelInterface(slot(v4), 0, v4.length, now)).toBe(DROPPED);
  });

  test("router → home agent: sealed on the active uplink, opened at the HA from the registered care-of address", () => {
    router.activeUplink = 0;
    const packet = inner("2001:db8:20::2", "2001:db8:30::2");
    const data = slot(packet);
    expect(router.fromTunnelInterface(data, 0, packet.length, now)).toBe(0);
    expect(router.outerDestination).toEqual(parseIpv6(HA)!);
    const esp = data.slice(router.sealedAt, router.sealedAt + router.sealedLength);
    expect(esp.length).toBe(8 + 8 + packet.length + 2 + 2 + 16); // header, IV, inner, pad to 4, trailer, ICV
    const outer = new Uint8Array(16);
    outer.set(parseIpv6(LTE)!);
    expect(homeAgent.fromUplink(0, esp, 0, esp.length, outer, 0, now)).toBe(true);
    expect(toHex(esp.subarray(homeAgent.payloadOffset, homeAgent.payloadOffset + homeAgent.payloadLength))).toBe(toHex(packet));
  });

  test("the home agent decrypts first, then drops ESP from an unregistered outer source (counted, no ESP drop)", () => {
    const packet = inner("2001:db8:20::2", "2001:db8:30::2");
    const data = slot(packet);
    expect(router.fromTunnelInterface(data, 0, packet.length, now)).toBe(0);
    const esp = data.slice(router.sealedAt, router.sealedAt + router.sealedLength);
    const espDrops = haCounters.total("esp.drop.");
    expect(homeAgent.fromUplink(0, esp, 0, esp.length, parseIpv6("2001:db8:f::1")!, 0, now)).toBe(false);
    expect(haCounters.get("dataplane.drop.unregistered-care-of")).toBe(1);
    expect(haCounters.total("esp.drop.")).toBe(espDrops);
  });

  test("home agent → router: the binding table's care-of address is the outer destination", () => {
    const packet = inner("2001:db8:30::2", "2001:db8:20::2");
    const data = slot(packet);
    expect(homeAgent.fromTunnelInterface(data, 0, packet.length, now)).toBe(0);
    expect(homeAgent.outerDestination).toEqual(parseIpv6(LTE)!);
    const esp = data.slice(homeAgent.sealedAt, homeAgent.sealedAt + homeAgent.sealedLength);
    expect(router.fromUplink(0, esp, 0, esp.length, parseIpv6(HA)!, 0, now)).toBe(true);
    expect(toHex(esp.subarray(router.payloadOffset, router.payloadOffset + router.payloadLength))).toBe(toHex(packet));
  });

  test("towards a mobile network without a binding: dropped as no-binding; outside every policy: no-policy", () => {
    const packet = inner("2001:db8:30::2", "2001:db8:10::20");
    expect(homeAgent.fromTunnelInterface(slot(packet), 0, packet.length, now)).toBe(0); // the home address has a binding
    const saved = homeAgent.bindings;
    homeAgent.bindings = new BindingTable([]);
    expect(homeAgent.fromTunnelInterface(slot(packet), 0, packet.length, now)).toBe(DROPPED);
    expect(haCounters.get("dataplane.drop.no-binding")).toBe(1);
    homeAgent.bindings = saved;
    const stray = inner("2001:db8:30::2", "2001:db8:99::1");
    expect(homeAgent.fromTunnelInterface(slot(stray), 0, stray.length, now)).toBe(DROPPED);
    expect(haCounters.get("dataplane.drop.no-policy")).toBe(1);
  });

  test("a packet bigger than the chosen uplink's inner MTU asks for Packet Too Big with that MTU", () => {
    router.activeUplink = 1;
    const big = inner("2001:db8:20::2", "2001:db8:30::2", 1326 - 40 + 1);
    expect(router.fromTunnelInterface(slot(big), 0, big.length, now)).toBe(TOO_BIG);
    expect(router.tooBigMtu).toBe(1326);
    const fits = inner("2001:db8:20::2", "2001:db8:30::2", 1326 - 40);
    expect(router.fromTunnelInterface(slot(fits), 0, fits.length, now)).toBe(1);
  });

  test("no policy, no uplink: dropped and counted, nothing sealed", () => {
    router.activeUplink = 0;
    const foreign = inner("2001:db8:99::2", "2001:db8:30::2");
    expect(router.fromTunnelInterface(slot(foreign), 0, foreign.length, now)).toBe(DROPPED);
    expect(routerCounters.get("dataplane.drop.no-policy")).toBe(1);
    router.activeUplink = -1;
    const ours = inner("2001:db8:20::2", "2001:db8:30::2");
    expect(router.fromTunnelInterface(slot(ours), 0, ours.length, now)).toBe(DROPPED);
    expect(routerCounters.get("dataplane.drop.no-uplink")).toBe(1);
  });

  test("a corrupted ICV is dropped (esp.drop.icv) and nothing is handed to the tunnel interface", () => {
    const packet = inner("2001:db8:30::2", "2001:db8:20::2");
    const data = slot(packet);
    homeAgent.fromTunnelInterface(data, 0, packet.length, now);
    const esp = data.slice(homeAgent.sealedAt, homeAgent.sealedAt + homeAgent.sealedLength);
    esp[esp.length - 1]! ^= 1; // corrupt the ICV
    expect(router.fromUplink(0, esp, 0, esp.length, parseIpv6(HA)!, 0, now)).toBe(false);
    expect(routerCounters.get("esp.drop.icv")).toBe(1);
  });
});
