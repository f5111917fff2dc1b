// Link probes through both forwarding paths: sealed on a chosen uplink, answered at the home agent to the care-of address they came from.
import { beforeAll, describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { toHex } from "../../../firmware/core/hex.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { BindingTable } from "../../../firmware/dataplane/binding-table.ts";
import { DROPPED, HEADROOM } from "../../../firmware/dataplane/forwarding.ts";
import { HomeAgentForwarding } from "../../../firmware/dataplane/homeagent-forwarding.ts";
import { LocalPort } from "../../../firmware/dataplane/local-delivery.ts";
import { RouterForwarding } from "../../../firmware/dataplane/router-forwarding.ts";
import { createSecurityState, installPolicy, installSa } from "../../../firmware/dataplane/static-security.ts";
import { decodeProbePacket, encodeProbePacket, LINK_PROBE_UDP_PORT, linkProbeKey, ProbeResponder } from "../../../firmware/roles/link-probes.ts";
import { roleSecurity } from "../../../firmware/roles/security-specs.ts";
import { fastestCryptoProvider } from "../../../firmware/runtime/crypto-backends.ts";
import { parseIpv6 } from "../../../firmware/wire/address.ts";
import { emitIpv6Packet } from "../../../firmware/wire/ipv6.ts";
import { IpProtocol } from "../../../firmware/wire/protocol-numbers.ts";
import { emitUdp } from "../../../firmware/wire/udp.ts";
import { ipv6ReprChecksumAddresses } from "../../../firmware/wire/ipv6.ts";

const now = instant(1000);
const HOME = "2001:db8:10::20";
const HA = "2001:db8:10::1";
const MNP = "2001:db8:20::/64";
const LTE = "2001:db8:1::2";
const WIFI = "2001:db8:2::2";
const keys = [1, 100, 50, 200].map((seed) => toHex(Uint8Array.from({ length: 20 }, (_, i) => (seed + i) & 0xff)));
const env = { P1: keys[0]!, P2: keys[1]!, P3: keys[2]!, P4: keys[3]! };
const ref = (name: string) => ({ ref: `env:${name}` });

async function side(local: "router" | "homeagent") {
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  const toHa = { spi: 0x1001, key: ref("P1") };
  const toMr = { spi: 0x2001, key: ref("P2") };
  const mh = { spi: 0x1002, key: ref("P3") };
  const mh2 = { spi: 0x2002, key: ref("P4") };
  const ipsec =
    local === "router"
      ? { tunnel: { suite: "aes128gcm16" as const, outbound: toHa, inbound: toMr }, signalling: { suite: "aes128gcm16" as const, outbound: mh, inbound: mh2 } }
      : { tunnel: { suite: "aes128gcm16" as const, outbound: toMr, inbound: toHa }, signalling: { suite: "aes128gcm16" as const, outbound: mh2, inbound: mh } };
  const specs = roleSecurity(local, ipsec as unknown as Parameters<typeof roleSecurity>[1], { homeAddress: HOME, homeAgent: HA, mobileNetworkPrefixes: [MNP] });
  if (!specs.ok) throw new Error(specs.error);
  // The probe key first: installing an SA wipes the caller's copy of its key.
  const out = specs.value.tunnelSas.find((s) => s.direction === "outbound")!.encryptionKey;
  const inn = specs.value.tunnelSas.find((s) => s.direction === "inbound")!.encryptionKey;
  const probeKey = local === "router" ? linkProbeKey(out, inn) : linkProbeKey(inn, out);
  const counters = new Counters();
  const state = createSecurityState(await fastestCryptoProvider(), counters);
  for (const sa of specs.value.tunnelSas) installSa(state, sa, now);
  for (const p of specs.value.policies) installPolicy(state, p);
  return { state, counters, probeKey };
}

function slot(packet: Uint8Array): Uint8Array {
  const data = new Uint8Array(new ArrayBuffer(4096));
  data.set(packet, HEADROOM);
  return data;
}

describe("link probes through the forwarding paths", () => {
  let router: RouterForwarding;
  let homeAgent: HomeAgentForwarding;
  let haCounters: Counters;
  let routerKey: ReturnType<typeof linkProbeKey>;
  let responder: ProbeResponder;

  beforeAll(async () => {
    const r = await side("router");
    const h = await side("homeagent");
    haCounters = h.counters;
    routerKey = r.probeKey;
    expect(toHex(r.probeKey.expose())).toBe(toHex(h.probeKey.expose()));
    expect(toHex(r.probeKey.expose())).not.toBe(toHex(linkProbeKey(new Uint8Array(20), new Uint8Array(20)).expose()));
    router = new RouterForwarding({
      ...r.state,
      counters: r.counters,
      homeAgentAddress: parseIpv6(HA)!,
      uplinks: [{ careOfAddress: parseIpv6(LTE)!, innerMtu: 1426 }, { careOfAddress: parseIpv6(WIFI)!, innerMtu: 1426 }],
      localPort: new LocalPort({ address: HOME, port: LINK_PROBE_UDP_PORT }),
    });
    router.activeUplink = 0;
    homeAgent = new HomeAgentForwarding({ ...h.state, counters: h.counters, innerMtu: 1426, localPort: new LocalPort({ address: HA, port: LINK_PROBE_UDP_PORT }) });
    homeAgent.bindings = new BindingTable([{ homeAddress: HOME, prefixes: [MNP], careOfAddresses: [LTE] }]);
    responder = new ProbeResponder(new Map([[HOME, h.probeKey]]), h.counters);
  });

  test("a probe on the standby (unregistered) uplink is answered back to that care-of address", () => {
    const request = encodeProbePacket({ type: "echo-request", bindingId: 2, sequenceNumber: 7, originTimestampMs: 123_456, responderDelayUs: 0 }, routerKey, HOME, HA);
    const data = slot(request);
    expect(router.sealLocal(data, 0, request.length, 1, undefined, now)).toBe(1); // forced onto Wi-Fi, not the active LTE
    expect(router.outerDestination).toEqual(parseIpv6(HA)!);
    const esp = data.slice(router.sealedAt, router.sealedAt + router.sealedLength);
    expect(homeAgent.fromUplink(0, esp, 0, esp.length, parseIpv6(WIFI)!, 0, now)).toBe(true);
    expect(homeAgent.local).toBe(true);
    const inner = esp.slice(homeAgent.payloadOffset, homeAgent.payloadOffset + homeAgent.payloadLength);
    const reply = responder.answer(inner, 250)!;
    expect(reply).toBeDefined();
    const back = slot(reply);
    expect(homeAgent.sealLocal(back, 0, reply.length, 0, parseIpv6(WIFI)!, now)).toBe(0);
    expect(homeAgent.outerDestination).toEqual(parseIpv6(WIFI)!); // not the binding's LTE
    const espBack = back.slice(homeAgent.sealedAt, homeAgent.sealedAt + homeAgent.sealedLength);
    expect(router.fromUplink(1, espBack, 0, espBack.length, parseIpv6(HA)!, 0, now)).toBe(true);
    expect(router.local).toBe(true);
    const got = decodeProbePacket(espBack.slice(router.payloadOffset, router.payloadOffset + router.payloadLength), routerKey);
    expect(got.ok && got.value.probe).toEqual({ type: "echo-reply", bindingId: 2, sequenceNumber: 7, originTimestampMs: 123_456, responderDelayUs: 250 });
  });

  test("other UDP from an unregistered care-of address is still dropped; ordinary traffic is not local", () => {
    const repr = { source: HOME, destination: HA, upperProtocol: IpProtocol.udp, upperPayload: new Uint8Array(0) };
    const other = emitIpv6Packet({ ...repr, upperPayload: emitUdp({ sourcePort: 5000, destinationPort: 5001, payload: new Uint8Array(36) }, ipv6ReprChecksumAddresses(repr)) });
    const data = slot(other);
    expect(router.sealLocal(data, 0, other.length, 1, undefined, now)).toBe(1);
    const esp = data.slice(router.sealedAt, router.sealedAt + router.sealedLength);
    const before = haCounters.get("dataplane.drop.unregistered-care-of");
    expect(homeAgent.fromUplink(0, esp, 0, esp.length, parseIpv6(WIFI)!, 0, now)).toBe(false);
    expect(haCounters.get("dataplane.drop.unregistered-care-of")).toBe(before + 1);
    expect(router.sealLocal(slot(other), 0, other.length, 5, undefined, now)).toBe(DROPPED);
  });

  test("a forged or unknown probe gets no answer (counted)", () => {
    const wrongKey = linkProbeKey(new Uint8Array(20), new Uint8Array(20));
    const forged = encodeProbePacket({ type: "echo-request", bindingId: 1, sequenceNumber: 1, originTimestampMs: 1, responderDelayUs: 0 }, wrongKey, HOME, HA);
    expect(responder.answer(forged, 0)).toBeUndefined();
    expect(haCounters.get("wire.link-probe.bad-checksum")).toBeGreaterThan(0);
    const stranger = encodeProbePacket({ type: "echo-request", bindingId: 1, sequenceNumber: 1, originTimestampMs: 1, responderDelayUs: 0 }, routerKey, "2001:db8:10::99", HA);
    expect(responder.answer(stranger, 0)).toBeUndefined();
    expect(haCounters.get("homeagent.probe.drop.unknown-source")).toBe(1);
    expect(responder.answer(new Uint8Array(10), 0)).toBeUndefined();
  });

  test("LocalPort matches only IPv6/UDP to its address and port", () => {
    const port = new LocalPort({ address: HA, port: LINK_PROBE_UDP_PORT });
    const probe = encodeProbePacket({ type: "echo-request", bindingId: 1, sequenceNumber: 1, originTimestampMs: 1, responderDelayUs: 0 }, routerKey, HOME, HA);
    expect(port.matches(probe, 0, probe.length)).toBe(true);
    expect(port.matches(probe, 0, 47)).toBe(false);
    const toOther = encodeProbePacket({ type: "echo-request", bindingId: 1, sequenceNumber: 1, originTimestampMs: 1, responderDelayUs: 0 }, routerKey, HOME, "2001:db8:10::2");
    expect(port.matches(toOther, 0, toOther.length)).toBe(false);
    const tcp = emitIpv6Packet({ source: HOME, destination: HA, upperProtocol: IpProtocol.tcp, upperPayload: new Uint8Array(20) });
    expect(port.matches(tcp, 0, tcp.length)).toBe(false);
    expect(() => new LocalPort({ address: "nope", port: 1 })).toThrow(RangeError);
  });
});
