// The router's IKE configuration from the device configuration: strongSwan-syntax proposals, credentials by reference, RFC 4877 identity and selectors.

import type { DeviceConfig, SecretRef } from "../config/schema.ts";
import { err, ok, type Result } from "../core/result.ts";
import { SecretBytes } from "../core/secret.ts";
import type { TrafficSelector } from "../wire/ikev2/traffic-selector.ts";
import { parseCertificatePem, parsePrivateKeyPem } from "./certificate.ts";
import type { ChildSaLifetimes } from "./child-sa.ts";
import { defaultPorts, defaultRetransmit, type AuthConfig, type IkeConfig } from "./config.ts";
import { parseIdentity } from "./identity.ts";
import { parseProposal, type ProposalSpec } from "./proposal.ts";
import { selectorFromPrefix } from "./traffic-selectors.ts";

/** What the core cannot do itself: read secrets and files, and the wall clock for certificate validity. */
export interface CredentialSources {
  /** Resolves a secret reference; the runtime passes `resolveSecret` of firmware/config/secrets.ts. */
  resolveSecret(ref: SecretRef): Result<SecretBytes, string>;
  /** Reads a public file (certificate, trust anchor) as text. */
  readText(path: string): Result<string, string>;
  readonly wallClockSeconds?: () => number;
}

/** A problem building the IKE configuration, at the configuration path that caused it (never a secret value). */
export interface IkeConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** A PSK file holding `0x…` is hex (as `monami ike probe --psk-file`), anything else is the key itself. */
function pskBytes(secret: SecretBytes): SecretBytes {
  const bytes = secret.expose();
  const text = String.fromCharCode(...bytes.subarray(0, 2));
  if (text !== "0x" || !/^0x[0-9a-fA-F]+$/.test(Buffer.from(bytes).toString("latin1"))) return secret;
  const decoded = SecretBytes.fromHex(Buffer.from(bytes).toString("latin1"));
  secret.wipe();
  return decoded;
}

/**
 * strongSwan's rekey margin as monami's lifetimes: hard expiry at the lifetime, rekey `margin`
 * before it, up to half the margin earlier again at random (so two peers rarely collide).
 */
export function lifetimesFrom(lifetimeSeconds: number, rekeyMarginSeconds: number): ChildSaLifetimes {
  return { rekeyAfterMs: (lifetimeSeconds - rekeyMarginSeconds) * 1000, expireAfterMs: lifetimeSeconds * 1000, rekeyJitterMs: Math.floor(rekeyMarginSeconds / 2) * 1000 };
}

function proposals(list: readonly string[], kind: "ike" | "esp", path: string, problems: IkeConfigProblem[]): ProposalSpec[] {
  const out: ProposalSpec[] = [];
  list.forEach((text, i) => {
    const parsed = parseProposal(text, kind);
    if (parsed.ok) out.push(parsed.value);
    else problems.push({ path: `${path}[${i}]`, message: `${parsed.error.token !== undefined ? `'${parsed.error.token}': ` : ""}${parsed.error.reason}` });
  });
  return out;
}

function auth(device: DeviceConfig, sources: CredentialSources, problems: IkeConfigProblem[]): AuthConfig | undefined {
  const a = device.ipsec.auth;
  if (a.method === "psk") {
    const secret = sources.resolveSecret(a.psk);
    if (!secret.ok) return void problems.push({ path: "ipsec.auth.psk", message: secret.error });
    return { kind: "psk", secret: pskBytes(secret.value) };
  }
  const key = sources.resolveSecret(a.privateKey);
  const cert = sources.readText(a.certificateFile);
  const anchors = sources.readText(a.trustAnchorFile);
  if (!key.ok) problems.push({ path: "ipsec.auth.privateKey", message: key.error });
  if (!cert.ok) problems.push({ path: "ipsec.auth.certificateFile", message: cert.error });
  if (!anchors.ok) problems.push({ path: "ipsec.auth.trustAnchorFile", message: anchors.error });
  if (!key.ok || !cert.ok || !anchors.ok) return undefined;
  const parsedKey = parsePrivateKeyPem(new TextDecoder().decode(key.value.expose()));
  key.value.wipe();
  const parsedCert = parseCertificatePem(cert.value);
  const parsedAnchors = parseCertificatePem(anchors.value);
  if (!parsedKey.ok) problems.push({ path: "ipsec.auth.privateKey", message: `not a usable private key: ${parsedKey.error}` });
  if (!parsedCert.ok) problems.push({ path: "ipsec.auth.certificateFile", message: parsedCert.error });
  if (!parsedAnchors.ok) problems.push({ path: "ipsec.auth.trustAnchorFile", message: parsedAnchors.error });
  if (!parsedKey.ok || !parsedCert.ok || !parsedAnchors.ok) return undefined;
  return { kind: "pubkey", credential: { certificate: parsedCert.value[0]!, key: parsedKey.value }, trust: parsedAnchors.value };
}

/**
 * The router's IKE configuration towards its home agent (RFC 4877): IDi is `ipsec.localId` or the
 * device id, the payload CHILD_SA is a tunnel from the home address and the mobile network
 * prefixes to anywhere, proposals are the configured strongSwan-syntax lists, lifetimes and the
 * liveness interval come from `ipsec.ike` / `ipsec.esp`. Every problem is reported with its path.
 */
export function routerIkeConfig(device: DeviceConfig, sources: CredentialSources): Result<IkeConfig, IkeConfigProblem[]> {
  const problems: IkeConfigProblem[] = [];
  const { ipsec, mobility } = device;
  const ikeProposals = proposals(ipsec.ike.proposals, "ike", "ipsec.ike.proposals", problems);
  const espProposals = proposals(ipsec.esp.proposals, "esp", "ipsec.esp.proposals", problems);
  const credentials = auth(device, sources, problems);
  const localTs: TrafficSelector[] = [];
  for (const prefix of [`${mobility.homeAddress}/128`, ...mobility.mobileNetworkPrefixes]) {
    const ts = selectorFromPrefix(prefix);
    if (ts) localTs.push(ts);
    else problems.push({ path: "mobility.mobileNetworkPrefixes", message: `'${prefix}' is not a prefix` });
  }
  if (problems.length > 0 || !credentials) return err(problems);
  return ok({
    name: "home-agent",
    localId: parseIdentity(ipsec.localId ?? device.device.id),
    ...(ipsec.remoteId !== undefined ? { remoteId: parseIdentity(ipsec.remoteId) } : {}),
    auth: credentials,
    ikeProposals,
    espProposals,
    childName: "payload",
    localTs,
    remoteTs: [selectorFromPrefix("::/0")!],
    mode: "tunnel",
    mobike: ipsec.multiCoaMode === "mobike" || mobility.keyManagementMobility,
    fragmentation: true,
    maxMessageSize: 1280,
    childLifetimes: lifetimesFrom(ipsec.esp.lifetimeSeconds, ipsec.esp.rekeyMarginSeconds),
    ikeLifetimes: lifetimesFrom(ipsec.ike.lifetimeSeconds, ipsec.ike.rekeyMarginSeconds),
    livenessIntervalMs: ipsec.ike.dpdIntervalSeconds * 1000,
    retransmit: defaultRetransmit,
    ports: defaultPorts,
    exportKeys: false,
    ...(sources.wallClockSeconds ? { wallClockSeconds: sources.wallClockSeconds } : {}),
  });
}
