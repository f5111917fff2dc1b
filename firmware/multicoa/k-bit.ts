// The home agent's side of the K bit (RFC 4877 §7.4, RFC 5648 §9.1): an accepted BU with K=1 from a new care-of address moves the router's IKE SA there.
//
// RFC 4877 §7.4: when the mobile node's care-of address changes it sends a BU with K=1 from the new
// address; the home agent that accepts it (its BA also carries K=1, RFC 6275 §6.1.8) updates the IKE
// SA's peer address to the BU's source, and the mobile node moves its end when it sends the BU or
// receives the BA. No IKE exchange is involved (the alternative to MOBIKE, never both).

import { canonicalIpv6OrThrow } from "../mobility/address-text.ts";
import type { HomeAgentInput } from "../mobility/binding-cache.ts";
import type { MobilityTransmit } from "../mobility/types.ts";

export interface KBitMove {
  /** RFC 5952 text. */
  readonly homeAddress: string;
  /** The accepted BU's outer source: the IKE SA's new peer address. */
  readonly careOfAddress: string;
}

/** Sans-IO: BUs in (`observeBindingUpdate`), BAs out (`observeTransmit`), the moves they mean out. */
export class KBitMoves {
  /** The last registration BU with K=1 of each home address: Sequence # and outer source. */
  readonly #candidates = new Map<string, { sequenceNumber: number; source: string }>();
  /** Where each home address's IKE SA was last moved to. */
  readonly #at = new Map<string, string>();
  moves = 0;

  observeBindingUpdate(input: HomeAgentInput): void {
    const m = input.message;
    if (m.type !== "binding-update" || input.homeAddressOption === undefined) return;
    const home = canonicalIpv6OrThrow(input.homeAddressOption);
    // A de-registration or a BU without K moves nothing (RFC 6275 §6.1.7: K=0 means "do not move the SA").
    if (m.lifetimeUnits === 0 || !m.flags.keyManagementCapability) {
      this.#candidates.delete(home);
      return;
    }
    this.#candidates.set(home, { sequenceNumber: m.sequenceNumber, source: canonicalIpv6OrThrow(input.source) });
  }

  /** A BA going out: when it accepts the candidate BU with K=1, the move to its source (once per new address). */
  observeTransmit(t: MobilityTransmit): KBitMove | undefined {
    const m = t.message;
    if (m.type !== "binding-acknowledgement" || t.routingType2Address === undefined) return undefined;
    const home = canonicalIpv6OrThrow(t.routingType2Address);
    const c = this.#candidates.get(home);
    if (c === undefined || c.sequenceNumber !== m.sequenceNumber) return undefined;
    this.#candidates.delete(home);
    if (m.status >= 128 || !m.flags.keyManagementCapability) return undefined;
    if (this.#at.get(home) === c.source) return undefined;
    this.#at.set(home, c.source);
    this.moves++;
    return { homeAddress: home, careOfAddress: c.source };
  }
}
