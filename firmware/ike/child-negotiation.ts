// CHILD_SA negotiation shared by IKE_AUTH and CREATE_CHILD_SA: proposals with SPIs, selectors, mode, KEYMAT (RFC 7296 §1.3, §2.9, §2.17).

import { err, ok, type Result } from "../core/result.ts";
import type { Payload } from "../wire/ikev2/payloads.ts";
import { espSpiBytes, espSpiFromBytes, espSuiteOf, directionalKeys, type ChildSa, type ChildSaInstall, type EspSpi } from "./child-sa.ts";
import { NotifyType } from "./constants.ts";
import type { RandomSource } from "./dh.ts";
import { childSpecsOf, primaryChildSpec, type ChildSpec } from "./config.ts";
import type { IkeSa } from "./ike-sa.ts";
import { deriveChildSaKeys } from "./keys.ts";
import { acceptChosen, negotiatedToWire, proposalToWire, selectProposal, type Negotiated, type ProposalSpec } from "./proposal.ts";
import { firstOf, notifies, notify } from "./task.ts";
import { allWithin, narrow } from "./traffic-selectors.ts";

type TsPayload = Extract<Payload, { kind: "tsi" | "tsr" }>;

/** A fresh inbound SPI: random, never 0 and never 1..255 (reserved, RFC 4303 §2.1). */
export function allocateEspSpi(random: RandomSource, inUse: (spi: EspSpi) => boolean): EspSpi {
  for (;;) {
    const b = random(4);
    const spi = espSpiFromBytes(b)!;
    if (spi > 255 && !inUse(spi)) return spi;
  }
}

/** Our ESP proposals, numbered from 1, carrying our inbound SPI; `dh` adds a PFS group (CREATE_CHILD_SA). */
export function espOffer(specs: readonly ProposalSpec[], spi: EspSpi, withDh: boolean): Payload {
  return {
    kind: "sa",
    proposals: specs.map((s, i) => proposalToWire(withDh ? s : { ...s, dh: [] }, i + 1, espSpiBytes(spi))),
  };
}

/** The (ESP) specs with DH stripped, for IKE_AUTH where no KE is exchanged (§1.2). */
export function withoutDh(specs: readonly ProposalSpec[]): ProposalSpec[] {
  return specs.map((s) => ({ ...s, dh: [] }));
}

/** A responder's choice for a CHILD_SA request, with the spec it matched. */
export interface ChildSelection {
  readonly negotiated: Negotiated;
  readonly peerSpi: EspSpi;
  readonly localTs: Extract<Payload, { kind: "tsr" }>;
  readonly remoteTs: Extract<Payload, { kind: "tsi" }>;
  readonly transport: boolean;
  readonly spec: ChildSpec;
}

/**
 * A responder's choice for a CHILD_SA request; an error notify type when it cannot accept. The
 * spec is the first of `candidates` (default: every spec of the configuration) whose mode is the
 * one asked for and whose selectors narrow the request to something; failing that, the first whose
 * selectors do (a transport request may then get tunnel mode, §1.3.1).
 */
export function selectChild(sa: IkeSa, payloads: readonly Payload[], specs: readonly ProposalSpec[], candidates: readonly ChildSpec[] = childSpecsOf(sa.config)): Result<ChildSelection, number> {
  const saPayload = firstOf(payloads, "sa");
  const tsi = firstOf(payloads, "tsi");
  const tsr = firstOf(payloads, "tsr");
  if (!saPayload || !tsi || !tsr) return err(NotifyType.invalidSyntax);
  const negotiated = selectProposal(saPayload.proposals, specs, "esp");
  if (!negotiated) return err(NotifyType.noProposalChosen);
  const chosen = saPayload.proposals.find((p) => p.number === negotiated.proposalNumber && p.protocolId === 3);
  const peerSpi = chosen ? espSpiFromBytes(chosen.spi) : undefined;
  if (peerSpi === undefined) return err(NotifyType.invalidSyntax);
  const wantsTransport = notifies(payloads, NotifyType.useTransportMode).length > 0;
  // TSi is the initiator's side: for us (responder) the remote selectors; TSr is ours (§2.9).
  const fits = candidates
    .map((spec) => ({ spec, remote: narrow(tsi.selectors, spec.remoteTs), local: narrow(tsr.selectors, spec.localTs) }))
    .filter((c) => c.remote.length > 0 && c.local.length > 0);
  const pick = fits.find((c) => (c.spec.mode === "transport") === wantsTransport) ?? fits[0];
  if (!pick) return err(NotifyType.tsUnacceptable);
  const transport = wantsTransport && pick.spec.mode === "transport";
  return ok({ negotiated, peerSpi, remoteTs: { kind: "tsi", selectors: pick.remote }, localTs: { kind: "tsr", selectors: pick.local }, transport, spec: pick.spec });
}

/** Builds the responder's CHILD_SA payloads (SA, TSi, TSr, mode) for a selection. */
export function childReplyPayloads(negotiated: Negotiated, ourSpi: EspSpi, remoteTs: Payload, localTs: Payload, transport: boolean): Payload[] {
  const out: Payload[] = [{ kind: "sa", proposals: [negotiatedToWire(negotiated, "esp", espSpiBytes(ourSpi))] }, remoteTs, localTs];
  if (transport) out.unshift(notify(NotifyType.useTransportMode));
  return out;
}

/** Checks a response's CHILD_SA part against what we offered; the error notify type otherwise. */
export function acceptChild(sa: IkeSa, payloads: readonly Payload[], offered: readonly ProposalSpec[], spec: ChildSpec = primaryChildSpec(sa.config)): Result<{ negotiated: Negotiated; peerSpi: EspSpi; localTs: Extract<Payload, { kind: "tsi" }>; remoteTs: Extract<Payload, { kind: "tsr" }>; transport: boolean }, number> {
  const saPayload = firstOf(payloads, "sa");
  const tsi = firstOf(payloads, "tsi");
  const tsr = firstOf(payloads, "tsr");
  if (!saPayload || !tsi || !tsr) return err(NotifyType.invalidSyntax);
  const negotiated = acceptChosen(saPayload.proposals, offered, "esp");
  const peerSpi = saPayload.proposals[0] ? espSpiFromBytes(saPayload.proposals[0].spi) : undefined;
  if (!negotiated || peerSpi === undefined) return err(NotifyType.noProposalChosen);
  if (!allWithin(tsi.selectors, spec.localTs) || !allWithin(tsr.selectors, spec.remoteTs)) return err(NotifyType.tsUnacceptable);
  const transport = notifies(payloads, NotifyType.useTransportMode).length > 0;
  if ((spec.mode === "transport") !== transport) return err(NotifyType.noProposalChosen);
  return ok({ negotiated, peerSpi, localTs: tsi, remoteTs: tsr, transport });
}

/** Creates the ChildSa with its KEYMAT (§2.17) and adds it to the IKE SA. */
export function createChild(
  sa: IkeSa,
  args: {
    readonly negotiated: Negotiated;
    readonly inboundSpi: EspSpi;
    readonly outboundSpi: EspSpi;
    readonly localTs: TsPayload;
    readonly remoteTs: TsPayload;
    readonly transport: boolean;
    readonly asInitiator: boolean;
    readonly nonceI: Uint8Array;
    readonly nonceR: Uint8Array;
    readonly sharedSecret?: Uint8Array;
    /** The CHILD_SA's name (its spec's); default the configuration's first. */
    readonly name?: string;
  },
): ChildSa {
  const keys = deriveChildSaKeys(sa.negotiated!.prf!, sa.keys!.skD.expose(), args.negotiated.encryption, args.negotiated.integrity, args.nonceI, args.nonceR, args.sharedSecret);
  const lowestNonce = Buffer.compare(args.nonceI, args.nonceR) <= 0 ? args.nonceI : args.nonceR;
  const child: ChildSa = {
    name: args.name ?? sa.config.childName,
    inboundSpi: args.inboundSpi,
    outboundSpi: args.outboundSpi,
    negotiated: args.negotiated,
    mode: args.transport ? "transport" : "tunnel",
    localTs: args.localTs.selectors,
    remoteTs: args.remoteTs.selectors,
    keys,
    createdAsInitiator: args.asInitiator,
    lowestNonce,
    state: "installed",
  };
  sa.children.push(child);
  return child;
}

/** The SAD install record for a child of `sa`. */
export function installRecord(sa: IkeSa, child: ChildSa, rekeys?: EspSpi): ChildSaInstall {
  const keys = directionalKeys(child);
  return {
    ikeSaName: sa.name,
    childName: child.name,
    protocol: "esp",
    mode: child.mode,
    inboundSpi: child.inboundSpi,
    outboundSpi: child.outboundSpi,
    suite: espSuiteOf(child.negotiated),
    negotiated: child.negotiated,
    esn: child.negotiated.esn,
    inbound: keys.inbound,
    outbound: keys.outbound,
    localTs: child.localTs,
    remoteTs: child.remoteTs,
    local: sa.local,
    remote: sa.remote,
    ...(sa.espInUdp ? { udpEncapsulation: { localPort: sa.local.port, remotePort: sa.remote.port } } : {}),
    lifetimes: sa.config.childLifetimes,
    ...(rekeys !== undefined ? { rekeys } : {}),
    createdAsInitiator: child.createdAsInitiator,
  };
}

/** The spec a CHILD_SA was made from (its rekey keeps name, mode and selectors). */
export function specOfChild(child: ChildSa): ChildSpec {
  return { name: child.name, mode: child.mode, localTs: child.localTs, remoteTs: child.remoteTs };
}
