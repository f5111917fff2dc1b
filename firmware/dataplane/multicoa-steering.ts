// Applies a multi-CoA design's directive inside the packet loop: flow steering and care-of addresses (router), bypass and return paths (home agent).

import { FlowSteering } from "../multicoa/flow-steering.ts";
import { ReturnPaths } from "../multicoa/return-paths.ts";
import { parseIpv6 } from "../wire/address.ts";
import type { ForwardingPath } from "./forwarding.ts";
import { HomeAgentForwarding } from "./homeagent-forwarding.ts";
import type { ToLoop } from "./loop-protocol.ts";
import type { LoopUplink } from "./packet-loop.ts";
import { RouterForwarding } from "./router-forwarding.ts";

/**
 * Router: the steering replaces `activeUplink` for sealed traffic (its default uplink becomes the active
 * one, for probes and the like), and a changed care-of address becomes the uplink's outer source at once.
 * Home agent: bypass selectors and clear payload (both directions), return-path learning on or off (off forgets what was learned).
 */
export function applySteering(path: ForwardingPath | undefined, uplinks: readonly LoopUplink[], message: Extract<ToLoop, { type: "steering" }>): void {
  if (path instanceof RouterForwarding) {
    path.steering = new FlowSteering(message.steering, "router");
    path.activeUplink = message.steering.defaultUplink;
    message.careOfAddresses?.forEach((text, i) => {
      const address = parseIpv6(text);
      const uplink = uplinks[i];
      if (address === undefined || uplink === undefined || path.uplinks[i] === undefined) return;
      path.uplinks[i]!.careOfAddress = address;
      uplink.source = address;
    });
  } else if (path instanceof HomeAgentForwarding) {
    path.steering = new FlowSteering(message.steering, "homeagent");
    if (message.learnReturnPaths) path.returnPaths ??= new ReturnPaths();
    else path.returnPaths = undefined;
  }
}
