// Multi-CoA settings on IKE-keyed tunnel SAs: ESN offered first (two monami ends agree on it, a peer without ESN on none), the replay window into the loop's SAD.
import { describe, expect, test } from "bun:test";
import { instant } from "../../../firmware/core/instant.ts";
import { createNobleBackend } from "../../../firmware/crypto/noble-backend.ts";
import { childSaTransfer } from "../../../firmware/dataplane/ike-loop-protocol.ts";
import { IkeSaSink } from "../../../firmware/dataplane/ike-sa-sink.ts";
import type { IkeConfig } from "../../../firmware/ike/config.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { SecurityAssociationDatabase } from "../../../firmware/ipsec/sad.ts";
import { SecurityPolicyDatabase } from "../../../firmware/ipsec/spd.ts";
import { withExtendedSequenceNumbers } from "../../../firmware/roles/ike-config.ts";
import { config, connect, eventsOf, seededRandom } from "../ike/harness.ts";

const A = "2001:db8:1::a";
const B = "2001:db8:1::b";
const initiator = () => config({ remote: "b.lab" });
const responder = () => config({ local: "b.lab", remote: "a.lab", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64" });

function negotiate(ini: IkeConfig, res: IkeConfig) {
  const a = new IkeEndpoint({ random: seededRandom("a") });
  const b = new IkeEndpoint({ random: seededRandom("b"), responder: res });
  const net = connect(a, b, [A], [B]);
  a.initiate(ini, { address: A, port: 500 }, { address: B, port: 500 }, instant(0));
  net.run();
  const [ca] = eventsOf(net.events.get(a)!, "child-sa-installed");
  const [cb] = eventsOf(net.events.get(b)!, "child-sa-installed");
  if (!ca || !cb) throw new Error("no CHILD_SA");
  return { a: ca.child, b: cb.child };
}

describe("ESN on IKE-keyed tunnel SAs", () => {
  test("the ESP proposals offer ESN first and 32-bit numbers second; explicit choices are kept", () => {
    const c = withExtendedSequenceNumbers(initiator());
    expect(c.espProposals.map((p) => p.esn)).toEqual([[true, false]]);
    const explicit = withExtendedSequenceNumbers(config({ esp: "aes128gcm16-esn" }));
    expect(explicit.espProposals.map((p) => p.esn)).toEqual([[true]]);
  });

  test("two monami ends (both offering ESN first) agree on ESN", () => {
    const { a, b } = negotiate(withExtendedSequenceNumbers(initiator()), withExtendedSequenceNumbers(responder()));
    expect(a.esn).toBe(true);
    expect(b.esn).toBe(true);
  });

  test("a peer without ESN (like strongSwan's libipsec) gets 32-bit numbers, as initiator and as responder", () => {
    const toPlain = negotiate(withExtendedSequenceNumbers(initiator()), responder());
    expect([toPlain.a.esn, toPlain.b.esn]).toEqual([false, false]);
    const fromPlain = negotiate(initiator(), withExtendedSequenceNumbers(responder()));
    expect([fromPlain.a.esn, fromPlain.b.esn]).toEqual([false, false]);
  });
});

describe("the multi-CoA replay window reaches the loop's SAD", () => {
  test("an install with replayWindow 4096 gives the inbound tunnel SA that window (and ESN); without, the SAD default", () => {
    for (const [window, expected] of [
      [4096, 4096],
      [undefined, undefined],
    ] as const) {
      const { a } = negotiate(withExtendedSequenceNumbers(initiator()), withExtendedSequenceNumbers(responder()));
      const sad = new SecurityAssociationDatabase(() => createNobleBackend());
      const reports: unknown[] = [];
      const sink = new IkeSaSink(sad, new SecurityPolicyDatabase(), (r) => reports.push(r));
      const { transfer } = childSaTransfer(a);
      sink.handle({ kind: "install", child: transfer, ...(window !== undefined ? { replayWindow: window } : {}) }, instant(0));
      expect(reports).toEqual([]);
      const inbound = sad.inbound(a.inboundSpi)!;
      expect(inbound.extendedSequenceNumbers).toBe(true);
      if (expected !== undefined) expect(inbound.replay!.size).toBe(expected);
      else expect(inbound.replay!.size).toBeLessThan(4096);
    }
  });
});
