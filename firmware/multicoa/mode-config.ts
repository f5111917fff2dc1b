// Configuration of the multi-CoA IPsec designs (`ipsec.multiCoa` of the router and home agent daemons).

import * as v from "valibot";
import { SecretRefSchema } from "../config/schema.ts";
import { REPLAY_WINDOW_MAX, REPLAY_WINDOW_MIN } from "../ipsec/constants.ts";
import { parsePrefix } from "../wire/address.ts";

const Prefix = v.pipe(v.string(), v.check((t) => parsePrefix(t) !== undefined, "must be an address/length prefix"));
const Port = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffff));
const PortRange = v.pipe(
  v.strictObject({ from: Port, to: Port }),
  v.check((r) => r.from <= r.to, "from must not exceed to"),
);
const Protocol = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(255));

/** A firmware/links flow rule: which inner traffic goes to which kind of link (RFC 5648 per-flow choice). */
const FlowRuleSchema = v.strictObject({
  name: v.pipe(v.string(), v.minLength(1)),
  match: v.strictObject({
    dscp: v.optional(v.array(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(63)))),
    protocol: v.optional(v.array(Protocol)),
    ports: v.optional(v.array(PortRange)),
    destination: v.optional(v.array(Prefix)),
  }),
  kinds: v.optional(v.array(v.picklist(["cellular", "wifi", "wired"]))),
  prefer: v.optional(v.picklist(["best", "lowest-rtt", "lowest-jitter", "cheapest"]), "best"),
});

/**
 * A flow sent without IPsec (the seed's "avoid IPsec protection of flows"): it matches when the
 * correspondent side (destination at the router, source at the home agent) fits every field given.
 */
export const BypassSelectorSchema = v.strictObject({
  name: v.pipe(v.string(), v.minLength(1)),
  protocol: v.optional(Protocol),
  remotePrefix: v.optional(Prefix),
  remotePorts: v.optional(PortRange),
});

export const MultiCoaSchema = v.optional(
  v.strictObject({
    /**
     * Anti-replay window of the inbound tunnel SA (RFC 4303 §3.4.3). One SA over paths of different
     * delay reorders sequence numbers (RFC 5648 §9.3): docs/modes.md has the measured depth.
     */
    replayWindow: v.optional(
      v.pipe(v.number(), v.integer(), v.minValue(REPLAY_WINDOW_MIN), v.maxValue(REPLAY_WINDOW_MAX), v.multipleOf(32, "must be a multiple of 32")),
      REPLAY_WINDOW_MAX,
    ),
    /** 64-bit ESP sequence numbers on the tunnel SAs (RFC 4303 §2.2.1); both ends must agree. */
    extendedSequenceNumbers: v.optional(v.boolean(), true),
    /** `primary` at the home agent: how long the previous primary CoA is still accepted after a switch (packets in flight). */
    primaryDrainMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(5000)), 300),
    /** Per-flow care-of address choice in `simultaneous` and `per-coa` (first match wins; else the preferred uplink). */
    flowRules: v.optional(v.array(FlowRuleSchema), []),
    /** Flows sent in clear (IPv6-in-IPv6) in any mode; empty = off. Logged loudly at start when set. */
    bypass: v.optional(v.array(BypassSelectorSchema), []),
    /** `auth-option`: the RFC 4285 MN-HA mobility security association. */
    authOption: v.optional(
      v.strictObject({
        mobilitySpi: v.pipe(v.number(), v.integer(), v.minValue(256, "Mobility SPIs 0-255 are reserved (RFC 4285 §5.1)"), v.maxValue(0xffff_ffff)),
        /** The MN-HA shared key as hex (at least 20 octets). */
        mnHaKey: SecretRefSchema,
        /** `hmac-sha1-96` is RFC 4285 §5.1; `hmac-sha256-128` is monami's stronger variant (docs/modes.md). */
        algorithm: v.optional(v.picklist(["hmac-sha1-96", "hmac-sha256-128"]), "hmac-sha1-96"),
        /** RFC 4285 §6 timestamp window, seconds. */
        timestampWindowSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(300)), 7),
        /** monami's own extension (docs/modes.md): ESP tunnel SAs keyed from the MN-HA key (off: payload in clear IPv6-in-IPv6). */
        encryptPayload: v.optional(v.boolean(), false),
      }),
    ),
  }),
  {},
);

export type MultiCoaConfig = v.InferOutput<typeof MultiCoaSchema>;
export type BypassSelector = v.InferOutput<typeof BypassSelectorSchema>;
export type FlowRuleConfig = v.InferOutput<typeof FlowRuleSchema>;
