// What the IKE core tells the runtime: SAs up, keys to install, endpoints moved, SAs gone.

import type { SecretBytes } from "../core/secret.ts";
import type { ChildSaInstall, EspSpi } from "./child-sa.ts";
import type { Endpoint } from "./endpoint.ts";
import type { Negotiated } from "./proposal.ts";

export interface IkeSaSummary {
  readonly name: string;
  readonly initiatorSpi: string;
  readonly responderSpi: string;
  /** We are the IKE SA's original initiator. */
  readonly initiator: boolean;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly negotiated: Negotiated;
  readonly localId: string;
  readonly remoteId: string;
  /** NAT detected in front of us / in front of the peer (RFC 7296 §2.23). */
  readonly natLocal: boolean;
  readonly natRemote: boolean;
  readonly mobike: boolean;
  readonly fragmentation: boolean;
}

/** IKE SA keys, only emitted when `exportKeys` is configured (debug key export). */
export interface IkeSaKeysForExport {
  readonly initiatorSpi: string;
  readonly responderSpi: string;
  readonly negotiated: Negotiated;
  readonly skEi: SecretBytes;
  readonly skEr: SecretBytes;
  readonly skAi: SecretBytes;
  readonly skAr: SecretBytes;
}

export type IkeEvent =
  | { readonly kind: "ike-sa-established"; readonly sa: IkeSaSummary }
  | { readonly kind: "ike-sa-rekeyed"; readonly oldName: string; readonly sa: IkeSaSummary }
  | { readonly kind: "ike-sa-keys"; readonly keys: IkeSaKeysForExport }
  | { readonly kind: "ike-sa-closed"; readonly name: string; readonly reason: string; readonly notify?: number }
  | { readonly kind: "child-sa-installed"; readonly child: ChildSaInstall }
  | { readonly kind: "child-sa-failed"; readonly ikeSaName: string; readonly childName: string; readonly reason: string; readonly notify?: number }
  | { readonly kind: "child-sa-deleted"; readonly ikeSaName: string; readonly inboundSpi: EspSpi; readonly outboundSpi: EspSpi }
  /** The IKE SA and all its CHILD_SAs now use these endpoints (NAT-T float, MOBIKE, RFC 4877 K bit). */
  | { readonly kind: "endpoints-updated"; readonly ikeSaName: string; readonly local: Endpoint; readonly remote: Endpoint; readonly udpEncapsulation: boolean }
  | { readonly kind: "peer-addresses"; readonly ikeSaName: string; readonly addresses: readonly string[] }
  | { readonly kind: "liveness"; readonly ikeSaName: string; readonly alive: boolean }
  /** MOBIKE initiator behind a NAT: the peer now sees us at another address or port (RFC 4555 §3.8); an update should follow. */
  | { readonly kind: "nat-mapping-changed"; readonly ikeSaName: string };
