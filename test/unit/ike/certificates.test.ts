// Public-key authentication: RFC 7427 signatures with ECDSA P-256 and Ed25519 certificates checked against a CA, and IKE fragmentation (RFC 7383).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AuthConfig } from "../../../firmware/ike/config.ts";
import { parseCertificatePem, parsePrivateKeyPem, verifyChain } from "../../../firmware/ike/certificate.ts";
import { NotifyType } from "../../../firmware/ike/constants.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { config, connect, eventsOf, seededRandom } from "./harness.ts";

const dir = join(import.meta.dir, "certs");
const pem = (f: string) => readFileSync(join(dir, f), "utf8");
function cert(f: string) {
  const c = parseCertificatePem(pem(f));
  if (!c.ok) throw new Error(c.error);
  return c.value[0]!;
}
function pubkey(name: "a" | "b", ca = "ca.pem"): AuthConfig {
  const key = parsePrivateKeyPem(pem(`${name}.key`));
  if (!key.ok) throw new Error(key.error);
  return { kind: "pubkey", credential: { certificate: cert(`${name}.pem`), key: key.value }, trust: [cert(ca)] };
}

function run(ini: AuthConfig, res: AuthConfig, extra: { maxMessageSize?: number; remote?: string } = {}) {
  const a = new IkeEndpoint({ random: seededRandom("ca") });
  const b = new IkeEndpoint({ random: seededRandom("cb"), responder: config({ local: "b.lab", auth: res, localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64", ...(extra.maxMessageSize ? { maxMessageSize: extra.maxMessageSize } : {}) }) });
  const net = connect(a, b, ["2001:db8:1::a"], ["2001:db8:1::b"]);
  a.initiate(config({ remote: extra.remote ?? "b.lab", auth: ini, ...(extra.maxMessageSize ? { maxMessageSize: extra.maxMessageSize } : {}) }), { address: "2001:db8:1::a", port: 500 }, { address: "2001:db8:1::b", port: 500 }, instant(0));
  net.run();
  return { a, b, net };
}

describe("certificates", () => {
  test("the unit-test PKI parses: chain checks, wrong anchor refused", () => {
    expect(verifyChain(cert("a.pem"), [], [cert("ca.pem")]).ok).toBe(true);
    expect(verifyChain(cert("b.pem"), [], [cert("ca.pem")]).ok).toBe(true);
    // Same CA name, different key: the signature must not verify.
    expect(verifyChain(cert("a.pem"), [], [cert("rogue-ca.pem")])).toEqual({ ok: false, error: "bad-signature" });
    expect(verifyChain(cert("a.pem"), [], [cert("b.pem")])).toEqual({ ok: false, error: "untrusted" });
    expect(verifyChain(cert("a.pem"), [], [cert("ca.pem")], 0)).toEqual({ ok: false, error: "not-yet-valid" });
  });

  test("ECDSA P-256 initiator and Ed25519 responder authenticate each other (RFC 7427 method 14)", () => {
    const { a, b, net } = run(pubkey("a"), pubkey("b"));
    expect(eventsOf(net.events.get(a)!, "ike-sa-established")).toHaveLength(1);
    expect(eventsOf(net.events.get(b)!, "ike-sa-established")[0]!.sa.remoteId).toBe("a.lab");
    expect(eventsOf(net.events.get(a)!, "child-sa-installed")).toHaveLength(1);
  });

  test("a peer whose certificate comes from another CA is refused with AUTHENTICATION_FAILED", () => {
    const { a, b, net } = run(pubkey("a"), pubkey("b", "rogue-ca.pem"));
    expect(eventsOf(net.events.get(a)!, "ike-sa-closed")[0]!.notify).toBe(NotifyType.authenticationFailed);
    expect(b.ikeSas).toHaveLength(0);
  });

  test("a certificate that does not cover the expected identity is refused", () => {
    const { a, net } = run(pubkey("a"), pubkey("b"), { remote: "c.lab" });
    expect(eventsOf(net.events.get(a)!, "ike-sa-closed")[0]!.notify).toBe(NotifyType.authenticationFailed);
  });

  test("IKE_AUTH with certificates is fragmented (RFC 7383) when the path is small, and reassembled", () => {
    const { a, b, net } = run(pubkey("a"), pubkey("b"), { maxMessageSize: 300 });
    expect(eventsOf(net.events.get(a)!, "child-sa-installed")).toHaveLength(1);
    expect(a.counters.get("ike.fragments.sent")).toBeGreaterThan(1);
    expect(b.counters.get("ike.fragments.received")).toBeGreaterThan(1);
    expect(net.log.every((l) => l.d.bytes.length <= 300)).toBe(true);
  });
});
