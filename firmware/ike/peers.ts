// Per-peer responder policy: the home agent picks credentials, selectors and proposals by the initiator's IDi (RFC 4877 §4.1, RFC 7296 §2.15).

import { toHex } from "../core/hex.ts";
import type { IkeConfig } from "./config.ts";
import { formatIdentity, type Identity } from "./identity.ts";
import { negotiatedToWire, selectProposal, type Negotiated } from "./proposal.ts";

/**
 * Where a responder finds the configuration of an initiator once IKE_AUTH is decrypted. The
 * identity is only a claim at lookup time: AUTH is then checked with the returned configuration's
 * credentials, so an unknown identity and a bad AUTH get the same AUTHENTICATION_FAILED.
 */
export interface PeerDirectory {
  lookup(id: Identity): IkeConfig | undefined;
}

function key(id: Identity): string {
  return `${id.type}/${toHex(id.data)}`;
}

/**
 * A directory over peer configurations keyed by their `remoteId` (a mobile router's home address,
 * FQDN or NAI, RFC 4877 §4.1), compared octet for octet. A configuration without `remoteId`, or
 * two with the same one, is a configuration error and throws.
 */
export function peerDirectory(configs: readonly IkeConfig[]): PeerDirectory {
  const byId = new Map<string, IkeConfig>();
  for (const c of configs) {
    if (!c.remoteId) throw new RangeError(`peer configuration '${c.name}' has no remoteId`);
    const k = key(c.remoteId);
    if (byId.has(k)) throw new RangeError(`peer identity ${formatIdentity(c.remoteId)} is configured twice ('${byId.get(k)!.name}', '${c.name}')`);
    byId.set(k, c);
  }
  return { lookup: (id) => byId.get(key(id)) };
}

/** Whether a peer's configuration allows the IKE suite the listener already negotiated in IKE_SA_INIT. */
export function allowsIkeSuite(config: IkeConfig, negotiated: Negotiated): boolean {
  return selectProposal([negotiatedToWire(negotiated, "ike", new Uint8Array(0))], config.ikeProposals, "ike") !== undefined;
}
