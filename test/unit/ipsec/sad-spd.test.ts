// SAD (lookups, duplicate SPIs, lifetimes and their events, key wiping) and SPD (order, actions, selectors, RFC 4301 §5.2).
import { describe, expect, test } from "bun:test";
import { instant } from "../../../firmware/core/instant.ts";
import { SecretBytes } from "../../../firmware/core/secret.ts";
import { SecurityAssociationDatabase, formatSpi, spi } from "../../../firmware/ipsec/sad.ts";
import { SecurityPolicyDatabase, policyId } from "../../../firmware/ipsec/spd.ts";
import { packetSelectorOf, prefixSelector, selectorMatches } from "../../../firmware/ipsec/traffic-selector.ts";
import { loadCryptoBackends } from "../../../firmware/runtime/crypto-backends.ts";
import { addPair, harness, ipv6Packet, T0, testKeys, v6 } from "./fixtures.ts";

const backend = (await loadCryptoBackends())[0]!;
const endpoints = { source: v6("2001:db8:1::10"), destination: v6("2001:db8:ffff::1") };
const inner = ipv6Packet("2001:db8:aaaa::10", "2001:db8:5::1", 59, new Uint8Array(100));

describe("SAD", () => {
  test("SPIs below 256 are reserved and refused", () => {
    expect(() => spi(0)).toThrow(RangeError);
    expect(() => spi(255)).toThrow(RangeError);
    expect(formatSpi(spi(0x1c815478))).toBe("0x1c815478");
  });

  test("inbound lookup by SPI; a duplicate inbound SPI is refused", () => {
    const sad = new SecurityAssociationDatabase(() => backend);
    const config = { spi: spi(0x2000), direction: "inbound", mode: "tunnel", suite: "aes128gcm16", endpoints } as const;
    expect(sad.add({ ...config, keys: testKeys("aes128gcm16") }, T0).ok).toBe(true);
    const again = sad.add({ ...config, keys: testKeys("aes128gcm16") }, T0);
    expect(again.ok).toBe(false);
    expect(!again.ok && again.error.kind).toBe("duplicate-spi");
    expect(sad.inbound(0x2000)?.spi).toBe(spi(0x2000));
    expect(sad.outbound(0x2000)).toBeUndefined();
  });

  test("a suite no backend implements is refused", () => {
    const sad = new SecurityAssociationDatabase(() => undefined);
    const added = sad.add({ spi: spi(0x2000), direction: "inbound", mode: "tunnel", suite: "chacha20poly1305", keys: testKeys("chacha20poly1305") }, T0);
    expect(!added.ok && added.error.kind).toBe("unsupported-suite");
  });

  test("wrong key lengths are a configuration error (thrown at add, never on the datapath)", () => {
    const sad = new SecurityAssociationDatabase(() => backend);
    expect(() =>
      sad.add({ spi: spi(0x2000), direction: "inbound", mode: "tunnel", suite: "aes128gcm16", keys: { encryption: new SecretBytes(new Uint8Array(16)) } }, T0),
    ).toThrow(RangeError);
  });

  test("deleting an SA wipes its keys; they are never printed", () => {
    const sad = new SecurityAssociationDatabase(() => backend);
    const keys = testKeys("aes256-sha256");
    const added = sad.add({ spi: spi(0x3000), direction: "outbound", mode: "tunnel", suite: "aes256-sha256", keys, endpoints }, T0);
    expect(added.ok).toBe(true);
    const text = JSON.stringify(added.ok ? added.value : null) + String(keys.encryption) + JSON.stringify(keys);
    expect(text).not.toContain(Buffer.from(testKeys("aes256-sha256").encryption.expose()).toString("hex").slice(0, 8));
    expect(sad.delete(spi(0x3000), "outbound")).toBe(true);
    expect(keys.encryption.wiped && keys.integrity!.wiped).toBe(true);
    expect(() => keys.encryption.expose()).toThrow();
    expect(sad.delete(spi(0x3000), "outbound")).toBe(false);
  });

  test("soft and hard packet lifetimes raise one event each; hard stops the SA", () => {
    const a = harness(backend);
    const b = harness(backend);
    const { outbound } = addPair(a, b, { suite: "aes128gcm16", mode: "tunnel", endpoints, lifetimes: { soft: { packets: 3 }, hard: { packets: 5 } } });
    const sent = Array.from({ length: 6 }, () => a.outbound.protectTunnel(outbound, inner, T0));
    expect(sent.map((n) => n > 0)).toEqual([true, true, true, true, true, false]);
    expect(a.sad.pollEvent()).toEqual({ kind: "soft-expired", spi: outbound.spi, direction: "outbound", reason: "packets" });
    expect(a.sad.pollEvent()).toEqual({ kind: "hard-expired", spi: outbound.spi, direction: "outbound", reason: "packets" });
    expect(a.sad.pollEvent()).toBeUndefined();
  });

  test("byte lifetimes count payload octets, inbound too", () => {
    const a = harness(backend);
    const b = harness(backend);
    const { outbound, inbound } = addPair(a, b, { suite: "aes128gcm16", mode: "tunnel", endpoints, lifetimes: { soft: { bytes: 250 }, hard: { bytes: 1000 } } });
    for (let i = 0; i < 3; i++) {
      const n = a.outbound.protectTunnel(outbound, inner, T0);
      expect(b.inbound.process(outbound.output!, 0, n, T0)).toBe(true);
    }
    expect(inbound.lifetime.bytes).toBe(3 * inner.length);
    expect(b.sad.pollEvent()).toEqual({ kind: "soft-expired", spi: inbound.spi, direction: "inbound", reason: "bytes" });
  });

  test("time lifetimes come from handleTimeout / pollTimeout with the injected clock", () => {
    const a = harness(backend);
    const b = harness(backend);
    addPair(a, b, { suite: "aes128gcm16", mode: "tunnel", endpoints, lifetimes: { soft: { time: 3_000_000 }, hard: { time: 3_600_000 } } });
    expect(a.sad.pollTimeout()).toBe(instant(T0 + 3_000_000));
    a.sad.handleTimeout(instant(T0 + 2_999_999));
    expect(a.sad.pollEvent()).toBeUndefined();
    a.sad.handleTimeout(instant(T0 + 3_000_000));
    expect(a.sad.pollEvent()?.reason).toBe("time");
    expect(a.sad.pollTimeout()).toBe(instant(T0 + 3_600_000));
    a.sad.handleTimeout(instant(T0 + 3_600_000));
    expect(a.sad.pollEvent()?.kind).toBe("hard-expired");
    expect(a.sad.pollTimeout()).toBeUndefined();
  });
});

describe("SPD", () => {
  const buPacket = ipv6Packet("2001:db8:aaaa::10", "2001:db8:ffff::1", 135, Uint8Array.from([59, 0, 5, 0, 0, 0, 0, 0]));
  const ping = ipv6Packet("2001:db8:aaaa::10", "2001:db8:5::1", 58, Uint8Array.from([128, 0, 0, 0, 0, 1, 0, 1]));
  const dns = ipv6Packet("2001:db8:aaaa::10", "2001:db8:5::53", 17, Uint8Array.from([0xc0, 0x00, 0, 53, 0, 8, 0, 0]));

  function spd() {
    const db = new SecurityPolicyDatabase();
    db.add({ id: policyId("ike-bypass"), direction: "outbound", action: "bypass", selector: { protocol: 17, destinationPorts: { from: 500, to: 500 } } });
    db.add({
      id: policyId("bu"),
      direction: "outbound",
      action: "protect",
      selector: { source: prefixSelector("2001:db8:aaaa::10")!, destination: prefixSelector("2001:db8:ffff::1")!, protocol: 135, mobilityHeaderType: 5 },
      outboundSpi: spi(0x100),
    });
    db.add({ id: policyId("mnp"), direction: "outbound", action: "protect", selector: { source: prefixSelector("2001:db8:aaaa::/48")! } });
    db.add({ id: policyId("no-dns"), direction: "outbound", action: "discard", selector: { protocol: 17, destinationPorts: { from: 53, to: 53 } } }, 0);
    db.add({ id: policyId("in-icmp"), direction: "inbound", action: "bypass", selector: { protocol: 58, icmpType: 128 } });
    return db;
  }

  test("the first match decides; MH type and ports are selectors (RFC 4301 §4.4.1.1)", () => {
    const db = spd();
    const sel = (p: Uint8Array) => {
      const r = packetSelectorOf(p);
      if (!r.ok) throw new Error("bad test packet");
      return r.value;
    };
    expect(db.decide("outbound", sel(buPacket)).policy?.id).toBe(policyId("bu"));
    expect(db.decide("outbound", sel(ping)).policy?.id).toBe(policyId("mnp"));
    expect(db.decide("outbound", sel(dns)).action).toBe("discard");
    expect(db.decide("outbound", sel(ipv6Packet("2001:db8:9::1", "2001:db8:5::1", 59, new Uint8Array(0)))).action).toBe("discard");
    expect(db.decide("outbound", sel(ipv6Packet("2001:db8:9::1", "2001:db8:5::1", 59, new Uint8Array(0)))).policy).toBeUndefined();
  });

  test("rebinding a PROTECT policy to a new SA after a rekey", () => {
    const db = spd();
    expect(db.bindOutboundSa(policyId("bu"), spi(0x200))).toBe(true);
    expect(db.get(policyId("bu"))?.outboundSpi).toBe(spi(0x200));
    expect(db.bindOutboundSa(policyId("no-dns"), spi(0x200))).toBe(false);
    expect(db.remove(policyId("bu"))).toBe(true);
    expect(db.entries("outbound").map((p) => p.id)).toEqual(["no-dns", "ike-bypass", "mnp"].map(policyId));
  });

  test("inbound packets without IPsec pass only on BYPASS (RFC 4301 §5.2)", () => {
    const db = spd();
    const echo = ipv6Packet("2001:db8:5::1", "2001:db8:aaaa::10", 58, Uint8Array.from([128, 0, 0, 0, 0, 1, 0, 1]));
    const reply = ipv6Packet("2001:db8:5::1", "2001:db8:aaaa::10", 58, Uint8Array.from([129, 0, 0, 0, 0, 1, 0, 1]));
    const echoSelector = packetSelectorOf(echo);
    const replySelector = packetSelectorOf(reply);
    if (!echoSelector.ok || !replySelector.ok) throw new Error("bad test packet");
    expect(db.admitsUnprotected(echoSelector.value)).toBe(true);
    expect(db.admitsUnprotected(replySelector.value)).toBe(false);
  });

  test("the Home Address option stands for the source (RFC 4877 §4.2)", () => {
    // Fixed header source = CoA, Destination Options with HAO = HoA, then MH.
    const hao = Uint8Array.from([135, 2, 0x01, 0x02, 0, 0, 0xc9, 16, ...v6("2001:db8:aaaa::10")]);
    const packet = ipv6Packet("2001:db8:1::10", "2001:db8:ffff::1", 60, Uint8Array.from([...hao, 59, 0, 5, 0, 0, 0, 0, 0]));
    const selector = packetSelectorOf(packet);
    expect(selector.ok).toBe(true);
    if (!selector.ok) return;
    expect(Buffer.from(selector.value.source).equals(Buffer.from(v6("2001:db8:aaaa::10")))).toBe(true);
    expect(selector.value.mobilityHeaderType).toBe(5);
    expect(selectorMatches({ source: prefixSelector("2001:db8:aaaa::10")!, protocol: 135 }, selector.value)).toBe(true);
  });
});
