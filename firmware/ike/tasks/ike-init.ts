// IKE_SA_INIT (RFC 7296 §1.2): SA, KE, nonces, NAT detection; COOKIE (§2.6) and INVALID_KE_PAYLOAD (§1.2) retries.

import { err, ok, type Result } from "../../core/result.ts";
import type { IkeSpi } from "../../wire/ikev2/header.ts";
import type { Payload } from "../../wire/ikev2/payloads.ts";
import { encodeHashAlgorithms, supportedSignatureHashes } from "../auth.ts";
import { certificateAuthorityHash } from "../certificate.ts";
import type { IkeConfig } from "../config.ts";
import { CertEncoding, ExchangeType, NONCE_LENGTH, NotifyType } from "../constants.ts";
import { createKeyExchange, type KeyExchange, type RandomSource } from "../dh.ts";
import { IkeSa } from "../ike-sa.ts";
import { spiBytes } from "../../wire/ikev2/header.ts";
import { deriveIkeSaKeys, skeyseedInitial } from "../keys.ts";
import { detectNat, natDetectionNotifies } from "../natd.ts";
import { acceptChosen, negotiatedToWire, proposalToWire, selectProposal, type Negotiated } from "../proposal.ts";
import { errorNotify, firstOf, notifies, notify, type InitiatorTask, type Received, type TaskContext, type TaskOutcome } from "../task.ts";

const MAX_RETRIES = 3;

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff);
}

/** Notifies and CERTREQ both sides add to IKE_SA_INIT for fragmentation and signature auth. */
function capabilityPayloads(config: IkeConfig): Payload[] {
  const out: Payload[] = [];
  if (config.fragmentation) out.push(notify(NotifyType.ikev2FragmentationSupported));
  if (config.auth.kind === "pubkey") out.push(notify(NotifyType.signatureHashAlgorithms, encodeHashAlgorithms(supportedSignatureHashes)));
  return out;
}

export function certificateRequest(config: IkeConfig): Payload[] {
  if (config.auth.kind !== "pubkey" || config.auth.trust.length === 0) return [];
  const hashes = config.auth.trust.map(certificateAuthorityHash);
  const data = new Uint8Array(hashes.length * 20);
  hashes.forEach((h, i) => data.set(h, i * 20));
  return [{ kind: "certreq", encoding: CertEncoding.x509Signature, data }];
}

function recordCapabilities(sa: IkeSa, payloads: readonly Payload[]): void {
  sa.fragmentation = sa.config.fragmentation && notifies(payloads, NotifyType.ikev2FragmentationSupported).length > 0;
  const hashes = notifies(payloads, NotifyType.signatureHashAlgorithms)[0];
  if (hashes) {
    const ids: number[] = [];
    for (let i = 0; i + 1 < hashes.data.length; i += 2) ids.push((hashes.data[i]! << 8) | hashes.data[i + 1]!);
    sa.peerSignatureHashes = ids;
  }
}

function emitKeys(sa: IkeSa, ctx: TaskContext): void {
  if (!sa.config.exportKeys || !sa.keys) return;
  const s = sa.summary();
  ctx.emit({
    kind: "ike-sa-keys",
    keys: { initiatorSpi: s.initiatorSpi, responderSpi: s.responderSpi, negotiated: sa.negotiated!, skEi: sa.keys.skEi, skEr: sa.keys.skEr, skAi: sa.keys.skAi, skAr: sa.keys.skAr },
  });
}

/** Derives the IKE SA keys once both nonces, SPIs and g^ir are known (§2.14). */
function establishKeys(sa: IkeSa, negotiated: Negotiated, shared: Uint8Array): void {
  sa.negotiated = negotiated;
  const skeyseed = skeyseedInitial(negotiated.prf!, sa.nonceI, sa.nonceR, shared);
  sa.keys = deriveIkeSaKeys(negotiated, skeyseed, sa.nonceI, sa.nonceR, spiBytes(sa.initiatorSpi), spiBytes(sa.responderSpi));
  skeyseed.fill(0);
}

/** The initiator's IKE_SA_INIT. */
export class IkeInitInitiator implements InitiatorTask {
  readonly name = "ike-init";
  readonly exchange = ExchangeType.ikeSaInit;
  #group: number;
  #keyExchange: KeyExchange | undefined;
  #cookie: Uint8Array | undefined;
  #retries = 0;

  constructor(config: IkeConfig) {
    this.#group = config.ikeProposals[0]?.dh[0]?.id ?? 0;
  }

  build(sa: IkeSa, ctx: TaskContext): Payload[] {
    if (sa.nonceI.length === 0) sa.nonceI = ctx.random(NONCE_LENGTH);
    if (!this.#keyExchange || this.#keyExchange.group !== this.#group) {
      this.#keyExchange?.wipe();
      this.#keyExchange = createKeyExchange(this.#group, ctx.random);
    }
    const ke = this.#keyExchange!;
    const payloads: Payload[] = [];
    // §2.6: the COOKIE notify comes first.
    if (this.#cookie) payloads.push(notify(NotifyType.cookie, this.#cookie));
    payloads.push(
      { kind: "sa", proposals: sa.config.ikeProposals.map((p, i) => proposalToWire(p, i + 1, new Uint8Array(0))) },
      { kind: "ke", group: ke.group, data: ke.publicValue },
      { kind: "nonce", data: sa.nonceI },
      ...natDetectionNotifies(sa.initiatorSpi, sa.responderSpi, sa.local, sa.remote),
      ...capabilityPayloads(sa.config),
    );
    return payloads;
  }

  process(sa: IkeSa, response: Received, ctx: TaskContext): TaskOutcome {
    const p = response.payloads;
    const cookie = notifies(p, NotifyType.cookie)[0];
    if (cookie) {
      if (++this.#retries > MAX_RETRIES || cookie.data.length < 1 || cookie.data.length > 64) return { kind: "failed", reason: "cookie exchange did not converge", closeIkeSa: true };
      ctx.counters.increment("ike.init.cookie-retry");
      this.#cookie = cookie.data.slice();
      return { kind: "retry" };
    }
    const invalidKe = notifies(p, NotifyType.invalidKePayload)[0];
    if (invalidKe) {
      const wanted = invalidKe.data.length === 2 ? (invalidKe.data[0]! << 8) | invalidKe.data[1]! : -1;
      const offered = sa.config.ikeProposals.some((s) => s.dh.some((d) => d.id === wanted));
      if (!offered || wanted === this.#group || ++this.#retries > MAX_RETRIES) {
        return { kind: "failed", reason: `INVALID_KE_PAYLOAD asks for group ${wanted}, which we did not offer`, notify: NotifyType.invalidKePayload, closeIkeSa: true };
      }
      ctx.counters.increment("ike.init.invalid-ke-retry");
      this.#group = wanted;
      return { kind: "retry" };
    }
    const error = errorNotify(p);
    if (error) return { kind: "failed", reason: "peer refused IKE_SA_INIT", notify: error.notifyType, closeIkeSa: true };
    const saPayload = firstOf(p, "sa");
    const ke = firstOf(p, "ke");
    const nonce = firstOf(p, "nonce");
    const spiR: IkeSpi = response.message.header.responderSpi;
    if (!saPayload || !ke || !nonce || spiR === 0n) return { kind: "failed", reason: "IKE_SA_INIT response lacks SA, KE, Nr or SPIr", notify: NotifyType.invalidSyntax, closeIkeSa: true };
    const negotiated = acceptChosen(saPayload.proposals, sa.config.ikeProposals, "ike");
    if (!negotiated || negotiated.dh?.id !== this.#group || ke.group !== this.#group) {
      return { kind: "failed", reason: "responder chose a proposal we did not offer", notify: NotifyType.noProposalChosen, closeIkeSa: true };
    }
    const shared = this.#keyExchange!.sharedSecret(ke.data);
    this.#keyExchange!.wipe();
    if (!shared.ok) return { kind: "failed", reason: `bad KE from responder: ${shared.error}`, notify: NotifyType.invalidSyntax, closeIkeSa: true };
    sa.responderSpi = spiR;
    sa.nonceR = nonce.data.slice();
    sa.initResponse = response.message.raw.slice();
    establishKeys(sa, negotiated, shared.value.expose());
    shared.value.wipe();
    recordCapabilities(sa, p);
    const nat = detectNat(p, sa.initiatorSpi, sa.responderSpi, response.from, response.to);
    sa.natLocal = nat.local;
    sa.natRemote = nat.remote;
    if (nat.local || nat.remote) ctx.counters.increment("ike.nat.detected");
    // §2.23: float to 4500 when a NAT is detected; RFC 4555 §3.3: MOBIKE initiators float anyway.
    if (nat.local || nat.remote || sa.config.mobike) sa.floatToNatT();
    sa.state = "authenticating";
    emitKeys(sa, ctx);
    return { kind: "done" };
  }
}

export interface InitAccepted {
  readonly sa: IkeSa;
  readonly reply: Payload[];
}

/**
 * The responder's IKE_SA_INIT: selects a proposal, checks KE against it (else INVALID_KE_PAYLOAD
 * with the group we want, §1.2), derives keys and returns the new SA and the reply. An error
 * is the notify to answer with (and its data); no state is kept then.
 */
export function respondIkeSaInit(
  config: IkeConfig,
  request: Received,
  responderSpi: IkeSpi,
  name: string,
  random: RandomSource,
): Result<InitAccepted, { notify: number; data: Uint8Array }> {
  const p = request.payloads;
  const saPayload = firstOf(p, "sa");
  const ke = firstOf(p, "ke");
  const nonce = firstOf(p, "nonce");
  if (!saPayload || !ke || !nonce) return err({ notify: NotifyType.invalidSyntax, data: new Uint8Array(0) });
  const negotiated = selectProposal(saPayload.proposals, config.ikeProposals, "ike");
  if (!negotiated || !negotiated.dh) return err({ notify: NotifyType.noProposalChosen, data: new Uint8Array(0) });
  if (ke.group !== negotiated.dh.id) return err({ notify: NotifyType.invalidKePayload, data: u16(negotiated.dh.id) });
  const exchange = createKeyExchange(negotiated.dh.id, random);
  if (!exchange) return err({ notify: NotifyType.noProposalChosen, data: new Uint8Array(0) });
  const shared = exchange.sharedSecret(ke.data);
  exchange.wipe();
  if (!shared.ok) return err({ notify: NotifyType.invalidSyntax, data: new Uint8Array(0) });
  const h = request.message.header;
  const sa = new IkeSa(config, false, name, request.to, request.from, h.initiatorSpi, responderSpi);
  sa.nonceI = nonce.data.slice();
  sa.nonceR = random(NONCE_LENGTH);
  sa.initRequest = request.message.raw.slice();
  establishKeys(sa, negotiated, shared.value.expose());
  shared.value.wipe();
  recordCapabilities(sa, p);
  const nat = detectNat(p, h.initiatorSpi, h.responderSpi, request.from, request.to);
  sa.natLocal = nat.local;
  sa.natRemote = nat.remote;
  sa.state = "authenticating";
  const reply: Payload[] = [
    { kind: "sa", proposals: [negotiatedToWire(negotiated, "ike", new Uint8Array(0))] },
    { kind: "ke", group: exchange.group, data: exchange.publicValue },
    { kind: "nonce", data: sa.nonceR },
    ...natDetectionNotifies(sa.initiatorSpi, sa.responderSpi, request.to, request.from),
    ...certificateRequest(config),
    ...capabilityPayloads(config),
  ];
  return ok({ sa, reply });
}

export { emitKeys as emitIkeSaKeys };
