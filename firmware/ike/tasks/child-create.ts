// CREATE_CHILD_SA for a new CHILD_SA (RFC 7296 §1.3.1), with optional PFS key exchange; shared by CHILD_SA rekeying.

import type { Payload } from "../../wire/ikev2/payloads.ts";
import { acceptChild, allocateEspSpi, childReplyPayloads, createChild, espOffer, installRecord, selectChild, specOfChild } from "../child-negotiation.ts";
import { primaryChildSpec, type ChildSpec } from "../config.ts";
import type { ChildSa, EspSpi } from "../child-sa.ts";
import { ExchangeType, NONCE_LENGTH, NotifyType } from "../constants.ts";
import { createKeyExchange, type KeyExchange } from "../dh.ts";
import type { IkeSa } from "../ike-sa.ts";
import type { ProposalSpec } from "../proposal.ts";
import { RefusedChildDeleteInitiator } from "./delete.ts";
import { errorNotify, firstOf, notify, type InitiatorTask, type Received, type ResponderReply, type ResponderTask, type TaskContext, type TaskOutcome } from "../task.ts";

/** The ESP specs for a CREATE_CHILD_SA: with PFS each gets the IKE SA's group unless it names its own. */
export function childSpecs(sa: IkeSa, pfs: boolean): ProposalSpec[] {
  return sa.config.espProposals.map((s) => (pfs ? (s.dh.length > 0 ? s : { ...s, dh: sa.negotiated?.dh ? [sa.negotiated.dh] : [] }) : { ...s, dh: [] }));
}

/** The initiator's half of a CREATE_CHILD_SA for a CHILD_SA; `rekey` adds REKEY_SA (§1.3.3). */
export class ChildExchangeInitiator {
  readonly #pfs: boolean;
  readonly #rekey: ChildSa | undefined;
  readonly #spec: ChildSpec | undefined;
  #inboundSpi: EspSpi | undefined;
  #nonce: Uint8Array | undefined;
  #keyExchange: KeyExchange | undefined;
  #specs: ProposalSpec[] = [];
  created: ChildSa | undefined;
  nonces: { i: Uint8Array; r: Uint8Array } | undefined;

  /** `spec`: what to create (default the configuration's first); a rekey keeps the old CHILD_SA's. */
  constructor(pfs: boolean, rekey?: ChildSa, spec?: ChildSpec) {
    this.#pfs = pfs;
    this.#rekey = rekey;
    this.#spec = spec;
  }

  #specOf(sa: IkeSa): ChildSpec {
    return this.#rekey ? specOfChild(this.#rekey) : (this.#spec ?? primaryChildSpec(sa.config));
  }

  build(sa: IkeSa, ctx: TaskContext): Payload[] {
    const spec = this.#specOf(sa);
    this.#specs = childSpecs(sa, this.#pfs);
    this.#inboundSpi ??= allocateEspSpi(ctx.random, (s) => sa.childByInbound(s) !== undefined);
    this.#nonce ??= ctx.random(NONCE_LENGTH);
    const group = this.#specs[0]?.dh[0]?.id;
    if (this.#pfs && group !== undefined && !this.#keyExchange) this.#keyExchange = createKeyExchange(group, ctx.random);
    const out: Payload[] = [];
    if (this.#rekey) out.push(notify(NotifyType.rekeySa, new Uint8Array(0), 3, spiOf(this.#rekey.inboundSpi)));
    if (spec.mode === "transport") out.push(notify(NotifyType.useTransportMode));
    out.push(espOffer(this.#specs, this.#inboundSpi, this.#pfs), { kind: "nonce", data: this.#nonce });
    if (this.#keyExchange) out.push({ kind: "ke", group: this.#keyExchange.group, data: this.#keyExchange.publicValue });
    out.push({ kind: "tsi", selectors: spec.localTs }, { kind: "tsr", selectors: spec.remoteTs });
    return out;
  }

  process(sa: IkeSa, response: Received, ctx: TaskContext, childName: string): TaskOutcome {
    const p = response.payloads;
    const error = errorNotify(p);
    const fail = (reason: string, n: number): TaskOutcome => {
      this.#keyExchange?.wipe();
      ctx.emit({ kind: "child-sa-failed", ikeSaName: sa.name, childName, reason, notify: n });
      return { kind: "failed", reason, notify: n, closeIkeSa: false };
    };
    if (error) return fail("peer refused CREATE_CHILD_SA", error.notifyType);
    const nonce = firstOf(p, "nonce");
    if (!nonce) return fail("CREATE_CHILD_SA response without Nr", NotifyType.invalidSyntax);
    const spec = this.#specOf(sa);
    const accepted = acceptChild(sa, p, this.#specs, spec);
    if (!accepted.ok) {
      if (firstOf(p, "sa")) ctx.queue(new RefusedChildDeleteInitiator(this.#inboundSpi!));
      return fail("CREATE_CHILD_SA response does not match our offer", accepted.error);
    }
    let shared: Uint8Array | undefined;
    if (accepted.value.negotiated.dh) {
      const ke = firstOf(p, "ke");
      if (!ke || !this.#keyExchange || ke.group !== this.#keyExchange.group) return fail("PFS without a matching KE", NotifyType.invalidKePayload);
      const s = this.#keyExchange.sharedSecret(ke.data);
      if (!s.ok) return fail(`bad KE: ${s.error}`, NotifyType.invalidSyntax);
      shared = s.value.expose();
    }
    this.#keyExchange?.wipe();
    this.nonces = { i: this.#nonce!, r: nonce.data.slice() };
    this.created = createChild(sa, {
      negotiated: accepted.value.negotiated,
      inboundSpi: this.#inboundSpi!,
      outboundSpi: accepted.value.peerSpi,
      localTs: accepted.value.localTs,
      remoteTs: accepted.value.remoteTs,
      transport: accepted.value.transport,
      name: spec.name,
      asInitiator: true,
      nonceI: this.nonces.i,
      nonceR: this.nonces.r,
      ...(shared ? { sharedSecret: shared } : {}),
    });
    shared?.fill(0);
    ctx.emit({ kind: "child-sa-installed", child: installRecord(sa, this.created, this.#rekey?.inboundSpi) });
    return { kind: "done" };
  }
}

export function spiOf(spi: EspSpi): Uint8Array {
  return Uint8Array.of(spi >>> 24, (spi >>> 16) & 0xff, (spi >>> 8) & 0xff, spi & 0xff);
}

/** Initiator: an additional CHILD_SA with the configured selectors, or those of `spec`. */
export class ChildCreateInitiator implements InitiatorTask {
  readonly name = "child-create";
  readonly exchange = ExchangeType.createChildSa;
  readonly #exchange: ChildExchangeInitiator;
  readonly #childName: string | undefined;
  constructor(pfs: boolean, spec?: ChildSpec) {
    this.#exchange = new ChildExchangeInitiator(pfs, undefined, spec);
    this.#childName = spec?.name;
  }
  build(sa: IkeSa, ctx: TaskContext): Payload[] {
    return this.#exchange.build(sa, ctx);
  }
  process(sa: IkeSa, response: Received, ctx: TaskContext): TaskOutcome {
    return this.#exchange.process(sa, response, ctx, this.#childName ?? sa.config.childName);
  }
}

/**
 * The responder's half of a CHILD_SA CREATE_CHILD_SA (new or rekey). With a DH group in the
 * chosen proposal the request must carry KE of that group (else INVALID_KE_PAYLOAD, §1.3).
 */
export function respondChild(sa: IkeSa, request: Received, ctx: TaskContext, rekeys?: ChildSa): { reply: ResponderReply; created?: ChildSa } {
  const p = request.payloads;
  const nonce = firstOf(p, "nonce");
  if (!nonce) return { reply: { payloads: [notify(NotifyType.invalidSyntax)], then: "keep" } };
  const specs = sa.config.espProposals.map((s) => (s.dh.length > 0 || !firstOf(p, "ke") ? s : { ...s, dh: sa.negotiated?.dh ? [sa.negotiated.dh] : [] }));
  const selection = selectChild(sa, p, specs, rekeys ? [specOfChild(rekeys)] : undefined);
  if (!selection.ok) return { reply: { payloads: [notify(selection.error)], then: "keep" } };
  const s = selection.value;
  const reply: Payload[] = [];
  let shared: Uint8Array | undefined;
  let ourNonce: Uint8Array;
  if (s.negotiated.dh) {
    const ke = firstOf(p, "ke");
    if (!ke || ke.group !== s.negotiated.dh.id) {
      const g = s.negotiated.dh.id;
      return { reply: { payloads: [notify(NotifyType.invalidKePayload, Uint8Array.of(g >> 8, g & 0xff))], then: "keep" } };
    }
    const exchange = createKeyExchange(ke.group, ctx.random)!;
    const sh = exchange.sharedSecret(ke.data);
    exchange.wipe();
    if (!sh.ok) return { reply: { payloads: [notify(NotifyType.invalidSyntax)], then: "keep" } };
    shared = sh.value.expose();
    ourNonce = ctx.random(NONCE_LENGTH);
    reply.push({ kind: "nonce", data: ourNonce }, { kind: "ke", group: exchange.group, data: exchange.publicValue });
  } else {
    ourNonce = ctx.random(NONCE_LENGTH);
    reply.push({ kind: "nonce", data: ourNonce });
  }
  const inboundSpi = allocateEspSpi(ctx.random, (x) => sa.childByInbound(x) !== undefined);
  const created = createChild(sa, {
    negotiated: s.negotiated,
    inboundSpi,
    outboundSpi: s.peerSpi,
    localTs: s.localTs,
    remoteTs: s.remoteTs,
    transport: s.transport,
    name: s.spec.name,
    asInitiator: false,
    nonceI: nonce.data.slice(),
    nonceR: ourNonce,
    ...(shared ? { sharedSecret: shared } : {}),
  });
  shared?.fill(0);
  ctx.emit({ kind: "child-sa-installed", child: installRecord(sa, created, rekeys?.inboundSpi) });
  const payloads = childReplyPayloads(s.negotiated, inboundSpi, s.remoteTs, s.localTs, s.transport);
  // SA first, then Nr [KE], then TSi TSr (§1.3.1 order).
  const [saPayload, ...rest] = payloads.filter((x) => x.kind !== "notify");
  const notes = payloads.filter((x) => x.kind === "notify");
  return { reply: { payloads: [...notes, saPayload!, ...reply, ...rest], then: "keep" }, created };
}

export class ChildCreateResponder implements ResponderTask {
  readonly name = "child-create";
  respond(sa: IkeSa, request: Received, ctx: TaskContext): ResponderReply {
    return respondChild(sa, request, ctx).reply;
  }
}
