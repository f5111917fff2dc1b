// ESP round trips per suite and backend (tunnel v6-in-v6, v4-in-v6, v4-in-v4 over UDP, transport BU), ESN, TFC, dummies, moving endpoints.
import { describe, expect, test } from "bun:test";
import { ESP_SUITE_IDS, ESP_SUITES } from "../../../firmware/crypto/suites.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { backendSupportsSuite } from "../../../firmware/ipsec/esp-transform.ts";
import { openPacket, sealTransportIpv6, sealTunnelPacket } from "../../../firmware/ipsec/esp-packets.ts";
import { loadCryptoBackends } from "../../../firmware/runtime/crypto-backends.ts";
import { encodeMobilityPacket, decodeMobilityPacket } from "../../../firmware/mobility/mobility-packet.ts";
import { emitIcmpv6 } from "../../../firmware/wire/icmpv6.ts";
import { emitIpv4Packet, parseIpv4Packet } from "../../../firmware/wire/ipv4.ts";
import { emitIpv6Packet, parseIpv6Packet } from "../../../firmware/wire/ipv6.ts";
import { buFlags } from "../../../firmware/wire/mobility-header.ts";
import { IpProtocol } from "../../../firmware/wire/protocol-numbers.ts";
import { prefixSelector } from "../../../firmware/ipsec/traffic-selector.ts";
import { addPair, harness, T0, v4, v6 } from "./fixtures.ts";

const backends = await loadCryptoBackends();

function echoV6(source: string, destination: string, size = 56): Uint8Array {
  const data = Uint8Array.from({ length: size }, (_, i) => i & 0xff);
  const icmp = emitIcmpv6({ kind: "echo-request", identifier: 0x4d4f, sequenceNumber: 1, data }, { source: v6(source), destination: v6(destination) });
  return emitIpv6Packet({ source, destination, upperProtocol: IpProtocol.icmpv6, upperPayload: icmp });
}

function pingV4(source: string, destination: string): Uint8Array {
  const icmp = Uint8Array.from([8, 0, 0xf7, 0xfe, 0, 1, 0, 0, 1, 2, 3, 4]); // echo request, checksum over these 12 octets
  return emitIpv4Packet({ source, destination, upperProtocol: IpProtocol.icmp, upperPayload: icmp });
}

const HA = "2001:db8:ffff::1";
const COA = "2001:db8:1::10";
const HOA = "2001:db8:aaaa::10";
const tunnelEndpoints = { source: v6(COA), destination: v6(HA) };

for (const backend of backends) {
  for (const id of ESP_SUITE_IDS) {
    const suite = ESP_SUITES[id];
    const supported = backendSupportsSuite(backend, suite);
    describe(`${backend.name} / ${id}`, () => {
      for (const esn of [false, true]) {
        test.skipIf(!supported)(`tunnel IPv6-in-IPv6 round trip (ESN ${esn})`, () => {
          const a = harness(backend);
          const b = harness(backend);
          const { outbound } = addPair(a, b, { suite: id, mode: "tunnel", endpoints: tunnelEndpoints, extendedSequenceNumbers: esn });
          for (const size of [0, 1, 56, 1200]) {
            const inner = echoV6(HOA, "2001:db8:5::1", size);
            const sealed = sealTunnelPacket(a.outbound, outbound, inner, T0);
            if (!sealed.ok) throw new Error(JSON.stringify(sealed.error));
            const outer = parseIpv6Packet(sealed.value);
            expect(outer.ok && outer.value.upperProtocol).toBe(IpProtocol.esp);
            expect(outer.ok && outer.value.header.destination).toBe(HA);
            // ESP hides the inner packet: its bytes do not appear in clear (except with ENCR_NULL).
            const clear = Buffer.from(sealed.value).includes(Buffer.from(inner.subarray(8, 40)));
            expect(clear).toBe(id === "null-sha256");
            const opened = openPacket(b.inbound, sealed.value, T0);
            if (!opened.ok) throw new Error(JSON.stringify(opened.error));
            expect(opened.value.nextHeader).toBe(41);
            expect(Buffer.from(opened.value.payload).equals(Buffer.from(inner))).toBe(true);
          }
          expect(b.counters.total("esp.drop.")).toBe(0);
        });
      }

      test.skipIf(!supported)("tunnel IPv4-in-IPv6 round trip", () => {
        const a = harness(backend);
        const b = harness(backend);
        const { outbound } = addPair(a, b, { suite: id, mode: "tunnel", endpoints: tunnelEndpoints });
        const inner = pingV4("192.0.2.10", "198.51.100.7");
        const sealed = sealTunnelPacket(a.outbound, outbound, inner, T0);
        const opened = sealed.ok ? openPacket(b.inbound, sealed.value, T0) : undefined;
        expect(opened?.ok && opened.value.nextHeader).toBe(4);
        expect(opened?.ok && parseIpv4Packet(opened.value.payload).ok).toBe(true);
        expect(opened?.ok && Buffer.from(opened.value.payload).equals(Buffer.from(inner))).toBe(true);
      });

      test.skipIf(!supported)("tunnel over IPv4 in UDP 4500 (RFC 3948) round trip", () => {
        const a = harness(backend);
        const b = harness(backend);
        const { outbound } = addPair(a, b, {
          suite: id,
          mode: "tunnel",
          endpoints: { source: v4("100.64.0.2"), destination: v4("203.0.113.1") },
          encapsulation: { kind: "udp", sourcePort: 40123, destinationPort: 4500 },
        });
        const inner = echoV6(HOA, "2001:db8:5::1");
        const sealed = sealTunnelPacket(a.outbound, outbound, inner, T0);
        expect(sealed.ok && sealed.value[9]).toBe(IpProtocol.udp);
        const opened = sealed.ok ? openPacket(b.inbound, sealed.value, T0) : undefined;
        expect(opened?.ok && Buffer.from(opened.value.payload).equals(Buffer.from(inner))).toBe(true);
      });

      test.skipIf(!supported)("transport mode: a Binding Update with its Home Address option (RFC 4877 §4.3)", () => {
        const a = harness(backend);
        const b = harness(backend);
        const bu = encodeMobilityPacket({
          message: { type: "binding-update", sequenceNumber: 7, flags: buFlags({ acknowledge: true, homeRegistration: true, mobileRouter: true }), lifetimeUnits: 100, options: [] },
          source: COA,
          destination: HA,
          homeAddressOption: HOA,
        });
        const mh = { protocol: IpProtocol.mobility, mobilityHeaderType: 5 };
        const { outbound } = addPair(a, b, {
          suite: id,
          mode: "transport",
          selectors: [{ source: prefixSelector(HOA)!, destination: prefixSelector(HA)!, ...mh }],
        });
        const sealed = sealTransportIpv6(a.outbound, outbound, bu, T0);
        if (!sealed.ok) throw new Error(JSON.stringify(sealed.error));
        const outer = parseIpv6Packet(sealed.value);
        expect(outer.ok && outer.value.upperProtocol).toBe(IpProtocol.esp);
        expect(outer.ok && outer.value.homeAddress).toBe(HOA);
        const opened = openPacket(b.inbound, sealed.value, T0);
        if (!opened.ok) throw new Error(JSON.stringify(opened.error));
        expect(opened.value.nextHeader).toBe(IpProtocol.mobility);
        expect(Buffer.from(opened.value.packet!).equals(Buffer.from(bu))).toBe(true);
        const decoded = decodeMobilityPacket(opened.value.packet!);
        expect(decoded.ok && decoded.value.message.type).toBe("binding-update");
      });
    });
  }
}

const fastest = backends[0]!;

describe("datapath behaviour (fastest backend)", () => {
  test("the outbound IV is the sequence number for AEAD suites: never repeated for a key", () => {
    const a = harness(fastest);
    const b = harness(fastest);
    const { outbound } = addPair(a, b, { suite: "aes128gcm16", mode: "tunnel", endpoints: tunnelEndpoints });
    const ivs = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const length = a.outbound.protectTunnel(outbound, echoV6(HOA, HA), T0);
      expect(length).toBeGreaterThan(0);
      ivs.add(Buffer.from(outbound.output!.subarray(8, 16)).toString("hex"));
    }
    expect(ivs.size).toBe(100);
  });

  test("TFC padding pads to the configured size and the receiver strips it (RFC 4303 §2.7)", () => {
    const a = harness(fastest);
    const b = harness(fastest);
    const { outbound } = addPair(a, b, { suite: "aes128gcm16", mode: "tunnel", endpoints: tunnelEndpoints, tfcPadTo: 1000 });
    const inner = echoV6(HOA, HA, 8);
    const sealed = sealTunnelPacket(a.outbound, outbound, inner, T0);
    expect(sealed.ok && sealed.value.length).toBeGreaterThanOrEqual(40 + 8 + 8 + 1000 + 2 + 16);
    const opened = sealed.ok ? openPacket(b.inbound, sealed.value, T0) : undefined;
    expect(opened?.ok && Buffer.from(opened.value.payload).equals(Buffer.from(inner))).toBe(true);
  });

  test("dummy packets (next header 59) are dropped silently with their counter", () => {
    const a = harness(fastest);
    const b = harness(fastest);
    const { outbound } = addPair(a, b, { suite: "chacha20poly1305", mode: "tunnel", endpoints: tunnelEndpoints });
    const length = a.outbound.protectDummy(outbound, 300, T0);
    expect(length).toBeGreaterThan(300);
    expect(b.inbound.process(outbound.output!, 0, length, T0)).toBe(false);
    expect(b.counters.get("esp.drop.dummy")).toBe(1);
  });

  test("tunnel endpoints move at once (handover) and the receiver does not care about the outer source", () => {
    const a = harness(fastest);
    const b = harness(fastest);
    const { outbound } = addPair(a, b, { suite: "aes128gcm16", mode: "tunnel", endpoints: tunnelEndpoints });
    const first = sealTunnelPacket(a.outbound, outbound, echoV6(HOA, HA), T0);
    expect(a.sad.setEndpoints(outbound.spi, "outbound", { source: v6("2001:db8:2::20"), destination: v6(HA) })).toBe(true);
    const second = sealTunnelPacket(a.outbound, outbound, echoV6(HOA, HA), T0);
    const s1 = first.ok ? parseIpv6Packet(first.value) : undefined;
    const s2 = second.ok ? parseIpv6Packet(second.value) : undefined;
    expect(s1?.ok && s1.value.header.source).toBe(COA);
    expect(s2?.ok && s2.value.header.source).toBe("2001:db8:2::20");
    expect(second.ok && openPacket(b.inbound, second.value, T0).ok).toBe(true);
    expect(first.ok && openPacket(b.inbound, first.value, T0).ok).toBe(true); // reordered, within the window
  });

  test("ESN: packets keep flowing across the 2^32 boundary and the ICV covers the high bits", () => {
    const a = harness(fastest);
    const b = harness(fastest);
    const { outbound, inbound } = addPair(a, b, { suite: "aes256-sha256", mode: "tunnel", endpoints: tunnelEndpoints, extendedSequenceNumbers: true });
    outbound.sequenceLow = 0xfffffffd;
    inbound.replay!.update(0, 0xfffffffd);
    for (let i = 0; i < 5; i++) {
      const sealed = sealTunnelPacket(a.outbound, outbound, echoV6(HOA, HA), T0);
      expect(sealed.ok && openPacket(b.inbound, sealed.value, T0).ok).toBe(true);
    }
    expect([outbound.sequenceHigh, outbound.sequenceLow]).toEqual([1, 2]);
    expect([inbound.replay!.topHigh, inbound.replay!.topLow]).toEqual([1, 2]);
  });

  test("32-bit sequence numbers: exhaustion raises a rekey event and never wraps (RFC 4303 §3.3.3)", () => {
    const a = harness(fastest);
    const b = harness(fastest);
    const { outbound } = addPair(a, b, { suite: "aes128gcm16", mode: "tunnel", endpoints: tunnelEndpoints });
    outbound.sequenceLow = 0xffffffff - (1 << 26) - 1;
    expect(a.outbound.protectTunnel(outbound, echoV6(HOA, HA), T0)).toBeGreaterThan(0);
    expect(a.sad.pollEvent()).toEqual({ kind: "soft-expired", spi: outbound.spi, direction: "outbound", reason: "sequence" });
    outbound.sequenceLow = 0xfffffffe;
    expect(a.outbound.protectTunnel(outbound, echoV6(HOA, HA), T0)).toBeGreaterThan(0);
    expect(outbound.sequenceLow).toBe(0xffffffff);
    expect(a.outbound.protectTunnel(outbound, echoV6(HOA, HA), T0)).toBe(-1);
    expect(a.counters.get("esp.drop.sequence-exhausted")).toBe(1);
    expect(a.sad.pollEvent()).toEqual({ kind: "hard-expired", spi: outbound.spi, direction: "outbound", reason: "sequence" });
    expect(outbound.sequenceLow).toBe(0xffffffff);
    expect(a.outbound.protectTunnel(outbound, echoV6(HOA, HA), instant(T0 + 1))).toBe(-1);
  });
});
