// The task contract: one exchange per task, initiator and responder variants; the task manager drives them.

import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import type { IkeMessage } from "../wire/ikev2/message.ts";
import type { Payload } from "../wire/ikev2/payloads.ts";
import type { ExchangeTypeNumber } from "./constants.ts";
import type { RandomSource } from "./dh.ts";
import type { Endpoint } from "./endpoint.ts";
import type { IkeEvent } from "./events.ts";
import type { IkeSa } from "./ike-sa.ts";

/** A request or response after decryption (and reassembly of RFC 7383 fragments). */
export interface Received {
  readonly message: IkeMessage;
  readonly payloads: readonly Payload[];
  readonly from: Endpoint;
  readonly to: Endpoint;
}

/** What tasks may touch besides their IKE SA: randomness, counters, events, follow-up work. */
export interface TaskContext {
  readonly now: Instant;
  readonly random: RandomSource;
  readonly counters: Counters;
  emit(event: IkeEvent): void;
  /** Queues an initiator task on this IKE SA (it runs when the window is free, §2.3). */
  queue(task: InitiatorTask): void;
  /** Hands a newly created IKE SA (IKE rekey) to the endpoint that routes datagrams. */
  adopt(sa: IkeSa): void;
  /** Queues an initiator task on another IKE SA held by the same endpoint (a rekey successor). */
  queueOn(sa: IkeSa, task: InitiatorTask): void;
}

export type TaskOutcome =
  | { readonly kind: "done"; readonly closeIkeSa?: boolean; readonly reason?: string }
  /** Send the request again with the same message ID (IKE_SA_INIT after COOKIE or INVALID_KE_PAYLOAD, §2.6, §1.2). */
  | { readonly kind: "retry" }
  | { readonly kind: "failed"; readonly reason: string; readonly notify?: number; readonly closeIkeSa: boolean };

export interface InitiatorTask {
  readonly name: string;
  readonly exchange: ExchangeTypeNumber;
  /** The request's payloads; called again after a `retry`. May move the SA's endpoints (MOBIKE). */
  build(sa: IkeSa, ctx: TaskContext): Payload[];
  process(sa: IkeSa, response: Received, ctx: TaskContext): TaskOutcome;
  /** Checked when the task's turn comes; false drops it unsent (e.g. its CHILD_SA is gone meanwhile). */
  shouldRun?(sa: IkeSa): boolean;
  /** Retransmissions gave up (§2.4). */
  timedOut?(sa: IkeSa, ctx: TaskContext): void;
}

export interface ResponderReply {
  readonly payloads: Payload[];
  /** After the reply is sent: keep the SA, or close it (DELETE of the IKE SA, failed IKE_AUTH). */
  readonly then: "keep" | "close-ike-sa";
  readonly reason?: string;
}

export interface ResponderTask {
  readonly name: string;
  respond(sa: IkeSa, request: Received, ctx: TaskContext): ResponderReply;
}

/** Helpers over payload lists. */
export function notifies(payloads: readonly Payload[], type: number): Extract<Payload, { kind: "notify" }>[] {
  return payloads.filter((p): p is Extract<Payload, { kind: "notify" }> => p.kind === "notify" && p.notifyType === type);
}
export function firstOf<K extends Payload["kind"]>(payloads: readonly Payload[], kind: K): Extract<Payload, { kind: K }> | undefined {
  return payloads.find((p): p is Extract<Payload, { kind: K }> => p.kind === kind);
}
/** The first error notify (type < 16384) in a response, if any. */
export function errorNotify(payloads: readonly Payload[]): Extract<Payload, { kind: "notify" }> | undefined {
  return payloads.find((p): p is Extract<Payload, { kind: "notify" }> => p.kind === "notify" && p.notifyType < 16384);
}
export function notify(notifyType: number, data: Uint8Array = new Uint8Array(0), protocolId = 0, spi: Uint8Array = new Uint8Array(0)): Payload {
  return { kind: "notify", protocolId, spi, notifyType, data };
}
