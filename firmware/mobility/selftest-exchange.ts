// The oracle exchange: every Mobility Header message and option monami handles, produced by the real cores.

import { Counters } from "../core/counters.ts";
import { instant, type Instant } from "../core/instant.ts";
import { parsePrefix } from "../wire/address.ts";
import { buFlags, type MobilityMessage } from "../wire/mobility-header.ts";
import { BindingCache, type HomeAgentConfig } from "./binding-cache.ts";
import { BindingUpdateList, type MobileRouterConfig } from "./binding-update-list.ts";
import { bindingId, linkId, type MobilityTransmit } from "./types.ts";

/** One packet of the exchange, with what it is meant to show. */
export interface SelftestRecord {
  readonly atMs: number;
  readonly note: string;
  readonly transmit: MobilityTransmit;
}

export const SELFTEST = {
  homeAddress: "2001:db8:a::1",
  homeAgent: "2001:db8:a::fe",
  lte: "2001:db8:1::a",
  wifi: "2001:db8:2::a",
  lteIpv4: "198.51.100.7",
  /** The address and port a NAT gives the IPv4 CoA's UDP-encapsulated BUs (RFC 5555 NAT detection). */
  natIpv4: "203.0.113.9",
  natPort: 40191,
  correspondent: "2001:db8:c::1",
  prefix: "2001:db8:ab::/48",
} as const;

/** A fixed wall-clock origin so the pcap is byte-for-byte reproducible (2026-01-01T00:00:00Z). */
export const SELFTEST_EPOCH_MS = Date.UTC(2026, 0, 1);

/**
 * Runs a mobile router core against a home agent core (plus two single-purpose routers and a few
 * hand-made route-optimisation messages) and returns every packet in order. Deterministic.
 */
export function selftestExchange(): SelftestRecord[] {
  const s = SELFTEST;
  const records: SelftestRecord[] = [];
  const mnp = parsePrefix(s.prefix)!;
  const routerConfig: MobileRouterConfig = {
    homeAddress: s.homeAddress,
    homeAgentAddress: s.homeAgent,
    mobileNetworkPrefixes: [mnp],
    prefixMode: "explicit",
    keyManagementCapability: true,
    espProtected: true,
    requestedLifetimeSeconds: 600,
    initialSequenceNumber: 1000,
  };
  const haConfig: HomeAgentConfig = {
    homeAgentAddress: s.homeAgent,
    mobileNodes: [{ homeAddress: s.homeAddress, prefixes: [mnp] }],
    keyManagementCapability: true,
    refreshAdviceRatio: 0.9,
    refreshRequestLeadMs: 100_000,
  };

  let now: Instant = instant(0);
  const run = (mr: BindingUpdateList, ha: BindingCache, note: string) => {
    now = instant(now + 1000); // stay under MAX_UPDATE_RATE between steps
    for (let round = 0; round < 8; round++) {
      let moved = false;
      for (let t = mr.pollTransmit(now); t; t = mr.pollTransmit(now)) {
        records.push({ atMs: now, note: `${note}: router -> home agent`, transmit: t });
        // A BU over an IPv4 CoA reaches the home agent UDP-encapsulated from behind a NAT (RFC 5555 §4.1).
        const udp = t.ipv4Encapsulation ? { udpEncapsulation: { address: s.natIpv4, port: s.natPort } } : {};
        ha.handleMessage({ message: t.message, source: t.source, destination: t.destination, ...(t.homeAddressOption ? { homeAddressOption: t.homeAddressOption } : {}), protectedByEsp: true, ...udp }, now);
        moved = true;
      }
      now = instant(now + 20);
      for (let t = ha.pollTransmit(now); t; t = ha.pollTransmit(now)) {
        records.push({ atMs: now, note: `${note}: home agent -> router`, transmit: t });
        mr.handleMessage({ message: t.message, source: t.source, destination: t.destination }, now);
        moved = true;
      }
      now = instant(now + 20);
      if (!moved) return;
    }
  };

  // 1. BID 1 (IPv6 CoA, LTE) registered, then BID 2 (IPv4 CoA) in a BU of its own over UDP from behind a NAT
  //    (RFC 5555 §4.1): BA 0 with a Binding Refresh Advice, the second one with the NAT Detection option.
  const mr = new BindingUpdateList(routerConfig, new Counters());
  const ha = new BindingCache(haConfig, new Counters());
  mr.addCareOfAddress(now, { bindingId: bindingId(1), linkId: linkId("lte"), careOfAddress: { family: "ipv6", address: s.lte } });
  mr.addCareOfAddress(now, { bindingId: bindingId(2), linkId: linkId("lte-v4"), careOfAddress: { family: "ipv4", address: s.lteIpv4 } });
  run(mr, ha, "bulk registration");
  // 2. Per-BID status: BID 3 (Wi-Fi) accepted, BID 4 with a link-local CoA refused with 164; BA status 4.
  mr.addCareOfAddress(now, { bindingId: bindingId(3), linkId: linkId("wifi"), careOfAddress: { family: "ipv6", address: s.wifi } });
  mr.addCareOfAddress(now, { bindingId: bindingId(4), linkId: linkId("bad"), careOfAddress: { family: "ipv6", address: "fe80::1" } });
  run(mr, ha, "bulk registration, one BID refused");
  // 3. The home agent asks for a refresh before expiry (Binding Refresh Request with BID options).
  now = instant(ha.pollTimeout()! - 1000);
  ha.handleTimeout(instant(now + 1000));
  run(mr, ha, "refresh request");
  // 4. De-register one BID.
  mr.removeCareOfAddress(now, bindingId(3));
  run(mr, ha, "de-register BID 3");
  // 5. A packet with a Home Address option from an unregistered source: Binding Error status 1.
  ha.reportUnknownBinding(s.homeAddress, "2001:db8:9::9");
  run(mr, ha, "binding error");
  // 6. Return home: de-register everything from the home address.
  mr.returnHome(now);
  run(mr, ha, "return home");

  // 7. A home agent without MCoA: 166, then one RFC 6275 binding with the Alternate Care-of Address option.
  const single = new BindingUpdateList({ ...routerConfig, initialSequenceNumber: 2000 }, new Counters());
  const noMcoa = new BindingCache({ ...haConfig, multipleCareOfAddresses: false }, new Counters());
  single.addCareOfAddress(now, { bindingId: bindingId(1), linkId: linkId("wifi"), careOfAddress: { family: "ipv6", address: s.wifi } });
  run(single, noMcoa, "MCoA prohibited, fall back to one binding");

  // 8. An IPv4-only uplink (RFC 5555): BU from the home address with the IPv4 Care-of Address option.
  const v4only = new BindingUpdateList({ ...routerConfig, initialSequenceNumber: 3000, prefixMode: "implicit" }, new Counters());
  const ha2 = new BindingCache(haConfig, new Counters());
  v4only.addCareOfAddress(now, { bindingId: bindingId(7), linkId: linkId("lte-v4"), careOfAddress: { family: "ipv4", address: s.lteIpv4 } });
  run(v4only, ha2, "IPv4-only uplink");

  // 9. Route-optimisation messages (RFC 6275 §5.2) that the codec handles; not sent by the NEMO cores.
  const cookie = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const token = Uint8Array.from([0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8]);
  const ro = (note: string, message: MobilityMessage, source: string, destination: string, homeAddressOption?: string) => {
    records.push({ atMs: now, note, transmit: { message, source, destination, ...(homeAddressOption ? { homeAddressOption } : {}) } });
    now = instant(now + 20);
  };
  ro("return routability: HoTI", { type: "home-test-init", homeInitCookie: cookie, options: [] }, s.homeAddress, s.correspondent);
  ro("return routability: CoTI", { type: "care-of-test-init", careOfInitCookie: cookie, options: [] }, s.lte, s.correspondent);
  ro("return routability: HoT", { type: "home-test", homeNonceIndex: 0x0102, homeInitCookie: cookie, homeKeygenToken: token, options: [] }, s.correspondent, s.homeAddress);
  ro("return routability: CoT", { type: "care-of-test", careOfNonceIndex: 0x0304, careOfInitCookie: cookie, careOfKeygenToken: token, options: [] }, s.correspondent, s.lte);
  ro(
    "route-optimisation BU to a correspondent: Nonce Indices and Binding Authorization Data",
    {
      type: "binding-update",
      sequenceNumber: 77,
      flags: buFlags({ acknowledge: true }),
      lifetimeUnits: 100,
      options: [
        { type: "nonce-indices", homeNonceIndex: 0x0102, careOfNonceIndex: 0x0304 },
        { type: "binding-authorization-data", authenticator: Uint8Array.from([0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb]) },
      ],
    },
    s.lte,
    s.correspondent,
    s.homeAddress,
  );
  ro("unrecognized MH Type answered", { type: "binding-error", status: 2, homeAddress: s.homeAddress, options: [] }, s.homeAgent, s.lte);
  return records;
}
