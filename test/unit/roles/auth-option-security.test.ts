// `security: "mn-ha"` (multiCoaMode "auth-option"): how the config chooses it, the MN-HA key, and the payload SAs keyed from it.
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { toHex } from "../../../firmware/core/hex.ts";
import { deriveEspKeys } from "../../../firmware/multicoa/auth-option.ts";
import { authOptionSecurity, mnHaAssociation } from "../../../firmware/roles/auth-option-security.ts";
import { RouterConfigSchema } from "../../../firmware/roles/role-config.ts";

const KEY = toHex(Uint8Array.from({ length: 32 }, (_, i) => i + 1));
const env = { MNHA: KEY, SHORT: toHex(new Uint8Array(19)), NOTHEX: "zz" };
const authOption = { mobilitySpi: 0x4d48, mnHaKey: { ref: "env:MNHA" } };
const router = {
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
const network = { homeAddress: router.homeAddress, mobileNetworkPrefixes: router.mobileNetworkPrefixes };

describe("security mn-ha (auth-option)", () => {
  test("multiCoaMode auth-option with authOption: security mn-ha, no ike and no static keys needed; defaults filled in", () => {
    const r = v.safeParse(RouterConfigSchema, { ...router, ipsec: { multiCoaMode: "auth-option", multiCoa: { authOption } } });
    expect(r.success).toBe(true);
    if (!r.success) return;
    expect(r.output.security).toBe("mn-ha");
    expect(r.output.ipsec.multiCoa.authOption).toEqual({ ...authOption, algorithm: "hmac-sha1-96", timestampWindowSeconds: 7, encryptPayload: false });
  });

  test("refused: auth-option without authOption, auth-option with IKE or static keys, mn-ha for another mode", () => {
    const pair = { outbound: { spi: 4096, key: { ref: "env:MNHA" } }, inbound: { spi: 4097, key: { ref: "env:MNHA" } } };
    const cases = [
      { ...router, ipsec: { multiCoaMode: "auth-option" } },
      { ...router, security: "static", ipsec: { multiCoaMode: "auth-option", multiCoa: { authOption }, tunnel: pair, signalling: pair } },
      { ...router, security: "ikev2", ipsec: { multiCoaMode: "auth-option", multiCoa: { authOption } } },
      { ...router, security: "mn-ha", ipsec: { multiCoaMode: "simultaneous", multiCoa: { authOption } } },
    ];
    for (const c of cases) {
      const r = v.safeParse(RouterConfigSchema, c);
      expect(r.success).toBe(false);
      if (!r.success) expect(r.issues.map((i) => i.message).join()).toContain('"mn-ha"');
    }
  });

  test("the MN-HA key: hex of at least 20 octets", () => {
    const ok = mnHaAssociation({ ...authOption, algorithm: "hmac-sha256-128", timestampWindowSeconds: 7, encryptPayload: false }, env);
    expect(ok.ok && toHex(ok.value.key)).toBe(KEY);
    expect(ok.ok && ok.value.algorithm).toBe("hmac-sha256-128");
    for (const name of ["SHORT", "NOTHEX", "MISSING"]) {
      const r = mnHaAssociation({ ...authOption, mnHaKey: { ref: `env:${name}` }, algorithm: "hmac-sha1-96", timestampWindowSeconds: 7, encryptPayload: false }, env);
      expect(r.ok).toBe(false);
    }
  });

  test("encryptPayload: mirrored tunnel SAs from deriveEspKeys (router outbound = home agent inbound); without it none", () => {
    const a = { mobilitySpi: 0x4d48, key: Uint8Array.from({ length: 32 }, (_, i) => i + 1), algorithm: "hmac-sha1-96" as const };
    const r = authOptionSecurity("router", a, true, network);
    const h = authOptionSecurity("homeagent", a, true, network, "mr0-");
    const keys = deriveEspKeys(a);
    const out = r.tunnelSas.find((s) => s.direction === "outbound")!;
    const inHa = h.tunnelSas.find((s) => s.direction === "inbound")!;
    expect(out.spi).toBe(keys.toHomeAgent.spi);
    expect(inHa.spi).toBe(out.spi);
    expect(toHex(inHa.encryptionKey)).toBe(toHex(out.encryptionKey));
    expect(out.selectors).toEqual([{ source: network.homeAddress }, { source: "2001:db8:20::/64" }]);
    expect(inHa.selectors).toEqual(out.selectors);
    expect(r.policies.every((p) => p.action === "protect" && p.outboundSpi === out.spi)).toBe(true);
    expect(h.policies.map((p) => p.id)).toEqual(["mr0-payload-0", "mr0-payload-1"]);
    const clear = authOptionSecurity("router", a, false, network);
    expect([clear.tunnelSas.length, clear.policies.length]).toEqual([0, 0]);
    // The link-probe KEYMAT is the same on both sides either way.
    expect(toHex(clear.probeKeymat.towardsHomeAgent)).toBe(toHex(h.probeKeymat.towardsHomeAgent));
  });
});
