// IKEv2 exchanges between two monami endpoints in memory: IKE_SA_INIT + IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL.
import { describe, expect, test } from "bun:test";
import { toHex } from "../../../firmware/core/hex.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { NotifyType } from "../../../firmware/ike/constants.ts";
import { config, connect, eventsOf, psk, seededRandom } from "./harness.ts";

const A = "2001:db8:1::a";
const B = "2001:db8:1::b";

function pair(ini = config({ remote: "b.lab" }), res = config({ local: "b.lab", remote: "a.lab", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64" })) {
  const a = new IkeEndpoint({ random: seededRandom("a") });
  const b = new IkeEndpoint({ random: seededRandom("b"), responder: res });
  const net = connect(a, b, [A], [B]);
  const sa = a.initiate(ini, { address: A, port: 500 }, { address: B, port: 500 }, instant(0));
  return { a, b, net, sa };
}

describe("IKE_SA_INIT + IKE_AUTH with PSK", () => {
  for (const [ike, esp] of [
    ["aes128gcm16-prfsha256-x25519", "aes128gcm16"],
    ["aes256gcm16-prfsha384-ecp384", "aes256gcm16"],
    ["aes128-sha256-ecp256", "aes128-sha256"],
    ["aes256-sha512-prfsha512-x25519", "aes256-sha256"],
  ] as const) {
    test(`${ike} / ${esp}: both sides install matching CHILD_SA keys`, () => {
      const { a, b, net } = pair(config({ remote: "b.lab", ike, esp }), config({ local: "b.lab", ike, esp, localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64" }));
      net.run();
      const ea = net.events.get(a)!;
      const eb = net.events.get(b)!;
      expect(eventsOf(ea, "ike-sa-established")).toHaveLength(1);
      expect(eventsOf(eb, "ike-sa-established")).toHaveLength(1);
      const ca = eventsOf(ea, "child-sa-installed")[0]!.child;
      const cb = eventsOf(eb, "child-sa-installed")[0]!.child;
      expect(ca.inboundSpi).toBe(cb.outboundSpi);
      expect(ca.outboundSpi).toBe(cb.inboundSpi);
      expect(toHex(ca.outbound.encryptionKey.expose())).toBe(toHex(cb.inbound.encryptionKey.expose()));
      expect(toHex(ca.inbound.encryptionKey.expose())).toBe(toHex(cb.outbound.encryptionKey.expose()));
      expect(toHex(ca.inbound.encryptionKey.expose())).not.toBe(toHex(ca.outbound.encryptionKey.expose()));
      expect(ca.suite).toBe(esp as never);
      expect(ca.esn).toBe(false);
      const s = eventsOf(ea, "ike-sa-established")[0]!.sa;
      expect(s.mobike).toBe(true);
      expect(s.natLocal || s.natRemote).toBe(false);
      // MOBIKE floats IKE_AUTH to the NAT-T ports (RFC 4555 §3.3), but without a NAT ESP stays raw (RFC 7296 §2.23).
      expect(eventsOf(ea, "ike-sa-established")[0]!.sa.local.port).toBe(4500);
      expect(ca.udpEncapsulation).toBeUndefined();
      expect(cb.udpEncapsulation).toBeUndefined();
      expect(s.remoteId).toBe("b.lab");
    });
  }

  test("wrong PSK: AUTHENTICATION_FAILED, the responder keeps no state", () => {
    const { a, b, net } = pair(config({ remote: "b.lab", auth: psk("wrong") }));
    net.run();
    const closed = eventsOf(net.events.get(a)!, "ike-sa-closed")[0]!;
    expect(closed.notify).toBe(NotifyType.authenticationFailed);
    expect(b.ikeSas).toHaveLength(0);
    expect(a.ikeSas).toHaveLength(0);
    expect(b.counters.get("ike.auth.failed")).toBe(1);
  });

  test("INVALID_KE_PAYLOAD: the initiator retries with the responder's group", () => {
    const { a, b, net } = pair(
      config({ remote: "b.lab", ike: "aes128gcm16-prfsha256-ecp256-x25519" }),
      config({ local: "b.lab", ike: "aes128gcm16-prfsha256-x25519", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64" }),
    );
    net.run();
    expect(a.counters.get("ike.init.invalid-ke-retry")).toBe(1);
    expect(eventsOf(net.events.get(a)!, "ike-sa-established")[0]!.sa.negotiated.dh?.name).toBe("CURVE_25519");
    expect(b.counters.get("ike.error.invalid-ke.request")).toBe(1);
  });

  test("no common proposal: NO_PROPOSAL_CHOSEN", () => {
    const { a, net } = pair(config({ remote: "b.lab", ike: "aes256gcm16-prfsha384-ecp384" }));
    net.run();
    expect(eventsOf(net.events.get(a)!, "ike-sa-closed")[0]!.notify).toBe(NotifyType.noProposalChosen);
  });

  test("TS_UNACCEPTABLE: IKE SA up, CHILD_SA refused", () => {
    const { a, net } = pair(config({ remote: "b.lab", remoteTs: "2001:db8:c::/64" }));
    net.run();
    expect(eventsOf(net.events.get(a)!, "ike-sa-established")).toHaveLength(1);
    expect(eventsOf(net.events.get(a)!, "child-sa-failed")[0]!.notify).toBe(NotifyType.tsUnacceptable);
  });

  test("lost responses are retransmitted; the responder answers from its cache", () => {
    const { a, b, net } = pair();
    const lost = new Set<number>();
    // Lose the first IKE_SA_INIT response and the first IKE_AUTH response (exchange type at octet 18, R flag 0x20 at 19).
    net.drop = (d) => {
      const exchange = d.bytes[18]!;
      if ((d.bytes[19]! & 0x20) === 0 || lost.has(exchange)) return false;
      lost.add(exchange);
      return true;
    };
    net.run();
    while (eventsOf(net.events.get(a)!, "ike-sa-established").length === 0 && net.tick()) {}
    expect(eventsOf(net.events.get(a)!, "child-sa-installed")).toHaveLength(1);
    expect(a.counters.get("ike.retransmit")).toBe(2);
    expect(b.counters.get("ike.init.retransmit-answered") + b.counters.get("ike.response.resent")).toBe(2);
  });

  test("an unreachable peer: back-off, then give-up closes the SA (§2.4)", () => {
    const { a, net } = pair();
    net.drop = () => true;
    net.run();
    const sends: number[] = [];
    while (net.tick()) sends.push(net.now);
    const closed = eventsOf(net.events.get(a)!, "ike-sa-closed")[0]!;
    expect(closed.reason).toContain("no response");
    // 1 s, 2 s, 4 s, 8 s, 16 s between tries, then 32 s to give up.
    expect(sends.slice(0, 6)).toEqual([1000, 3000, 7000, 15000, 31000, 63000]);
    expect(a.ikeSas).toHaveLength(0);
  });
});

describe("after establishment", () => {
  function established() {
    const p = pair(config({ remote: "b.lab", esp: "aes128gcm16-x25519, aes128gcm16" }), config({ local: "b.lab", esp: "aes128gcm16-x25519, aes128gcm16", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64" }));
    p.net.run();
    return p;
  }

  for (const pfs of [false, true]) {
    test(`CHILD_SA rekey ${pfs ? "with" : "without"} PFS: new pair installed, old one deleted on both sides`, () => {
      const { a, b, net, sa } = established();
      const old = sa.children[0]!;
      a.rekeyChild(sa, old, pfs, net.now);
      net.run();
      const installs = eventsOf(net.events.get(a)!, "child-sa-installed");
      expect(installs).toHaveLength(2);
      expect(installs[1]!.child.rekeys).toBe(old.inboundSpi);
      expect(installs[1]!.child.negotiated.dh?.name).toBe(pfs ? "CURVE_25519" : undefined);
      expect(eventsOf(net.events.get(a)!, "child-sa-deleted").map((e) => e.inboundSpi)).toEqual([old.inboundSpi]);
      expect(eventsOf(net.events.get(b)!, "child-sa-deleted").map((e) => e.outboundSpi)).toEqual([old.inboundSpi]);
      expect(sa.children).toHaveLength(1);
      expect(b.ikeSas[0]!.children).toHaveLength(1);
      const ca = installs[1]!.child;
      const cb = eventsOf(net.events.get(b)!, "child-sa-installed")[1]!.child;
      expect(toHex(ca.outbound.encryptionKey.expose())).toBe(toHex(cb.inbound.encryptionKey.expose()));
    });
  }

  test("simultaneous CHILD_SA rekey: one redundant SA removed, one pair survives (§2.8.1)", () => {
    const { a, b, net, sa } = established();
    const rsa = b.ikeSas[0]!;
    a.rekeyChild(sa, sa.children[0]!, false, net.now);
    b.rekeyChild(rsa, rsa.children[0]!, false, net.now);
    net.run();
    expect(a.counters.get("ike.child.rekey-collision") + b.counters.get("ike.child.rekey-collision")).toBeGreaterThan(0);
    expect(sa.children).toHaveLength(1);
    expect(rsa.children).toHaveLength(1);
    expect(sa.children[0]!.inboundSpi).toBe(rsa.children[0]!.outboundSpi);
  });

  test("IKE SA rekey moves the CHILD_SAs; the old IKE SA is deleted; the new one works", () => {
    const { a, b, net, sa } = established();
    const child = sa.children[0]!;
    a.rekeyIke(sa, net.now);
    net.run();
    const rekeyed = eventsOf(net.events.get(a)!, "ike-sa-rekeyed")[0]!;
    expect(rekeyed.sa.initiatorSpi).not.toBe(sa.summary().initiatorSpi);
    expect(a.ikeSas).toHaveLength(1);
    expect(b.ikeSas).toHaveLength(1);
    const next = a.ikeSas[0]!;
    expect(next.children).toEqual([child]);
    expect(eventsOf(net.events.get(a)!, "child-sa-deleted")).toHaveLength(0);
    a.checkLiveness(next, net.now);
    net.run();
    expect(eventsOf(net.events.get(a)!, "liveness")[0]!.alive).toBe(true);
    // The responder-side successor can now rekey in turn (the roles of the new IKE SA, §2.18).
    b.rekeyIke(b.ikeSas[0]!, net.now);
    net.run();
    expect(eventsOf(net.events.get(b)!, "ike-sa-rekeyed")).toHaveLength(2);
    expect(a.ikeSas[0]!.children).toHaveLength(1);
  });

  test("simultaneous IKE SA rekey: one successor survives on both sides with every CHILD_SA (§2.8.2)", () => {
    const { a, b, net, sa } = established();
    const rsa = b.ikeSas[0]!;
    const child = sa.children[0]!;
    a.rekeyIke(sa, net.now);
    b.rekeyIke(rsa, net.now);
    net.run();
    expect(a.counters.get("ike.sa.rekey-collision") + b.counters.get("ike.sa.rekey-collision")).toBe(2);
    expect(a.ikeSas).toHaveLength(1);
    expect(b.ikeSas).toHaveLength(1);
    expect(a.ikeSas[0]!.responderSpi).toBe(b.ikeSas[0]!.responderSpi);
    expect(a.ikeSas[0]!.children).toEqual([child]);
    expect(b.ikeSas[0]!.children).toHaveLength(1);
    expect(eventsOf(net.events.get(a)!, "child-sa-deleted")).toHaveLength(0);
    a.checkLiveness(a.ikeSas[0]!, net.now);
    net.run();
    expect(eventsOf(net.events.get(a)!, "liveness")[0]!.alive).toBe(true);
  });

  test("DELETE of the IKE SA removes everything on both sides", () => {
    const { a, b, net, sa } = established();
    a.deleteIke(sa, net.now);
    net.run();
    expect(a.ikeSas).toHaveLength(0);
    expect(b.ikeSas).toHaveLength(0);
    expect(eventsOf(net.events.get(b)!, "child-sa-deleted")).toHaveLength(1);
    expect(eventsOf(net.events.get(b)!, "ike-sa-closed")[0]!.reason).toBe("deleted by peer");
  });

  test("MOBIKE UPDATE_SA_ADDRESSES moves the peer's view of us, COOKIE2 echoed", () => {
    const a = new IkeEndpoint({ random: seededRandom("a") });
    const b = new IkeEndpoint({ random: seededRandom("b"), responder: config({ local: "b.lab", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64" }) });
    const net = connect(a, b, [A, "2001:db8:2::a"], [B]);
    const sa = a.initiate(config({ remote: "b.lab" }), { address: A, port: 500 }, { address: B, port: 500 }, net.now);
    net.run();
    a.updateAddresses(sa, "2001:db8:2::a", undefined, net.now);
    net.run();
    const moved = eventsOf(net.events.get(b)!, "endpoints-updated")[0]!;
    expect(moved.remote).toEqual({ address: "2001:db8:2::a", port: 4500 });
    expect(eventsOf(net.events.get(a)!, "endpoints-updated")[0]!.local.address).toBe("2001:db8:2::a");
    expect(b.ikeSas[0]!.remote.address).toBe("2001:db8:2::a");
    a.checkLiveness(sa, net.now);
    net.run();
    expect(eventsOf(net.events.get(a)!, "liveness")[0]!.alive).toBe(true);
  });
});
