// IKE → SAD adapter with the real cores: two IKE endpoints negotiate, the installer fills two SADs/SPDs, ESP sealed on one side opens on the other.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant, later, type Instant } from "../../../firmware/core/instant.ts";
import { createNobleBackend } from "../../../firmware/crypto/noble-backend.ts";
import type { IkeConfig } from "../../../firmware/ike/config.ts";
import type { IkeEvent } from "../../../firmware/ike/events.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { selectorFromPrefix } from "../../../firmware/ike/traffic-selectors.ts";
import { EspCounter } from "../../../firmware/ipsec/constants.ts";
import { EspInbound } from "../../../firmware/ipsec/esp-inbound.ts";
import { EspOutbound } from "../../../firmware/ipsec/esp-outbound.ts";
import { openPacket, sealTransportIpv6, sealTunnelPacket } from "../../../firmware/ipsec/esp-packets.ts";
import { SecurityAssociationDatabase } from "../../../firmware/ipsec/sad.ts";
import { SecurityPolicyDatabase } from "../../../firmware/ipsec/spd.ts";
import { packetSelectorOf } from "../../../firmware/ipsec/traffic-selector.ts";
import { directionSelectors, rangeToPrefixes } from "../../../firmware/multicoa/sa-install.ts";
import { IkeSaInstaller, type SaInstallerOptions } from "../../../firmware/multicoa/sa-installer.ts";
import { formatIpv6, parseIpv6 } from "../../../firmware/wire/address.ts";
import { emitIpv6Packet, parseIpv6Packet } from "../../../firmware/wire/ipv6.ts";
import { config, connect, seededRandom, type Net } from "../ike/harness.ts";

const ROUTER = "2001:db8:1::a";
const ROUTER_LTE = "2001:db8:2::a";
const HA = "2001:db8:1::b";
const HOA = "2001:db8:a::1";
const HA_HOME = "2001:db8:b::1";
const backend = createNobleBackend();
const v6 = (t: string) => parseIpv6(t)!;

interface Side {
  readonly ike: IkeEndpoint;
  readonly sad: SecurityAssociationDatabase;
  readonly spd: SecurityPolicyDatabase;
  readonly installer: IkeSaInstaller;
  readonly out: EspOutbound;
  readonly in: EspInbound;
  readonly counters: Counters;
  seen: number;
}

function side(ike: IkeEndpoint, options: SaInstallerOptions = {}): Side {
  const sad = new SecurityAssociationDatabase(() => backend);
  const spd = new SecurityPolicyDatabase();
  const counters = new Counters();
  return { ike, sad, spd, installer: new IkeSaInstaller(sad, spd, { graceMs: 5_000, ...options }), out: new EspOutbound(sad, counters), in: new EspInbound(sad, counters), counters, seen: 0 };
}

type Over = Omit<Partial<IkeConfig>, "localTs" | "remoteTs"> & { localTs?: string; remoteTs?: string; esp?: string };

function setup(router: Over = {}, ha: Over = {}, options: SaInstallerOptions = {}) {
  const r = side(new IkeEndpoint({ random: seededRandom("sa-r") }), options);
  const h = side(new IkeEndpoint({ random: seededRandom("sa-h"), responder: config({ local: "b.lab", remote: "a.lab", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64", ...ha }) }));
  const net = connect(r.ike, h.ike, [ROUTER, ROUTER_LTE], [HA]);
  const sa = r.ike.initiate(config({ remote: "b.lab", ...router }), { address: ROUTER, port: 500 }, { address: HA, port: 500 }, instant(0));
  const sync = () => {
    net.run();
    for (const s of [r, h]) {
      const events: IkeEvent[] = net.events.get(s.ike)!;
      for (; s.seen < events.length; s.seen++) {
        const applied = s.installer.handleEvent(events[s.seen]!, net.now);
        if (!applied.ok) throw new Error(`install: ${applied.error.detail}`);
      }
    }
  };
  sync();
  return { r, h, net, sa, sync };
}

function innerPacket(source: string, destination: string, n: number): Uint8Array {
  return emitIpv6Packet({ source, destination, upperProtocol: 17, upperPayload: Uint8Array.of(0x30, 0x39, 0x30, 0x39, 0, 12, 0, 0, n >> 8, n & 0xff, 0xaa, 0xbb) });
}

/** Seals `inner` with the SA the sender's SPD picks (RFC 4301 §5.1). */
function seal(from: Side, inner: Uint8Array, now: Instant): Uint8Array {
  const selector = packetSelectorOf(inner);
  if (!selector.ok) throw new Error("bad inner packet");
  const decision = from.spd.decide("outbound", selector.value);
  expect(decision.action).toBe("protect");
  const sa = from.sad.outbound(decision.policy!.outboundSpi!)!;
  const sealed = sa.mode === "tunnel" ? sealTunnelPacket(from.out, sa, inner, now) : sealTransportIpv6(from.out, sa, inner, now);
  if (!sealed.ok) throw new Error(`seal: ${JSON.stringify(sealed.error)}`);
  return sealed.value;
}

function opens(to: Side, packet: Uint8Array, now: Instant): Uint8Array | string {
  const opened = openPacket(to.in, packet, now);
  if (!opened.ok) return opened.error.kind === "drop" ? opened.error.counter : opened.error.kind;
  return opened.value.packet ?? opened.value.payload;
}

describe("address ranges as prefixes", () => {
  test("examples", () => {
    const f = (s: string, e: string) => rangeToPrefixes(v6(s), v6(e)).map((p) => `${formatIpv6(p.bytes)}/${p.length}`);
    expect(f("2001:db8::", "2001:db8::ffff:ffff:ffff:ffff")).toEqual(["2001:db8::/64"]);
    expect(f("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).toEqual(["::/0"]);
    expect(f("2001:db8::1", "2001:db8::1")).toEqual(["2001:db8::1/128"]);
    expect(f("2001:db8::1", "2001:db8::6")).toEqual(["2001:db8::1/128", "2001:db8::2/127", "2001:db8::4/127", "2001:db8::6/128"]);
    expect(f("2001:db8::2", "2001:db8::1")).toEqual([]);
  });

  test("property: the prefixes cover exactly the range, in order, and no two neighbours could merge", () => {
    const big = (b: Uint8Array) => b.reduce((v, x) => (v << 8n) | BigInt(x), 0n);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), (x, y) => {
        const [s, e] = big(x) <= big(y) ? [x, y] : [y, x];
        const prefixes = rangeToPrefixes(s, e);
        let next = big(s);
        for (const p of prefixes) {
          const start = big(p.bytes);
          const size = 1n << BigInt(32 - p.length);
          expect(start).toBe(next);
          expect(start % size).toBe(0n);
          next = start + size;
        }
        expect(next - 1n).toBe(big(e));
        // Minimal: a sibling pair (same length, first aligned on the doubled size) would have merged.
        for (let i = 1; i < prefixes.length; i++) {
          const a = prefixes[i - 1]!;
          const b = prefixes[i]!;
          expect(a.length === b.length && a.length > 0 && big(a.bytes) % (1n << BigInt(33 - a.length)) === 0n).toBe(false);
        }
        expect(prefixes.length).toBeLessThanOrEqual(62);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("selectors of one direction", () => {
  test("RFC 4877 BU/BA SA: the sender's MH type applies to what it sends", () => {
    const local = [selectorFromPrefix(`${HOA}/128[mh/5]`)!];
    const remote = [selectorFromPrefix(`${HA_HOME}/128[mh/6]`)!];
    const out = directionSelectors(local, remote);
    const back = directionSelectors(remote, local);
    expect(out.ok && out.value).toEqual([{ source: { bytes: v6(HOA), length: 128 }, destination: { bytes: v6(HA_HOME), length: 128 }, protocol: 135, mobilityHeaderType: 5 }]);
    expect(back.ok && back.value).toEqual([{ source: { bytes: v6(HA_HOME), length: 128 }, destination: { bytes: v6(HOA), length: 128 }, protocol: 135, mobilityHeaderType: 6 }]);
  });

  test("ports, protocol from either side, families never mixed, cross products, refusals", () => {
    const tcp = directionSelectors([selectorFromPrefix("2001:db8:a::/64[tcp/1000-2000]")!], [selectorFromPrefix("2001:db8:b::/64")!, selectorFromPrefix("192.0.2.0/24")!]);
    expect(tcp.ok && tcp.value).toEqual([{ source: { bytes: v6("2001:db8:a::"), length: 64 }, destination: { bytes: v6("2001:db8:b::"), length: 64 }, protocol: 6, sourcePorts: { from: 1000, to: 2000 } }]);
    const icmp = directionSelectors([selectorFromPrefix("2001:db8:a::/64[ipv6-icmp/128]")!], [selectorFromPrefix("2001:db8:b::1")!]);
    expect(icmp.ok && icmp.value.map((s) => [s.protocol, s.icmpType, s.icmpCode])).toEqual([[58, 128, undefined]]);
    const types = directionSelectors([selectorFromPrefix("2001:db8:a::1[mh/5-7]")!], [selectorFromPrefix("::/0")!]);
    expect(types.ok && types.value.map((s) => s.mobilityHeaderType)).toEqual([5, 6, 7]);
    const range = directionSelectors([{ ...selectorFromPrefix("2001:db8:a::1")!, endAddress: v6("2001:db8:a::6") }], [selectorFromPrefix("2001:db8:b::/64")!]);
    expect(range.ok && range.value.length).toBe(4);
    expect(directionSelectors([selectorFromPrefix("2001:db8:a::/64[tcp]")!], [selectorFromPrefix("2001:db8:b::/64[udp]")!]).ok).toBe(false);
    expect(directionSelectors([{ ...selectorFromPrefix("2001:db8:a::/64[tcp]")!, startPort: 0xffff, endPort: 0 }], [selectorFromPrefix("::/0")!]).ok).toBe(false);
    expect(directionSelectors([{ ...selectorFromPrefix("2001:db8:a::/64[mh]")!, startPort: 0x0501, endPort: 0x0502 }], [selectorFromPrefix("::/0")!]).ok).toBe(false);
  });
});

describe("CHILD_SAs negotiated by two IKE cores, installed into two SADs", () => {
  test("tunnel mode: ESP sealed on either side opens on the other (raw ESP: the MOBIKE float to 4500 without a NAT keeps ESP out of UDP)", () => {
    const { r, h, net } = setup();
    expect(r.sad.all()).toHaveLength(2);
    expect(h.sad.all()).toHaveLength(2);
    for (let n = 0; n < 5; n++) {
      const up = innerPacket(HOA, HA_HOME, n);
      expect(opens(h, seal(r, up, net.now), net.now)).toEqual(up);
      const down = innerPacket(HA_HOME, HOA, n);
      expect(opens(r, seal(h, down, net.now), net.now)).toEqual(down);
    }
    const outer = parseIpv6Packet(seal(r, innerPacket(HOA, HA_HOME, 9), net.now));
    expect(outer.ok && [outer.value.header.source, outer.value.header.destination, outer.value.upperProtocol]).toEqual([ROUTER, HA, 50]);
    // A packet outside the selectors has no policy; cleartext that should have been protected is refused.
    expect(r.spd.decide("outbound", { source: v6("2001:db8:c::1"), destination: v6(HA_HOME), protocol: 17 }).action).toBe("discard");
    expect(h.spd.admitsUnprotected({ source: v6(HOA), destination: v6(HA_HOME), protocol: 17 })).toBe(false);
  });

  test("transport mode with MH selectors: BU up and BA down open; a BU-typed message down is refused", () => {
    const mh = (addr: string, type: number) => `${addr}/128[mh/${type}]`;
    const { r, h, net } = setup({ mode: "transport", localTs: mh(HOA, 5), remoteTs: mh(HA_HOME, 6) }, { mode: "transport", localTs: mh(HA_HOME, 6), remoteTs: mh(HOA, 5) });
    const message = (source: string, destination: string, type: number) =>
      emitIpv6Packet({ source, destination, upperProtocol: 135, upperPayload: Uint8Array.of(59, 1, type, 0, 0, 0, 0, 7) });
    const bu = message(HOA, HA_HOME, 5);
    const ba = message(HA_HOME, HOA, 6);
    expect(opens(h, seal(r, bu, net.now), net.now)).toEqual(bu);
    expect(opens(r, seal(h, ba, net.now), net.now)).toEqual(ba);
    const outbound = h.sad.outbound(h.spd.entries("outbound")[0]!.outboundSpi!)!;
    const forged = sealTransportIpv6(h.out, outbound, message(HA_HOME, HOA, 5), net.now);
    expect(forged.ok && opens(r, forged.value, net.now)).toBe(EspCounter.selectorMismatch);
  });

  test("CHILD_SA rekey: the outbound side switches at once, packets sealed just before still open during the grace period", () => {
    const { r, h, net, sa, sync } = setup();
    const before = r.spd.entries("outbound")[0]!.outboundSpi!;
    const upEarly = [0, 1, 2, 3].map((n) => innerPacket(HOA, HA_HOME, n));
    const downEarly = [0, 1, 2, 3].map((n) => innerPacket(HA_HOME, HOA, n));
    const upSealed = upEarly.map((p) => seal(r, p, net.now));
    const downSealed = downEarly.map((p) => seal(h, p, net.now));
    r.ike.rekeyChild(sa, sa.children[0]!, false, net.now);
    sync();
    const after = r.spd.entries("outbound")[0]!.outboundSpi!;
    expect(after).not.toBe(before);
    expect(r.sad.outbound(before)).toBeUndefined();
    // Nothing sealed before the switch is lost: the old inbound SAs are in their grace period.
    expect(h.installer.graceSpis).toEqual([before]);
    upSealed.forEach((p, i) => expect(opens(h, p, net.now)).toEqual(upEarly[i]!));
    downSealed.forEach((p, i) => expect(opens(r, p, net.now)).toEqual(downEarly[i]!));
    const up = innerPacket(HOA, HA_HOME, 100);
    const sealedNew = seal(r, up, net.now);
    expect(opens(h, sealedNew, net.now)).toEqual(up);
    const down = innerPacket(HA_HOME, HOA, 100);
    expect(opens(r, seal(h, down, net.now), net.now)).toEqual(down);
    // After the grace period the old inbound SA is gone: a late old packet no longer opens.
    const late = seal(h, innerPacket(HA_HOME, HOA, 5), net.now);
    const down2 = innerPacket(HA_HOME, HOA, 101);
    expect(h.spd.entries("outbound")[0]!.outboundSpi).toBe(r.sad.all().find((s) => s.direction === "inbound" && s.spi !== r.installer.graceSpis[0])!.spi);
    const end = later(net.now, 5_000);
    expect(r.installer.pollTimeout()).toBe(end);
    r.installer.handleTimeout(end);
    h.installer.handleTimeout(end);
    expect(r.installer.graceSpis).toEqual([]);
    expect(r.sad.all()).toHaveLength(2);
    expect(h.sad.all()).toHaveLength(2);
    expect(opens(r, late, end)).toEqual(innerPacket(HA_HOME, HOA, 5));
    expect(opens(r, seal(h, down2, end), end)).toEqual(down2);
    expect(opens(h, upSealed[0]!, end)).toBe(EspCounter.unknownSpi);
  });

  test("simultaneous rekeys (§2.8.1): after the redundant SA is deleted both sides send on the survivor", () => {
    const { r, h, net, sync } = setup();
    const child = r.ike.ikeSas[0]!.children[0]!;
    const peer = h.ike.ikeSas[0]!.children[0]!;
    expect(r.ike.childLifetimeExpired(child.outboundSpi, "outbound", false, net.now)).toBe(true);
    expect(h.ike.childLifetimeExpired(peer.outboundSpi, "outbound", false, net.now)).toBe(true);
    sync();
    expect(r.ike.counters.get("ike.child.rekey-collision") + h.ike.counters.get("ike.child.rekey-collision")).toBeGreaterThan(0);
    const rOut = r.spd.entries("outbound")[0]!.outboundSpi!;
    const hOut = h.spd.entries("outbound")[0]!.outboundSpi!;
    expect(h.ike.ikeSas[0]!.children.map((c) => c.inboundSpi as number)).toEqual([rOut as number]);
    expect(r.ike.ikeSas[0]!.children.map((c) => c.inboundSpi as number)).toEqual([hOut as number]);
    expect(r.sad.all().filter((s) => s.direction === "outbound").map((s) => s.spi)).toEqual([rOut]);
    const up = innerPacket(HOA, HA_HOME, 7);
    expect(opens(h, seal(r, up, net.now), net.now)).toEqual(up);
    const down = innerPacket(HA_HOME, HOA, 7);
    expect(opens(r, seal(h, down, net.now), net.now)).toEqual(down);
  });

  test("an ESP soft lifetime in the SAD (packets) rekeys the CHILD_SA through the core", () => {
    const { r, h, net, sync } = setup({}, {}, { soft: { packets: 3 } });
    const first = r.spd.entries("outbound")[0]!.outboundSpi!;
    for (let n = 0; n < 3; n++) opens(h, seal(r, innerPacket(HOA, HA_HOME, n), net.now), net.now);
    const event = r.sad.pollEvent()!;
    expect(event).toEqual({ kind: "soft-expired", spi: first, direction: "outbound", reason: "packets" });
    expect(r.installer.forwardLifetimeEvent(event, r.ike, net.now)).toBe(true);
    sync();
    expect(r.spd.entries("outbound")[0]!.outboundSpi).not.toBe(first);
    expect(r.installer.forwardLifetimeEvent(event, r.ike, net.now)).toBe(false);
    const up = innerPacket(HOA, HA_HOME, 50);
    expect(opens(h, seal(r, up, net.now), net.now)).toEqual(up);
  });

  test("IKE SA rekey, then MOBIKE to the LTE address: the SAs' outer endpoints follow at once", () => {
    const { r, h, net, sync } = setup();
    r.ike.rekeyIke(r.ike.ikeSas[0]!, net.now);
    sync();
    const current = r.ike.ikeSas.find((s) => s.state === "established")!;
    r.ike.updateAddresses(current, ROUTER_LTE, undefined, net.now);
    sync();
    const outer = parseIpv6Packet(seal(r, innerPacket(HOA, HA_HOME, 1), net.now));
    expect(outer.ok && outer.value.header.source).toBe(ROUTER_LTE);
    const back = seal(h, innerPacket(HA_HOME, HOA, 1), net.now);
    const parsed = parseIpv6Packet(back);
    expect(parsed.ok && parsed.value.header.destination).toBe(ROUTER_LTE);
    expect(opens(r, back, net.now)).toEqual(innerPacket(HA_HOME, HOA, 1));
  });

  test("delete: policies go at once, the outbound SA too, the inbound SA after its grace period", () => {
    const { r, h, net, sa, sync } = setup();
    r.ike.deleteChild(sa, sa.children[0]!, net.now);
    sync();
    for (const s of [r, h]) {
      expect(s.spd.entries("outbound")).toHaveLength(0);
      expect(s.spd.entries("inbound")).toHaveLength(0);
      expect(s.sad.all().map((x) => x.direction)).toEqual(["inbound"]);
      s.installer.handleTimeout(later(net.now, 5_000));
      expect(s.sad.all()).toHaveLength(0);
    }
  });

  test("the SAD owns copies of the keys: the IKE core wiping its CHILD_SA keys leaves the SAs working", () => {
    const { r, h, net, sync } = setup();
    const inbound = h.sad.all().find((s) => s.direction === "inbound")!;
    r.ike.deleteIke(r.ike.ikeSas[0]!, net.now);
    sync();
    expect(r.ike.ikeSas).toHaveLength(0);
    expect(inbound.deleted).toBe(false);
    expect(inbound.keysForDebugExport().encryption.wiped).toBe(false);
    h.installer.handleTimeout(later(net.now, 5_000));
    expect(inbound.deleted).toBe(true);
  });
});
