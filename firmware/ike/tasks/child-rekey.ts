// CHILD_SA rekey (RFC 7296 §1.3.3, §2.8) with or without PFS, and simultaneous-rekey collisions (§2.8.1).

import type { Payload } from "../../wire/ikev2/payloads.ts";
import { espSpiFromBytes, type ChildSa } from "../child-sa.ts";
import { ExchangeType, NotifyType, ProtocolId } from "../constants.ts";
import type { IkeSa } from "../ike-sa.ts";
import { notifies, notify, type InitiatorTask, type Received, type ResponderReply, type ResponderTask, type TaskContext, type TaskOutcome } from "../task.ts";
import { ChildExchangeInitiator, respondChild } from "./child-create.ts";
import { ChildDeleteInitiator } from "./delete.ts";

function lowest(a: Uint8Array, b: Uint8Array): Uint8Array {
  return Buffer.compare(a, b) <= 0 ? a : b;
}

export class ChildRekeyInitiator implements InitiatorTask {
  readonly name = "child-rekey";
  readonly exchange = ExchangeType.createChildSa;
  readonly #old: ChildSa;
  readonly #exchange: ChildExchangeInitiator;

  constructor(old: ChildSa, pfs: boolean) {
    this.#old = old;
    this.#exchange = new ChildExchangeInitiator(pfs, old);
  }

  shouldRun(sa: IkeSa): boolean {
    return sa.children.includes(this.#old) && this.#old.state === "installed";
  }

  build(sa: IkeSa, ctx: TaskContext): Payload[] {
    this.#old.state = "rekeying";
    return this.#exchange.build(sa, ctx);
  }

  process(sa: IkeSa, response: Received, ctx: TaskContext): TaskOutcome {
    const outcome = this.#exchange.process(sa, response, ctx, this.#old.name);
    if (outcome.kind !== "done") {
      if (this.#old.state === "rekeying") this.#old.state = "installed";
      return outcome;
    }
    const ours = this.#exchange.created!;
    const theirs = this.#old.collision;
    if (theirs && sa.children.includes(theirs)) {
      // §2.8.1: the SA made with the lowest of the four nonces is redundant; whoever made it deletes it.
      ctx.counters.increment("ike.child.rekey-collision");
      const n = this.#exchange.nonces!;
      if (Buffer.compare(lowest(n.i, n.r), theirs.lowestNonce) < 0) {
        this.#old.state = "rekeyed";
        ctx.queue(new ChildDeleteInitiator(ours));
        return { kind: "done" };
      }
    }
    this.#old.state = "rekeyed";
    ctx.queue(new ChildDeleteInitiator(this.#old));
    return { kind: "done" };
  }
}

export class ChildRekeyResponder implements ResponderTask {
  readonly name = "child-rekey";
  respond(sa: IkeSa, request: Received, ctx: TaskContext): ResponderReply {
    const rekey = notifies(request.payloads, NotifyType.rekeySa)[0]!;
    const spi = rekey.protocolId === ProtocolId.esp ? espSpiFromBytes(rekey.spi) : undefined;
    // REKEY_SA carries the SPI the peer receives on: our outbound SPI.
    const old = spi === undefined ? undefined : sa.childByOutbound(spi);
    if (!old || old.state === "deleting") {
      ctx.counters.increment("ike.child.rekey-not-found");
      return { payloads: [notify(NotifyType.childSaNotFound, new Uint8Array(0), ProtocolId.esp, rekey.spi)], then: "keep" };
    }
    const { reply, created } = respondChild(sa, request, ctx, old);
    if (created) {
      if (old.state === "rekeying") old.collision = created;
      else old.state = "rekeyed";
    }
    return reply;
  }
}
