// The multi-CoA scenarios (issue 7 (a)–(g)) as scripts over the lab: deterministic link profiles and timed link events.
//
// Times are from the start of the measured traffic. Wi-Fi is the preferred uplink (the vehicle uses
// depot/hotspot Wi-Fi when it has it), LTE the fallback; profiles are lossless so every lost packet
// is the design's. The demo and the tests use the same scripts (board/lab/modes-lab.ts runs them).
// (f) is two scenarios on an IPv4-only LTE behind the lab NAT (RFC 5555), kept apart in NAT_SCENARIOS.

import type { Lab } from "./lab.ts";
import { natRebindAddress, natRebindPort } from "./nat-rebinding.ts";
import { type LinkProfile, type PathProfile, symmetric } from "./profiles.ts";
import type { AccessLinkName } from "./topology.ts";

export type ScenarioName = "make-before-break" | "break" | "blackhole" | "flapping" | "address-change" | "nat-rebind-port" | "nat-rebind-address" | "degraded";

export interface ScenarioStep {
  readonly atMs: number;
  readonly what: string;
  run(lab: Lab): Promise<void>;
}

export interface Scenario {
  readonly name: ScenarioName;
  /** The letter. */
  readonly letter: string;
  readonly title: string;
  /** Uplinks with carrier when the daemons start. */
  readonly initiallyUp: readonly AccessLinkName[];
  /** How long the measured streams run. */
  readonly durationMs: number;
  readonly steps: readonly ScenarioStep[];
  /** Undefined: runs here. Otherwise why it cannot run yet. */
  readonly unavailable?: string;
  /**
   * RFC 5555: LTE is IPv4-only behind `net`'s NAT44 (`makeLteIpv4Only`; its care-of address 100.64.0.2), Wi-Fi
   * IPv6. The daemons need IKEv2 keying for it (or `auth-option`'s MN-HA key): no static keys over an IPv4 CoA.
   */
  readonly lteIpv4Only?: boolean;
  /** The uplink the router's link engine prefers, so traffic runs on it at the first event (Wi-Fi unless said). */
  readonly preferred?: AccessLinkName;
  /**
   * The router's log line that is its reaction to an event no link state change reports (a NAT rebinding: its
   * rebinding watch, or a MOBIKE NAT check that finds the mapping changed): `detectionMs` is its arrival, or a
   * link-engine verdict's if that comes first.
   */
  readonly reactionLog?: RegExp;
  /** What must hold at the end. */
  readonly expect: {
    /** The uplink carrying the default flow at the end. */
    readonly finalUplink: AccessLinkName;
    /** Care-of addresses registered at the home agent at the end (uplink names). */
    readonly registered: readonly AccessLinkName[];
    /** No packet may be lost (make-before-break). */
    readonly lossless: boolean;
    /**
     * The router's link-engine rules that may report the first event (its detection): carrier loss is
     * `hard-down` (netlink) unless the probes' silence (`probe-window`) came first; none when no link changes.
     */
    readonly detectedBy: readonly string[];
  };
}

/** LTE: 40 ms each way, no jitter or loss (the reordering against Wi-Fi is the delay difference alone). */
export const LTE_LAB_PATH: PathProfile = { delayMs: 40, jitterMs: 0, lossProbability: 0, rateBitsPerSecond: 20_000_000, burstBytes: 16 * 1024, queueBytes: 256 * 1024, reorderProbability: 0 };
/** Wi-Fi: 5 ms each way. */
export const WIFI_LAB_PATH: PathProfile = { delayMs: 5, jitterMs: 0, lossProbability: 0, rateBitsPerSecond: 100_000_000, burstBytes: 64 * 1024, queueBytes: 256 * 1024, reorderProbability: 0 };

export const SCENARIO_PROFILES: Record<AccessLinkName, LinkProfile> = { lte: symmetric(LTE_LAB_PATH), wifi: symmetric(WIFI_LAB_PATH) };

const EVENT_AT = 2000;

function degrade(path: PathProfile, delayMs: number, loss: number): LinkProfile {
  return symmetric({ ...path, delayMs, jitterMs: Math.round(delayMs / 10), lossProbability: loss });
}

/** The NAT's public address after the rebinding of (f)(ii) (added on net's core interface). */
export const NAT_REBIND_ADDRESS = "192.0.2.3";

/** The new address scenario (e) gives mr's Wi-Fi interface (same /64, as a new SLAAC or DHCPv6 lease would). */
export const RENEWED_WIFI_ADDRESS = "2001:db8:2::3";

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "make-before-break",
    letter: "a",
    title: "Wi-Fi appears while on LTE; traffic moves to it",
    initiallyUp: ["lte"],
    durationMs: 6000,
    steps: [{ atMs: EVENT_AT, what: "Wi-Fi carrier up", run: (lab) => lab.restore("wifi") }],
    expect: { finalUplink: "wifi", registered: ["lte", "wifi"], lossless: true, detectedBy: ["recovered"] },
  },
  {
    name: "break",
    letter: "b",
    title: "the active uplink (Wi-Fi) loses carrier",
    initiallyUp: ["lte", "wifi"],
    durationMs: 5000,
    steps: [{ atMs: EVENT_AT, what: "Wi-Fi carrier lost", run: (lab) => lab.cut("wifi", "carrier") }],
    expect: { finalUplink: "lte", registered: ["lte"], lossless: false, detectedBy: ["hard-down", "probe-window"] },
  },
  {
    name: "blackhole",
    letter: "c",
    title: "the active uplink stays up but drops everything",
    initiallyUp: ["lte", "wifi"],
    durationMs: 5000,
    steps: [{ atMs: EVENT_AT, what: "Wi-Fi silently drops everything", run: (lab) => lab.cut("wifi", "blackhole") }],
    expect: { finalUplink: "lte", registered: ["lte"], lossless: false, detectedBy: ["probe-window"] },
  },
  {
    name: "flapping",
    letter: "d",
    title: "the active uplink flaps (blackhole 0.8 s, back 0.8 s, twice)",
    initiallyUp: ["lte", "wifi"],
    durationMs: 7000,
    steps: [
      { atMs: 1500, what: "Wi-Fi drops", run: (lab) => lab.cut("wifi", "blackhole") },
      { atMs: 2300, what: "Wi-Fi back", run: (lab) => lab.restore("wifi") },
      { atMs: 3100, what: "Wi-Fi drops", run: (lab) => lab.cut("wifi", "blackhole") },
      { atMs: 3900, what: "Wi-Fi back", run: (lab) => lab.restore("wifi") },
    ],
    expect: { finalUplink: "wifi", registered: ["lte", "wifi"], lossless: false, detectedBy: ["probe-window"] },
  },
  {
    name: "address-change",
    letter: "e",
    title: "Wi-Fi gets a new address (new SLAAC/DHCPv6 lease); the old one goes",
    initiallyUp: ["lte", "wifi"],
    durationMs: 5000,
    steps: [
      {
        atMs: EVENT_AT,
        what: `Wi-Fi address → ${RENEWED_WIFI_ADDRESS}`,
        async run(lab) {
          const wifi = lab.topology.access.wifi.router;
          await lab.exec("mr", ["ip", "-6", "addr", "add", `${RENEWED_WIFI_ADDRESS}/64`, "dev", wifi.name, "nodad"]);
          await lab.exec("mr", ["ip", "-6", "addr", "del", `${wifi.ipv6!.address}/64`, "dev", wifi.name]);
          await lab.exec("mr", ["ip", "-6", "route", "replace", "default", "via", lab.topology.access.wifi.gateway.ipv6!.address, "dev", wifi.name, "metric", "2001"]);
        },
      },
    ],
    expect: { finalUplink: "wifi", registered: ["lte", "wifi"], lossless: false, detectedBy: ["address-change"] },
  },
  {
    name: "degraded",
    letter: "g",
    title: "both uplinks degrade (delay and loss rising)",
    initiallyUp: ["lte", "wifi"],
    durationMs: 6000,
    steps: [
      {
        atMs: 1500,
        what: "Wi-Fi 30 ms 3 % loss, LTE 60 ms 1 % loss",
        async run(lab) {
          await lab.setProfile("wifi", degrade(WIFI_LAB_PATH, 30, 0.03));
          await lab.setProfile("lte", degrade(LTE_LAB_PATH, 60, 0.01));
        },
      },
      {
        atMs: 3500,
        what: "Wi-Fi 80 ms 10 % loss, LTE 100 ms 4 % loss",
        async run(lab) {
          await lab.setProfile("wifi", degrade(WIFI_LAB_PATH, 80, 0.1));
          await lab.setProfile("lte", degrade(LTE_LAB_PATH, 100, 0.04));
        },
      },
    ],
    expect: { finalUplink: "wifi", registered: ["lte", "wifi"], lossless: false, detectedBy: [] },
  },
];

/** What the router logs when it reacts to a NAT rebinding (`RouterDsmip`'s watch, `RouterIke`'s MOBIKE NAT check). */
export const NAT_REACTION_LOG = /router: .*(suspected NAT rebinding|IKE: the NAT mapping of .* changed)/;

/**
 * Scenario (f): the NAT in front of the IPv4-only LTE rebinds while LTE carries the stream (the router prefers
 * it here; Wi-Fi is up and holds the IKE SA of the designs that keep it on an IPv6 CoA). Not in SCENARIOS: the
 * link-engine matrix (test/lab/modes-scenarios.test.ts) does not run them; their tests are test/lab/dsmip-*.test.ts.
 */
export const NAT_SCENARIOS: readonly Scenario[] = [
  {
    name: "nat-rebind-port",
    letter: "f(i)",
    title: "the NAT in front of the IPv4 LTE uplink rebinds to new ports",
    initiallyUp: ["lte", "wifi"],
    lteIpv4Only: true,
    preferred: "lte",
    reactionLog: NAT_REACTION_LOG,
    durationMs: 5000,
    steps: [
      {
        atMs: EVENT_AT,
        what: "NAT: new ports (masquerade fully-random, mappings flushed)",
        async run(lab) {
          await natRebindPort(lab);
        },
      },
    ],
    expect: { finalUplink: "lte", registered: ["lte", "wifi"], lossless: false, detectedBy: [] },
  },
  {
    name: "nat-rebind-address",
    letter: "f(ii)",
    title: "the NAT in front of the IPv4 LTE uplink rebinds to a new public address",
    initiallyUp: ["lte", "wifi"],
    lteIpv4Only: true,
    preferred: "lte",
    reactionLog: NAT_REACTION_LOG,
    durationMs: 5000,
    steps: [
      {
        atMs: EVENT_AT,
        what: `NAT: new public address ${NAT_REBIND_ADDRESS} (mappings flushed)`,
        async run(lab) {
          await natRebindAddress(lab, NAT_REBIND_ADDRESS);
        },
      },
    ],
    expect: { finalUplink: "lte", registered: ["lte", "wifi"], lossless: false, detectedBy: [] },
  },
];

/** Every scenario in the order ((f) between (e) and (g)): what `bench:modes` runs. */
export const ALL_SCENARIOS: readonly Scenario[] = [...SCENARIOS.filter((s) => s.letter < "f"), ...NAT_SCENARIOS, ...SCENARIOS.filter((s) => s.letter > "f")];

export function scenario(name: string): Scenario {
  const s = ALL_SCENARIOS.find((x) => x.name === name || x.letter === name);
  if (s === undefined) throw new Error(`no scenario '${name}'; try ${ALL_SCENARIOS.map((x) => x.name).join(", ")}`);
  return s;
}
