// One IKE SA: its SPIs, negotiated suite, keys, endpoints, NAT and MOBIKE state, and its CHILD_SAs (RFC 7296 §2).

import type { SecretBytes } from "../core/secret.ts";
import { toHex } from "../core/hex.ts";
import { spiBytes, type IkeSpi } from "../wire/ikev2/header.ts";
import type { ChildSa, EspSpi } from "./child-sa.ts";
import type { IkeConfig } from "./config.ts";
import type { SkDirection } from "./encrypted-payload.ts";
import type { Endpoint } from "./endpoint.ts";
import type { IkeSaSummary } from "./events.ts";
import { formatIdentity, type Identity } from "./identity.ts";
import type { IkeSaKeys } from "./keys.ts";
import type { Negotiated } from "./proposal.ts";

export type IkeSaState = "connecting" | "authenticating" | "established" | "rekeyed" | "deleting" | "closed";

export class IkeSa {
  /**
   * The configuration in force. A responder with a peer directory replaces the listener's
   * configuration once, in IKE_AUTH, by the one for the initiator's identity (see peers.ts).
   */
  config: IkeConfig;
  /** Whether we are this IKE SA's original initiator (the I flag, §3.1; after an IKE rekey: who rekeyed, §2.18). */
  readonly isInitiator: boolean;
  readonly name: string;
  initiatorSpi: IkeSpi;
  responderSpi: IkeSpi;
  state: IkeSaState = "connecting";
  negotiated?: Negotiated;
  keys?: IkeSaKeys;
  nonceI: Uint8Array = new Uint8Array(0);
  nonceR: Uint8Array = new Uint8Array(0);
  /** The IKE_SA_INIT messages as sent and received (AUTH signs them, §2.15). */
  initRequest: Uint8Array = new Uint8Array(0);
  initResponse: Uint8Array = new Uint8Array(0);
  local: Endpoint;
  remote: Endpoint;
  natLocal = false;
  natRemote = false;
  /** The peer sent MOBIKE_SUPPORTED and we enabled MOBIKE. */
  mobike = false;
  /**
   * We hold MOBIKE's initiator role (RFC 4555 §3.1: the original initiator, the mobile side, makes the
   * address decisions). It stays with the SA's lineage: a rekey started by the peer makes the peer the
   * new SA's initiator (RFC 7296 §2.18) but does not move the mobile side. Undefined: `isInitiator`.
   */
  mobikeInitiator: boolean | undefined;
  /** Both sides announced IKEV2_FRAGMENTATION_SUPPORTED. */
  fragmentation = false;
  /** The peer announced RFC 7427 signature hash algorithms. */
  peerSignatureHashes: readonly number[] = [];
  peerId?: Identity;
  peerAdditionalAddresses: string[] = [];
  /**
   * MOBIKE behind a NAT (RFC 4555 §3.8): the peer's NAT_DETECTION_DESTINATION_IP in its last answer to our update or
   * NAT check — the hash of the address and port it saw us at. A different one later means the mapping changed.
   */
  natMappingSeen: Uint8Array | undefined;
  readonly children: ChildSa[] = [];
  /** We have an IKE SA rekey of this SA in flight (RFC 7296 §2.8.2 collision detection). */
  rekeying = false;
  /** The successor the peer created by rekeying this SA while we were rekeying it too. */
  rekeyCollision?: IkeSa;

  constructor(config: IkeConfig, isInitiator: boolean, name: string, local: Endpoint, remote: Endpoint, initiatorSpi: IkeSpi, responderSpi: IkeSpi) {
    this.config = config;
    this.isInitiator = isInitiator;
    this.name = name;
    this.local = local;
    this.remote = remote;
    this.initiatorSpi = initiatorSpi;
    this.responderSpi = responderSpi;
  }

  /** Our own SPI: how datagrams find this SA. */
  get localSpi(): IkeSpi {
    return this.isInitiator ? this.initiatorSpi : this.responderSpi;
  }

  get udpEncapsulation(): boolean {
    return this.local.port === this.config.ports.natT;
  }

  /**
   * Whether ESP travels in UDP (RFC 3948): only when a NAT was detected on the path (RFC 7296 §2.23);
   * an IKE SA that floated to port 4500 for MOBIKE alone (RFC 4555 §3.3) keeps ESP raw.
   */
  get espInUdp(): boolean {
    return this.udpEncapsulation && (this.natLocal || this.natRemote);
  }

  /** Move IKE to the NAT-T port pair (RFC 7296 §2.23: after NAT detection, or for MOBIKE, RFC 4555 §3.3). */
  floatToNatT(): boolean {
    if (this.udpEncapsulation) return false;
    this.local = { address: this.local.address, port: this.config.ports.natT };
    this.remote = { address: this.remote.address, port: this.config.ports.natT };
    return true;
  }

  #direction(encryptionKey: SecretBytes, integrityKey: SecretBytes): SkDirection {
    const n = this.negotiated!;
    return n.integrity
      ? { encryption: n.encryption, integrity: n.integrity, encryptionKey, integrityKey }
      : { encryption: n.encryption, encryptionKey, integrityKey };
  }

  /** Keys for what we send: SK_ei/SK_ai as original initiator, SK_er/SK_ar otherwise (§2.14). */
  get sendDirection(): SkDirection {
    const k = this.keys!;
    return this.isInitiator ? this.#direction(k.skEi, k.skAi) : this.#direction(k.skEr, k.skAr);
  }

  get receiveDirection(): SkDirection {
    const k = this.keys!;
    return this.isInitiator ? this.#direction(k.skEr, k.skAr) : this.#direction(k.skEi, k.skAi);
  }

  childByInbound(spi: EspSpi): ChildSa | undefined {
    return this.children.find((c) => c.inboundSpi === spi);
  }
  childByOutbound(spi: EspSpi): ChildSa | undefined {
    return this.children.find((c) => c.outboundSpi === spi);
  }
  removeChild(child: ChildSa): void {
    const i = this.children.indexOf(child);
    if (i >= 0) this.children.splice(i, 1);
    for (const k of [child.keys.initiatorToResponder, child.keys.responderToInitiator]) {
      k.encryption.wipe();
      k.integrity.wipe();
    }
  }

  summary(): IkeSaSummary {
    return {
      name: this.name,
      initiatorSpi: toHex(spiBytes(this.initiatorSpi)),
      responderSpi: toHex(spiBytes(this.responderSpi)),
      initiator: this.isInitiator,
      local: this.local,
      remote: this.remote,
      negotiated: this.negotiated!,
      localId: formatIdentity(this.config.localId),
      remoteId: this.peerId ? formatIdentity(this.peerId) : "",
      natLocal: this.natLocal,
      natRemote: this.natRemote,
      mobike: this.mobike,
      fragmentation: this.fragmentation,
    };
  }

  /** Wipes every key this SA holds (IKE keys; CHILD_SA keys are wiped as children go). */
  wipe(): void {
    if (this.keys) for (const k of Object.values(this.keys)) (k as SecretBytes).wipe();
    for (const c of [...this.children]) this.removeChild(c);
  }
}
