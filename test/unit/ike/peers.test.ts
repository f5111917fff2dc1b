// A home agent serving several mobile routers: per-peer PSK, certificate policy, selectors and proposals chosen by IDi (RFC 4877 §4.1).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { instant } from "../../../firmware/core/instant.ts";
import { parseCertificatePem, parsePrivateKeyPem } from "../../../firmware/ike/certificate.ts";
import type { AuthConfig, IkeConfig } from "../../../firmware/ike/config.ts";
import { NotifyType } from "../../../firmware/ike/constants.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { parseIdentity } from "../../../firmware/ike/identity.ts";
import { peerDirectory } from "../../../firmware/ike/peers.ts";
import { formatSelector } from "../../../firmware/ike/traffic-selectors.ts";
import { config, connect, eventsOf, psk, seededRandom } from "./harness.ts";

const HA = "2001:db8:1::1";
const HOA1 = "2001:db8:0:1::11";
const HOA2 = "2001:db8:0:1::12";
const certDir = join(import.meta.dir, "certs");
const pem = (f: string) => readFileSync(join(certDir, f), "utf8");
function pubkey(name: "a" | "b"): AuthConfig {
  const certs = parseCertificatePem(pem(`${name}.pem`));
  const ca = parseCertificatePem(pem("ca.pem"));
  const key = parsePrivateKeyPem(pem(`${name}.key`));
  if (!certs.ok || !ca.ok || !key.ok) throw new Error("test PKI");
  return { kind: "pubkey", credential: { certificate: certs.value[0]!, key: key.value }, trust: ca.value };
}

/** The home agent's peers: router 1 by home address (PSK), router 2 by FQDN (PSK, AES-256 only), router 3 by certificate (the HA shows it its own certificate's name). */
const listener = config({ local: "ha.lab", ike: "aes128gcm16-prfsha256-x25519, aes256gcm16-prfsha384-ecp384", localTs: "::/0", remoteTs: "::/0" });
const peers = peerDirectory([
  config({ name: "r1", local: "ha.lab", remote: HOA1, auth: psk("r1-secret-0123456789"), localTs: "::/0", remoteTs: "2001:db8:41::/48" }),
  config({ name: "r2", local: "ha.lab", remote: "r2.fleet.example", auth: psk("r2-secret-0123456789"), esp: "aes256gcm16", localTs: "::/0", remoteTs: "2001:db8:42::/48" }),
  config({ name: "r3", local: "b.lab", remote: "a.lab", auth: pubkey("b"), ike: "aes256gcm16-prfsha384-ecp384", localTs: "::/0", remoteTs: "2001:db8:43::/48" }),
]);

function connectRouter(router: IkeConfig, seed: string) {
  const a = new IkeEndpoint({ random: seededRandom(`${seed}-r`) });
  const b = new IkeEndpoint({ random: seededRandom(`${seed}-ha`), responder: listener, peers });
  const net = connect(a, b, ["2001:db8:9::a"], [HA]);
  a.initiate(router, { address: "2001:db8:9::a", port: 500 }, { address: HA, port: 500 }, instant(0));
  net.run();
  return { a, b, net };
}

describe("per-peer responder configuration", () => {
  test("router 1 (home-address identity) gets its own PSK and selectors", () => {
    const { a, b, net } = connectRouter(config({ local: HOA1, remote: "ha.lab", auth: psk("r1-secret-0123456789"), localTs: "2001:db8:41::/48", remoteTs: "::/0" }), "p1");
    const up = eventsOf(net.events.get(b)!, "ike-sa-established")[0]!.sa;
    expect(up.remoteId).toBe(HOA1);
    expect(up.localId).toBe("ha.lab");
    const child = eventsOf(net.events.get(b)!, "child-sa-installed")[0]!.child;
    expect(child.remoteTs.map(formatSelector)).toEqual(["2001:db8:41::/48"]);
    expect(eventsOf(net.events.get(a)!, "child-sa-installed")).toHaveLength(1);
    expect(b.ikeSas[0]!.config.name).toBe("r1");
  });

  test("router 2 (FQDN) negotiates only the ESP suites its entry allows", () => {
    const ok = connectRouter(config({ local: "r2.fleet.example", remote: "ha.lab", auth: psk("r2-secret-0123456789"), esp: "aes128gcm16, aes256gcm16", localTs: "2001:db8:42::/48", remoteTs: "::/0" }), "p2");
    expect(eventsOf(ok.net.events.get(ok.a)!, "child-sa-installed")[0]!.child.suite).toBe("aes256gcm16");
    const refused = connectRouter(config({ local: "r2.fleet.example", remote: "ha.lab", auth: psk("r2-secret-0123456789"), esp: "aes128gcm16", localTs: "2001:db8:42::/48", remoteTs: "::/0" }), "p2b");
    expect(eventsOf(refused.net.events.get(refused.a)!, "ike-sa-established")).toHaveLength(1);
    expect(eventsOf(refused.net.events.get(refused.a)!, "child-sa-failed")[0]!.notify).toBe(NotifyType.noProposalChosen);
  });

  test("a router asking for another router's prefix: TS_UNACCEPTABLE, its IKE SA stays", () => {
    const { a, net } = connectRouter(config({ local: HOA1, remote: "ha.lab", auth: psk("r1-secret-0123456789"), localTs: "2001:db8:42::/48", remoteTs: "::/0" }), "p3");
    expect(eventsOf(net.events.get(a)!, "ike-sa-established")).toHaveLength(1);
    expect(eventsOf(net.events.get(a)!, "child-sa-failed")[0]!.notify).toBe(NotifyType.tsUnacceptable);
  });

  test("router 3 authenticates with its certificate under its own CA policy and IKE suite", () => {
    const good = connectRouter(config({ local: "a.lab", remote: "b.lab", auth: pubkey("a"), ike: "aes256gcm16-prfsha384-ecp384", localTs: "2001:db8:43::/48", remoteTs: "::/0" }), "p4");
    expect(eventsOf(good.net.events.get(good.a)!, "child-sa-installed")).toHaveLength(1);
    // The listener would take x25519, but router 3's entry allows only ECP-384: refused after IDi.
    const weak = connectRouter(config({ local: "a.lab", remote: "b.lab", auth: pubkey("a"), localTs: "2001:db8:43::/48", remoteTs: "::/0" }), "p5");
    expect(eventsOf(weak.net.events.get(weak.a)!, "ike-sa-closed")[0]!.notify).toBe(NotifyType.authenticationFailed);
    expect(weak.b.counters.get("ike.auth.ike-suite-refused")).toBe(1);
    expect(weak.b.ikeSas).toHaveLength(0);
  });

  for (const [what, router, counter] of [
    ["an unknown identity", config({ local: "intruder.example", remote: "ha.lab", auth: psk("r1-secret-0123456789"), localTs: "2001:db8:41::/48", remoteTs: "::/0" }), "ike.auth.unknown-peer"],
    ["router 2's identity with router 1's PSK", config({ local: "r2.fleet.example", remote: "ha.lab", auth: psk("r1-secret-0123456789"), localTs: "2001:db8:42::/48", remoteTs: "::/0" }), "ike.auth.failed"],
    ["router 1's identity with a certificate", config({ local: HOA1, remote: "ha.lab", auth: pubkey("a"), localTs: "2001:db8:41::/48", remoteTs: "::/0" }), "ike.auth.failed"],
  ] as const) {
    test(`${what}: AUTHENTICATION_FAILED, no state kept`, () => {
      const { a, b, net } = connectRouter(router, what);
      expect(eventsOf(net.events.get(a)!, "ike-sa-closed")[0]!.notify).toBe(NotifyType.authenticationFailed);
      expect(eventsOf(net.events.get(b)!, "ike-sa-established")).toHaveLength(0);
      expect(b.counters.get(counter)).toBe(1);
      expect(b.ikeSas).toHaveLength(0);
      expect(b.halfOpenCount).toBe(0);
      expect(b.pollTimeout()).toBeUndefined();
    });
  }

  test("the directory refuses entries without, or with duplicate, identities", () => {
    expect(() => peerDirectory([config({ name: "x" })])).toThrow(/no remoteId/);
    expect(() => peerDirectory([config({ name: "x", remote: HOA2 }), config({ name: "y", remote: HOA2 })])).toThrow(/configured twice/);
    expect(peers.lookup(parseIdentity(HOA2))).toBeUndefined();
    expect(peers.lookup(parseIdentity(HOA1))?.name).toBe("r1");
  });
});
