// `primary` without BU/BA (`ike.signalling: false`, e.g. against strongSwan): the primary care-of address is the IKE SA's, switched by MOBIKE.
//
// With BU/BA the primary is named by the BUs (primary.ts). A plain IKEv2 gateway speaks no Mobile IPv6: no
// BU can name the primary, no BA confirms it, and the only address the peer checks is its IKE SA's. So the
// primary is the CoA the IKE SA is on, and it moves as `mobike` moves its address in use: every usable uplink
// counts as registered (mode.ts), the most preferred one is primary at once; a better one gets
// UPDATE_SA_ADDRESSES from its address (there is no K-bit BU to move the IKE SA) and carries the traffic once
// the answer, COOKIE2 echoed, proves the path (RFC 4555 §3.5); a lost primary hands the traffic to the next
// usable uplink at once, behind the update. One CoA carries all protected traffic throughout.

import type { RouterMode, RouterModeOptions } from "./mode.ts";
import { MobikeRouter } from "./mobike.ts";
import { PrimaryRouter } from "./primary.ts";

export class PrimaryByMobikeRouter extends MobikeRouter {
  override readonly name: string = "primary";

  override status(): Record<string, unknown> {
    const s = super.status();
    return { ...s, primary: s.inUse, pending: s.moving, switchedBy: "MOBIKE (no BU/BA)" };
  }
}

/** The router side of `primary`: named by BUs (the default) or, without BU/BA, by MOBIKE. */
export function createPrimaryRouter(o: RouterModeOptions): RouterMode {
  return o.signalling === false ? new PrimaryByMobikeRouter(o) : new PrimaryRouter(o);
}
