// `auth-option` signalling (RFC 4285): BU and BA as plain Mobility Header packets, authenticated by the MN-HA option and replay-protected by Mesg-ID; no ESP.
//
// Router: each BU (a retransmission too) gets a fresh Mesg-ID timestamp (NTP format, strictly increasing)
// and the authenticator over CoA ‖ HoA ‖ MH Data, CoA being the source the BU leaves from. A BA is taken
// only when its authenticator verifies with our association and its Mesg-ID is the one of a BU we sent with
// that Sequence # (RFC 4285 §6: the home agent copies it), once. A BA with status 144 whose authenticator
// verifies and that answers a BU still in flight carries the home agent's clock: the router adopts the
// offset and lets the BUL send again.
// Home agent: the SPI names the association configured for the BU's home address; authenticator (else 146),
// Mesg-ID present (else 145), within the window and newer than the last accepted one (else 144) — each
// refusal answered by an authenticated BA with that status (144: the home agent's own time in the Mesg-ID,
// for resynchronisation) through `onReject`, and counted. Accepted BAs echo the BU's Mesg-ID.
// Over an IPv4 care-of address (RFC 5555 §4.1) the BU is the same IPv6 packet carried in UDP to port 4191: its
// IPv6 source is the home address, with no Home Address option, and the BA comes back to the home address
// with no Type 2 routing header. The authenticator's "care-of address" (RFC 4285 §5.1) is then the IPv6
// source the BU carries, i.e. the home address: the claimed IPv4 CoA is inside MH Data (the IPv4 Care-of
// Address option), so it is covered anyway, while the address the home agent sees (a NAT's) cannot be known
// to the router and is deliberately not covered — the binding cache records it as observed (RFC 5555 §4.1).
// The wall clock is injected (`wallClockMs`); `now` (monotonic) is not needed here.

import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import { err, ok, type Result } from "../core/result.ts";
import { canonicalIpv6OrThrow } from "../mobility/address-text.ts";
import { decodeMobilityPacket, encodeMobilityPacket, type ReceivedMobilityPacket } from "../mobility/mobility-packet.ts";
import type { MobilityTransmit } from "../mobility/types.ts";
import { formatWireError } from "../wire/error.ts";
import { baFlags, type MobilityMessage } from "../wire/mobility-header.ts";
import { AuthStatus, authenticate, checkAuthenticator, type MnHaAssociation, ntpTimestamp, verify } from "./auth-option.ts";

type Ba = Extract<MobilityMessage, { type: "binding-acknowledgement" }>;

/** How many BUs in flight the router remembers the Mesg-ID of. */
const SENT_MEMORY = 16;

/** Shared by both sides: the injected wall clock as NTP timestamps, strictly increasing, with an adjustable offset. */
class MesgIdClock {
  readonly #wallClockMs: () => number;
  offsetMs = 0;
  #last = 0n;

  constructor(wallClockMs: () => number) {
    this.#wallClockMs = wallClockMs;
  }

  now(): bigint {
    return ntpTimestamp(this.#wallClockMs() + this.offsetMs);
  }

  /** A timestamp never used before by this side (RFC 4285 §6: each message a new Mesg-ID). */
  next(): bigint {
    const t = this.now();
    this.#last = t > this.#last ? t : this.#last + 1n;
    return this.#last;
  }
}

function decode(bytes: Uint8Array, counters: Counters): Result<ReceivedMobilityPacket, string> {
  const decoded = decodeMobilityPacket(bytes);
  if (!decoded.ok) {
    counters.increment("signalling.drop.bad-mobility-header");
    return err(formatWireError(decoded.error));
  }
  return decoded;
}

export interface AuthOptionRouterOptions {
  readonly association: MnHaAssociation;
  readonly wallClockMs: () => number;
  readonly counters: Counters;
}

/** The mobile router's side (the daemons' `SignallingProtection` for `auth-option`). */
export class AuthOptionRouterSignalling {
  readonly #association: MnHaAssociation;
  readonly #clock: MesgIdClock;
  readonly #counters: Counters;
  /** Sequence # → the Mesg-IDs of the BUs sent with it (retransmissions have their own). */
  readonly #sent = new Map<number, bigint[]>();

  constructor(o: AuthOptionRouterOptions) {
    this.#association = o.association;
    this.#clock = new MesgIdClock(o.wallClockMs);
    this.#counters = o.counters;
  }

  /** The offset adopted from the home agent's clock (a 144 BA), ms. */
  get clockOffsetMs(): number {
    return this.#clock.offsetMs;
  }

  seal(t: MobilityTransmit, _now: Instant): Result<Uint8Array, string> {
    const m = t.message;
    if (m.type !== "binding-update") {
      this.#counters.increment("signalling.drop.not-authenticatable");
      return err(`RFC 4285 authenticates BUs and BAs only, not a ${m.type}`);
    }
    const timestamp = this.#clock.next();
    const message = authenticate(m, t.source, t.homeAddressOption ?? t.source, this.#association, timestamp);
    const ids = this.#sent.get(m.sequenceNumber) ?? [];
    this.#sent.delete(m.sequenceNumber);
    this.#sent.set(m.sequenceNumber, [...ids, timestamp].slice(-4));
    if (this.#sent.size > SENT_MEMORY) this.#sent.delete(this.#sent.keys().next().value!);
    return ok(encodeMobilityPacket({ ...t, message }));
  }

  open(bytes: Uint8Array, _now: Instant): Result<ReceivedMobilityPacket, string> {
    const decoded = decode(bytes, this.#counters);
    if (!decoded.ok) return decoded;
    const r = decoded.value;
    if (r.message.type !== "binding-acknowledgement") {
      this.#counters.increment("signalling.drop.unauthenticated-message");
      return err(`a ${r.message.type} cannot be authenticated (RFC 4285 covers BU and BA)`);
    }
    const ba: Ba = r.message;
    const a = this.#association;
    // With a Type 2 routing header: to the CoA for the home address; without (RFC 5555, in UDP): to the home address itself.
    const home = r.routingType2Address ?? r.destination;
    const authentic = checkAuthenticator(ba, { associationFor: (spi) => (spi === a.mobilitySpi ? a : undefined), careOf: r.destination, home });
    if (!authentic.ok) {
      this.#counters.increment("signalling.drop.auth-failed");
      return err("BA authenticator does not verify (RFC 4285 §5.1)");
    }
    const timestamp = authentic.value;
    if (timestamp === undefined) {
      this.#counters.increment("signalling.drop.mesg-id-missing");
      return err("BA without Mesg-ID (RFC 4285 §6)");
    }
    const ids = this.#sent.get(ba.sequenceNumber);
    if (ids?.includes(timestamp)) {
      // Each BU's Mesg-ID opens one BA: a replayed BA finds nothing left.
      this.#sent.delete(ba.sequenceNumber);
      this.#counters.increment("signalling.rx.ok");
      return ok(r);
    }
    if (ba.status === AuthStatus.idMismatch && ids !== undefined) {
      // RFC 4285 §6: the home agent's time, for a BU of ours still unanswered (not one an attacker replayed);
      // the BUL sends the BU again (its timer) with a timestamp the home agent accepts.
      this.#clock.offsetMs += Number(((timestamp - this.#clock.now()) * 1000n) >> 32n);
      this.#counters.increment("signalling.auth.clock-resync");
      return err(`Mesg-ID refused by the home agent (144): clock offset now ${this.#clock.offsetMs} ms`);
    }
    this.#counters.increment("signalling.drop.mesg-id-mismatch");
    return err("BA Mesg-ID matches no BU in flight (stale or replayed)");
  }

  clear(): void {
    this.#sent.clear();
  }
}

export interface AuthOptionHomeAgentOptions {
  /** The MN-HA association of each mobile router's home address. */
  readonly associations: readonly { readonly homeAddress: string; readonly association: MnHaAssociation }[];
  /** RFC 4285 §6 timestamp window, seconds. */
  readonly windowSeconds: number;
  readonly wallClockMs: () => number;
  readonly counters: Counters;
  /** A refusal BA (whole IPv6 packet) to send to `destination` (the BU's source). */
  readonly onReject: (packet: Uint8Array, destination: string) => void;
}

/** The home agent's side. */
export class AuthOptionHomeAgentSignalling {
  readonly #byHome: Map<string, MnHaAssociation>;
  readonly #windowSeconds: number;
  readonly #clock: MesgIdClock;
  readonly #counters: Counters;
  readonly #onReject: (packet: Uint8Array, destination: string) => void;
  /** Per home address: the last accepted Mesg-ID (replay protection). */
  readonly #lastAccepted = new Map<string, bigint>();
  /** Per home address: the last accepted BU's Sequence # and Mesg-ID, echoed in its BA. */
  readonly #echo = new Map<string, { sequenceNumber: number; timestamp: bigint }>();

  constructor(o: AuthOptionHomeAgentOptions) {
    this.#byHome = new Map(o.associations.map((x) => [canonicalIpv6OrThrow(x.homeAddress), x.association]));
    this.#windowSeconds = o.windowSeconds;
    this.#clock = new MesgIdClock(o.wallClockMs);
    this.#counters = o.counters;
    this.#onReject = o.onReject;
  }

  open(bytes: Uint8Array, _now: Instant): Result<ReceivedMobilityPacket, string> {
    const decoded = decode(bytes, this.#counters);
    if (!decoded.ok) return decoded;
    const r = decoded.value;
    if (r.message.type !== "binding-update") {
      this.#counters.increment("signalling.drop.unauthenticated-message");
      return err(`a ${r.message.type} cannot be authenticated here (RFC 4285 covers BU and BA)`);
    }
    // With a Home Address option: from a CoA; without (RFC 5555 in UDP, or from home): the source is the home address.
    const home = canonicalIpv6OrThrow(r.homeAddressOption ?? r.source);
    const a = this.#byHome.get(home);
    if (a === undefined) {
      this.#counters.increment("signalling.drop.unknown-home-address");
      return err(`no MN-HA association for ${home}`);
    }
    const bu = r.message;
    const checked = verify(bu, {
      associationFor: (spi) => (spi === a.mobilitySpi ? a : undefined),
      careOf: r.source,
      home,
      now: this.#clock.now(),
      windowSeconds: this.#windowSeconds,
      ...(this.#lastAccepted.has(home) ? { lastAccepted: this.#lastAccepted.get(home)! } : {}),
    });
    if (!checked.ok) {
      this.#counters.increment(`signalling.drop.auth-status-${checked.error}`);
      this.#reject(r, home, a, checked.error);
      return err(`BU refused with status ${checked.error} (RFC 4285)`);
    }
    this.#lastAccepted.set(home, checked.value);
    this.#echo.set(home, { sequenceNumber: bu.sequenceNumber, timestamp: checked.value });
    this.#counters.increment("signalling.rx.ok");
    return ok(r);
  }

  /** Authenticates a BA from the binding cache: the Mesg-ID of the BU it answers, else a fresh one. */
  seal(t: MobilityTransmit, _now: Instant): Result<Uint8Array, string> {
    const m = t.message;
    if (m.type !== "binding-acknowledgement") {
      this.#counters.increment("signalling.drop.not-authenticatable");
      return err(`RFC 4285 authenticates BUs and BAs only, not a ${m.type}`);
    }
    // Without a Type 2 routing header (RFC 5555, back in UDP; or to a router at home) the BA goes to the home address.
    const home = canonicalIpv6OrThrow(t.routingType2Address ?? t.destination);
    const a = this.#byHome.get(home);
    if (a === undefined) {
      this.#counters.increment("signalling.drop.no-association");
      return err(`no MN-HA association for ${home}`);
    }
    const echo = this.#echo.get(home);
    const timestamp = echo !== undefined && echo.sequenceNumber === m.sequenceNumber ? echo.timestamp : this.#clock.next();
    return ok(encodeMobilityPacket({ ...t, message: authenticate(m, t.destination, home, a, timestamp) }));
  }

  /** The refusal BA: status 144 carries our time (resynchronisation), 145/146 the BU's Mesg-ID when it had one. */
  #reject(r: ReceivedMobilityPacket, home: string, a: MnHaAssociation, status: number): void {
    const bu = r.message as Extract<MobilityMessage, { type: "binding-update" }>;
    const theirs = bu.options.find((o) => o.type === "mobility-message-replay-protection");
    const timestamp = status !== AuthStatus.idMismatch && theirs?.type === "mobility-message-replay-protection" ? theirs.timestamp : this.#clock.next();
    const ba: Ba = { type: "binding-acknowledgement", status, flags: baFlags({ mobileRouter: bu.flags.mobileRouter }), sequenceNumber: bu.sequenceNumber, lifetimeUnits: 0, options: [] };
    // A BU with a Home Address option is answered at its CoA with a Type 2 routing header; one without (RFC 5555 in UDP) at the home address.
    const packet = encodeMobilityPacket({ message: authenticate(ba, r.source, home, a, timestamp), source: r.destination, destination: r.source, ...(r.homeAddressOption !== undefined ? { routingType2Address: home } : {}) });
    this.#counters.increment(`signalling.auth.reject-sent.${status}`);
    this.#onReject(packet, r.source);
  }

  clear(): void {
    this.#lastAccepted.clear();
    this.#echo.clear();
  }
}
