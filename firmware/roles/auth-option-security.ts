// What `security: "mn-ha"` (multiCoaMode "auth-option", RFC 4285) gives a daemon: the MN-HA association, and the payload ESP keyed from it when asked.

import { fromHex } from "../core/hex.ts";
import { err, ok, type Result } from "../core/result.ts";
import type { StaticPolicySpec, StaticSaSpec } from "../dataplane/static-security.ts";
import { deriveEspKeys, type MnHaAssociation } from "../multicoa/auth-option.ts";
import type { MultiCoaConfig } from "../multicoa/mode-config.ts";
import { resolveSecret, secretText } from "../config/secrets.ts";

/** RFC 4285 §5.1 leaves the key length to the association; monami asks for at least the HMAC-SHA1 output size. */
const MIN_KEY_OCTETS = 20;

/** The suite of the ESP SAs keyed from the MN-HA key (`deriveEspKeys` makes AES-GCM-128 KEYMAT). */
export const AUTH_OPTION_ESP_SUITE = "aes128gcm16" as const;

type AuthOptionConfig = NonNullable<MultiCoaConfig["authOption"]>;

/** Resolves the MN-HA key reference (hex, ≥ 20 octets) into the association. */
export function mnHaAssociation(c: AuthOptionConfig, env: Record<string, string | undefined> = process.env): Result<MnHaAssociation, string> {
  const secret = resolveSecret(c.mnHaKey, env);
  if (!secret.ok) return secret;
  const key = fromHex(secretText(secret.value).trim());
  secret.value.wipe();
  if (key === undefined || key.length < MIN_KEY_OCTETS) return err(`MN-HA key ${c.mnHaKey.ref}: must be at least ${MIN_KEY_OCTETS} octets of hex`);
  return ok({ mobilitySpi: c.mobilitySpi, key, algorithm: c.algorithm });
}

export interface AuthOptionSecurity {
  /** ESP tunnel SAs and outbound policies for the loop (empty without `encryptPayload`). */
  readonly tunnelSas: StaticSaSpec[];
  readonly policies: StaticPolicySpec[];
  /** KEYMAT towards the home agent and towards the router: the link-probe key is derived from them either way. */
  readonly probeKeymat: { readonly towardsHomeAgent: Uint8Array; readonly towardsRouter: Uint8Array };
}

/**
 * The payload security of one router ↔ home agent pair seen from `local`, like `roleSecurity`'s tunnel part:
 * with `encryptPayload`, tunnel-mode SAs keyed by `deriveEspKeys` (selectors: the home address and mobile
 * network prefixes); without it, none (the payload goes IPv6-in-IPv6, flow-steering.ts `clearPayload`).
 */
export function authOptionSecurity(
  local: "router" | "homeagent",
  association: MnHaAssociation,
  encryptPayload: boolean,
  network: { readonly homeAddress: string; readonly mobileNetworkPrefixes: readonly string[] },
  policyPrefix = "",
): AuthOptionSecurity {
  const keys = deriveEspKeys(association);
  const probeKeymat = { towardsHomeAgent: keys.toHomeAgent.keymat, towardsRouter: keys.toRouter.keymat };
  if (!encryptPayload) return { tunnelSas: [], policies: [], probeKeymat };
  const atRouter = local === "router";
  const prefixes = [network.homeAddress, ...network.mobileNetworkPrefixes];
  const outboundInner = prefixes.map((n) => (atRouter ? { source: n } : { destination: n }));
  const inboundInner = prefixes.map((n) => (atRouter ? { destination: n } : { source: n }));
  const outbound = atRouter ? keys.toHomeAgent : keys.toRouter;
  const inbound = atRouter ? keys.toRouter : keys.toHomeAgent;
  return {
    tunnelSas: [
      { spi: outbound.spi, direction: "outbound", mode: "tunnel", suite: AUTH_OPTION_ESP_SUITE, encryptionKey: Uint8Array.from(outbound.keymat), selectors: outboundInner },
      { spi: inbound.spi, direction: "inbound", mode: "tunnel", suite: AUTH_OPTION_ESP_SUITE, encryptionKey: Uint8Array.from(inbound.keymat), selectors: inboundInner },
    ],
    policies: outboundInner.map((selector, i) => ({ id: `${policyPrefix}payload-${i}`, direction: "outbound" as const, selector, action: "protect" as const, outboundSpi: outbound.spi })),
    probeKeymat,
  };
}
