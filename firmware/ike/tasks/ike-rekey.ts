// IKE SA rekey with CREATE_CHILD_SA (RFC 7296 §1.3.2, §2.18): new SPIs, nonces and KE; CHILD_SAs move to the new IKE SA.

import { toHex } from "../../core/hex.ts";
import { ikeSpi, spiBytes, type IkeSpi } from "../../wire/ikev2/header.ts";
import type { Payload } from "../../wire/ikev2/payloads.ts";
import { DhGroup, ExchangeType, NONCE_LENGTH, NotifyType, ProtocolId } from "../constants.ts";
import { createKeyExchange, type KeyExchange, type RandomSource } from "../dh.ts";
import { IkeSa } from "../ike-sa.ts";
import { deriveIkeSaKeys, skeyseedRekey } from "../keys.ts";
import { acceptChosen, negotiatedToWire, proposalToWire, selectProposal, type Negotiated } from "../proposal.ts";
import { errorNotify, firstOf, notify, type InitiatorTask, type Received, type ResponderReply, type ResponderTask, type TaskContext, type TaskOutcome } from "../task.ts";
import { IkeDeleteInitiator } from "./delete.ts";
import { emitIkeSaKeys } from "./ike-init.ts";

function lowest(a: Uint8Array, b: Uint8Array): Uint8Array {
  return Buffer.compare(a, b) <= 0 ? a : b;
}

function spiFrom(bytes: Uint8Array): IkeSpi | undefined {
  if (bytes.length !== 8) return undefined;
  const v = BigInt(`0x${toHex(bytes)}`);
  return v === 0n ? undefined : ikeSpi(v);
}

export function freshIkeSpi(random: RandomSource): IkeSpi {
  for (;;) {
    const spi = spiFrom(random(8));
    if (spi !== undefined) return spi;
  }
}

/** Builds the successor SA: §2.18 keys, inherited endpoints, NAT/MOBIKE state and every CHILD_SA. */
function successor(old: IkeSa, asInitiator: boolean, spiI: IkeSpi, spiR: IkeSpi, negotiated: Negotiated, shared: Uint8Array, nonceI: Uint8Array, nonceR: Uint8Array): IkeSa {
  const sa = new IkeSa(old.config, asInitiator, `${old.config.name}-${toHex(spiBytes(asInitiator ? spiI : spiR)).slice(0, 8)}`, old.local, old.remote, spiI, spiR);
  const skeyseed = skeyseedRekey(old.negotiated!.prf!, old.keys!.skD.expose(), shared, nonceI, nonceR);
  sa.negotiated = negotiated;
  sa.keys = deriveIkeSaKeys(negotiated, skeyseed, nonceI, nonceR, spiBytes(spiI), spiBytes(spiR));
  skeyseed.fill(0);
  sa.nonceI = nonceI;
  sa.nonceR = nonceR;
  sa.natLocal = old.natLocal;
  sa.natRemote = old.natRemote;
  sa.mobike = old.mobike;
  sa.mobikeInitiator = old.mobikeInitiator ?? old.isInitiator;
  sa.fragmentation = old.fragmentation;
  sa.peerSignatureHashes = old.peerSignatureHashes;
  if (old.peerId) sa.peerId = old.peerId;
  sa.peerAdditionalAddresses = old.peerAdditionalAddresses;
  sa.children.push(...old.children.splice(0));
  sa.state = "established";
  old.state = "rekeyed";
  return sa;
}

export class IkeRekeyInitiator implements InitiatorTask {
  readonly name = "ike-rekey";
  readonly exchange = ExchangeType.createChildSa;
  #spi: IkeSpi | undefined;
  #nonce: Uint8Array | undefined;
  #keyExchange: KeyExchange | undefined;

  shouldRun(sa: IkeSa): boolean {
    return sa.state === "established";
  }

  build(sa: IkeSa, ctx: TaskContext): Payload[] {
    sa.rekeying = true;
    this.#spi ??= freshIkeSpi(ctx.random);
    this.#nonce ??= ctx.random(NONCE_LENGTH);
    this.#keyExchange ??= createKeyExchange(sa.negotiated?.dh?.id ?? DhGroup.none, ctx.random);
    const group = this.#keyExchange!.group;
    // Our group first in every proposal, so the KE we send is the one the responder picks.
    const specs = sa.config.ikeProposals.map((s) => ({ ...s, dh: [...s.dh.filter((d) => d.id === group), ...s.dh.filter((d) => d.id !== group)] }));
    return [
      { kind: "sa", proposals: specs.map((s, i) => proposalToWire(s, i + 1, spiBytes(this.#spi!))) },
      { kind: "nonce", data: this.#nonce },
      { kind: "ke", group, data: this.#keyExchange!.publicValue },
    ];
  }

  process(sa: IkeSa, response: Received, ctx: TaskContext): TaskOutcome {
    const p = response.payloads;
    sa.rekeying = false;
    const error = errorNotify(p);
    if (error) return { kind: "failed", reason: "peer refused the IKE SA rekey", notify: error.notifyType, closeIkeSa: false };
    const saPayload = firstOf(p, "sa");
    const nonce = firstOf(p, "nonce");
    const ke = firstOf(p, "ke");
    const negotiated = saPayload ? acceptChosen(saPayload.proposals, sa.config.ikeProposals, "ike") : undefined;
    const spiR = saPayload?.proposals[0] ? spiFrom(saPayload.proposals[0].spi) : undefined;
    if (!negotiated || !nonce || !ke || spiR === undefined || ke.group !== this.#keyExchange!.group || negotiated.dh?.id !== ke.group) {
      return { kind: "failed", reason: "IKE SA rekey response does not match our offer", notify: NotifyType.noProposalChosen, closeIkeSa: false };
    }
    const shared = this.#keyExchange!.sharedSecret(ke.data);
    this.#keyExchange!.wipe();
    if (!shared.ok) return { kind: "failed", reason: shared.error, notify: NotifyType.invalidSyntax, closeIkeSa: false };
    const next = successor(sa, true, this.#spi!, spiR, negotiated, shared.value.expose(), this.#nonce!, nonce.data.slice());
    shared.value.wipe();
    ctx.adopt(next);
    const theirs = sa.rekeyCollision;
    if (theirs && theirs.state === "established") {
      // §2.8.2: both sides rekeyed. The new SA made with the lowest of the four nonces is redundant;
      // its initiator deletes it, and the initiator of the surviving one deletes the old SA.
      ctx.counters.increment("ike.sa.rekey-collision");
      if (Buffer.compare(lowest(next.nonceI, next.nonceR), lowest(theirs.nonceI, theirs.nonceR)) < 0) {
        ctx.queueOn(next, new IkeDeleteInitiator());
        return { kind: "done" };
      }
      next.children.push(...theirs.children.splice(0));
    }
    ctx.counters.increment("ike.sa.rekeyed");
    ctx.emit({ kind: "ike-sa-rekeyed", oldName: sa.name, sa: next.summary() });
    emitIkeSaKeys(next, ctx);
    // §2.18: the initiator of the rekey deletes the old IKE SA.
    ctx.queue(new IkeDeleteInitiator());
    return { kind: "done" };
  }
}

export class IkeRekeyResponder implements ResponderTask {
  readonly name = "ike-rekey";
  respond(sa: IkeSa, request: Received, ctx: TaskContext): ResponderReply {
    const p = request.payloads;
    const saPayload = firstOf(p, "sa");
    const nonce = firstOf(p, "nonce");
    const ke = firstOf(p, "ke");
    if (!saPayload || !nonce || !ke) return { payloads: [notify(NotifyType.invalidSyntax)], then: "keep" };
    const negotiated = selectProposal(saPayload.proposals, sa.config.ikeProposals, "ike");
    const chosen = negotiated ? saPayload.proposals.find((x) => x.number === negotiated.proposalNumber && x.protocolId === ProtocolId.ike) : undefined;
    const spiI = chosen ? spiFrom(chosen.spi) : undefined;
    if (!negotiated || !negotiated.dh || spiI === undefined) return { payloads: [notify(NotifyType.noProposalChosen)], then: "keep" };
    if (ke.group !== negotiated.dh.id) return { payloads: [notify(NotifyType.invalidKePayload, Uint8Array.of(negotiated.dh.id >> 8, negotiated.dh.id & 0xff))], then: "keep" };
    const exchange = createKeyExchange(ke.group, ctx.random)!;
    const shared = exchange.sharedSecret(ke.data);
    exchange.wipe();
    if (!shared.ok) return { payloads: [notify(NotifyType.invalidSyntax)], then: "keep" };
    const spiR = freshIkeSpi(ctx.random);
    const nonceR = ctx.random(NONCE_LENGTH);
    const next = successor(sa, false, spiI, spiR, negotiated, shared.value.expose(), nonce.data.slice(), nonceR);
    shared.value.wipe();
    ctx.adopt(next);
    if (sa.rekeying) sa.rekeyCollision = next;
    ctx.counters.increment("ike.sa.rekeyed");
    ctx.emit({ kind: "ike-sa-rekeyed", oldName: sa.name, sa: next.summary() });
    emitIkeSaKeys(next, ctx);
    return {
      payloads: [{ kind: "sa", proposals: [negotiatedToWire(negotiated, "ike", spiBytes(spiR))] }, { kind: "nonce", data: nonceR }, { kind: "ke", group: exchange.group, data: exchange.publicValue }],
      then: "keep",
    };
  }
}
