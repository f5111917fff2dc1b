// The daemons' IKEv2 settings (valibot, strongSwan proposal syntax, credentials by secret reference) and the IKE configurations they make (RFC 4877 §4).

import { readFileSync } from "node:fs";
import * as v from "valibot";
import { SecretRefSchema } from "../config/schema.ts";
import { resolveSecret } from "../config/secrets.ts";
import { err, ok, type Result } from "../core/result.ts";
import { pskFromFileText } from "../ike/auth.ts";
import { parseCertificatePem, parsePrivateKeyPem } from "../ike/certificate.ts";
import { espSuiteOf, type ChildSaLifetimes } from "../ike/child-sa.ts";
import { defaultPorts, defaultRetransmit, type AuthConfig, type ChildSpec, type IkeConfig } from "../ike/config.ts";
import { parseIdentity } from "../ike/identity.ts";
import { parseProposal, type ProposalSpec } from "../ike/proposal.ts";
import { selectorFromPrefix } from "../ike/traffic-selectors.ts";
import { parseIpv4, parseIpv6 } from "../wire/address.ts";
import type { EspSuiteId } from "../crypto/suites.ts";

const proposalList = (kind: "ike" | "esp", fallback: string[]) =>
  v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.check((t) => parseProposal(t, kind).ok, `must be a strongSwan ${kind.toUpperCase()} proposal such as ${fallback[0]}`))),
      v.minLength(1),
    ),
    fallback,
  );
const Seconds = (min: number, fallback: number) => v.optional(v.pipe(v.number(), v.minValue(min), v.maxValue(604_800)), fallback);
const Path = v.pipe(v.string(), v.regex(/^\//, "must be an absolute path"));
const Address = v.pipe(v.string(), v.check((t) => parseIpv6(t) !== undefined || parseIpv4(t) !== undefined, "must be an IPv6 or IPv4 address"));
const Prefix = v.pipe(v.string(), v.check((t) => selectorFromPrefix(t) !== undefined, "must be a prefix address/length"));

const IkeAuthSchema = v.variant("method", [
  /** The key is the secret's content (a single `0x…` line is hex), as `monami ike probe --psk-file`. */
  v.strictObject({ method: v.literal("psk"), psk: SecretRefSchema }),
  /** RFC 7427 signatures: our certificate (PEM file), its private key (PEM, by secret reference) and the CA the peer's chain must end at. */
  v.strictObject({ method: v.literal("pubkey"), certificateFile: Path, privateKey: SecretRefSchema, trustAnchorFile: Path }),
]);

/**
 * IKEv2 towards the home agent (router) or from one mobile router (home agent, per router). Identities
 * default to RFC 4877 §4.1's: the mobile router's home address, the home agent's address.
 */
export const IkeRoleSchema = v.strictObject({
  auth: IkeAuthSchema,
  /** IDi/IDr we send: an IP address, fqdn or @fqdn, or user@realm. */
  localId: v.optional(v.string()),
  /** The identity the peer must prove (the home agent: the router's; that is how its configuration is found). */
  remoteId: v.optional(v.string()),
  proposals: proposalList("ike", ["aes128gcm16-prfsha256-x25519", "aes256gcm16-prfsha384-ecp384"]),
  espProposals: proposalList("esp", ["aes128gcm16", "aes256gcm16"]),
  /** IKE SA rekey after this long (up to 10 % earlier at random; deleted at 110 %), strongSwan's proportions. */
  ikeRekeySeconds: Seconds(1, 14_400),
  childRekeySeconds: Seconds(1, 3_600),
  /** Liveness check after this long without anything from the peer (RFC 7296 §2.4); 0: off. */
  dpdSeconds: Seconds(0, 30),
  mobike: v.optional(v.boolean(), true),
  /**
   * How the IKE SA follows a new primary care-of address (RFC 5648 §9.1), never both: "k-bit" (the BU's K bit,
   * RFC 4877 §7.4: both ends move it when the BU is accepted, no MOBIKE negotiated) or "mobike" (RFC 4555).
   * Default: k-bit in the primary and simultaneous designs with BU/BA signalling, else MOBIKE.
   */
  addressUpdate: v.optional(v.picklist(["k-bit", "mobike"])),
  /** Router: what the payload CHILD_SA tunnels to (TSr); the home address and mobile network prefixes are TSi. */
  remoteTs: v.optional(v.pipe(v.array(Prefix), v.minLength(1)), ["::/0"]),
  /** Negotiate the transport-mode CHILD_SA for BU/BA (RFC 4877 §4.3); off against a peer that is no home agent. */
  signalling: v.optional(v.boolean(), true),
  /**
   * Router: where IKE reaches the home agent (default its home agent address), e.g. its IPv4 address
   * from an IPv4-only uplink behind a NAT44 (ESP then travels in UDP, RFC 3948).
   */
  peerAddress: v.optional(Address),
  /** Router: the local IKE address per uplink id (default the uplink's care-of address), e.g. its IPv4 address. */
  uplinkAddresses: v.optional(v.record(v.string(), Address)),
  /** Home agent: the address this router's IKE arrives at (default the home agent address); bound too. */
  localAddress: v.optional(Address),
  /** Debug only: append Wireshark key lines here (SECRET KEYS; off unless set). */
  keyExport: v.optional(v.strictObject({ ikev2: Path, esp: Path })),
  ports: v.optional(v.strictObject({ ike: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)), natT: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)) }), defaultPorts),
});

export type IkeRoleConfig = v.InferOutput<typeof IkeRoleSchema>;

/** Where the daemon finds files and secrets (the tests point these elsewhere). */
export interface IkeSources {
  readonly env?: Record<string, string | undefined>;
  readonly readText?: (path: string) => string;
}

/** `--child-rekey`'s proportions: rekey after N s minus up to 10 %, delete at 1.1 N. */
function lifetimes(seconds: number): ChildSaLifetimes {
  const ms = Math.round(seconds * 1000);
  return { rekeyAfterMs: ms, expireAfterMs: Math.round(ms * 1.1), rekeyJitterMs: Math.round(ms * 0.1) };
}

function credentials(auth: IkeRoleConfig["auth"], sources: IkeSources): Result<AuthConfig, string> {
  const read = sources.readText ?? ((p: string) => readFileSync(p, "utf8"));
  const env = sources.env ?? process.env;
  if (auth.method === "psk") {
    const secret = resolveSecret(auth.psk, env);
    if (!secret.ok) return err(`ike.auth.psk: ${secret.error}`);
    const text = new TextDecoder().decode(secret.value.expose());
    secret.value.wipe();
    return ok({ kind: "psk", secret: pskFromFileText(text) });
  }
  const key = resolveSecret(auth.privateKey, env);
  if (!key.ok) return err(`ike.auth.privateKey: ${key.error}`);
  const parsedKey = parsePrivateKeyPem(new TextDecoder().decode(key.value.expose()));
  key.value.wipe();
  if (!parsedKey.ok) return err(`ike.auth.privateKey: not a usable private key: ${parsedKey.error}`);
  let certText: string;
  let anchorText: string;
  try {
    certText = read(auth.certificateFile);
    anchorText = read(auth.trustAnchorFile);
  } catch (e) {
    return err(`ike.auth: ${(e as Error).message}`);
  }
  const cert = parseCertificatePem(certText);
  if (!cert.ok) return err(`ike.auth.certificateFile: ${cert.error}`);
  const anchors = parseCertificatePem(anchorText);
  if (!anchors.ok) return err(`ike.auth.trustAnchorFile: ${anchors.error}`);
  return ok({ kind: "pubkey", credential: { certificate: cert.value[0]!, key: parsedKey.value }, trust: anchors.value });
}

/** The transport-mode BU/BA CHILD_SA between `local` and `remote` (RFC 4877 §4.3: protocol MH, either direction). */
function signallingSpec(local: string, remote: string): ChildSpec {
  return { name: "mh", mode: "transport", localTs: [selectorFromPrefix(`${local}/128[mh]`)!], remoteTs: [selectorFromPrefix(`${remote}/128[mh]`)!] };
}

function selectors(prefixes: readonly string[]) {
  return prefixes.map((p) => selectorFromPrefix(p.includes("/") ? p : `${p}/128`)!);
}

/** Proposals the schema already checked one by one. */
function specs(list: readonly string[], kind: "ike" | "esp"): ProposalSpec[] {
  return list.map((t) => {
    const r = parseProposal(t, kind);
    if (!r.ok) throw new RangeError(`proposal '${t}' passed the schema but does not parse`);
    return r.value;
  });
}

interface Addresses {
  readonly homeAddress: string;
  readonly homeAgent: string;
  readonly mobileNetworkPrefixes: readonly string[];
}

function build(name: string, ike: IkeRoleConfig, auth: AuthConfig, localId: string, localTs: string[], remoteTs: string[], signalling: ChildSpec | undefined): IkeConfig {
  return {
    name,
    localId: parseIdentity(ike.localId ?? localId),
    ...(ike.remoteId !== undefined ? { remoteId: parseIdentity(ike.remoteId) } : {}),
    auth,
    ikeProposals: specs(ike.proposals, "ike"),
    espProposals: specs(ike.espProposals, "esp"),
    childName: "payload",
    localTs: selectors(localTs),
    remoteTs: selectors(remoteTs),
    mode: "tunnel",
    ...(signalling && ike.signalling ? { additionalChildren: [signalling] } : {}),
    mobike: ike.mobike,
    fragmentation: true,
    maxMessageSize: 1280,
    childLifetimes: lifetimes(ike.childRekeySeconds),
    ikeLifetimes: lifetimes(ike.ikeRekeySeconds),
    livenessIntervalMs: ike.dpdSeconds * 1000,
    retransmit: defaultRetransmit,
    ports: ike.ports,
    exportKeys: ike.keyExport !== undefined,
    wallClockSeconds: () => Math.floor(Date.now() / 1000),
  };
}

/**
 * The router's IKE configuration (RFC 4877 §4.1): IDi = its home address unless configured, the
 * payload CHILD_SA tunnels the home address and the mobile network prefixes to `remoteTs`, and (unless
 * off) a transport-mode CHILD_SA carries BU/BA between the home address and the home agent.
 */
export function routerIkeConfig(ike: IkeRoleConfig, addresses: Addresses, sources: IkeSources = {}): Result<IkeConfig, string> {
  const auth = credentials(ike.auth, sources);
  if (!auth.ok) return auth;
  return ok(build("home-agent", ike, auth.value, addresses.homeAddress, [addresses.homeAddress, ...addresses.mobileNetworkPrefixes], [...ike.remoteTs], signallingSpec(addresses.homeAddress, addresses.homeAgent)));
}

/**
 * The home agent's configuration for one mobile router: found by the router's identity (`remoteId`,
 * default its home address), the payload CHILD_SA from anywhere to the home address and prefixes,
 * the BU/BA CHILD_SA between the home agent and the home address.
 */
export function homeAgentPeerIkeConfig(ike: IkeRoleConfig, addresses: Addresses, index: number, sources: IkeSources = {}): Result<IkeConfig, string> {
  const auth = credentials(ike.auth, sources);
  if (!auth.ok) return err(`mobileRouters[${index}].${auth.error}`);
  const withId = { ...ike, remoteId: ike.remoteId ?? addresses.homeAddress };
  return ok(build(`mr${index}`, withId, auth.value, addresses.homeAgent, ["::/0"], [addresses.homeAddress, ...addresses.mobileNetworkPrefixes], signallingSpec(addresses.homeAgent, addresses.homeAddress)));
}

/** The suite the tunnel interface's MTU is computed for: the first ESP proposal's (AES-GCM when it has none the data plane knows). */
export function tunnelSuiteOf(ike: IkeRoleConfig): EspSuiteId {
  const first = parseProposal(ike.espProposals[0]!, "esp");
  if (!first.ok) return "aes128gcm16";
  const e = first.value.encryption[0];
  const suite = e ? espSuiteOf({ proposalNumber: 1, encryption: e, ...(first.value.integrity[0] ? { integrity: first.value.integrity[0] } : {}), esn: false }) : undefined;
  return suite ?? "aes128gcm16";
}

/**
 * Multi-CoA tunnels (RFC 5648 §9.3: one SA over several paths) want 64-bit sequence numbers: every ESP
 * proposal that offers only 32-bit ones offers ESN first and 32-bit second (RFC 7296 §3.3.3: the responder
 * picks one), so two monami ends agree on ESN and a peer without it (strongSwan's libipsec) on none.
 */
export function withExtendedSequenceNumbers(config: IkeConfig): IkeConfig {
  return { ...config, espProposals: config.espProposals.map((p) => (p.esn.length === 1 && p.esn[0] === false ? { ...p, esn: [true, false] } : p)) };
}

export type AddressUpdate = "k-bit" | "mobike";

/** The address-update method in force (see `addressUpdate`), or why the configuration cannot have it. */
export function addressUpdateOf(ike: IkeRoleConfig, multiCoaMode: string | undefined): Result<AddressUpdate, string> {
  if (ike.addressUpdate === "k-bit" && !ike.signalling) return err("ike.addressUpdate k-bit needs the BU/BA signalling (ike.signalling)");
  if (ike.addressUpdate) return ok(ike.addressUpdate);
  return ok(ike.signalling && (multiCoaMode === "primary" || multiCoaMode === "simultaneous") ? "k-bit" : "mobike");
}

/** Wipes a configuration's secrets (shutdown). */
export function wipeIkeConfig(config: IkeConfig): void {
  if (config.auth.kind === "psk") config.auth.secret.wipe();
}
