// Mobile IPv6 / NEMO protocol constants and configuration defaults under their RFC names (RFC 6275 §12, §13).

import type { Duration } from "../core/instant.ts";

/** RFC 6275 §12: first retransmission timeout of a Binding Update that is not a first home registration. */
export const INITIAL_BINDACK_TIMEOUT: Duration = 1_000;
/** RFC 6275 §12: the retransmission timeout stops doubling here. */
export const MAX_BINDACK_TIMEOUT: Duration = 32_000;
/** RFC 6275 §12: at most this many Binding Updates per second to one destination. */
export const MAX_UPDATE_RATE = 3;
/** RFC 6275 §12: HA waits this long before deleting a binding cache entry it could not confirm. */
export const MAX_DELETE_BCE_TIMEOUT: Duration = 10_000;
/** RFC 6275 §12: route-optimisation limits (monami does not do return routability, kept for completeness). */
export const MAX_NONCE_LIFETIME: Duration = 240_000;
export const MAX_TOKEN_LIFETIME: Duration = 210_000;
export const MAX_RR_BINDING_LIFETIME: Duration = 420_000;

/**
 * RFC 6275 §13 / §11.8: first retransmission timeout of the first home registration, longer than
 * INITIAL_BINDACK_TIMEOUT because the home agent runs DAD first. The MN MUST make it configurable.
 */
export const DEFAULT_INITIAL_BINDACK_TIMEOUT_FIRST_REG: Duration = 1_500;

/** RFC 6275 §6.1.7: BU/BA lifetimes and the Binding Refresh Advice interval count 4-second units. */
export const LIFETIME_UNIT_MS: Duration = 4_000;
/** The largest lifetime a Binding Update can carry (0xffff units = 262 140 s). */
export const MAX_LIFETIME_UNITS = 0xffff;

/** Default lifetime a mobile router asks for (seconds); the home agent may shorten it. */
export const DEFAULT_REQUESTED_LIFETIME_SECONDS = 600;
/** Default cap a home agent puts on granted lifetimes (seconds), UMIP's HaMaxBindingLife. */
export const DEFAULT_HA_MAX_BINDING_LIFETIME_SECONDS = MAX_LIFETIME_UNITS * 4;
/** Share of the granted lifetime after which the mobile router refreshes (unless a BRA says sooner). */
export const DEFAULT_REFRESH_RATIO = 0.5;

/** Converts seconds to wire lifetime units, rounding down and clamping to the 16-bit field. */
export function lifetimeUnitsFromSeconds(seconds: number): number {
  return Math.max(0, Math.min(MAX_LIFETIME_UNITS, Math.floor(seconds / 4)));
}

/**
 * RFC 5555 (NATKATIMEOUT): the keepalive/refresh interval a home agent announces in the NAT Detection
 * option when it finds a NAT between itself and an IPv4 care-of address (seconds).
 */
export const DEFAULT_NAT_KEEPALIVE_SECONDS = 110;
