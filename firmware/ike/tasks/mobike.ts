// MOBIKE (RFC 4555): UPDATE_SA_ADDRESSES with NAT detection and COOKIE2 (§3.5, §3.8), and peer address lists (§3.6).

import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "../../wire/address.ts";
import type { Payload } from "../../wire/ikev2/payloads.ts";
import { ExchangeType, NotifyType } from "../constants.ts";
import { constantTimeEqual } from "../encrypted-payload.ts";
import type { Endpoint } from "../endpoint.ts";
import type { IkeSa } from "../ike-sa.ts";
import { detectNat, natDetectionNotifies } from "../natd.ts";
import { errorNotify, notifies, notify, type InitiatorTask, type Received, type ResponderReply, type ResponderTask, type TaskContext, type TaskOutcome } from "../task.ts";

const COOKIE2_LENGTH = 16;

/**
 * §3.6: our other addresses as ADDITIONAL_IP6_ADDRESS / ADDITIONAL_IP4_ADDRESS notifies (at most 8),
 * or NO_ADDITIONAL_ADDRESSES when there are none. Unparsable entries are skipped.
 */
export function additionalAddressNotifies(addresses: readonly string[]): Payload[] {
  const out: Payload[] = [];
  for (const a of addresses) {
    if (out.length === 8) break;
    const v4 = a.includes(":") ? undefined : parseIpv4(a);
    const v6 = v4 === undefined ? parseIpv6(a) : undefined;
    if (v4) out.push(notify(NotifyType.additionalIp4Address, v4));
    else if (v6) out.push(notify(NotifyType.additionalIp6Address, v6));
  }
  return out.length > 0 ? out : [notify(NotifyType.noAdditionalAddresses)];
}

function emitEndpoints(sa: IkeSa, ctx: TaskContext): void {
  ctx.emit({ kind: "endpoints-updated", ikeSaName: sa.name, local: sa.local, remote: sa.remote, udpEncapsulation: sa.espInUdp });
}

/**
 * The original initiator moves the IKE SA and its CHILD_SAs to `local` (and optionally a new peer
 * address): the request goes out from the new path; the peer's COOKIE2 echo proves it answered (§3.5).
 */
export class MobikeUpdateInitiator implements InitiatorTask {
  readonly name = "mobike-update";
  readonly exchange = ExchangeType.informational;
  readonly #local: string;
  readonly #remote: string | undefined;
  readonly #additional: readonly string[];
  #cookie2: Uint8Array | undefined;
  #previous: { local: Endpoint; remote: Endpoint } | undefined;

  /** `additional`: our other usable addresses, announced in the same request (§3.6); empty: NO_ADDITIONAL_ADDRESSES. */
  constructor(localAddress: string, remoteAddress?: string, additional: readonly string[] = []) {
    this.#local = localAddress;
    this.#remote = remoteAddress;
    this.#additional = additional;
  }

  shouldRun(sa: IkeSa): boolean {
    return sa.mobike && (sa.mobikeInitiator ?? sa.isInitiator) && sa.state === "established";
  }

  build(sa: IkeSa, ctx: TaskContext): Payload[] {
    this.#previous ??= { local: sa.local, remote: sa.remote };
    // RFC 4555 §3.3: MOBIKE runs on the NAT-T port pair.
    sa.local = { address: this.#local, port: sa.config.ports.natT };
    sa.remote = { address: this.#remote ?? sa.remote.address, port: sa.config.ports.natT };
    this.#cookie2 ??= ctx.random(COOKIE2_LENGTH);
    return [
      notify(NotifyType.updateSaAddresses),
      ...natDetectionNotifies(sa.initiatorSpi, sa.responderSpi, sa.local, sa.remote),
      notify(NotifyType.cookie2, this.#cookie2),
      ...additionalAddressNotifies(this.#additional.filter((a) => a !== this.#local)),
    ];
  }

  process(sa: IkeSa, response: Received, ctx: TaskContext): TaskOutcome {
    const p = response.payloads;
    const echo = notifies(p, NotifyType.cookie2)[0];
    if (!echo || !constantTimeEqual(echo.data, this.#cookie2!)) {
      // §3.8: a missing or wrong COOKIE2 echo means the response is not for this request.
      ctx.counters.increment("ike.mobike.cookie2-mismatch");
      return { kind: "failed", reason: "COOKIE2 not echoed", notify: NotifyType.cookie2, closeIkeSa: true };
    }
    const error = errorNotify(p);
    if (error) {
      if (this.#previous) {
        sa.local = this.#previous.local;
        sa.remote = this.#previous.remote;
      }
      return { kind: "failed", reason: "peer refused the address update", notify: error.notifyType, closeIkeSa: false };
    }
    const nat = detectNat(p, sa.initiatorSpi, sa.responderSpi, response.from, response.to);
    if (nat.present) {
      sa.natLocal = nat.local;
      sa.natRemote = nat.remote;
    }
    sa.natMappingSeen = mappingSeen(p);
    ctx.counters.increment("ike.mobike.updated");
    emitEndpoints(sa, ctx);
    return { kind: "done" };
  }
}

/** The peer's NAT_DETECTION_DESTINATION_IP in a response: the hash of the address and port it sent it to (us, as it sees us). */
function mappingSeen(payloads: readonly Payload[]): Uint8Array | undefined {
  return notifies(payloads, NotifyType.natDetectionDestinationIp)[0]?.data.slice();
}

/**
 * RFC 4555 §3.8: a MOBIKE initiator behind a NAT finds out that the NAT's mapping changed (a new port or public
 * address, where the peer's dynamic updates of RFC 7296 §2.23 are not used) from the NAT_DETECTION_* of an
 * INFORMATIONAL: the peer's NAT_DETECTION_DESTINATION_IP hashes the address and port it saw the request from.
 * Different from the one of the last answer → `nat-mapping-changed` (the caller sends UPDATE_SA_ADDRESSES). The
 * request carries COOKIE2 like an update, so a stale or forged answer cannot pass for one.
 */
export class MobikeNatCheckInitiator implements InitiatorTask {
  readonly name = "mobike-nat-check";
  readonly exchange = ExchangeType.informational;
  #cookie2: Uint8Array | undefined;

  shouldRun(sa: IkeSa): boolean {
    return sa.mobike && (sa.mobikeInitiator ?? sa.isInitiator) && sa.state === "established";
  }

  build(sa: IkeSa, ctx: TaskContext): Payload[] {
    this.#cookie2 ??= ctx.random(COOKIE2_LENGTH);
    return [...natDetectionNotifies(sa.initiatorSpi, sa.responderSpi, sa.local, sa.remote), notify(NotifyType.cookie2, this.#cookie2)];
  }

  process(sa: IkeSa, response: Received, ctx: TaskContext): TaskOutcome {
    const echo = notifies(response.payloads, NotifyType.cookie2)[0];
    if (!echo || !constantTimeEqual(echo.data, this.#cookie2!)) {
      ctx.counters.increment("ike.mobike.cookie2-mismatch");
      return { kind: "failed", reason: "COOKIE2 not echoed", notify: NotifyType.cookie2, closeIkeSa: true };
    }
    const seen = mappingSeen(response.payloads);
    if (seen === undefined) {
      // A peer that does not answer NAT detection here: nothing to compare.
      ctx.counters.increment("ike.mobike.nat-check.no-natd");
      return { kind: "done" };
    }
    const before = sa.natMappingSeen;
    sa.natMappingSeen = seen;
    ctx.counters.increment("ike.mobike.nat-check");
    if (before !== undefined && !constantTimeEqual(before, seen)) {
      ctx.counters.increment("ike.mobike.nat-mapping-changed");
      ctx.emit({ kind: "nat-mapping-changed", ikeSaName: sa.name });
    }
    return { kind: "done" };
  }
}

function addressesFrom(payloads: readonly Payload[]): string[] {
  const out: string[] = [];
  for (const n of notifies(payloads, NotifyType.additionalIp6Address)) if (n.data.length === 16) out.push(formatIpv6(n.data));
  for (const n of notifies(payloads, NotifyType.additionalIp4Address)) if (n.data.length === 4) out.push(formatIpv4(n.data));
  return out.slice(0, 8);
}

/** Answers MOBIKE INFORMATIONALs: address updates, address lists and return-routability checks (COOKIE2 echo). */
export class MobikeResponder implements ResponderTask {
  readonly name = "mobike";
  respond(sa: IkeSa, request: Received, ctx: TaskContext): ResponderReply {
    const p = request.payloads;
    const reply: Payload[] = [];
    if (notifies(p, NotifyType.updateSaAddresses).length > 0) {
      if (!sa.mobike || (sa.mobikeInitiator ?? sa.isInitiator)) {
        ctx.counters.increment("ike.mobike.update-refused");
      } else {
        const nat = detectNat(p, sa.initiatorSpi, sa.responderSpi, request.from, request.to);
        if (nat.present) {
          sa.natLocal = nat.local;
          sa.natRemote = nat.remote;
        }
        // §3.5: the SA moves to the addresses this (authenticated) request came from.
        sa.remote = request.from;
        sa.local = request.to;
        ctx.counters.increment("ike.mobike.updated");
        emitEndpoints(sa, ctx);
        reply.push(...natDetectionNotifies(sa.initiatorSpi, sa.responderSpi, sa.local, sa.remote));
      }
    }
    if (notifies(p, NotifyType.noAdditionalAddresses).length > 0 || notifies(p, NotifyType.additionalIp6Address).length > 0 || notifies(p, NotifyType.additionalIp4Address).length > 0) {
      // §3.6: a received list replaces the stored one.
      sa.peerAdditionalAddresses = addressesFrom(p);
      ctx.emit({ kind: "peer-addresses", ikeSaName: sa.name, addresses: sa.peerAdditionalAddresses });
    }
    if (notifies(p, NotifyType.updateSaAddresses).length === 0 && notifies(p, NotifyType.natDetectionSourceIp).length > 0) {
      // §3.8: a NAT check — answer with the NAT detection of this exchange's own addresses (where we saw the request from).
      reply.push(...natDetectionNotifies(sa.initiatorSpi, sa.responderSpi, request.to, request.from));
    }
    const cookie2 = notifies(p, NotifyType.cookie2)[0];
    if (cookie2) reply.push(notify(NotifyType.cookie2, cookie2.data));
    return { payloads: reply, then: "keep" };
  }
}
