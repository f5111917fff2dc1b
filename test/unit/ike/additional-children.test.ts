// RFC 4877 §4.3 beside §4.1: one IKE SA carries the tunnel-mode payload CHILD_SA (IKE_AUTH) and a transport-mode BU/BA CHILD_SA (CREATE_CHILD_SA).
import { describe, expect, test } from "bun:test";
import { instant } from "../../../firmware/core/instant.ts";
import type { ChildSpec } from "../../../firmware/ike/config.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { formatSelector, selectorFromPrefix } from "../../../firmware/ike/traffic-selectors.ts";
import { config, connect, eventsOf, seededRandom } from "./harness.ts";

const HOA = "2001:db8:a::1";
const HA = "2001:db8:b::1";
const mh = (address: string) => [selectorFromPrefix(`${address}/128[mh]`)!];
const routerMh: ChildSpec = { name: "mh", mode: "transport", localTs: mh(HOA), remoteTs: mh(HA) };
const agentMh: ChildSpec = { name: "mh", mode: "transport", localTs: mh(HA), remoteTs: mh(HOA) };

function setUp() {
  const router = config({ remote: "b.lab", localTs: "2001:db8:a::/64", remoteTs: "::/0", additionalChildren: [routerMh] });
  const agent = config({ local: "b.lab", localTs: "::/0", remoteTs: "2001:db8:a::/64", additionalChildren: [agentMh] });
  const a = new IkeEndpoint({ random: seededRandom("ac-a") });
  const b = new IkeEndpoint({ random: seededRandom("ac-b"), responder: agent });
  const net = connect(a, b, ["2001:db8:1::a"], ["2001:db8:1::b"]);
  const sa = a.initiate(router, { address: "2001:db8:1::a", port: 500 }, { address: "2001:db8:1::b", port: 500 }, instant(0));
  net.run();
  return { a, b, net, sa };
}

describe("additional CHILD_SA specs", () => {
  test("// IKE_AUTH { tunnel HoA-prefix ↔ any } then CREATE_CHILD_SA { USE_TRANSPORT_MODE, MH HoA ↔ HA }: both sides name and mode them alike", () => {
    const { a, b, net, sa } = setUp();
    a.createChild(sa, false, net.now, routerMh);
    net.run();
    const ours = eventsOf(net.events.get(a)!, "child-sa-installed").map((e) => e.child);
    const theirs = eventsOf(net.events.get(b)!, "child-sa-installed").map((e) => e.child);
    expect(ours.map((c) => [c.childName, c.mode])).toEqual([
      ["net", "tunnel"],
      ["mh", "transport"],
    ]);
    expect(theirs.map((c) => [c.childName, c.mode])).toEqual([
      ["net", "tunnel"],
      ["mh", "transport"],
    ]);
    expect(ours[1]!.localTs.map(formatSelector)).toEqual([`${HOA}/128[135]`]);
    expect(theirs[1]!.localTs.map(formatSelector)).toEqual([`${HA}/128[135]`]);
  });

  test("// CREATE_CHILD_SA { N(REKEY_SA) } of the transport CHILD_SA keeps its mode and selectors", () => {
    const { a, b, net, sa } = setUp();
    a.createChild(sa, false, net.now, routerMh);
    net.run();
    const transport = sa.children.find((c) => c.mode === "transport")!;
    a.rekeyChild(sa, transport, true, net.now);
    net.run();
    const last = eventsOf(net.events.get(a)!, "child-sa-installed").at(-1)!.child;
    expect(last.rekeys).toBe(transport.inboundSpi);
    expect([last.childName, last.mode]).toEqual(["mh", "transport"]);
    expect(eventsOf(net.events.get(b)!, "child-sa-installed").at(-1)!.child.mode).toBe("transport");
    expect(sa.children.map((c) => c.mode).sort()).toEqual(["transport", "tunnel"]);
  });

  test("a transport request outside every spec's selectors is refused with TS_UNACCEPTABLE", () => {
    const { a, net, sa } = setUp();
    a.createChild(sa, false, net.now, { ...routerMh, localTs: mh("2001:db8:c::1") });
    net.run();
    expect(eventsOf(net.events.get(a)!, "child-sa-failed").map((e) => e.notify)).toEqual([38]);
  });
});
