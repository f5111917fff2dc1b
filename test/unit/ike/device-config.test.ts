// The router's IKE configuration from a validated device configuration: proposals checked by the IKE parser, PSK by file reference.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveSecret } from "../../../firmware/config/secrets.ts";
import { validateConfig } from "../../../firmware/config/validate.ts";
import { err, ok } from "../../../firmware/core/result.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { routerIkeConfig, type CredentialSources } from "../../../firmware/ike/device-config.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { formatSelector } from "../../../firmware/ike/traffic-selectors.ts";
import { config, connect, eventsOf, psk, seededRandom } from "./harness.ts";

const dir = mkdtempSync(join(tmpdir(), "monami-h11-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pskFile = join(dir, "ike-psk");
writeFileSync(pskFile, "fleet-psk-0123456789abcdef\n", { mode: 0o600 });
const openFile = join(dir, "open-psk");
writeFileSync(openFile, "fleet-psk-0123456789abcdef\n");
chmodSync(openFile, 0o644);

const sources: CredentialSources = {
  resolveSecret: (ref) => resolveSecret(ref, {}),
  readText: (path) => {
    try {
      return ok(readFileSync(path, "utf8"));
    } catch {
      return err(`${path}: unreadable`);
    }
  },
};

function device(ipsec: Record<string, unknown> = {}) {
  const r = validateConfig({
    device: { id: "bus-0042" },
    uplinks: [{ id: "lte1", driver: { kind: "cellular", interface: "wwan0", apn: "internet" } }],
    ipsec: { auth: { method: "psk", psk: { ref: `file:${pskFile}` } }, remoteId: "ha.example.net", ...ipsec },
    mobility: { homeAddress: "2001:db8:0:1::42", homeAgent: "2001:db8:0:1::1", mobileNetworkPrefixes: ["2001:db8:42::/48"] },
    mqtt: { url: "mqtts://fleet.example.net:8883" },
  });
  return r;
}

describe("IKE configuration from the device configuration", () => {
  test("proposals, PSK file reference, identities, RFC 4877 selectors and timers", () => {
    const d = device({ ike: { proposals: ["aes256gcm16-prfsha384-ecp384", "aes128gcm16-prfsha256-x25519"], lifetimeSeconds: 3600, rekeyMarginSeconds: 600, dpdIntervalSeconds: 20 }, esp: { proposals: ["aes128gcm16-x25519"] } });
    if (!d.ok) throw new Error(JSON.stringify(d.error));
    const c = routerIkeConfig(d.value, sources);
    if (!c.ok) throw new Error(JSON.stringify(c.error));
    expect(c.value.ikeProposals.map((p) => p.dh[0]!.name)).toEqual(["ECP_384", "CURVE_25519"]);
    expect(c.value.espProposals[0]!.dh.map((g) => g.name)).toEqual(["CURVE_25519"]);
    expect(c.value.auth.kind === "psk" && new TextDecoder().decode(c.value.auth.secret.expose())).toBe("fleet-psk-0123456789abcdef");
    expect(c.value.localTs.map(formatSelector)).toEqual(["2001:db8:0:1::42/128", "2001:db8:42::/48"]);
    expect(c.value.remoteTs.map(formatSelector)).toEqual(["::/0"]);
    expect(c.value.ikeLifetimes).toEqual({ rekeyAfterMs: 3_000_000, expireAfterMs: 3_600_000, rekeyJitterMs: 300_000 });
    expect(c.value.childLifetimes).toEqual({ rekeyAfterMs: 3_300_000, expireAfterMs: 3_600_000, rekeyJitterMs: 150_000 });
    expect(c.value.livenessIntervalMs).toBe(20_000);
    // The configuration negotiates with a home agent holding the same key.
    const a = new IkeEndpoint({ random: seededRandom("dc-a") });
    const b = new IkeEndpoint({
      random: seededRandom("dc-b"),
      responder: config({ local: "ha.example.net", auth: psk("fleet-psk-0123456789abcdef"), ike: "aes256gcm16-prfsha384-ecp384", esp: "aes128gcm16-x25519", localTs: "::/0", remoteTs: "2001:db8::/32" }),
    });
    const net = connect(a, b, ["2001:db8:9::a"], ["2001:db8:0:1::1"]);
    a.initiate(c.value, { address: "2001:db8:9::a", port: 500 }, { address: "2001:db8:0:1::1", port: 500 }, instant(0));
    net.run();
    const up = eventsOf(net.events.get(b)!, "ike-sa-established")[0]!.sa;
    expect(up.remoteId).toBe("bus-0042");
    expect(up.negotiated.dh?.name).toBe("ECP_384");
    expect(eventsOf(net.events.get(a)!, "child-sa-installed")[0]!.child.suite).toBe("aes128gcm16");
  });

  test("the schema checks proposals with the IKE parser, at the offending element", () => {
    const d = device({ ike: { proposals: ["aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-modp2048"] }, esp: { proposals: ["aes256gcm16-prfsha256"] } });
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.error.map((i) => i.path).sort()).toEqual(["ipsec.esp.proposals[0]", "ipsec.ike.proposals[1]"]);
    expect(d.error.find((i) => i.path === "ipsec.ike.proposals[1]")!.message).toContain("'modp2048': MODP groups are not implemented");
    expect(d.error.find((i) => i.path === "ipsec.esp.proposals[0]")!.message).toContain("takes no PRF");
  });

  test("secrets stay references: a world-readable or missing PSK file is reported at its path, never echoed", () => {
    for (const [file, reason] of [[openFile, "world-readable"], [join(dir, "missing"), "ENOENT"]] as const) {
      const d = device({ auth: { method: "psk", psk: { ref: `file:${file}` } } });
      if (!d.ok) throw new Error(JSON.stringify(d.error));
      const c = routerIkeConfig(d.value, sources);
      expect(c.ok).toBe(false);
      if (c.ok) continue;
      expect(c.error).toEqual([{ path: "ipsec.auth.psk", message: expect.stringContaining(reason) }]);
      expect(JSON.stringify(c.error)).not.toContain("fleet-psk");
    }
  });

  test("a 0x… PSK file is hex, as with monami ike probe --psk-file", () => {
    const hexFile = join(dir, "hex-psk");
    writeFileSync(hexFile, "0x00ff10\n", { mode: 0o600 });
    const d = device({ auth: { method: "psk", psk: { ref: `file:${hexFile}` } } });
    if (!d.ok) throw new Error(JSON.stringify(d.error));
    const c = routerIkeConfig(d.value, sources);
    expect(c.ok && c.value.auth.kind === "psk" && [...c.value.auth.secret.expose()]).toEqual([0, 255, 16]);
  });
});
