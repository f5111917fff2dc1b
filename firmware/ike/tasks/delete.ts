// INFORMATIONAL with Delete payloads (RFC 7296 §1.4.1): CHILD_SAs in pairs, or the whole IKE SA.

import type { Payload } from "../../wire/ikev2/payloads.ts";
import { espSpiFromBytes, type ChildSa } from "../child-sa.ts";
import { ExchangeType, ProtocolId } from "../constants.ts";
import type { IkeSa } from "../ike-sa.ts";
import type { InitiatorTask, Received, ResponderReply, ResponderTask, TaskContext, TaskOutcome } from "../task.ts";
import { spiOf } from "./child-create.ts";

/** Deletes one CHILD_SA: D(ESP, our inbound SPI); the peer answers with its inbound SPI (§1.4.1). */
export class ChildDeleteInitiator implements InitiatorTask {
  readonly name = "child-delete";
  readonly exchange = ExchangeType.informational;
  readonly #child: ChildSa;
  constructor(child: ChildSa) {
    this.#child = child;
  }
  shouldRun(sa: IkeSa): boolean {
    return sa.children.includes(this.#child);
  }
  build(): Payload[] {
    this.#child.state = "deleting";
    return [{ kind: "delete", protocolId: ProtocolId.esp, spiSize: 4, spis: [spiOf(this.#child.inboundSpi)] }];
  }
  process(sa: IkeSa, _response: Received, ctx: TaskContext): TaskOutcome {
    // Whether or not the peer listed the pair, the CHILD_SA is gone on our side now.
    if (sa.children.includes(this.#child)) {
      ctx.emit({ kind: "child-sa-deleted", ikeSaName: sa.name, inboundSpi: this.#child.inboundSpi, outboundSpi: this.#child.outboundSpi });
      sa.removeChild(this.#child);
    }
    return { kind: "done" };
  }
}

/** Deletes the IKE SA and with it every CHILD_SA: D(IKE) with no SPIs. */
export class IkeDeleteInitiator implements InitiatorTask {
  readonly name = "ike-delete";
  readonly exchange = ExchangeType.informational;
  build(sa: IkeSa): Payload[] {
    sa.state = "deleting";
    return [{ kind: "delete", protocolId: ProtocolId.ike, spiSize: 0, spis: [] }];
  }
  process(): TaskOutcome {
    return { kind: "done", closeIkeSa: true, reason: "deleted by us" };
  }
  timedOut(): void {
    // §1.4.1: the IKE SA is gone even without an answer.
  }
}

/** Answers Delete payloads: the IKE SA (empty reply, then close) or CHILD_SAs (reply with our inbound SPIs). */
export class DeleteResponder implements ResponderTask {
  readonly name = "delete";
  respond(sa: IkeSa, request: Received, ctx: TaskContext): ResponderReply {
    const deletes = request.payloads.filter((p): p is Extract<Payload, { kind: "delete" }> => p.kind === "delete");
    if (deletes.some((d) => d.protocolId === ProtocolId.ike)) return { payloads: [], then: "close-ike-sa", reason: "deleted by peer" };
    const ours: Uint8Array[] = [];
    for (const d of deletes) {
      if (d.protocolId !== ProtocolId.esp || d.spiSize !== 4) continue;
      for (const raw of d.spis) {
        const spi = espSpiFromBytes(raw);
        const child = spi === undefined ? undefined : sa.childByOutbound(spi);
        if (!child) {
          ctx.counters.increment("ike.delete.unknown-spi");
          continue;
        }
        // §1.4.1: if we were deleting it too, do not list it again in the reply.
        if (child.state !== "deleting") ours.push(spiOf(child.inboundSpi));
        ctx.emit({ kind: "child-sa-deleted", ikeSaName: sa.name, inboundSpi: child.inboundSpi, outboundSpi: child.outboundSpi });
        sa.removeChild(child);
      }
    }
    return { payloads: ours.length > 0 ? [{ kind: "delete", protocolId: ProtocolId.esp, spiSize: 4, spis: ours }] : [], then: "keep" };
  }
}

/**
 * Deletes a CHILD_SA the peer created but we refused (mode or selectors we did not accept, §1.3.1):
 * we never installed it, so only our inbound SPI, which the peer knows as its outbound, is named.
 */
export class RefusedChildDeleteInitiator implements InitiatorTask {
  readonly name = "child-delete-refused";
  readonly exchange = ExchangeType.informational;
  readonly #inboundSpi: number;
  constructor(inboundSpi: number) {
    this.#inboundSpi = inboundSpi;
  }
  build(): Payload[] {
    return [{ kind: "delete", protocolId: ProtocolId.esp, spiSize: 4, spis: [Uint8Array.of(this.#inboundSpi >>> 24, (this.#inboundSpi >>> 16) & 0xff, (this.#inboundSpi >>> 8) & 0xff, this.#inboundSpi & 0xff)] }];
  }
  process(): TaskOutcome {
    return { kind: "done" };
  }
}
