// IKE_AUTH (RFC 7296 §1.2, §2.15): identities, AUTH, the first CHILD_SA with its selectors, INITIAL_CONTACT (§2.4), MOBIKE_SUPPORTED (RFC 4555 §3.2).

import type { Payload } from "../../wire/ikev2/payloads.ts";
import { acceptChild, allocateEspSpi, childReplyPayloads, createChild, espOffer, installRecord, selectChild, withoutDh } from "../child-negotiation.ts";
import type { EspSpi } from "../child-sa.ts";
import { ExchangeType, NotifyType } from "../constants.ts";
import type { IkeSa } from "../ike-sa.ts";
import { errorNotify, firstOf, notifies, notify, type InitiatorTask, type Received, type ResponderReply, type ResponderTask, type TaskContext, type TaskOutcome } from "../task.ts";
import { ownAuthPayloads, verifyPeerAuth } from "./authenticate.ts";
import { RefusedChildDeleteInitiator } from "./delete.ts";
import { certificateRequest } from "./ike-init.ts";
import { allowsIkeSuite, type PeerDirectory } from "../peers.ts";

/** MOBIKE notifies for IKE_AUTH: support, and our other addresses (none configured here). */
function mobikePayloads(sa: IkeSa): Payload[] {
  return sa.config.mobike ? [notify(NotifyType.mobikeSupported), notify(NotifyType.noAdditionalAddresses)] : [];
}

function transportNotify(sa: IkeSa): Payload[] {
  return sa.config.mode === "transport" ? [notify(NotifyType.useTransportMode)] : [];
}

export class IkeAuthInitiator implements InitiatorTask {
  readonly name = "ike-auth";
  readonly exchange = ExchangeType.ikeAuth;
  readonly #initialContact: boolean;
  #inboundSpi: EspSpi | undefined;

  /**
   * `initialContact`: send INITIAL_CONTACT, which asserts that this IKE SA is the only one between the
   * two identities (RFC 7296 §2.4), so the peer may delete any other it holds. The caller decides
   * (IkeEndpoint.initiate: only when it holds no other IKE SA with that peer).
   */
  constructor(initialContact: boolean) {
    this.#initialContact = initialContact;
  }

  build(sa: IkeSa, ctx: TaskContext): Payload[] {
    this.#inboundSpi ??= allocateEspSpi(ctx.random, (s) => sa.childByInbound(s) !== undefined);
    const own = ownAuthPayloads(sa);
    const idr: Payload[] = sa.config.remoteId ? [{ kind: "idr", idType: sa.config.remoteId.type, data: sa.config.remoteId.data }] : [];
    return [
      own.id,
      ...own.cert,
      ...certificateRequest(sa.config),
      ...(this.#initialContact ? [notify(NotifyType.initialContact)] : []),
      ...idr,
      own.auth,
      ...transportNotify(sa),
      espOffer(withoutDh(sa.config.espProposals), this.#inboundSpi, false),
      { kind: "tsi", selectors: sa.config.localTs },
      { kind: "tsr", selectors: sa.config.remoteTs },
      ...mobikePayloads(sa),
    ];
  }

  process(sa: IkeSa, response: Received, ctx: TaskContext): TaskOutcome {
    const p = response.payloads;
    const idr = firstOf(p, "idr");
    const auth = firstOf(p, "auth");
    if (!idr || !auth) {
      const error = errorNotify(p);
      ctx.counters.increment("ike.auth.failed");
      return { kind: "failed", reason: error ? "peer refused IKE_AUTH" : "IKE_AUTH response without IDr/AUTH", notify: error?.notifyType ?? NotifyType.authenticationFailed, closeIkeSa: true };
    }
    const verdict = verifyPeerAuth(sa, idr, auth, p.filter((x): x is Extract<Payload, { kind: "cert" }> => x.kind === "cert"));
    if (!verdict.ok) {
      ctx.counters.increment("ike.auth.failed");
      return { kind: "failed", reason: verdict.reason, notify: NotifyType.authenticationFailed, closeIkeSa: true };
    }
    sa.peerId = verdict.peerId;
    sa.mobike = sa.config.mobike && notifies(p, NotifyType.mobikeSupported).length > 0;
    sa.state = "established";
    ctx.counters.increment("ike.sa.established");
    ctx.emit({ kind: "ike-sa-established", sa: sa.summary() });
    const childError = errorNotify(p);
    const child = childError ? undefined : acceptChild(sa, p, withoutDh(sa.config.espProposals));
    if (!child || !child.ok) {
      const n = childError?.notifyType ?? (child && !child.ok ? child.error : NotifyType.noProposalChosen);
      // The peer installed a CHILD_SA we refuse (e.g. tunnel for our transport request): have it deleted.
      if (!childError && firstOf(p, "sa")) ctx.queue(new RefusedChildDeleteInitiator(this.#inboundSpi!));
      ctx.emit({ kind: "child-sa-failed", ikeSaName: sa.name, childName: sa.config.childName, reason: "first CHILD_SA not created", notify: n });
      return { kind: "done" };
    }
    const c = createChild(sa, {
      negotiated: child.value.negotiated,
      inboundSpi: this.#inboundSpi!,
      outboundSpi: child.value.peerSpi,
      localTs: child.value.localTs,
      remoteTs: child.value.remoteTs,
      transport: child.value.transport,
      asInitiator: true,
      nonceI: sa.nonceI,
      nonceR: sa.nonceR,
    });
    ctx.emit({ kind: "child-sa-installed", child: installRecord(sa, c) });
    return { kind: "done" };
  }
}

export class IkeAuthResponder implements ResponderTask {
  readonly name = "ike-auth";
  readonly #peers: PeerDirectory | undefined;

  constructor(peers?: PeerDirectory) {
    this.#peers = peers;
  }

  respond(sa: IkeSa, request: Received, ctx: TaskContext): ResponderReply {
    const p = request.payloads;
    const idi = firstOf(p, "idi");
    const auth = firstOf(p, "auth");
    if (sa.state !== "authenticating" || !idi || !auth) {
      // EAP (no AUTH in the first IKE_AUTH, RFC 4877 §8) is not offered by this responder.
      ctx.counters.increment("ike.auth.failed");
      return { payloads: [notify(NotifyType.authenticationFailed)], then: "close-ike-sa", reason: "IKE_AUTH without IDi/AUTH" };
    }
    if (this.#peers) {
      // The claimed identity picks credentials, selectors and proposals; AUTH is checked with them below.
      const peer = this.#peers.lookup({ type: idi.idType, data: idi.data });
      const refusal = !peer ? "unknown-peer" : !allowsIkeSuite(peer, sa.negotiated!) ? "ike-suite-refused" : undefined;
      if (refusal || !peer) {
        ctx.counters.increment(`ike.auth.${refusal}`);
        ctx.counters.increment("ike.auth.failed");
        return { payloads: [notify(NotifyType.authenticationFailed)], then: "close-ike-sa", reason: refusal === "unknown-peer" ? "no configuration for the peer's identity" : "the peer's configuration does not allow the negotiated IKE suite" };
      }
      // The sockets (and so the ports) stay the listener's.
      sa.config = { ...peer, ports: sa.config.ports };
    }
    const verdict = verifyPeerAuth(sa, idi, auth, p.filter((x): x is Extract<Payload, { kind: "cert" }> => x.kind === "cert"));
    if (!verdict.ok) {
      // §2.21.2: answer AUTHENTICATION_FAILED and keep no state.
      ctx.counters.increment("ike.auth.failed");
      return { payloads: [notify(NotifyType.authenticationFailed)], then: "close-ike-sa", reason: verdict.reason };
    }
    sa.peerId = verdict.peerId;
    sa.mobike = sa.config.mobike && notifies(p, NotifyType.mobikeSupported).length > 0;
    sa.state = "established";
    ctx.counters.increment("ike.sa.established");
    // §2.4: the peer says this is its only IKE SA with us. Counted, not acted on: the home agent keeps
    // the other IKE SAs of that identity (liveness removes dead ones), which `per-coa` relies on.
    if (notifies(p, NotifyType.initialContact).length > 0) ctx.counters.increment("ike.auth.initial-contact");
    const own = ownAuthPayloads(sa);
    const reply: Payload[] = [own.id, ...own.cert, own.auth];
    const selection = selectChild(sa, p, withoutDh(sa.config.espProposals));
    ctx.emit({ kind: "ike-sa-established", sa: sa.summary() });
    if (!selection.ok) {
      reply.push(notify(selection.error));
      ctx.emit({ kind: "child-sa-failed", ikeSaName: sa.name, childName: sa.config.childName, reason: "first CHILD_SA refused", notify: selection.error });
    } else {
      const s = selection.value;
      const inboundSpi = allocateEspSpi(ctx.random, (x) => sa.childByInbound(x) !== undefined);
      const c = createChild(sa, {
        negotiated: s.negotiated,
        inboundSpi,
        outboundSpi: s.peerSpi,
        localTs: s.localTs,
        remoteTs: s.remoteTs,
        transport: s.transport,
        name: s.spec.name,
        asInitiator: false,
        nonceI: sa.nonceI,
        nonceR: sa.nonceR,
      });
      reply.push(...childReplyPayloads(s.negotiated, inboundSpi, s.remoteTs, s.localTs, s.transport));
      ctx.emit({ kind: "child-sa-installed", child: installRecord(sa, c) });
    }
    if (sa.mobike) reply.push(notify(NotifyType.mobikeSupported), notify(NotifyType.noAdditionalAddresses));
    return { payloads: reply, then: "keep" };
  }
}
