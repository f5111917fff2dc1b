// The daemons' IKEv2 settings: IKEv2 by default, static keys kept where configured, mistakes named by path, RFC 4877 selectors and identities.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatIdentity } from "../../../firmware/ike/identity.ts";
import { formatSelector } from "../../../firmware/ike/traffic-selectors.ts";
import { homeAgentPeerIkeConfig, routerIkeConfig, tunnelSuiteOf } from "../../../firmware/roles/ike-config.ts";
import { loadRoleConfig, RouterConfigSchema } from "../../../firmware/roles/role-config.ts";

const dir = mkdtempSync(join(tmpdir(), "monami-role-config-ike-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pskFile = join(dir, "psk");
writeFileSync(pskFile, "a-lab-psk-0123456789", { mode: 0o600 });

const base = {
  role: "router",
  homeAddress: "2001:db8:10::20",
  homeAgent: "2001:db8:10::1",
  mobileNetworkPrefixes: ["2001:db8:20::/64"],
  lan: { interface: "lan0", address: "2001:db8:20::1" },
  tunnel: { interface: "mnr0" },
  uplinks: [{ id: "lte", interface: "lte0", bindingId: 1, careOfAddress: "2001:db8:1::2" }],
  activeUplink: "lte",
  controlSocket: "/run/monami/router.sock",
};
const ike = { auth: { method: "psk", psk: { ref: `file:${pskFile}` } } };
const load = (value: unknown) => {
  const path = join(dir, `c${Math.random()}.json`);
  writeFileSync(path, JSON.stringify(value));
  return loadRoleConfig(path, RouterConfigSchema);
};

describe("role config: security", () => {
  test("IKEv2 is the default; its defaults are strongSwan's proposal syntax and lifetimes", () => {
    const r = load({ ...base, ike });
    if (!r.ok) throw new Error(r.error);
    expect(r.value.security).toBe("ikev2");
    expect(r.value.ike!.proposals).toEqual(["aes128gcm16-prfsha256-x25519", "aes256gcm16-prfsha384-ecp384"]);
    expect([r.value.ike!.childRekeySeconds, r.value.ike!.ikeRekeySeconds, r.value.ike!.signalling]).toEqual([3600, 14_400, true]);
    expect(tunnelSuiteOf(r.value.ike!)).toBe("aes128gcm16");
  });

  test("mistakes are refused with their path: no ike section, a bad proposal, a relative certificate path", () => {
    const none = load(base);
    expect(!none.ok && none.error).toContain('security "ikev2" needs an `ike` section');
    const proposal = load({ ...base, ike: { ...ike, proposals: ["aes128gcm16-prfsha256-modp1"] } });
    expect(!proposal.ok && proposal.error).toContain("ike.proposals.0");
    const cert = load({ ...base, ike: { auth: { method: "pubkey", certificateFile: "a.pem", privateKey: { ref: "env:K" }, trustAnchorFile: "/ca.pem" } } });
    expect(!cert.ok && cert.error).toContain("ike.auth.certificateFile");
    const staticWithoutKeys = load({ ...base, security: "static" });
    expect(staticWithoutKeys.ok).toBe(false);
  });

  test("the router's IKE configuration (RFC 4877 §4.1, §4.3): IDi = home address, payload TSi = home address + prefixes, the BU/BA CHILD_SA in transport mode for MH", () => {
    const r = load({ ...base, ike });
    if (!r.ok) throw new Error(r.error);
    const c = routerIkeConfig(r.value.ike!, { homeAddress: base.homeAddress, homeAgent: base.homeAgent, mobileNetworkPrefixes: base.mobileNetworkPrefixes });
    if (!c.ok) throw new Error(c.error);
    expect(formatIdentity(c.value.localId)).toBe("2001:db8:10::20");
    expect(c.value.localTs.map(formatSelector)).toEqual(["2001:db8:10::20/128", "2001:db8:20::/64"]);
    expect(c.value.remoteTs.map(formatSelector)).toEqual(["::/0"]);
    const mh = c.value.additionalChildren![0]!;
    expect([mh.mode, mh.localTs.map(formatSelector), mh.remoteTs.map(formatSelector)]).toEqual(["transport", ["2001:db8:10::20/128[135]"], ["2001:db8:10::1/128[135]"]]);
    expect(c.value.auth.kind).toBe("psk");
    expect(JSON.stringify(c.value.auth)).not.toContain("0123456789");
    // The home agent's view of the same router: found by the router's identity, selectors mirrored.
    const h = homeAgentPeerIkeConfig(r.value.ike!, { homeAddress: base.homeAddress, homeAgent: base.homeAgent, mobileNetworkPrefixes: base.mobileNetworkPrefixes }, 0);
    if (!h.ok) throw new Error(h.error);
    expect(formatIdentity(h.value.remoteId!)).toBe("2001:db8:10::20");
    expect(h.value.remoteTs.map(formatSelector)).toEqual(["2001:db8:10::20/128", "2001:db8:20::/64"]);
    expect(h.value.additionalChildren![0]!.localTs.map(formatSelector)).toEqual(["2001:db8:10::1/128[135]"]);
  });

  test("a missing secret is reported, not thrown", () => {
    const r = load({ ...base, ike: { auth: { method: "psk", psk: { ref: "env:MONAMI_H12_NO_SUCH_VARIABLE" } } } });
    if (!r.ok) throw new Error(r.error);
    const c = routerIkeConfig(r.value.ike!, { homeAddress: base.homeAddress, homeAgent: base.homeAgent, mobileNetworkPrefixes: base.mobileNetworkPrefixes });
    expect(c.ok).toBe(false);
    expect(!c.ok && c.error).toContain("ike.auth.psk");
  });
});
