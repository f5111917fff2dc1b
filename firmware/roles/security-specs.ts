// Static SAs and policies of each role (RFC 4877 §4.1, §4.3; RFC 3963 §5.5): tunnel SAs for the mobile network, transport SAs for BU/BA.

import { err, ok, type Result } from "../core/result.ts";
import type { StaticPolicySpec, StaticSaSpec } from "../dataplane/static-security.ts";
import { IpProtocol } from "../wire/protocol-numbers.ts";
import { type IpsecConfig, keyLengths, resolveHexKey, type SaPairConfig } from "./role-config.ts";

export interface RoleSecurity {
  /** Tunnel-mode SAs and outbound policies: handed to the packet loop. */
  readonly tunnelSas: StaticSaSpec[];
  readonly policies: StaticPolicySpec[];
  /** Transport-mode SAs for Mobility signalling: kept by the control plane. */
  readonly signallingSas: StaticSaSpec[];
}

type Keyed = Pick<StaticSaSpec, "spi" | "suite" | "encryptionKey" | "integrityKey">;

function keys(pair: SaPairConfig, which: "outbound" | "inbound"): Result<Keyed, string> {
  const lengths = keyLengths(pair.suite);
  const c = pair[which];
  const encryption = resolveHexKey(c.key, lengths.encryption);
  if (!encryption.ok) return encryption;
  if (lengths.integrity === 0) return ok({ spi: c.spi, suite: pair.suite, encryptionKey: encryption.value });
  if (c.integrityKey === undefined) return err(`SA ${c.spi}: suite ${pair.suite} needs an integrityKey`);
  const integrity = resolveHexKey(c.integrityKey, lengths.integrity);
  if (!integrity.ok) return integrity;
  return ok({ spi: c.spi, suite: pair.suite, encryptionKey: encryption.value, integrityKey: integrity.value });
}

/**
 * The SAs between one mobile router and its home agent, from either side. `local` is the side this
 * daemon is on; `mobileNetwork` is the home address and the mobile network prefixes.
 */
export function roleSecurity(
  local: "router" | "homeagent",
  ipsec: IpsecConfig,
  addresses: { readonly homeAddress: string; readonly homeAgent: string; readonly mobileNetworkPrefixes: readonly string[] },
  policyPrefix = "",
): Result<RoleSecurity, string> {
  const tunnelOut = keys(ipsec.tunnel, "outbound");
  const tunnelIn = keys(ipsec.tunnel, "inbound");
  const signallingOut = keys(ipsec.signalling, "outbound");
  const signallingIn = keys(ipsec.signalling, "inbound");
  for (const r of [tunnelOut, tunnelIn, signallingOut, signallingIn]) if (!r.ok) return r;
  if (!tunnelOut.ok || !tunnelIn.ok || !signallingOut.ok || !signallingIn.ok) return err("unreachable");
  const network = [addresses.homeAddress, ...addresses.mobileNetworkPrefixes];
  const atRouter = local === "router";
  // Tunnel selectors name the inner addresses as packets carry them in the SA's direction.
  const outboundInner = network.map((n) => (atRouter ? { source: n } : { destination: n }));
  const inboundInner = network.map((n) => (atRouter ? { destination: n } : { source: n }));
  const mh = IpProtocol.mobility;
  const mine = atRouter ? addresses.homeAddress : addresses.homeAgent;
  const theirs = atRouter ? addresses.homeAgent : addresses.homeAddress;
  return ok({
    tunnelSas: [
      { ...tunnelOut.value, direction: "outbound", mode: "tunnel", selectors: outboundInner },
      { ...tunnelIn.value, direction: "inbound", mode: "tunnel", selectors: inboundInner },
    ],
    policies: outboundInner.map((selector, i) => ({ id: `${policyPrefix}payload-${i}`, direction: "outbound" as const, selector, action: "protect" as const, outboundSpi: tunnelOut.value.spi })),
    signallingSas: [
      { ...signallingOut.value, direction: "outbound", mode: "transport", selectors: [{ source: mine, destination: theirs, protocol: mh }] },
      // RFC 4877 §4.3: replay protection is optional for BU/BA (the BU sequence number covers it); kept on.
      { ...signallingIn.value, direction: "inbound", mode: "transport", selectors: [{ source: theirs, destination: mine, protocol: mh }] },
    ],
  });
}
