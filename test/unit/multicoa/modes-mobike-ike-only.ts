// A router-side design without BU/BA (`ike.signalling: false`, a plain IKEv2 peer such as strongSwan): the real BUL, which must stay silent, and the IKE moves the design asks for.
import { Counters } from "../../../firmware/core/counters.ts";
import { VirtualClock } from "../../../firmware/core/instant.ts";
import { BindingUpdateList } from "../../../firmware/mobility/binding-update-list.ts";
import type { MultiCoaMode } from "../../../firmware/config/schema.ts";
import { type IkeMove, modeUplinks, type RouterMode } from "../../../firmware/multicoa/mode.ts";
import { createRouterMode } from "../../../firmware/multicoa/modes.ts";
import { routerConfig } from "../../scenario/mobility-harness.ts";
import { DEFAULT_MULTICOA } from "./modes-harness.ts";

export interface IkeOnlyRouter {
  readonly clock: VirtualClock;
  readonly router: RouterMode;
  readonly bul: BindingUpdateList;
  readonly log: string[];
  /** The uplink carrying the traffic after the last directive (−1: none). */
  carrying(): number;
  /** The IKE moves asked for since the last call. */
  moves(): IkeMove[];
  /** What the BUL wanted to send so far (nothing, without signalling). */
  readonly busSent: number;
}

export function ikeOnlyRouter(mode: MultiCoaMode, preferred: "lte" | "wifi"): IkeOnlyRouter {
  const clock = new VirtualClock(0);
  const log: string[] = [];
  const bul = new BindingUpdateList(routerConfig({ keyManagementCapability: false }), new Counters());
  const uplinks = modeUplinks([
    { id: "lte", bindingId: 1, careOfAddress: "2001:db8:1::a", kind: "cellular" },
    { id: "wifi", bindingId: 2, careOfAddress: "2001:db8:2::a", kind: "wifi" },
  ]);
  const router = createRouterMode(mode, { bul, uplinks, config: DEFAULT_MULTICOA, preferred: preferred === "lte" ? 0 : 1, log: (l) => log.push(l), signalling: false });
  let defaultUplink = -1;
  let sent = 0;
  const poll = () => {
    for (let t = bul.pollTransmit(clock.now()); t !== undefined; t = bul.pollTransmit(clock.now())) sent++;
    const d = router.pollDirective();
    if (d) defaultUplink = d.steering.defaultUplink;
  };
  return {
    clock,
    router,
    bul,
    log,
    carrying() {
      poll();
      return defaultUplink;
    },
    moves() {
      poll();
      const out: IkeMove[] = [];
      for (let m = router.pollIkeMove(); m !== undefined; m = router.pollIkeMove()) out.push(m);
      return out;
    },
    get busSent() {
      poll();
      return sent;
    },
  };
}
