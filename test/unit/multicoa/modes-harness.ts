// In-process harness for the multi-CoA designs: the real BUL and binding cache, a design on each side, messages delivered at once.
import { Counters } from "../../../firmware/core/counters.ts";
import { VirtualClock } from "../../../firmware/core/instant.ts";
import type { BindingTableEntry } from "../../../firmware/dataplane/binding-table.ts";
import { BindingCache } from "../../../firmware/mobility/binding-cache.ts";
import { BindingUpdateList } from "../../../firmware/mobility/binding-update-list.ts";
import type { MobilityTransmit } from "../../../firmware/mobility/types.ts";
import type { MultiCoaMode } from "../../../firmware/config/schema.ts";
import type { MultiCoaConfig } from "../../../firmware/multicoa/mode-config.ts";
import { type HomeAgentMode, modeUplinks, type RouterDirective, type RouterMode } from "../../../firmware/multicoa/mode.ts";
import { createHomeAgentMode, createRouterMode } from "../../../firmware/multicoa/modes.ts";
import { HOME_ADDRESS, HOME_AGENT, homeAgentConfig, LTE, routerConfig, WIFI } from "../../scenario/mobility-harness.ts";

export { HOME_ADDRESS, LTE, WIFI };

export const DEFAULT_MULTICOA: MultiCoaConfig = {
  replayWindow: 4096,
  extendedSequenceNumbers: true,
  primaryDrainMs: 300,
  flowRules: [],
  bypass: [],
};

export interface ModesLab {
  readonly clock: VirtualClock;
  readonly router: RouterMode;
  readonly homeAgent: HomeAgentMode;
  readonly bul: BindingUpdateList;
  readonly cache: BindingCache;
  /** Every BU the router sent (after the design routed it). */
  readonly bus: MobilityTransmit[];
  /** The last directive the router's data plane got. */
  directive: RouterDirective | undefined;
  /** The home agent's binding table now. */
  table(): BindingTableEntry[];
  /** Delivers everything queued on both sides, `drop` returns true for a transmit to lose. */
  settle(drop?: (t: MobilityTransmit) => boolean): void;
  advance(ms: number): void;
  readonly log: string[];
}

export function modesLab(mode: MultiCoaMode, config: Partial<MultiCoaConfig> = {}, preferred: "lte" | "wifi" = "wifi"): ModesLab {
  const clock = new VirtualClock(0);
  const log: string[] = [];
  const multiCoa = { ...DEFAULT_MULTICOA, ...config };
  const bul = new BindingUpdateList(routerConfig({ keyManagementCapability: false }), new Counters());
  const cache = new BindingCache(homeAgentConfig({ keyManagementCapability: false }), new Counters());
  const uplinks = modeUplinks([
    { id: "lte", bindingId: 1, careOfAddress: LTE, kind: "cellular" },
    { id: "wifi", bindingId: 2, careOfAddress: WIFI, kind: "wifi" },
  ]);
  const router = createRouterMode(mode, { bul, uplinks, config: multiCoa, preferred: preferred === "lte" ? 0 : 1, log: (l) => log.push(`mr: ${l}`) });
  const homeAgent = createHomeAgentMode(mode, multiCoa, (l) => log.push(`ha: ${l}`));
  const bus: MobilityTransmit[] = [];
  const lab: ModesLab = {
    clock,
    router,
    homeAgent,
    bul,
    cache,
    bus,
    directive: undefined,
    log,
    table: () => homeAgent.table(cache, [HOME_ADDRESS], clock.now()),
    settle(drop = () => false) {
      for (let round = 0; round < 50; round++) {
        let moved = false;
        for (let t = bul.pollTransmit(clock.now()); t !== undefined; t = bul.pollTransmit(clock.now())) {
          const routed = router.routeSignalling(t);
          bus.push(routed);
          moved = true;
          if (drop(routed)) continue;
          const input = { message: routed.message, source: routed.source, destination: routed.destination, homeAddressOption: routed.homeAddressOption!, protectedByEsp: true };
          homeAgent.observeBindingUpdate(input, clock.now());
          cache.handleMessage(input, clock.now());
        }
        for (let t = cache.pollTransmit(clock.now()); t !== undefined; t = cache.pollTransmit(clock.now())) {
          homeAgent.observeTransmit(t, clock.now());
          moved = true;
          if (drop(t)) continue;
          router.observeReceived(t.message, clock.now());
          bul.handleMessage({ message: t.message, source: t.source, destination: t.routingType2Address ?? t.destination }, clock.now());
        }
        for (let e = bul.pollEvent(); e !== undefined; e = bul.pollEvent()) {
          router.handleBindingEvent(e, clock.now());
          moved = true;
        }
        while (cache.pollEvent() !== undefined) moved = true;
        const d = router.pollDirective();
        if (d) lab.directive = d;
        if (!moved) return;
      }
      throw new Error("livelock: messages still moving after 50 rounds");
    },
    advance(ms) {
      const until = clock.now() + ms;
      for (let guard = 0; ; guard++) {
        if (guard > 10_000) throw new Error("livelock: timers keep firing");
        const next = [bul.pollTimeout(), cache.pollTimeout(), homeAgent.pollTimeout()].filter((t): t is NonNullable<typeof t> => t !== undefined && t <= until).sort((a, b) => a - b)[0];
        if (next === undefined) break;
        clock.advance(Math.max(0, next - clock.now()));
        bul.handleTimeout(clock.now());
        cache.handleTimeout(clock.now());
        homeAgent.handleTimeout(clock.now());
        lab.settle();
      }
      clock.advance(until - clock.now());
      lab.settle();
    },
  };
  return lab;
}
