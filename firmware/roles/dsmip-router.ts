// The router's RFC 5555 edge: a UDP socket per IPv4-only uplink for BU/BA, and the NAT-rebinding watch that refreshes them.

import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import type { BindingUpdateList } from "../mobility/binding-update-list.ts";
import { bindingId } from "../mobility/types.ts";
import { DsmipSocket } from "./dsmip-socket.ts";
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

/**
 * Owns the 4191 sockets of a router's IPv4 uplinks (RFC 5555 §4.1: the BU leaves from the IPv4 CoA, the BA
 * comes back to it) and a sampling timer over the data plane's per-uplink counters.
 */
export class RouterDsmip {
  readonly #sockets = new Map<number, DsmipSocket>();
  readonly #uplinks: readonly DsmipUplink[];
  readonly #homeAgentIpv4: string;
  readonly #counters: Counters;
  readonly #watch = new NatRebindingWatch();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** A BA (or anything) arrived on uplink `index`'s socket: a whole IPv6 packet. */
  onPacket: (index: number, packet: Uint8Array) => void = () => {};

  private constructor(uplinks: readonly DsmipUplink[], homeAgentIpv4: string, counters: Counters) {
    this.#uplinks = uplinks;
    this.#homeAgentIpv4 = homeAgentIpv4;
    this.#counters = counters;
  }

  /** Opens one socket per uplink (a failing one is logged and left out: its BUs are then counted as unsent). */
  static async open(uplinks: readonly DsmipUplink[], homeAgentIpv4: string, counters: Counters, log: (line: string) => void): Promise<RouterDsmip> {
    const edge = new RouterDsmip(uplinks, homeAgentIpv4, counters);
    for (const u of uplinks) {
      try {
        const socket = await DsmipSocket.open(u.careOfAddress, 0, counters);
        socket.onPacket = (packet) => edge.onPacket(u.index, packet);
        edge.#sockets.set(u.index, socket);
        log(`RFC 5555: ${u.id} registers its IPv4 care-of address ${u.careOfAddress} over UDP ${u.careOfAddress}:${socket.localPort} → ${homeAgentIpv4}:4191`);
      } catch (e) {
        log(`RFC 5555: ${u.id}: cannot bind ${u.careOfAddress}: ${(e as Error).message}`);
      }
    }
    return edge;
  }

  /** Sends a sealed BU (a whole IPv6 packet) from uplink `index` to the home agent's 4191 (or `destination`). */
  send(index: number, packet: Uint8Array, destination?: string): boolean {
    const socket = this.#sockets.get(index);
    if (socket === undefined) {
      this.#counters.increment("dsmip.drop.no-socket");
      return false;
    }
    socket.send(packet, destination ?? this.#homeAgentIpv4);
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
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
  }
}
