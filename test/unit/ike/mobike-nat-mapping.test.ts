// RFC 4555 §3.5 and §3.8: UPDATE_SA_ADDRESSES moving an IKE SA from IPv6 to an IPv4 address behind a NAT44, and the NAT check that finds a changed mapping.
import { describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant, type Instant } from "../../../firmware/core/instant.ts";
import type { Datagram, Endpoint } from "../../../firmware/ike/endpoint.ts";
import type { IkeEvent } from "../../../firmware/ike/events.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { config, eventsOf, seededRandom } from "./harness.ts";

const MR6 = "2001:db8:2::a";
const HA6 = "2001:db8:1::b";
const MR4 = "100.64.0.2";
const HA4 = "192.0.2.10";

/** a (the router) ↔ b (the home agent); a's datagrams from MR4 cross a NAT44 whose mapping the test sets. */
function natLab() {
  const counters = new Counters();
  const a = new IkeEndpoint({ random: seededRandom("nat-a"), counters });
  const b = new IkeEndpoint({ random: seededRandom("nat-b"), responder: config({ local: "b.lab" }) });
  const events = { a: [] as IkeEvent[], b: [] as IkeEvent[] };
  const lab = {
    a,
    b,
    counters,
    events,
    now: instant(0) as Instant,
    /** Where the NAT maps MR4's flows now (undefined: no NAT). */
    mapping: { address: "192.0.2.1", port: 40_000 } as Endpoint,
    /** What b received from, in order. */
    seenAtB: [] as Endpoint[],
    run() {
      for (let guard = 0; guard < 1000; guard++) {
        let moved = false;
        for (let d: Datagram | undefined = a.pollTransmit(); d; d = a.pollTransmit()) {
          moved = true;
          if (d.bytes.length === 1 && d.bytes[0] === 0xff) continue;
          const from = d.local.address === MR4 ? lab.mapping : d.local;
          lab.seenAtB.push(from);
          b.handleDatagram({ local: d.remote, remote: from, bytes: d.bytes, nonEspMarker: d.nonEspMarker }, lab.now);
        }
        for (let d: Datagram | undefined = b.pollTransmit(); d; d = b.pollTransmit()) {
          moved = true;
          if (d.bytes.length === 1 && d.bytes[0] === 0xff) continue;
          // Back through the NAT only on the current mapping; the old one is gone.
          const nat = d.remote.address === lab.mapping.address;
          if (nat && d.remote.port !== lab.mapping.port) continue;
          const to = nat ? { address: MR4, port: 4500 } : d.remote;
          a.handleDatagram({ local: to, remote: d.local, bytes: d.bytes, nonEspMarker: d.nonEspMarker }, lab.now);
        }
        for (let e = a.pollEvent(); e; e = a.pollEvent()) events.a.push(e);
        for (let e = b.pollEvent(); e; e = b.pollEvent()) events.b.push(e);
        if (!moved) return;
      }
      throw new Error("livelock");
    },
  };
  return lab;
}

describe("MOBIKE to an IPv4 care-of address behind a NAT44", () => {
  test("// INFORMATIONAL { UPDATE_SA_ADDRESSES, NAT_D } --> from 100.64.0.2 to the home agent's IPv4: both ends move, NAT found, ESP in UDP", () => {
    const lab = natLab();
    const sa = lab.a.initiate(config({ remote: "b.lab" }), { address: MR6, port: 500 }, { address: HA6, port: 500 }, lab.now);
    lab.run();
    expect(sa.state).toBe("established");
    expect(sa.mobike).toBe(true);
    expect(sa.natLocal).toBe(false);
    lab.a.updateAddresses(sa, MR4, HA4, lab.now, [MR6]);
    lab.run();
    const [atA] = eventsOf(lab.events.a, "endpoints-updated");
    expect(atA).toMatchObject({ local: { address: MR4, port: 4500 }, remote: { address: HA4, port: 4500 }, udpEncapsulation: true });
    expect(sa.natLocal).toBe(true);
    const peer = lab.b.ikeSas.find((s) => s.state === "established")!;
    // The home agent's IKE SA (and its CHILD_SAs) now point at the NAT's mapping, ESP in UDP.
    expect(eventsOf(lab.events.b, "endpoints-updated").at(-1)).toMatchObject({ remote: lab.mapping, udpEncapsulation: true });
    expect(peer.remote).toEqual(lab.mapping);
    expect(peer.natRemote).toBe(true);
    expect(peer.peerAdditionalAddresses).toEqual([MR6]);
  });

  test("// INFORMATIONAL { NAT_D, COOKIE2 } --> the NAT check: same mapping → nothing; new port → nat-mapping-changed, then the update moves the home agent", () => {
    const lab = natLab();
    const sa = lab.a.initiate(config({ remote: "b.lab" }), { address: MR6, port: 500 }, { address: HA6, port: 500 }, lab.now);
    lab.run();
    lab.a.updateAddresses(sa, MR4, HA4, lab.now);
    lab.run();
    lab.a.checkNatMapping(sa, lab.now);
    lab.run();
    expect(eventsOf(lab.events.a, "nat-mapping-changed")).toEqual([]);
    expect(lab.counters.get("ike.mobike.nat-check")).toBe(1);
    // The NAT rebinds: a new port for the same flow.
    lab.mapping = { address: "192.0.2.1", port: 40_123 };
    lab.a.checkNatMapping(sa, lab.now);
    lab.run();
    expect(eventsOf(lab.events.a, "nat-mapping-changed")).toEqual([{ kind: "nat-mapping-changed", ikeSaName: sa.name }]);
    const before = eventsOf(lab.events.b, "endpoints-updated").length;
    lab.a.updateAddresses(sa, sa.local.address, undefined, lab.now);
    lab.run();
    const moved = eventsOf(lab.events.b, "endpoints-updated");
    expect(moved.length).toBe(before + 1);
    expect(moved.at(-1)!.remote).toEqual({ address: "192.0.2.1", port: 40_123 });
    // A new public address is a changed mapping too.
    lab.mapping = { address: "192.0.2.3", port: 1024 };
    lab.a.checkNatMapping(sa, lab.now);
    lab.run();
    expect(eventsOf(lab.events.a, "nat-mapping-changed")).toHaveLength(2);
  });

  test("a plain liveness check (RFC 7296 §2.4) carries no NAT detection: nothing is compared, no change is reported", () => {
    const lab = natLab();
    const sa = lab.a.initiate(config({ remote: "b.lab" }), { address: MR6, port: 500 }, { address: HA6, port: 500 }, lab.now);
    lab.run();
    lab.a.updateAddresses(sa, MR4, HA4, lab.now);
    lab.run();
    // Without NAT detection in the request, the peer's plain answer has nothing to compare: a liveness check is no NAT check.
    lab.a.checkLiveness(sa, lab.now);
    lab.run();
    expect(eventsOf(lab.events.a, "nat-mapping-changed")).toEqual([]);
    expect(sa.state).toBe("established");
  });
});
