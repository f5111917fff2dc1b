// RFC 4555 §3.1 with RFC 7296 §2.18: after the responder rekeys the IKE SA, the mobile side still moves it with UPDATE_SA_ADDRESSES.
import { describe, expect, test } from "bun:test";
import { instant } from "../../../firmware/core/instant.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { config, connect, eventsOf, seededRandom } from "./harness.ts";

describe("MOBIKE role across IKE SA rekeys", () => {
  for (const rekeyedBy of ["peer", "us"] as const) {
    test(`// <-- CREATE_CHILD_SA { SA(IKE) } by the ${rekeyedBy}; then UPDATE_SA_ADDRESSES --> from our new address moves the successor`, () => {
      const a = new IkeEndpoint({ random: seededRandom(`mr-a-${rekeyedBy}`) });
      const b = new IkeEndpoint({ random: seededRandom(`mr-b-${rekeyedBy}`), responder: config({ local: "b.lab" }) });
      const net = connect(a, b, ["2001:db8:1::a", "2001:db8:2::a"], ["2001:db8:1::b"]);
      const first = a.initiate(config({ remote: "b.lab" }), { address: "2001:db8:1::a", port: 500 }, { address: "2001:db8:1::b", port: 500 }, instant(0));
      net.run();
      if (rekeyedBy === "peer") b.rekeyIke(b.ikeSas.find((s) => s.state === "established")!, net.now);
      else a.rekeyIke(first, net.now);
      net.run();
      const successor = a.ikeSas.find((s) => s.state === "established")!;
      expect(successor).not.toBe(first);
      expect(successor.isInitiator).toBe(rekeyedBy === "us");
      a.updateAddresses(successor, "2001:db8:2::a", undefined, net.now);
      net.run();
      const moved = eventsOf(net.events.get(a)!, "endpoints-updated");
      expect(moved.map((e) => [e.ikeSaName, e.local.address])).toEqual([[successor.name, "2001:db8:2::a"]]);
      expect(eventsOf(net.events.get(b)!, "endpoints-updated").map((e) => e.remote.address)).toEqual(["2001:db8:2::a"]);
      // The peer never gets the mobile side's role: its own update request would be refused by us.
      expect(b.ikeSas.find((s) => s.state === "established")!.mobikeInitiator ?? b.ikeSas.find((s) => s.state === "established")!.isInitiator).toBe(false);
    });
  }
});
