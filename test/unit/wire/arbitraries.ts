// fast-check arbitraries for wire reprs, shared by the unit property tests and the fuzz seeds.

import fc from "fast-check";
import { formatIpv4, formatIpv6 } from "../../../firmware/wire/address.ts";
import type { Icmpv6Repr } from "../../../firmware/wire/icmpv6.ts";
import type { Ipv4PacketRepr } from "../../../firmware/wire/ipv4.ts";
import type { ExtensionHeaderRepr } from "../../../firmware/wire/ipv6-extension-headers.ts";
import type { Ipv6OptionRepr } from "../../../firmware/wire/ipv6-options.ts";
import type { Ipv6PacketRepr } from "../../../firmware/wire/ipv6.ts";

const WALKED = new Set([0, 43, 44, 60]);

/** Canonical IPv6 text, biased towards zero runs so `::` compression is exercised. */
export const ipv6Text = fc
  .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((words) => {
    const b = new Uint8Array(16);
    words.forEach((w, i) => {
      b[2 * i] = w >>> 8;
      b[2 * i + 1] = w & 0xff;
    });
    return formatIpv6(b);
  });

export const ipv4Text = fc.uint8Array({ minLength: 4, maxLength: 4 }).map(formatIpv4);

const unknownOption: fc.Arbitrary<Ipv6OptionRepr> = fc.record({
  type: fc.constant("unknown" as const),
  optionType: fc.integer({ min: 2, max: 255 }).filter((t) => t !== 201),
  data: fc.uint8Array({ maxLength: 24 }),
});
const homeAddressOption: fc.Arbitrary<Ipv6OptionRepr> = ipv6Text.map((homeAddress) => ({ type: "home-address" as const, homeAddress }));

/** Meaningful options (no pads), at most one home address option. */
export const ipv6Options: fc.Arbitrary<Ipv6OptionRepr[]> = fc
  .tuple(fc.array(unknownOption, { maxLength: 3 }), fc.option(homeAddressOption, { nil: undefined }), fc.nat(3))
  .map(([unknown, hao, at]) => (hao ? [...unknown.slice(0, at), hao, ...unknown.slice(at)] : unknown));

const fragment = (offset: fc.Arbitrary<number>): fc.Arbitrary<ExtensionHeaderRepr> =>
  fc.record({
    kind: fc.constant("fragment" as const),
    fragmentOffset: offset,
    moreFragments: fc.boolean(),
    identification: fc.integer({ min: 0, max: 0xffffffff }),
  });

const laterHeader: fc.Arbitrary<ExtensionHeaderRepr> = fc.oneof(
  ipv6Options.map((options) => ({ kind: "destination-options" as const, options })),
  ipv6Text.map((homeAddress) => ({ kind: "routing-type2" as const, homeAddress })),
  fc.record({
    kind: fc.constant("routing" as const),
    routingType: fc.integer({ min: 0, max: 255 }).filter((t) => t !== 2),
    segmentsLeft: fc.integer({ min: 0, max: 255 }),
    data: fc.integer({ min: 0, max: 3 }).chain((k) => fc.uint8Array({ minLength: 8 * k + 4, maxLength: 8 * k + 4 })),
  }),
  fragment(fc.constant(0)),
);

/** A chain the walker accepts: Hop-by-Hop first if at all, one Type 2 header and one HAO at most, a later fragment only last. */
export const extensionChain: fc.Arbitrary<ExtensionHeaderRepr[]> = fc
  .tuple(
    fc.option(ipv6Options.map((options) => ({ kind: "hop-by-hop" as const, options })), { nil: undefined }),
    fc.array(laterHeader, { maxLength: 5 }),
    fc.option(fragment(fc.integer({ min: 1, max: 0x1fff })), { nil: undefined }),
  )
  .map(([hbh, rest, last]) => [...(hbh ? [hbh] : []), ...rest, ...(last ? [last] : [])])
  .filter((chain) => {
    const type2 = chain.filter((h) => h.kind === "routing-type2").length;
    const hao = chain.filter((h) => h.kind === "destination-options" && h.options.some((o) => o.type === "home-address")).length;
    return type2 <= 1 && hao <= 1;
  });

export const ipv6PacketRepr: fc.Arbitrary<Ipv6PacketRepr> = fc.record({
  source: ipv6Text,
  destination: ipv6Text,
  hopLimit: fc.integer({ min: 0, max: 255 }),
  trafficClass: fc.integer({ min: 0, max: 255 }),
  flowLabel: fc.integer({ min: 0, max: 0xfffff }),
  extensionHeaders: extensionChain,
  upperProtocol: fc.integer({ min: 0, max: 255 }).filter((p) => !WALKED.has(p)),
  upperPayload: fc.uint8Array({ maxLength: 64 }),
});

export const ipv4PacketRepr: fc.Arbitrary<Ipv4PacketRepr> = fc.record({
  source: ipv4Text,
  destination: ipv4Text,
  timeToLive: fc.integer({ min: 0, max: 255 }),
  typeOfService: fc.integer({ min: 0, max: 255 }),
  identification: fc.integer({ min: 0, max: 0xffff }),
  dontFragment: fc.boolean(),
  moreFragments: fc.boolean(),
  fragmentOffset: fc.integer({ min: 0, max: 0x1fff }),
  // NOPs then End of List padding: always a valid option list.
  options: fc.integer({ min: 0, max: 10 }).chain((words) =>
    fc.integer({ min: 0, max: 4 * words }).map((nops) => {
      const o = new Uint8Array(4 * words);
      o.fill(1, 0, nops);
      return o;
    }),
  ),
  upperProtocol: fc.integer({ min: 0, max: 255 }),
  upperPayload: fc.uint8Array({ maxLength: 64 }),
});

const invoking = fc.uint8Array({ maxLength: 64 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u8 = fc.integer({ min: 0, max: 255 });

export const icmpv6Repr: fc.Arbitrary<Icmpv6Repr> = fc.oneof(
  fc.record({ kind: fc.constantFrom("echo-request" as const, "echo-reply" as const), identifier: u16, sequenceNumber: u16, data: invoking }),
  fc.record({ kind: fc.constantFrom("destination-unreachable" as const, "time-exceeded" as const), code: u8, invokingPacket: invoking }),
  fc.record({ kind: fc.constant("packet-too-big" as const), mtu: u32, invokingPacket: invoking }),
  fc.record({ kind: fc.constant("parameter-problem" as const), code: u8, pointer: u32, invokingPacket: invoking }),
  fc.record({
    kind: fc.constant("other" as const),
    type: u8.filter((t) => ![1, 2, 3, 4, 128, 129].includes(t)),
    code: u8,
    body: invoking,
  }),
);
