// INITIAL_CONTACT (RFC 7296 §2.4) only on the first IKE SA with a peer: never on per-coa's extra IKE SAs nor on a re-established one while others remain.
import { describe, expect, test } from "bun:test";
import { instant } from "../../../firmware/core/instant.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import type { IkeSa } from "../../../firmware/ike/ike-sa.ts";
import { config, connect, eventsOf, seededRandom } from "./harness.ts";

// The router's two care-of addresses (LTE, Wi-Fi) and the home agent.
const LTE = "2001:db8:1::a";
const WIFI = "2001:db8:2::a";
const HA = "2001:db8:1::b";

function lab(remote: string | undefined = "b.lab") {
  const router = new IkeEndpoint({ random: seededRandom("router") });
  const homeAgent = new IkeEndpoint({ random: seededRandom("home-agent"), responder: config({ local: "b.lab", remote: "a.lab", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64" }) });
  const net = connect(router, homeAgent, [LTE, WIFI], [HA]);
  const ini = remote === undefined ? config() : config({ remote });
  const open = (from: string, name = "mr"): IkeSa => {
    const sa = router.initiate({ ...ini, name }, { address: from, port: 500 }, { address: HA, port: 500 }, net.now);
    net.run();
    return sa;
  };
  /** IKE_AUTH requests the home agent saw with INITIAL_CONTACT. */
  const contacts = () => homeAgent.counters.get("ike.auth.initial-contact");
  const established = () => homeAgent.ikeSas.filter((sa) => sa.state === "established").length;
  return { router, homeAgent, net, open, contacts, established };
}

describe("INITIAL_CONTACT (RFC 7296 §2.4)", () => {
  test("the first IKE SA with the home agent carries it; per-coa's second one, from the other care-of address, does not; the home agent keeps both", () => {
    const { net, router, open, contacts, established } = lab();
    // IKE_AUTH { IDi a.lab, N(INITIAL_CONTACT), … } from LTE -->
    const first = open(LTE);
    expect(first.state).toBe("established");
    expect(contacts()).toBe(1);
    // IKE_AUTH { IDi a.lab, … } from Wi-Fi (no INITIAL_CONTACT) -->
    const second = open(WIFI, "mr/coa1");
    expect(second.state).toBe("established");
    expect(contacts()).toBe(1);
    expect(established()).toBe(2);
    expect(eventsOf(net.events.get(router)!, "child-sa-installed")).toHaveLength(2);
  });

  test("re-established while another IKE SA remains: none; after every IKE SA is gone: sent again", () => {
    const { net, router, open, contacts, established } = lab();
    const first = open(LTE);
    open(WIFI, "mr/coa1");
    // The first IKE SA goes (DELETE), the Wi-Fi one stays: the new one is not the only IKE SA.
    router.deleteIke(first, net.now);
    net.run();
    expect(first.state).toBe("closed");
    const again = open(LTE);
    expect(again.state).toBe("established");
    expect(contacts()).toBe(1);
    expect(established()).toBe(2);
    // Both go: the next one is the only one again.
    for (const sa of router.ikeSas) router.deleteIke(sa, net.now);
    net.run();
    expect(router.ikeSas).toHaveLength(0);
    open(WIFI);
    expect(contacts()).toBe(2);
  });

  test("an IKE SA still being set up counts: two started at once send it once", () => {
    const { net, router, contacts, established } = lab();
    const ini = config({ remote: "b.lab" });
    router.initiate({ ...ini, name: "mr" }, { address: LTE, port: 500 }, { address: HA, port: 500 }, instant(0));
    router.initiate({ ...ini, name: "mr/coa1" }, { address: WIFI, port: 500 }, { address: HA, port: 500 }, instant(0));
    net.run();
    expect(established()).toBe(2);
    expect(contacts()).toBe(1);
  });

  test("without a configured peer identity the peer address decides: the same address, none; another address, sent", () => {
    const { open, contacts, router, net } = lab(undefined);
    open(LTE);
    open(WIFI, "mr/coa1");
    expect(contacts()).toBe(1);
    // A second home agent address is another peer (the responder answers on it too).
    const other = "2001:db8:1::c";
    const homeAgent2 = new IkeEndpoint({ random: seededRandom("home-agent-2"), responder: config({ local: "b.lab", remote: "a.lab", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64" }) });
    const net2 = connect(router, homeAgent2, [LTE, WIFI], [other]);
    net2.now = net.now;
    router.initiate({ ...config(), name: "other" }, { address: LTE, port: 500 }, { address: other, port: 500 }, net.now);
    net2.run();
    expect(homeAgent2.counters.get("ike.auth.initial-contact")).toBe(1);
  });
});
