// Liveness check (RFC 7296 §2.4): an empty INFORMATIONAL request; no answer after the retransmissions means the peer is dead.

import type { Payload } from "../../wire/ikev2/payloads.ts";
import { ExchangeType } from "../constants.ts";
import type { IkeSa } from "../ike-sa.ts";
import type { InitiatorTask, ResponderReply, ResponderTask, TaskContext, TaskOutcome } from "../task.ts";

export class LivenessInitiator implements InitiatorTask {
  readonly name = "liveness";
  readonly exchange = ExchangeType.informational;
  shouldRun(sa: IkeSa): boolean {
    return sa.state === "established";
  }
  build(): Payload[] {
    return [];
  }
  process(sa: IkeSa, _r: unknown, ctx: TaskContext): TaskOutcome {
    ctx.emit({ kind: "liveness", ikeSaName: sa.name, alive: true });
    return { kind: "done" };
  }
  timedOut(sa: IkeSa, ctx: TaskContext): void {
    ctx.emit({ kind: "liveness", ikeSaName: sa.name, alive: false });
  }
}

/** Any INFORMATIONAL request without work for another task gets an empty answer. */
export class InformationalResponder implements ResponderTask {
  readonly name = "informational";
  respond(): ResponderReply {
    return { payloads: [], then: "keep" };
  }
}
