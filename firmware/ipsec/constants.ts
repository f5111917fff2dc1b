// IPsec/ESP constants with their RFC names and the names of every ESP counter monami keeps.

/** RFC 4303 §3.4.3: windows of at least 32 (64 recommended); monami uses 1024 by default for multi-path reordering. */
export const REPLAY_WINDOW_MIN = 32;
export const REPLAY_WINDOW_DEFAULT = 1024;
/** The largest window monami accepts (a 4096-bit bitmap plus one block). */
export const REPLAY_WINDOW_MAX = 4096;

/** RFC 4303 §2.2: the last 32-bit sequence number; the counter never cycles (§3.3.3). */
export const SEQUENCE_MAX_32 = 0xffffffff;
/**
 * Packets before sequence exhaustion at which a soft "rekey now" event is raised, so a new SA is
 * ready before the old one must stop (RFC 4303 §3.3.3 leaves the margin to the implementation).
 */
export const SEQUENCE_SOFT_MARGIN = 1 << 26;

/** Tunnel mode Next Header values (RFC 4303 §2.6). */
export const NEXT_HEADER_IPV4 = 4;
export const NEXT_HEADER_IPV6 = 41;

/** The largest ESP packet monami builds: an IPv6 payload (no jumbograms). */
export const ESP_MAX_PACKET = 0xffff;

/** Every ESP drop has its own counter; nothing on the datapath throws. */
export const EspCounter = {
  // inbound, in the order the checks run
  truncated: "esp.drop.truncated",
  badSpi: "esp.drop.bad-spi",
  unknownSpi: "esp.drop.unknown-spi",
  saExpired: "esp.drop.sa-expired",
  badLength: "esp.drop.bad-length",
  replayTooOld: "esp.drop.replay-too-old",
  replayDuplicate: "esp.drop.replay-duplicate",
  icv: "esp.drop.icv",
  badPadding: "esp.drop.bad-padding",
  dummy: "esp.drop.dummy",
  badNextHeader: "esp.drop.bad-next-header",
  selectorMismatch: "esp.drop.selector-mismatch",
  // outbound
  outboundSaExpired: "esp.drop.out-sa-expired",
  sequenceExhausted: "esp.drop.sequence-exhausted",
  tooBig: "esp.drop.too-big",
  badInnerPacket: "esp.drop.bad-inner-packet",
} as const;
export type EspCounterName = (typeof EspCounter)[keyof typeof EspCounter];
