// Test harness: a mobile router core and a home agent core joined by a seeded lossy, reordering channel.
import { Counters } from "../../firmware/core/counters.ts";
import { instant, type Instant, VirtualClock } from "../../firmware/core/instant.ts";
import { parsePrefix } from "../../firmware/wire/address.ts";
import { decodeMobilityMessage, encodeMobilityMessage } from "../../firmware/wire/mobility-header.ts";
import { BindingCache, type HomeAgentConfig } from "../../firmware/mobility/binding-cache.ts";
import { BindingUpdateList, type MobileRouterConfig, type MobileRouterEvent } from "../../firmware/mobility/binding-update-list.ts";
import { transmitPseudoHeader, type MobilityTransmit } from "../../firmware/mobility/types.ts";

export const HOME_ADDRESS = "2001:db8:a::1";
export const HOME_AGENT = "2001:db8:a::fe";
export const MNP = parsePrefix("2001:db8:ab::/48")!;
export const LTE = "2001:db8:1::a";
export const WIFI = "2001:db8:2::a";

export function routerConfig(over: Partial<MobileRouterConfig> = {}): MobileRouterConfig {
  return {
    homeAddress: HOME_ADDRESS,
    homeAgentAddress: HOME_AGENT,
    mobileNetworkPrefixes: [MNP],
    prefixMode: "explicit",
    keyManagementCapability: true,
    espProtected: true,
    initialSequenceNumber: 100,
    ...over,
  };
}

export function homeAgentConfig(over: Partial<HomeAgentConfig> = {}): HomeAgentConfig {
  return {
    homeAgentAddress: HOME_AGENT,
    mobileNodes: [{ homeAddress: HOME_ADDRESS, prefixes: [MNP] }],
    keyManagementCapability: true,
    ...over,
  };
}

/** Mulberry32: a small seeded PRNG so every lossy run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface InFlight {
  readonly at: Instant;
  readonly order: number;
  readonly to: "ha" | "mr";
  readonly transmit: MobilityTransmit;
  readonly bytes: Uint8Array;
}

export interface ChannelOptions {
  readonly lossRate?: number;
  readonly minDelayMs?: number;
  /** Extra random delay; packets overtake each other when it exceeds their spacing. */
  readonly jitterMs?: number;
  readonly seed?: number;
  readonly espProtected?: boolean;
}

/**
 * Both cores in one process. Every message really goes through the codec (emit with the RFC 6275
 * pseudo-header, parse, checksum verification), so the channel carries bytes, not objects.
 */
export class MobilityLab {
  readonly clock = new VirtualClock(0);
  readonly mrCounters = new Counters();
  readonly haCounters = new Counters();
  readonly router: BindingUpdateList;
  readonly homeAgent: BindingCache;
  readonly routerEvents: MobileRouterEvent[] = [];
  readonly sent: { to: "ha" | "mr"; at: Instant; transmit: MobilityTransmit; lost: boolean }[] = [];
  readonly #inFlight: InFlight[] = [];
  readonly #random: () => number;
  #options: ChannelOptions;
  #order = 0;
  /** Set to drop everything travelling one way (e.g. a dead home agent). */
  blackhole: { toHa: boolean; toMr: boolean } = { toHa: false, toMr: false };

  constructor(mr: Partial<MobileRouterConfig> = {}, ha: Partial<HomeAgentConfig> = {}, options: ChannelOptions = {}) {
    this.router = new BindingUpdateList(routerConfig(mr), this.mrCounters);
    this.homeAgent = new BindingCache(homeAgentConfig(ha), this.haCounters);
    this.#random = prng(options.seed ?? 1);
    this.#options = options;
  }

  get now(): Instant {
    return this.clock.now();
  }

  /** Moves transmits out of both cores into the channel. */
  flush(): void {
    for (let t = this.router.pollTransmit(this.now); t; t = this.router.pollTransmit(this.now)) this.#enqueue("ha", t);
    for (let t = this.homeAgent.pollTransmit(this.now); t; t = this.homeAgent.pollTransmit(this.now)) this.#enqueue("mr", t);
    for (let e = this.router.pollEvent(); e; e = this.router.pollEvent()) this.routerEvents.push(e);
  }

  #enqueue(to: "ha" | "mr", transmit: MobilityTransmit): void {
    const bytes = encodeMobilityMessage(transmit.message, transmitPseudoHeader(transmit));
    const dead = to === "ha" ? this.blackhole.toHa : this.blackhole.toMr;
    const lost = dead || this.#random() < (this.#options.lossRate ?? 0);
    this.sent.push({ to, at: this.now, transmit, lost });
    if (lost) return;
    const delay = (this.#options.minDelayMs ?? 20) + Math.floor(this.#random() * (this.#options.jitterMs ?? 0));
    this.#inFlight.push({ at: instant(this.now + delay), order: this.#order++, to, transmit, bytes });
  }

  #deliverDue(): void {
    this.#inFlight.sort((a, b) => a.at - b.at || a.order - b.order);
    while (this.#inFlight.length > 0 && this.#inFlight[0]!.at <= this.now) {
      const p = this.#inFlight.shift()!;
      const decoded = decodeMobilityMessage(p.bytes, transmitPseudoHeader(p.transmit));
      if (!decoded.ok) throw new Error(`codec rejected our own message: ${JSON.stringify(decoded.error)}`);
      const t = p.transmit;
      if (p.to === "ha") {
        this.homeAgent.handleMessage(
          {
            message: decoded.value,
            source: t.source,
            destination: t.destination,
            ...(t.homeAddressOption ? { homeAddressOption: t.homeAddressOption } : {}),
            protectedByEsp: this.#options.espProtected ?? true,
          },
          this.now,
        );
      } else {
        this.router.handleMessage({ message: decoded.value, source: t.source, destination: t.routingType2Address ?? t.destination }, this.now);
      }
      this.flush();
    }
  }

  /**
   * Runs until virtual time `until` (ms), jumping to the next deadline each step (quinn's
   * drive_bounded): fails if it needs more than `maxSteps` steps, i.e. on a livelock.
   */
  runUntil(until: number, maxSteps = 100_000): void {
    this.flush();
    for (let step = 0; ; step++) {
      if (step >= maxSteps) throw new Error(`livelock: ${maxSteps} steps before t=${until}`);
      const next = [this.router.pollTimeout(), this.homeAgent.pollTimeout(), this.#inFlight.reduce<number | undefined>((m, p) => (m === undefined || p.at < m ? p.at : m), undefined)]
        .filter((x): x is number => x !== undefined)
        .reduce<number | undefined>((m, x) => (m === undefined || x < m ? x : m), undefined);
      if (next === undefined || next > until) {
        this.clock.set(instant(Math.max(this.now, until)));
        this.flush();
        return;
      }
      if (next > this.now) this.clock.set(instant(next));
      this.#deliverDue();
      this.router.handleTimeout(this.now);
      this.homeAgent.handleTimeout(this.now);
      this.flush();
    }
  }

  /** Runs until nothing is in flight and the router has no BU to send or awaiting its BA; fails after `limitMs`. */
  settle(limitMs = 600_000): void {
    const end = this.now + limitMs;
    while (this.now < end) {
      this.runUntil(this.now + 100);
      if (this.#inFlight.length === 0 && !this.router.updatePending) return;
    }
    throw new Error("did not settle");
  }

  /** Changes loss/delay from now on (the PRNG stream continues). */
  setChannel(options: Partial<ChannelOptions>): void {
    this.#options = { ...this.#options, ...options };
  }

  inFlightCount(): number {
    return this.#inFlight.length;
  }

  bus(): MobilityTransmit[] {
    return this.sent.filter((s) => s.to === "ha" && s.transmit.message.type === "binding-update").map((s) => s.transmit);
  }
}
