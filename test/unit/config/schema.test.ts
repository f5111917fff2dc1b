// The device config schema: the example validates, defaults fill in, cross-field rules point at one path, secrets never echo.

import { describe, expect, test } from "bun:test";
import { EXAMPLE_CONFIG } from "../../../firmware/config/example.ts";
import { deviceConfigJsonSchema } from "../../../firmware/config/json-schema.ts";
import { redactSecrets, REDACTED } from "../../../firmware/config/redact.ts";
import { proposalProblem } from "../../../firmware/config/schema.ts";
import { parseConfigText, validateConfig, type ConfigIssue } from "../../../firmware/config/validate.ts";

function minimal(): Record<string, any> {
  return {
    device: { id: "bus-1" },
    uplinks: [{ id: "lte1", driver: { kind: "cellular", interface: "wwan0", apn: "internet" } }],
    ipsec: { auth: { method: "psk", psk: { ref: "file:/etc/monami/psk" } } },
    mobility: { homeAddress: "2001:db8:0:1::42", homeAgent: "2001:db8:0:1::1", mobileNetworkPrefixes: ["2001:db8:42::/48"] },
    mqtt: { url: "mqtts://fleet.example.net:8883" },
  };
}

function issues(edit: (c: Record<string, any>) => void): ConfigIssue[] {
  const c = minimal();
  edit(c);
  const r = validateConfig(c);
  return r.ok ? [] : r.error;
}

describe("device config schema", () => {
  test("the commented example is valid", () => {
    const r = parseConfigText(EXAMPLE_CONFIG);
    expect(r.ok ? [] : r.error).toEqual([]);
  });

  test("a minimal config gets documented defaults", () => {
    const r = validateConfig(minimal());
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    const c = r.value;
    expect(c.ipsec.multiCoaMode).toBe("simultaneous");
    expect(c.mqtt.keepaliveSeconds).toBe(45);
    expect(c.mqtt.protocol).toBe("5");
    expect(c.mqtt.topicPrefix).toBe("monami");
    expect(c.mobility.mode).toBe("explicit");
    expect(c.mobility.bindingLifetimeSeconds).toBe(600);
    expect(c.mobility.keyManagementMobility).toBe(true);
    expect(c.selection.failureRttMs).toBe(1000);
    expect(c.telemetry.outbox.maxBytes).toBe(4 * 1024 * 1024);
    expect(c.ota.config.healthChecks).toEqual(["broker", "home-agent", "bindings"]);
    expect(c.uplinks[0]!.driver).toEqual({ kind: "cellular", interface: "wwan0", apn: "internet", modemDevice: "/dev/cdc-wdm0" });
    expect(c.control.socketPath).toBe("/run/monami/control.sock");
  });

  const cases: [string, (c: Record<string, any>) => void, Partial<ConfigIssue>][] = [
    ["unknown field", (c) => (c.mqtt.keepAlive = 30), { kind: "unknown-field", path: "mqtt.keepAlive" }],
    ["wrong type", (c) => (c.mqtt.keepaliveSeconds = "45"), { kind: "wrong-type", path: "mqtt.keepaliveSeconds" }],
    ["missing field", (c) => delete c.mobility.homeAgent, { kind: "missing-field", path: "mobility.homeAgent" }],
    ["range", (c) => (c.mqtt.keepaliveSeconds = 4000), { kind: "invalid-value", path: "mqtt.keepaliveSeconds" }],
    ["hysteresis RTT", (c) => (c.selection = { failureRttMs: 300, recoveryRttMs: 400 }), { path: "selection.recoveryRttMs" }],
    ["hysteresis loss", (c) => (c.selection = { failureLossPercent: 5 }), { path: "selection.recoveryLossPercent" }],
    ["explicit mode without prefixes", (c) => (c.mobility.mobileNetworkPrefixes = []), { path: "mobility.mobileNetworkPrefixes" }],
    ["home agent off the home link", (c) => (c.mobility.homeAgent = "2001:db8:0:2::1"), { path: "mobility.homeAgent" }],
    ["home agent equals home address", (c) => (c.mobility.homeAgent = "2001:db8:0:1:0::42"), { path: "mobility.homeAgent" }],
    ["home address inside a mobile network prefix", (c) => (c.mobility.mobileNetworkPrefixes = ["2001:db8::/32"]), { path: "mobility.mobileNetworkPrefixes" }],
    ["binding lifetime not in 4 s units", (c) => (c.mobility.bindingLifetimeSeconds = 601), { path: "mobility.bindingLifetimeSeconds" }],
    ["binding lifetime above 16 bits of 4 s", (c) => (c.mobility.bindingLifetimeSeconds = 262_144), { path: "mobility.bindingLifetimeSeconds" }],
    ["auth-option without its key", (c) => (c.ipsec.multiCoaMode = "auth-option"), { path: "ipsec.multiCoaMode" }],
    ["per-coa with one uplink", (c) => (c.ipsec.multiCoaMode = "per-coa"), { path: "ipsec.multiCoaMode" }],
    ["unknown multi-CoA mode", (c) => (c.ipsec.multiCoaMode = "bonding"), { path: "ipsec.multiCoaMode" }],
    ["rekey margin above lifetime", (c) => (c.ipsec.esp = { lifetimeSeconds: 600, rekeyMarginSeconds: 900 }), { path: "ipsec.esp.rekeyMarginSeconds" }],
    ["AEAD with integrity", (c) => (c.ipsec.ike = { proposals: ["aes256gcm16-sha256-prfsha256-x25519"] }), { path: "ipsec.ike.proposals[0]" }],
    ["replay window not a multiple of 32", (c) => (c.ipsec.esp = { replayWindowPackets: 100 }), { path: "ipsec.esp.replayWindowPackets" }],
    ["duplicate uplink id", (c) => c.uplinks.push({ id: "lte1", driver: { kind: "ethernet", interface: "eth0" } }), { path: "uplinks[1].id" }],
    ["interface used twice", (c) => c.uplinks.push({ id: "lte2", driver: { kind: "ethernet", interface: "wwan0" } }), { path: "uplinks[1].driver.interface" }],
    ["password without username", (c) => (c.mqtt.password = { ref: "env:MQTT_PW" }), { path: "mqtt.password" }],
    ["TLS on a plain URL", (c) => Object.assign(c.mqtt, { url: "mqtt://h", tls: { caFile: "/ca.pem" } }), { path: "mqtt.tls" }],
    ["client certificate without key", (c) => (c.mqtt.tls = { certificateFile: "/c.pem" }), { path: "mqtt.tls.certificateFile" }],
    ["signature required without key", (c) => (c.ota = { config: { requireSignature: true } }), { path: "ota.config.signingPublicKeyHex" }],
    ["bad IPv6", (c) => (c.mobility.homeAddress = "2001:db8::zz"), { path: "mobility.homeAddress" }],
    ["relative secret file", (c) => (c.ipsec.auth.psk = { ref: "file:psk" }), { path: "ipsec.auth.psk.ref" }],
  ];
  for (const [name, edit, expected] of cases) {
    test(`refuses: ${name}`, () => {
      expect(issues(edit)).toContainEqual(expect.objectContaining(expected));
    });
  }

  test("every error is reported, not just the first", () => {
    const found = issues((c) => {
      c.mqtt.keepaliveSeconds = "x";
      c.bogus = 1;
      c.uplinks[0].priority = -1;
    });
    expect(found.map((i) => i.path).sort()).toEqual(["bogus", "mqtt.keepaliveSeconds", "uplinks[0].priority"]);
  });

  test("an inline secret is refused and never echoed in the error", () => {
    const secret = "hunter2-inline";
    const found = issues((c) => {
      c.ipsec.auth.psk = secret;
      c.mqtt.username = "u";
      c.mqtt.password = { ref: secret };
    });
    expect(found.length).toBeGreaterThanOrEqual(2);
    expect(found.find((i) => i.path === "ipsec.auth.psk")?.message).toContain("inline secrets are refused");
    expect(JSON.stringify(found)).not.toContain(secret);
  });

  test("proposal checks", () => {
    expect(proposalProblem("aes256gcm16-prfsha256-x25519", "ike")).toBeUndefined();
    expect(proposalProblem("aes256-sha256-prfsha256-ecp256", "ike")).toBeUndefined();
    expect(proposalProblem("aes256gcm16", "esp")).toBeUndefined();
    expect(proposalProblem("aes256-sha256-x25519", "esp")).toBeUndefined();
    expect(proposalProblem("aes256-prfsha256-x25519", "ike")).toContain("integrity");
    expect(proposalProblem("aes256gcm16-x25519", "ike")).toContain("PRF");
    expect(proposalProblem("aes256gcm16-prfsha256", "ike")).toContain("DH");
    expect(proposalProblem("aes256gcm16-prfsha256", "esp")).toContain("no PRF");
    expect(proposalProblem("des-sha1", "esp")).toContain("unknown algorithm");
  });

  test("JSON Schema export describes the document and its defaults", () => {
    const schema = deviceConfigJsonSchema() as any;
    expect(schema.$schema).toContain("json-schema.org");
    expect(schema.required).toEqual(["device", "uplinks", "ipsec", "mobility", "mqtt"]);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.mqtt.properties.keepaliveSeconds.default).toBe(45);
    expect(schema.properties.ipsec.properties.multiCoaMode.default).toBe("simultaneous");
    expect(schema.properties.ipsec.properties.multiCoaMode.enum).toEqual(["primary", "simultaneous", "per-coa", "mobike", "auth-option", "bypass-flows"]);
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });

  test("redaction replaces secret values but keeps references", () => {
    const out = redactSecrets({ a: { password: "pw", psk: { ref: "file:/x" }, simPin: "1234", privateKey: "k", clientToken: "t" }, list: [{ mnHaKey: "z" }] }) as any;
    expect(out).toEqual({ a: { password: REDACTED, psk: { ref: "file:/x" }, simPin: REDACTED, privateKey: REDACTED, clientToken: "t" }, list: [{ mnHaKey: REDACTED }] });
  });
});
