// The small typed configuration of the `router` and `homeagent` daemons (static ESP keys until IKEv2 keys them).
//
// The device schema (firmware/config/schema.ts) describes IKE-keyed deployments and exports no section
// schemas; these daemons need manual keys and a few data-plane settings, so they read this file instead.
// Keys are secret references (`{ "ref": "file:/…" | "env:NAME" }`, the device schema's SecretRefSchema)
// whose value is the KEYMAT in hex (RFC 4106 §8.1: key ‖ 4-octet salt for AES-GCM).

import { readFileSync } from "node:fs";
import * as v from "valibot";
import { fromHex } from "../core/hex.ts";
import { err, ok, type Result } from "../core/result.ts";
import { ESP_SUITE_IDS, ESP_SUITES, type EspSuiteId, keymatLength } from "../crypto/suites.ts";
import { MultiCoaModes, SecretRefSchema } from "../config/schema.ts";
import { MultiCoaSchema } from "../multicoa/mode-config.ts";
import { resolveSecret, secretText } from "../config/secrets.ts";
import { IkeRoleSchema } from "./ike-config.ts";
import { parseIpv4, parseIpv6, parsePrefix } from "../wire/address.ts";

const Ipv6 = v.pipe(v.string(), v.check((t) => parseIpv6(t) !== undefined, "must be an IPv6 address"));
const Ipv4 = v.pipe(v.string(), v.check((t) => parseIpv4(t) !== undefined, "must be an IPv4 address"));
/** An uplink's care-of address: IPv6, or IPv4 for an IPv4-only uplink (RFC 5555, registered UDP-encapsulated). */
const CareOfAddress = v.pipe(v.string(), v.check((t) => parseIpv6(t) !== undefined || parseIpv4(t) !== undefined, "must be an IPv6 or IPv4 address"));
const Ipv6Prefix = v.pipe(v.string(), v.check((t) => parsePrefix(t) !== undefined && t.includes(":"), "must be an IPv6 prefix address/length"));
const InterfaceName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, "must be a Linux interface name"));
const Spi = v.pipe(v.number(), v.integer(), v.minValue(256, "SPIs 0-255 are reserved (RFC 4303 §2.1)"), v.maxValue(0xffff_ffff));
const Suite = v.picklist(ESP_SUITE_IDS as [EspSuiteId, ...EspSuiteId[]]);

const SaKeys = v.strictObject({
  spi: Spi,
  /** KEYMAT as hex (encryption key ‖ salt for AEAD; the cipher key for CBC). */
  key: SecretRefSchema,
  /** Integrity key as hex (CBC/NULL suites with HMAC-SHA-256-128). */
  integrityKey: v.optional(SecretRefSchema),
});

/** One direction pair: `outbound` is what this daemon sends with, `inbound` what it receives with. */
const SaPair = v.strictObject({ suite: v.optional(Suite, "aes128gcm16"), outbound: SaKeys, inbound: SaKeys });

const Ipsec = v.strictObject({
  /** `security: "static"`: tunnel-mode SAs for the mobile network's traffic (RFC 4877 §4.1 payload, RFC 3963 prefixes). */
  tunnel: v.optional(SaPair),
  /** `security: "static"`: transport-mode SAs for BU/BA (RFC 4877 §4.3), selectors home address ↔ home agent, protocol 135. */
  signalling: v.optional(SaPair),
  /** The MONAMI6 design in use (docs/modes.md); the same on router and home agent. */
  multiCoaMode: v.optional(v.picklist(MultiCoaModes), "simultaneous"),
  /** Settings of the multi-CoA designs (firmware/multicoa/mode-config.ts). */
  multiCoa: MultiCoaSchema,
});

const SECURITY_KINDS = ["ikev2", "static", "mn-ha"] as const;
type SecurityKind = (typeof SECURITY_KINDS)[number];
const KEYED_MESSAGE = 'security "ikev2" needs an `ike` section, "static" needs ipsec.tunnel and ipsec.signalling, "mn-ha" (the only one of multiCoaMode "auth-option") needs ipsec.multiCoa.authOption';

const Loop = v.optional(
  v.strictObject({
    placement: v.optional(v.picklist(["worker", "main-thread"]), "worker"),
    batchSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(256)), 64),
    socketBufferBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(65_536), v.maxValue(64 * 1024 * 1024)), 4 * 1024 * 1024),
    /** Large TCP segments across the tunnel interface (IFF_VNET_HDR + TSO, cut and glued in the loop). */
    offload: v.optional(v.boolean(), true),
  }),
  {},
);

const Uplink = v.strictObject({
  id: v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{0,14}$/, "must be a short lower-case id")),
  interface: InterfaceName,
  /** RFC 5648 Binding Identifier of this uplink's care-of address. */
  bindingId: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(0xffff)),
  /** IPv6, or IPv4 on an IPv4-only uplink: then BU/BA go in UDP to port 4191 and ESP in UDP to 4500 (RFC 5555, needs `homeAgentIpv4`). */
  careOfAddress: CareOfAddress,
  mtu: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1280), v.maxValue(9000)), 1500),
  /** What kind of link this is, for flow rules that name kinds (firmware/links). */
  kind: v.optional(v.picklist(["cellular", "wifi", "wired"]), "cellular"),
});

export const RouterConfigSchema = v.pipe(
  v.strictObject({
    role: v.literal("router"),
    homeAddress: Ipv6,
    homeAgent: Ipv6,
    /** The home agent's IPv4 address (RFC 5555): where uplinks with an IPv4 care-of address send BUs (UDP 4191) and ESP (UDP 4500). */
    homeAgentIpv4: v.optional(Ipv4),
    mobileNetworkPrefixes: v.pipe(v.array(Ipv6Prefix), v.minLength(1, "a mobile router needs a mobile network prefix (RFC 3963 §5.1)")),
    /** The mobile network side: traffic arriving on this interface goes into the tunnel (policy rule). */
    lan: v.strictObject({ interface: InterfaceName, address: Ipv6 }),
    tunnel: v.strictObject({ interface: InterfaceName, routingTable: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(252)), 220) }),
    uplinks: v.pipe(v.array(Uplink), v.minLength(1), v.maxLength(8)),
    /** The uplink carrying traffic at start (an uplink id). */
    activeUplink: v.string(),
    bindingLifetimeSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(4), v.maxValue(0xffff * 4)), 600),
    /**
     * How SAs are keyed: IKEv2 (`ike`), static keys (`ipsec.tunnel`, `ipsec.signalling`), or the RFC 4285
     * MN-HA key of `multiCoaMode: "auth-option"` (`ipsec.multiCoa.authOption`); see `withSecurity`.
     */
    security: v.optional(v.picklist(SECURITY_KINDS)),
    ike: v.optional(IkeRoleSchema),
    ipsec: v.optional(Ipsec, {}),
    controlSocket: v.pipe(v.string(), v.regex(/^\//, "must be an absolute path")),
    loop: Loop,
    /**
     * The device configuration file (firmware/config/schema.ts): the fleet-managed part (automatic link selection,
     * MQTT fleet link, telemetry, OTA, watchdog, control group), updated transactionally over the air. Without it
     * the router runs alone and the uplink is chosen by hand (`uplink ID` on the control socket).
     */
    device: v.optional(v.pipe(v.string(), v.regex(/^\//, "must be an absolute path"))),
  }),
  v.check((c) => c.uplinks.some((u) => u.id === c.activeUplink), "activeUplink must name one of the uplinks"),
  v.transform(withSecurity),
  v.check((c) => keyed(c), KEYED_MESSAGE),
  v.check((c) => new Set(c.uplinks.map((u) => u.bindingId)).size === c.uplinks.length, "binding ids must be unique"),
  v.check((c) => c.homeAgentIpv4 !== undefined || c.uplinks.every((u) => parseIpv6(u.careOfAddress) !== undefined), "an uplink with an IPv4 care-of address needs homeAgentIpv4 (RFC 5555)"),
  v.check((c) => c.security !== "static" || c.uplinks.every((u) => parseIpv6(u.careOfAddress) !== undefined), 'an IPv4 care-of address needs security "ikev2" or "mn-ha" (static keys have no NAT-T socket)'),
);

const MobileRouter = v.pipe(
  v.strictObject({
    homeAddress: Ipv6,
    mobileNetworkPrefixes: v.pipe(v.array(Ipv6Prefix), v.minLength(1)),
    security: v.optional(v.picklist(SECURITY_KINDS)),
    /** This router's IKE policy at the home agent (found by its identity, default its home address). */
    ike: v.optional(IkeRoleSchema),
    ipsec: v.optional(Ipsec, {}),
  }),
  v.transform(withSecurity),
  v.check((c) => keyed(c), KEYED_MESSAGE),
);

export const HomeAgentConfigSchema = v.strictObject({
  role: v.literal("homeagent"),
  /** The home agent address (RFC 6275 §2): where BUs and ESP from mobile routers arrive. */
  address: Ipv6,
  /**
   * RFC 5555: the home agent's IPv4 address. With it, BUs from IPv4 care-of addresses are taken on UDP port
   * 4191 (NAT detection, BA back the same way) and ESP in UDP from them on the NAT-T socket.
   */
  ipv4Address: v.optional(Ipv4),
  /** RFC 5555: the Refresh time (seconds) of the NAT Detection option when a NAT is found (NATKATIMEOUT, 110). */
  natKeepaliveSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(0xffff_fffe)), 110),
  /** The interface towards the mobile routers, and its MTU. */
  uplink: v.strictObject({ interface: InterfaceName, mtu: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1280), v.maxValue(9000)), 1500) }),
  tunnel: v.strictObject({ interface: InterfaceName }),
  mobileRouters: v.pipe(v.array(MobileRouter), v.minLength(1), v.maxLength(64)),
  maxBindingLifetimeSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(4), v.maxValue(0xffff * 4)), 3600),
  controlSocket: v.pipe(v.string(), v.regex(/^\//, "must be an absolute path")),
  loop: Loop,
});

/**
 * IKEv2 is the default; a configuration that gives static keys and no `security` keeps them (they were
 * the only kind before IKEv2 keyed the daemons).
 */
function withSecurity<C extends { security?: SecurityKind | undefined; ipsec: { tunnel?: unknown; signalling?: unknown; multiCoaMode: string } }>(c: C): C & { security: SecurityKind } {
  const fallback = c.ipsec.multiCoaMode === "auth-option" ? "mn-ha" : c.ipsec.tunnel !== undefined || c.ipsec.signalling !== undefined ? "static" : "ikev2";
  return { ...c, security: c.security ?? fallback };
}

function keyed(c: { security: SecurityKind; ike?: unknown; ipsec: { tunnel?: unknown; signalling?: unknown; multiCoaMode: string; multiCoa: { authOption?: unknown } } }): boolean {
  const authOption = c.ipsec.multiCoaMode === "auth-option";
  switch (c.security) {
    case "ikev2":
      return !authOption && c.ike !== undefined;
    case "static":
      return !authOption && c.ipsec.tunnel !== undefined && c.ipsec.signalling !== undefined;
    case "mn-ha":
      return authOption && c.ipsec.multiCoa.authOption !== undefined;
  }
}

/** The static keys of a config that passed the schema with `security: "static"`. */
export function staticKeys(ipsec: { readonly tunnel?: SaPairConfig | undefined; readonly signalling?: SaPairConfig | undefined }): IpsecConfig {
  if (!ipsec.tunnel || !ipsec.signalling) throw new TypeError('static keys asked of a configuration without them (security is not "static")');
  return { tunnel: ipsec.tunnel, signalling: ipsec.signalling };
}

export type RouterConfig = v.InferOutput<typeof RouterConfigSchema>;
export type HomeAgentConfig = v.InferOutput<typeof HomeAgentConfigSchema>;
/** The keyed SAs of a router (what security-specs.ts reads); the design's settings are `RouterConfig["ipsec"]`. */
export interface IpsecConfig {
  readonly tunnel: SaPairConfig;
  readonly signalling: SaPairConfig;
}
export type SaPairConfig = v.InferOutput<typeof SaPair>;

/** Reads and validates a daemon config file (JSON); errors name the path of each issue. */
export function loadRoleConfig<S extends typeof RouterConfigSchema | typeof HomeAgentConfigSchema>(path: string, schema: S): Result<v.InferOutput<S>, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    return err(`${path}: ${(e as Error).message}`);
  }
  const parsed = v.safeParse(schema, json);
  if (!parsed.success) {
    return err(parsed.issues.map((i) => `${path}: ${v.getDotPath(i) ?? "(root)"}: ${i.message}`).join("\n"));
  }
  return ok(parsed.output as v.InferOutput<S>);
}

/** Resolves a key reference holding hex into `length` octets. */
export function resolveHexKey(ref: v.InferOutput<typeof SecretRefSchema>, length: number, env: Record<string, string | undefined> = process.env): Result<Uint8Array, string> {
  const secret = resolveSecret(ref, env);
  if (!secret.ok) return secret;
  const text = secretText(secret.value).trim();
  secret.value.wipe();
  const bytes = fromHex(text);
  if (bytes === undefined || bytes.length !== length) return err(`key ${ref.ref}: must be ${length} octets of hex (${2 * length} digits)`);
  return ok(bytes);
}

/** The key lengths a suite needs: encryption KEYMAT (with the salt for AEAD) and integrity (0 for AEAD). */
export function keyLengths(suite: EspSuiteId): { encryption: number; integrity: number } {
  const s = ESP_SUITES[suite];
  return { encryption: s.encryptionKeyLength, integrity: keymatLength(s) - s.encryptionKeyLength };
}
