// NAT rebinding on an IPv4 care-of address: the router's suspicion (sends, hears nothing) and the home agent's port learning.
import { describe, expect, test } from "bun:test";
import { SOCKADDR_IN6_LEN, writeSockaddrIn6 } from "../../../board/linux/ffi/socket-structs.ts";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant } from "../../../firmware/core/instant.ts";
import type { SecurityAssociationDatabase } from "../../../firmware/ipsec/sad.ts";
import { addressBytes, UdpEncapsulationPath } from "../../../firmware/dataplane/udp-encap-path.ts";
import { NAT_REBINDING_HOLDOFF_MS, NatRebindingWatch } from "../../../firmware/roles/nat-rebinding-watch.ts";

describe("NatRebindingWatch", () => {
  test("silence while sending triggers once per hold-off; traffic back, idle uplinks and unwatched ones never do", () => {
    const w = new NatRebindingWatch(250, 1000);
    expect(w.sample(0, 10, 10, true, instant(0))).toBe(false);
    expect(w.sample(0, 20, 20, true, instant(100))).toBe(false); // traffic both ways
    expect(w.sample(0, 20, 200, true, instant(300))).toBe(false); // 200 ms of silence: not yet
    expect(w.sample(0, 20, 260, true, instant(360))).toBe(true); // 260 ms
    expect(w.sample(0, 20, 300, true, instant(400))).toBe(false); // hold-off
    expect(w.sample(0, 20, 900, true, instant(360 + NAT_REBINDING_HOLDOFF_MS))).toBe(true); // still silent: again
    // Idle: nothing sent since the last packet in → no suspicion however long.
    expect(w.sample(1, 5, 5, true, instant(0))).toBe(false);
    expect(w.sample(1, 5, 6, true, instant(10_000))).toBe(false);
    // Not watched (link down, not registered): never.
    expect(w.sample(2, 0, 0, false, instant(0))).toBe(false);
    expect(w.sample(2, 0, 500, false, instant(10_000))).toBe(false);
  });
});

describe("UdpEncapsulationPath port learning (home agent)", () => {
  const sender = (address: string, port: number) => {
    const names = new Uint8Array(SOCKADDR_IN6_LEN);
    writeSockaddrIn6(names, 0, addressBytes(address)!, 0, port);
    return names;
  };
  // learn/learnedPort never touch the SAD.
  const path = () => new UdpEncapsulationPath({} as SecurityAssociationDatabase, [], new Counters(), 4500);

  test("an IPv4-mapped sender's port is learned, replaced on a new port, per address", () => {
    const p = path();
    const a = addressBytes("192.0.2.1")!;
    expect(p.learnedPort(a)).toBe(0);
    p.learn(sender("192.0.2.1", 40000), 0, instant(0));
    expect(p.learnedPort(a)).toBe(40000);
    p.learn(sender("192.0.2.3", 50000), 0, instant(1));
    expect(p.learnedPort(a)).toBe(40000);
    p.learn(sender("192.0.2.1", 41000), 0, instant(2));
    expect(p.learnedPort(a)).toBe(41000);
    expect(p.learnedPort(addressBytes("192.0.2.3")!)).toBe(50000);
  });

  test("IPv6 senders are not learned (no NAT there)", () => {
    const p = path();
    p.learn(sender("2001:db8:2::2", 4500), 0, instant(0));
    expect(p.learnedPort(addressBytes("2001:db8:2::2")!)).toBe(0);
  });

  test("the table is bounded: the oldest entry gives way", () => {
    const p = path();
    for (let i = 0; i < 65; i++) p.learn(sender(`10.0.${i >> 8}.${i & 0xff}`, 1000 + i), 0, instant(i));
    expect(p.learnedPort(addressBytes("10.0.0.0")!)).toBe(0);
    expect(p.learnedPort(addressBytes("10.0.0.64")!)).toBe(1064);
  });
});
