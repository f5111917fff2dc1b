// The daemons' config: a valid router config loads, each kind of mistake is named with its path, keys are hex of the right size.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HomeAgentConfigSchema, keyLengths, loadRoleConfig, resolveHexKey, RouterConfigSchema, staticKeys } from "../../../firmware/roles/role-config.ts";
import { roleSecurity } from "../../../firmware/roles/security-specs.ts";

const dir = mkdtempSync(join(tmpdir(), "monami-role-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const key = (name: string) => ({ ref: `env:${name}` });
const pair = { suite: "aes128gcm16", outbound: { spi: 4096, key: key("KA") }, inbound: { spi: 4097, key: key("KB") } };
const router = {
  role: "router",
  homeAddress: "2001:db8:10::20",
  homeAgent: "2001:db8:10::1",
  mobileNetworkPrefixes: ["2001:db8:20::/64"],
  lan: { interface: "lan0", address: "2001:db8:20::1" },
  tunnel: { interface: "mnr0" },
  uplinks: [{ id: "lte", interface: "lte0", bindingId: 1, careOfAddress: "2001:db8:1::2" }],
  activeUplink: "lte",
  ipsec: { tunnel: pair, signalling: { ...pair, outbound: { spi: 4098, key: key("KA") }, inbound: { spi: 4099, key: key("KB") } } },
  controlSocket: "/run/monami/router.sock",
};

function write(value: unknown): string {
  const path = join(dir, `c${Math.random()}.json`);
  writeFileSync(path, JSON.stringify(value));
  return path;
}
const load = (value: unknown) => loadRoleConfig(write(value), RouterConfigSchema);

describe("role config", () => {
  test("a router config loads with defaults filled in", () => {
    const r = load(router);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.loop).toEqual({ placement: "worker", batchSize: 64, socketBufferBytes: 4 * 1024 * 1024, offload: true });
    expect(r.value.uplinks[0]!.mtu).toBe(1500);
    expect(r.value.tunnel.routingTable).toBe(220);
  });

  test("mistakes are named with their path", () => {
    const bad = load({ ...router, activeUplink: "wifi", uplinks: [{ ...router.uplinks[0], careOfAddress: "nope" }] });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.error).toContain("uplinks.0.careOfAddress: must be an IPv6 or IPv4 address");
    const spi = load({ ...router, ipsec: { ...router.ipsec, tunnel: { ...pair, outbound: { spi: 255, key: key("KA") } } } });
    expect(!spi.ok && spi.error).toContain("ipsec.tunnel.outbound.spi: SPIs 0-255 are reserved");
    const inline = load({ ...router, ipsec: { ...router.ipsec, tunnel: { ...pair, outbound: { spi: 4096, key: "00112233" } } } });
    expect(!inline.ok && inline.error).toContain("inline secrets are refused");
    const active = load({ ...router, activeUplink: "wifi" });
    expect(!active.ok && active.error).toContain("activeUplink must name one of the uplinks");
  });

  test("a home agent config needs at least one mobile router", () => {
    const path = write({ role: "homeagent", address: "2001:db8:10::1", uplink: { interface: "core0" }, tunnel: { interface: "mnh0" }, mobileRouters: [], controlSocket: "/run/x.sock" });
    const r = loadRoleConfig(path, HomeAgentConfigSchema);
    expect(!r.ok && r.error).toContain("mobileRouters");
  });

  test("keys are hex of exactly the suite's KEYMAT length", () => {
    expect(keyLengths("aes128gcm16")).toEqual({ encryption: 20, integrity: 0 });
    expect(keyLengths("aes256-sha256")).toEqual({ encryption: 32, integrity: 32 });
    expect(resolveHexKey(key("K"), 20, { K: "00".repeat(20) }).ok).toBe(true);
    const short = resolveHexKey(key("K"), 20, { K: "00".repeat(19) });
    expect(!short.ok && short.error).toBe("key env:K: must be 20 octets of hex (40 digits)");
    expect(resolveHexKey(key("K"), 20, { K: "zz".repeat(20) }).ok).toBe(false);
  });

  test("the router's SAs: tunnel selectors cover the home address and the prefixes, BU/BA SAs are transport mode for MH", () => {
    process.env.KA = "11".repeat(20);
    process.env.KB = "22".repeat(20);
    const loaded = load(router);
    if (!loaded.ok) throw new Error(loaded.error);
    const s = roleSecurity("router", staticKeys(loaded.value.ipsec), { homeAddress: router.homeAddress, homeAgent: router.homeAgent, mobileNetworkPrefixes: router.mobileNetworkPrefixes });
    if (!s.ok) throw new Error(s.error);
    expect(s.value.tunnelSas.map((sa) => [sa.spi, sa.direction, sa.mode])).toEqual([[4096, "outbound", "tunnel"], [4097, "inbound", "tunnel"]]);
    expect(s.value.tunnelSas[0]!.selectors).toEqual([{ source: "2001:db8:10::20" }, { source: "2001:db8:20::/64" }]);
    expect(s.value.tunnelSas[1]!.selectors).toEqual([{ destination: "2001:db8:10::20" }, { destination: "2001:db8:20::/64" }]);
    expect(s.value.policies.every((p) => p.action === "protect" && p.outboundSpi === 4096)).toBe(true);
    expect(s.value.signallingSas[0]).toMatchObject({ mode: "transport", selectors: [{ source: "2001:db8:10::20", destination: "2001:db8:10::1", protocol: 135 }] });
    expect(s.value.signallingSas[1]).toMatchObject({ mode: "transport", selectors: [{ source: "2001:db8:10::1", destination: "2001:db8:10::20", protocol: 135 }] });
  });
});
