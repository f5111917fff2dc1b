// The one valibot schema for the whole device configuration: the local file read at boot and every remote update.

import * as v from "valibot";
import { parseProposal } from "../ike/proposal.ts";
import { parseIpv6, parsePrefix, prefixMatches } from "../wire/address.ts";

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/** Integer in a closed range, with a description for the JSON Schema. */
function integer(min: number, max: number, description: string) {
  return v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max), v.description(description));
}

function decimal(min: number, max: number, description: string) {
  return v.pipe(v.number(), v.finite(), v.minValue(min), v.maxValue(max), v.description(description));
}

/**
 * A secret by reference, never by value: `file:/absolute/path` (read at start-up, must not be
 * world-readable) or `env:NAME`. Inline strings are refused so an echoed config can never leak a secret.
 */
export const SecretRefSchema = v.pipe(
  v.strictObject(
    {
      ref: v.pipe(
        v.string(),
        v.regex(/^(file:\/[^\0]*[^/\0]|env:[A-Z_][A-Z0-9_]*)$/, 'a secret reference is "file:/absolute/path" or "env:NAME"'),
      ),
    },
    'must be a secret reference such as { "ref": "file:/etc/monami/psk" }; inline secrets are refused',
  ),
  v.description('A secret by reference ("file:/absolute/path" or "env:NAME"); the value never appears in the config.'),
);
export type SecretRef = v.InferOutput<typeof SecretRefSchema>;

const FilePath = v.pipe(v.string(), v.regex(/^\/[^\0]*$/, "must be an absolute path"), v.description("Absolute file path."));
const InterfaceName = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, "must be a Linux interface name (1-15 characters)"),
  v.description("Linux network interface name."),
);
const Ipv6Address = v.pipe(
  v.string(),
  v.check((text) => parseIpv6(text) !== undefined, "must be an IPv6 address"),
  v.description("IPv6 address (RFC 4291 §2.2 text form)."),
);
const Ipv6Prefix = v.pipe(
  v.string(),
  v.check((text) => {
    const p = parsePrefix(text);
    return p !== undefined && p.address.includes(":") && p.length >= 1 && p.length <= 128;
  }, "must be an IPv6 prefix such as 2001:db8:1::/48"),
  v.description("IPv6 prefix, address/length."),
);

/** Identifier of an uplink, used in telemetry, decisions and binding ids. */
const LinkIdSchema = v.pipe(
  v.string(),
  v.regex(/^[a-z][a-z0-9-]{0,14}$/, "must be 1-15 characters: lower-case letters, digits, '-', starting with a letter"),
  v.description("Uplink identifier (appears in telemetry and decision records)."),
);

// ---------------------------------------------------------------------------------------------
// IKE/ESP proposals (strongSwan-style token lists)
// ---------------------------------------------------------------------------------------------

/**
 * Checks a proposal such as `aes256gcm16-prfsha256-x25519` (IKE) or `aes256gcm16` / `aes256-sha256-x25519` (ESP)
 * with the IKE core's own parser (firmware/ike/proposal.ts), so the configuration accepts exactly what
 * monami negotiates; undefined when valid, else the reason (naming the offending token).
 */
export function proposalProblem(text: string, kind: "ike" | "esp"): string | undefined {
  const parsed = parseProposal(text, kind);
  if (parsed.ok) return undefined;
  return parsed.error.token === undefined ? parsed.error.reason : `'${parsed.error.token}': ${parsed.error.reason}`;
}

function proposals(kind: "ike" | "esp", defaults: string[]) {
  return v.optional(
    v.pipe(
      v.array(
        v.pipe(
          v.string(),
          v.rawCheck(({ dataset, addIssue }) => {
            if (!dataset.typed) return;
            const problem = proposalProblem(dataset.value, kind);
            if (problem) addIssue({ message: `invalid ${kind.toUpperCase()} proposal '${dataset.value}': ${problem}` });
          }),
        ),
      ),
      v.minLength(1, "needs at least one proposal"),
      v.description(`${kind.toUpperCase()} proposals in preference order, e.g. ${defaults[0]}.`),
    ),
    defaults,
  );
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

const DeviceSchema = v.strictObject({
  id: v.pipe(
    v.string(),
    v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 1-64 characters: letters, digits, '.', '_', '-'"),
    v.description("Device identifier: the MQTT client id and the topic segment."),
  ),
  site: v.optional(v.pipe(v.string(), v.maxLength(128), v.description("Free text: fleet, depot or vehicle."))),
});

const UplinkDriverSchema = v.variant("kind", [
  v.strictObject({ kind: v.literal("ethernet"), interface: InterfaceName }),
  v.strictObject({
    kind: v.literal("wifi"),
    interface: InterfaceName,
    ssid: v.pipe(v.string(), v.minLength(1), v.maxLength(32, "an SSID is at most 32 bytes")),
    psk: v.optional(SecretRefSchema),
  }),
  v.strictObject({
    kind: v.literal("cellular"),
    interface: InterfaceName,
    modemDevice: v.optional(FilePath, "/dev/cdc-wdm0"),
    apn: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
    simPin: v.optional(SecretRefSchema),
  }),
  v.strictObject({ kind: v.literal("simulated"), name: v.pipe(v.string(), v.minLength(1), v.maxLength(32)) }),
]);

const UplinkSchema = v.strictObject({
  id: LinkIdSchema,
  driver: UplinkDriverSchema,
  enabled: v.optional(v.boolean(), true),
  priority: v.optional(integer(0, 255, "Lower is preferred (selection tier)."), 10),
  weight: v.optional(integer(1, 1000, "Share inside a tier for weighted selection."), 100),
  costPerMegabyte: v.optional(decimal(0, 1e6, "Relative cost of one megabyte on this uplink (cost-aware policy)."), 0),
  mtuBytes: v.optional(integer(1280, 9000, "Link MTU; IPv6 needs at least 1280 (RFC 8200 §5)."), 1500),
  probeIntervalMs: v.optional(integer(10, 600_000, "Time between liveness probes on this uplink (fast failover: 20-50 ms)."), 5000),
  probeTimeoutMs: v.optional(integer(50, 60_000, "Wait for one probe answer."), 2000),
});

export const SelectionPolicies = ["priority", "lowest-rtt", "weighted", "cost-aware"] as const;

const SelectionSchema = v.pipe(
  v.strictObject({
    policy: v.optional(v.pipe(v.picklist(SelectionPolicies), v.description("How the primary uplink is chosen.")), "priority"),
    failureRttMs: v.optional(integer(1, 60_000, "A probe RTT above this counts as a failure."), 1000),
    recoveryRttMs: v.optional(integer(1, 60_000, "A probe RTT below this counts as a recovery (hysteresis band)."), 500),
    failureLossPercent: v.optional(decimal(0, 100, "Loss above this counts as a failure."), 40),
    recoveryLossPercent: v.optional(decimal(0, 100, "Loss below this counts as a recovery."), 10),
    downCount: v.optional(integer(1, 100, "Failed rounds before an uplink is declared down."), 3),
    upCount: v.optional(integer(1, 100, "Good rounds before an uplink is declared up again."), 5),
    recoveryHoldMs: v.optional(integer(0, 600_000, "A recovered uplink waits this long (times its flap-damping factor) before it carries traffic again."), 5000),
    minimumDwellMs: v.optional(integer(0, 3_600_000, "Shortest time on a primary uplink before switching away."), 10_000),
    maxSwitchesPerWindow: v.optional(integer(1, 1000, "Flap budget: switches allowed per window."), 6),
    switchWindowSeconds: v.optional(integer(10, 86_400, "Length of the flap-budget window."), 300),
  }),
  v.forward(
    v.partialCheck([["recoveryRttMs"], ["failureRttMs"]], (s) => s.recoveryRttMs < s.failureRttMs, "must be below failureRttMs (hysteresis)"),
    ["recoveryRttMs"],
  ),
  v.forward(
    v.partialCheck(
      [["recoveryLossPercent"], ["failureLossPercent"]],
      (s) => s.recoveryLossPercent < s.failureLossPercent,
      "must be below failureLossPercent (hysteresis)",
    ),
    ["recoveryLossPercent"],
  ),
);

/**
 * How IPsec protection is arranged over several care-of addresses (the MONAMI6 designs):
 * - `primary`: the SAs' outer endpoint is the primary care-of address only; other registered CoAs carry
 *   no protected traffic until a handover moves the SA endpoint.
 * - `simultaneous`: one SA pair; ESP may use any registered CoA as outer address, and the home agent accepts
 *   ESP from any CoA in the binding cache for this home address (RFC 5648 bindings, RFC 4303 SAs).
 * - `per-coa`: one CHILD_SA pair per care-of address (per binding id); flows are pinned to a CoA.
 * - `mobike`: IKEv2 MOBIKE (RFC 4555) moves the IKE and CHILD SAs between addresses.
 * - `auth-option`: binding updates are authenticated with the Mobility Message Authentication option
 *   (RFC 4285) instead of IPsec; ESP protects data only. Needs `mobility.authOption`.
 * - `bypass-flows`: like `simultaneous`, but selected flows bypass ESP on chosen CoAs.
 */
export const MultiCoaModes = ["primary", "simultaneous", "per-coa", "mobike", "auth-option", "bypass-flows"] as const;
export type MultiCoaMode = (typeof MultiCoaModes)[number];

const IkeAuthSchema = v.variant("method", [
  v.strictObject({ method: v.literal("psk"), psk: SecretRefSchema }),
  v.strictObject({
    method: v.literal("pubkey"),
    privateKey: SecretRefSchema,
    certificateFile: FilePath,
    trustAnchorFile: FilePath,
  }),
]);

const IpsecSchema = v.strictObject({
  multiCoaMode: v.optional(v.pipe(v.picklist(MultiCoaModes), v.description("Multi-CoA IPsec design (see docs/modes.md); simultaneous is RFC 5648 §9.3.")), "simultaneous"),
  auth: IkeAuthSchema,
  localId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(255), v.description("IKE identity of this router (default: device id)."))),
  remoteId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(255), v.description("Expected IKE identity of the home agent."))),
  ike: v.optional(
    v.pipe(
      v.strictObject({
        proposals: proposals("ike", ["aes256gcm16-prfsha256-x25519"]),
        lifetimeSeconds: v.optional(integer(300, 604_800, "IKE SA lifetime."), 86_400),
        rekeyMarginSeconds: v.optional(integer(10, 86_400, "Rekey this long before the lifetime ends."), 540),
        dpdIntervalSeconds: v.optional(integer(0, 3600, "Liveness check interval (0 = off), RFC 7296 §2.4."), 30),
      }),
      v.forward(
        v.partialCheck([["rekeyMarginSeconds"], ["lifetimeSeconds"]], (s) => s.rekeyMarginSeconds < s.lifetimeSeconds, "must be below lifetimeSeconds"),
        ["rekeyMarginSeconds"],
      ),
    ),
    {},
  ),
  esp: v.optional(
    v.pipe(
      v.strictObject({
        proposals: proposals("esp", ["aes256gcm16"]),
        lifetimeSeconds: v.optional(integer(60, 86_400, "CHILD_SA lifetime."), 3600),
        rekeyMarginSeconds: v.optional(integer(5, 3600, "Rekey this long before the lifetime ends."), 300),
        replayWindowPackets: v.optional(
          v.pipe(integer(32, 4096, "Anti-replay window (RFC 4303 §3.4.3: at least 32)."), v.multipleOf(32, "must be a multiple of 32")),
          1024,
        ),
      }),
      v.forward(
        v.partialCheck([["rekeyMarginSeconds"], ["lifetimeSeconds"]], (s) => s.rekeyMarginSeconds < s.lifetimeSeconds, "must be below lifetimeSeconds"),
        ["rekeyMarginSeconds"],
      ),
    ),
    {},
  ),
  natTraversal: v.optional(v.pipe(v.boolean(), v.description("UDP encapsulation on port 4500 (RFC 3948) when NAT is detected.")), true),
});

/** RFC 6275 §6.1.7: the Binding Update lifetime is 16 bits in units of 4 seconds. */
const MAX_BINDING_LIFETIME_SECONDS = 0xffff * 4;

const MobilitySchema = v.pipe(
  v.strictObject({
    mode: v.optional(
      v.pipe(v.picklist(["explicit", "implicit"]), v.description("RFC 3963 §5.1: explicit mode sends Mobile Network Prefix options; implicit sends none.")),
      "explicit",
    ),
    homeAddress: Ipv6Address,
    homePrefixLength: v.optional(integer(1, 128, "Prefix length of the home link."), 64),
    homeAgent: Ipv6Address,
    mobileNetworkPrefixes: v.optional(v.pipe(v.array(Ipv6Prefix), v.maxLength(16), v.description("Prefixes routed to this mobile router.")), []),
    bindingLifetimeSeconds: v.optional(
      v.pipe(
        integer(4, MAX_BINDING_LIFETIME_SECONDS, "Requested binding lifetime (RFC 6275 §6.1.7, 4-second units)."),
        v.multipleOf(4, "must be a multiple of 4 seconds (RFC 6275 §6.1.7)"),
      ),
      600,
    ),
    keyManagementMobility: v.optional(
      v.pipe(v.boolean(), v.description("The K bit (RFC 6275 §6.1.7): the IKE SA survives movement.")),
      true,
    ),
    authOption: v.optional(
      v.strictObject({
        mobilitySpi: integer(256, 0xffff_ffff, "Mobility SPI (RFC 4285 §5: 0-255 are reserved)."),
        mnHaKey: SecretRefSchema,
      }),
    ),
  }),
  v.forward(
    v.partialCheck(
      [["mode"], ["mobileNetworkPrefixes"]],
      (m) => m.mode !== "explicit" || m.mobileNetworkPrefixes.length > 0,
      "explicit mode needs at least one mobile network prefix (RFC 3963 §5.1)",
    ),
    ["mobileNetworkPrefixes"],
  ),
  v.forward(
    v.partialCheck([["homeAddress"], ["homeAgent"]], (m) => !sameAddress(m.homeAddress, m.homeAgent), "must differ from homeAddress"),
    ["homeAgent"],
  ),
  v.forward(
    v.partialCheck(
      [["homeAddress"], ["homeAgent"], ["homePrefixLength"]],
      (m) => onSameLink(m.homeAddress, m.homeAgent, m.homePrefixLength),
      "must be on the home link of homeAddress (same homePrefixLength prefix)",
    ),
    ["homeAgent"],
  ),
  v.forward(
    v.partialCheck(
      [["homeAddress"], ["mobileNetworkPrefixes"]],
      (m) => !m.mobileNetworkPrefixes.some((p) => insidePrefix(m.homeAddress, p)),
      "must not contain homeAddress (the home address belongs to the home link, RFC 3963 §2)",
    ),
    ["mobileNetworkPrefixes"],
  ),
);

const ReconnectSchema = v.pipe(
  v.strictObject({
    initialDelayMs: v.optional(integer(10, 600_000, "First reconnect delay."), 1000),
    maxDelayMs: v.optional(integer(10, 3_600_000, "Cap of the exponential back-off."), 60_000),
    multiplier: v.optional(decimal(1, 10, "Back-off growth per failed attempt."), 2),
    jitterRatio: v.optional(decimal(0, 1, "Each delay is drawn uniformly in [d*(1-jitter), d]."), 0.5),
  }),
  v.forward(
    v.partialCheck([["initialDelayMs"], ["maxDelayMs"]], (r) => r.initialDelayMs <= r.maxDelayMs, "must not exceed maxDelayMs"),
    ["initialDelayMs"],
  ),
);

const MqttTlsSchema = v.strictObject({
  caFile: v.optional(FilePath),
  certificateFile: v.optional(FilePath),
  privateKey: v.optional(SecretRefSchema),
  serverName: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(253))),
});

const MqttSchema = v.pipe(
  v.strictObject({
    url: v.pipe(
      v.string(),
      v.regex(/^mqtts?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, "must be mqtt://host[:port] or mqtts://host[:port]"),
      v.description("Broker URL; mqtts:// for TLS."),
    ),
    protocol: v.optional(v.pipe(v.picklist(["5", "3.1.1"]), v.description("MQTT protocol version to try first.")), "5"),
    fallbackTo311: v.optional(v.pipe(v.boolean(), v.description("Retry with MQTT 3.1.1 when the broker refuses version 5.")), true),
    username: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
    password: v.optional(SecretRefSchema),
    tls: v.optional(MqttTlsSchema),
    keepaliveSeconds: v.optional(
      integer(5, 1200, "MQTT keep-alive; keep it below carrier-NAT idle timeouts (often 60-120 s)."),
      45,
    ),
    sessionExpirySeconds: v.optional(integer(0, 0xffff_ffff, "MQTT 5 session expiry: how long the broker keeps the session offline."), 86_400),
    connectTimeoutMs: v.optional(integer(100, 120_000, "Give up a connection attempt after this."), 10_000),
    topicPrefix: v.optional(
      v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, "must be topic levels without wildcards"), v.description("First topic levels.")),
      "monami",
    ),
    maxIncomingBytes: v.optional(integer(1024, 1_048_576, "Larger incoming payloads are refused unread."), 65_536),
    reconnect: v.optional(ReconnectSchema, {}),
  }),
  v.forward(v.partialCheck([["username"], ["password"]], (m) => m.password === undefined || m.username !== undefined, "a password needs a username"), ["password"]),
  v.forward(
    v.partialCheck([["url"], ["tls"]], (m) => m.tls === undefined || m.url.startsWith("mqtts://"), "TLS settings need an mqtts:// url"),
    ["tls"],
  ),
  v.forward(
    v.partialCheck(
      [["tls", "certificateFile"], ["tls", "privateKey"]],
      (m) => (m.tls?.certificateFile === undefined) === (m.tls?.privateKey === undefined),
      "a client certificate and its private key go together",
    ),
    ["tls", "certificateFile"],
  ),
);

const TelemetrySchema = v.strictObject({
  intervalSeconds: v.optional(integer(1, 86_400, "Durable telemetry snapshot period (QoS 1, through the outbox)."), 60),
  metricsIntervalMs: v.optional(integer(0, 3_600_000, "High-rate link metrics period (QoS 0, not stored); 0 = off."), 5000),
  include: v.optional(
    v.strictObject({
      links: v.optional(v.boolean(), true),
      bindings: v.optional(v.boolean(), true),
      securityAssociations: v.optional(v.boolean(), true),
      decisions: v.optional(v.boolean(), true),
      system: v.optional(v.boolean(), true),
    }),
    {},
  ),
  outbox: v.optional(
    v.strictObject({
      path: v.optional(FilePath, "/var/lib/monami/outbox.db"),
      maxBytes: v.optional(integer(4096, 1 << 30, "Outbox bound; the oldest messages are dropped (and counted) beyond it."), 4 * 1024 * 1024),
    }),
    {},
  ),
});

export const HealthCheckNames = ["broker", "home-agent", "bindings"] as const;
export type HealthCheckName = (typeof HealthCheckNames)[number];

const OtaSchema = v.strictObject({
  config: v.optional(
    v.pipe(
      v.strictObject({
        watchSeconds: v.optional(integer(1, 3600, "After applying a remote config, watch health this long before committing."), 60),
        healthChecks: v.optional(
          v.pipe(v.array(v.picklist(HealthCheckNames)), v.description("Checks that must pass at the end of the watch.")),
          ["broker", "home-agent", "bindings"],
        ),
        requireSignature: v.optional(v.pipe(v.boolean(), v.description("Refuse desired documents without a valid Ed25519 signature.")), false),
        signingPublicKeyHex: v.optional(
          v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{64}$/, "must be a 32-byte Ed25519 public key in hex"), v.description("Fleet config-signing key.")),
        ),
        maxDocumentBytes: v.optional(integer(1024, 1_048_576, "Largest desired document accepted."), 65_536),
      }),
      v.forward(
        v.partialCheck(
          [["requireSignature"], ["signingPublicKeyHex"]],
          (c) => !c.requireSignature || c.signingPublicKeyHex !== undefined,
          "requireSignature needs signingPublicKeyHex",
        ),
        ["signingPublicKeyHex"],
      ),
    ),
    {},
  ),
  image: v.optional(
    v.strictObject({
      publicKeyFile: v.optional(FilePath, "/etc/monami/ota-signing.pub"),
      allowOnCellular: v.optional(v.pipe(v.boolean(), v.description("Download images over cellular uplinks.")), false),
      maxDownloadMbps: v.optional(decimal(0.1, 10_000, "Cap on image download rate.")),
    }),
    {},
  ),
});

const ControlSchema = v.strictObject({
  socketPath: v.optional(FilePath, "/run/monami/control.sock"),
  group: v.optional(
    v.pipe(v.string(), v.regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a Unix group name"), v.description("Group allowed to open the socket (besides root).")),
  ),
});

// ---------------------------------------------------------------------------------------------
// The whole device
// ---------------------------------------------------------------------------------------------

export const DeviceConfigSchema = v.pipe(
  v.strictObject({
    $schema: v.optional(v.string()),
    device: DeviceSchema,
    uplinks: v.pipe(v.array(UplinkSchema), v.minLength(1, "needs at least one uplink"), v.maxLength(8)),
    selection: v.optional(SelectionSchema, {}),
    ipsec: IpsecSchema,
    mobility: MobilitySchema,
    mqtt: MqttSchema,
    telemetry: v.optional(TelemetrySchema, {}),
    ota: v.optional(OtaSchema, {}),
    control: v.optional(ControlSchema, {}),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const seen = new Map<string, number>();
    const interfaces = new Map<string, number>();
    dataset.value.uplinks.forEach((u, i) => {
      if (seen.has(u.id)) addIssue({ message: `duplicate uplink id '${u.id}' (also uplinks[${seen.get(u.id)}])`, path: issuePath(dataset.value, ["uplinks", i, "id"]) });
      seen.set(u.id, i);
      const ifName = "interface" in u.driver ? u.driver.interface : undefined;
      if (ifName !== undefined) {
        if (interfaces.has(ifName)) addIssue({ message: `interface '${ifName}' is already used by uplinks[${interfaces.get(ifName)}]`, path: issuePath(dataset.value, ["uplinks", i, "driver", "interface"]) });
        interfaces.set(ifName, i);
      }
    });
  }),
  v.forward(
    v.partialCheck(
      [["ipsec", "multiCoaMode"], ["mobility", "authOption"]],
      (c) => c.ipsec.multiCoaMode !== "auth-option" || c.mobility.authOption !== undefined,
      'multiCoaMode "auth-option" needs mobility.authOption (RFC 4285 mobility SPI and key)',
    ),
    ["ipsec", "multiCoaMode"],
  ),
  v.forward(
    v.partialCheck(
      [["ipsec", "multiCoaMode"], ["uplinks"]],
      (c) => c.ipsec.multiCoaMode !== "per-coa" || c.uplinks.filter((u) => u.enabled).length >= 2,
      "per-coa mode needs at least two enabled uplinks (one SA set per care-of address)",
    ),
    ["ipsec", "multiCoaMode"],
  ),
);

export type DeviceConfig = v.InferOutput<typeof DeviceConfigSchema>;
export type DeviceConfigInput = v.InferInput<typeof DeviceConfigSchema>;
export type MqttConfig = DeviceConfig["mqtt"];
export type UplinkConfig = DeviceConfig["uplinks"][number];

// ---------------------------------------------------------------------------------------------
// Helpers for the cross-field checks
// ---------------------------------------------------------------------------------------------

function sameAddress(a: string, b: string): boolean {
  const x = parseIpv6(a);
  const y = parseIpv6(b);
  return x !== undefined && y !== undefined && prefixMatches(x, y, 128);
}

function onSameLink(a: string, b: string, length: number): boolean {
  const x = parseIpv6(a);
  const y = parseIpv6(b);
  return x === undefined || y === undefined || prefixMatches(x, y, length);
}

function insidePrefix(address: string, prefixText: string): boolean {
  const a = parseIpv6(address);
  const p = parsePrefix(prefixText);
  const pb = p ? parseIpv6(p.address) : undefined;
  return a !== undefined && p !== undefined && pb !== undefined && prefixMatches(a, pb, p.length);
}

/** Builds a valibot issue path for `rawCheck` so a whole-document check still points at one field. */
function issuePath(root: unknown, keys: readonly (string | number)[]): [v.IssuePathItem, ...v.IssuePathItem[]] {
  const items: v.IssuePathItem[] = [];
  let input: unknown = root;
  for (const key of keys) {
    const value = (input as Record<string | number, unknown>)[key];
    items.push({ type: "unknown", origin: "value", input, key, value } as v.IssuePathItem);
    input = value;
  }
  return items as [v.IssuePathItem, ...v.IssuePathItem[]];
}
