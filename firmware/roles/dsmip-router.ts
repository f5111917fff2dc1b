// The router's RFC 5555 edge: BU/BA of IPv4-only uplinks through the packet loop's UDP socket on each, and the NAT-rebinding watch that refreshes them.

import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import type { BindingUpdateList } from "../mobility/binding-update-list.ts";
import { bindingId } from "../mobility/types.ts";
import { DSMIPV6_UDP_PORT } from "../wire/dsmip-udp.ts";
import { NatRebindingWatch } from "./nat-rebinding-watch.ts";

export interface DsmipUplink {
  readonly index: number;
  readonly id: string;
  readonly bindingId: number;
  /** The uplink's IPv4 care-of address (the socket is bound there). */
  readonly careOfAddress: string;
}

/** How often the uplink counters are sampled for the rebinding watch. */
const WATCH_INTERVAL_MS = 50;

/** Sends a whole IPv6 packet in UDP from uplink `index`'s RFC 5555 socket (the packet loop's, `DataplaneHandle.sendSignallingUdp`). */
export type DsmipSend = (index: number, destination: string, port: number, packet: Uint8Array) => void;

/**
 * A router's IPv4 uplinks (RFC 5555 §4.1: the BU leaves from the IPv4 CoA, the BA comes back to it) and a
 * sampling timer over the data plane's per-uplink counters. The sockets are the packet loop's — one per
 * uplink for BU/BA and payload alike, so both use one NAT mapping (firmware/dataplane/dsmip-path.ts); BAs
 * come back through `DataplaneHandle.onSignalling`.
 */
export class RouterDsmip {
  readonly #uplinks: readonly DsmipUplink[];
  readonly #homeAgentIpv4: string;
  readonly #counters: Counters;
  readonly #send: DsmipSend;
  readonly #watch = new NatRebindingWatch();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(uplinks: readonly DsmipUplink[], homeAgentIpv4: string, send: DsmipSend, counters: Counters, log: (line: string) => void) {
    this.#uplinks = uplinks;
    this.#homeAgentIpv4 = homeAgentIpv4;
    this.#send = send;
    this.#counters = counters;
    for (const u of uplinks) log(`RFC 5555: ${u.id} registers its IPv4 care-of address ${u.careOfAddress} over UDP → ${homeAgentIpv4}:${DSMIPV6_UDP_PORT}`);
  }

  /** Sends a sealed BU (a whole IPv6 packet) from uplink `index` to the home agent's 4191 (or `destination`). */
  send(index: number, packet: Uint8Array, destination?: string): boolean {
    if (!this.#uplinks.some((u) => u.index === index)) {
      this.#counters.increment("dsmip.drop.no-socket");
      return false;
    }
    this.#send(index, destination ?? this.#homeAgentIpv4, DSMIPV6_UDP_PORT, packet);
    this.#counters.increment("dsmip.tx");
    return true;
  }

  /**
   * Samples the per-uplink counters every WATCH_INTERVAL_MS: an IPv4 uplink that sends but hears nothing
   * authenticated back (suspected NAT rebinding) gets its binding refreshed on the BUL at once; `changed` gets those uplinks.
   */
  watch(counters: (index: number) => { rx: number; tx: number }, watched: (index: number) => boolean, bul: BindingUpdateList, now: () => Instant, changed: (suspected: readonly number[]) => void, log: (line: string) => void): void {
    this.#timer = setInterval(() => {
      const t = now();
      const suspected: number[] = [];
      for (const u of this.#uplinks) {
        const c = counters(u.index);
        if (!this.#watch.sample(u.index, c.rx, c.tx, watched(u.index), t)) continue;
        log(`RFC 5555: ${u.id} sends but hears nothing from the home agent: suspected NAT rebinding, refreshing its binding`);
        this.#counters.increment("router.nat.rebinding-suspected");
        bul.refreshNatBinding(t, bindingId(u.bindingId));
        suspected.push(u.index);
      }
      if (suspected.length > 0) changed(suspected);
    }, WATCH_INTERVAL_MS);
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }
}
