// The task manager of one IKE SA: the only owner of message IDs, window size 1, retransmission with back-off and give-up (RFC 7296 §2.1–2.4).

import type { Counters } from "../core/counters.ts";
import { later, type Instant } from "../core/instant.ts";
import type { IkeMessage } from "../wire/ikev2/message.ts";
import { decodePayloads, walkChain, type Payload } from "../wire/ikev2/payloads.ts";
import { encodeMessage, type HeaderFields } from "../wire/ikev2/message.ts";
import { ExchangeType } from "./constants.ts";
import type { RandomSource } from "./dh.ts";
import { decryptBody, encryptFragments, encryptMessage } from "./encrypted-payload.ts";
import type { Datagram, Endpoint } from "./endpoint.ts";
import { errorAction, type Direction, type IkeErrorKind } from "./error-policy.ts";
import type { IkeEvent } from "./events.ts";
import type { IkeSa } from "./ike-sa.ts";
import { concat } from "./keys.ts";
import { notify, type InitiatorTask, type Received, type ResponderTask, type TaskContext, type TaskOutcome } from "./task.ts";

export interface TaskManagerEnv {
  readonly random: RandomSource;
  readonly counters: Counters;
  transmit(d: Datagram): void;
  emit(e: IkeEvent): void;
  adopt(sa: IkeSa): void;
  queueOn(sa: IkeSa, task: InitiatorTask, now: Instant): void;
  /** An authenticated message from the peer arrived (restarts the liveness clock). */
  heard(sa: IkeSa, now: Instant): void;
  /** Picks the responder task for a request, or an error notify type when the request cannot be served. */
  responderFor(sa: IkeSa, exchange: number, payloads: readonly Payload[]): ResponderTask | number;
}

interface Outstanding {
  readonly task: InitiatorTask;
  readonly messageId: number;
  datagrams: Datagram[];
  tries: number;
  nextAt: Instant;
}

interface Reassembly {
  readonly total: number;
  readonly parts: (Uint8Array | undefined)[];
  firstInner: number;
  first?: IkeMessage;
}

const MAX_FRAGMENTS = 32;

export class TaskManager {
  readonly sa: IkeSa;
  readonly #env: TaskManagerEnv;
  #nextRequestId = 0;
  #expectedRequestId = 0;
  #active: Outstanding | undefined;
  readonly #queue: InitiatorTask[] = [];
  #lastResponse: { messageId: number; datagrams: Datagram[] } | undefined;
  readonly #reassembly = new Map<string, Reassembly>();
  #closed = false;

  constructor(sa: IkeSa, env: TaskManagerEnv) {
    this.sa = sa;
    this.#env = env;
  }

  get closed(): boolean {
    return this.#closed;
  }
  get busy(): boolean {
    return this.#active !== undefined || this.#queue.length > 0;
  }
  get activeTask(): InitiatorTask | undefined {
    return this.#active?.task;
  }
  get queuedTasks(): readonly InitiatorTask[] {
    return this.#queue;
  }

  /** For a responder SA created by IKE_SA_INIT: message 0 is answered (and cached for retransmissions). */
  answeredInit(response: Datagram): void {
    this.#expectedRequestId = 1;
    this.#lastResponse = { messageId: 0, datagrams: [response] };
  }

  /** Queues an initiator task; it starts at once when the window (size 1, §2.3) is free. */
  queue(task: InitiatorTask, now: Instant): void {
    if (this.#closed) return;
    this.#queue.push(task);
    this.#startNext(now);
  }

  pollTimeout(): Instant | undefined {
    return this.#active?.nextAt;
  }

  /** Retransmits the outstanding request when due; gives up after the configured tries (§2.4). */
  handleTimeout(now: Instant): void {
    const a = this.#active;
    if (!a || now < a.nextAt || this.#closed) return;
    const policy = this.sa.config.retransmit;
    if (a.tries >= policy.maxTries) {
      this.#env.counters.increment("ike.retransmit.give-up");
      a.task.timedOut?.(this.sa, this.#context(now));
      this.close(`no response to ${a.task.name} after ${a.tries} transmissions`);
      return;
    }
    this.#env.counters.increment("ike.retransmit");
    for (const d of a.datagrams) this.#env.transmit(d);
    a.tries += 1;
    a.nextAt = later(now, policy.initialMs * policy.backoff ** (a.tries - 1));
  }

  /** Closes the IKE SA: every CHILD_SA goes with it (§1.4.1); keys are wiped. */
  close(reason: string, notifyType?: number): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#active = undefined;
    this.#queue.length = 0;
    for (const c of this.sa.children) this.#env.emit({ kind: "child-sa-deleted", ikeSaName: this.sa.name, inboundSpi: c.inboundSpi, outboundSpi: c.outboundSpi });
    this.sa.state = "closed";
    this.sa.wipe();
    this.#env.emit(notifyType === undefined ? { kind: "ike-sa-closed", name: this.sa.name, reason } : { kind: "ike-sa-closed", name: this.sa.name, reason, notify: notifyType });
  }

  #context(now: Instant): TaskContext {
    return {
      now,
      random: this.#env.random,
      counters: this.#env.counters,
      emit: (e) => this.#env.emit(e),
      queue: (t) => this.queue(t, now),
      adopt: (sa) => this.#env.adopt(sa),
      queueOn: (sa, task) => this.#env.queueOn(sa, task, now),
    };
  }

  #fields(exchange: number, messageId: number, response: boolean): HeaderFields {
    return { initiatorSpi: this.sa.initiatorSpi, responderSpi: this.sa.responderSpi, exchangeType: exchange, response, initiator: this.sa.isInitiator, messageId };
  }

  #encode(fields: HeaderFields, payloads: readonly Payload[], local: Endpoint, remote: Endpoint): Datagram[] {
    const marker = local.port === this.sa.config.ports.natT;
    let messages: Uint8Array[];
    if (fields.exchangeType === ExchangeType.ikeSaInit) messages = [encodeMessage(fields, payloads)];
    else if (this.sa.fragmentation) messages = encryptFragments(fields, payloads, this.sa.sendDirection, this.#env.random, this.sa.config.maxMessageSize - (marker ? 4 : 0));
    else messages = [encryptMessage(fields, payloads, this.sa.sendDirection, this.#env.random)];
    if (messages.length > 1) this.#env.counters.increment("ike.fragments.sent", messages.length);
    return messages.map((bytes) => ({ local, remote, bytes, nonEspMarker: marker }));
  }

  #send(task: InitiatorTask, messageId: number, now: Instant): void {
    const payloads = task.build(this.sa, this.#context(now));
    const datagrams = this.#encode(this.#fields(task.exchange, messageId, false), payloads, this.sa.local, this.sa.remote);
    if (task.exchange === ExchangeType.ikeSaInit) this.sa.initRequest = datagrams[0]!.bytes;
    this.#active = { task, messageId, datagrams, tries: 1, nextAt: later(now, this.sa.config.retransmit.initialMs) };
    for (const d of datagrams) this.#env.transmit(d);
  }

  #startNext(now: Instant): void {
    if (this.#active || this.#closed) return;
    let task = this.#queue.shift();
    while (task && task.shouldRun && !task.shouldRun(this.sa)) {
      this.#env.counters.increment(`ike.task.skipped.${task.name}`);
      task = this.#queue.shift();
    }
    if (!task) return;
    const messageId = this.#nextRequestId;
    this.#nextRequestId = (this.#nextRequestId + 1) >>> 0;
    this.#send(task, messageId, now);
  }

  #fail(kind: IkeErrorKind, direction: Direction, message: IkeMessage, from: Endpoint, to: Endpoint): void {
    const state = this.sa.state === "established" ? "established" : "half-open";
    const action = errorAction(kind, direction, state, this.#env.counters);
    switch (action.action) {
      case "drop":
        return;
      case "close-sa":
        this.close(`${kind} in ${direction}`);
        return;
      case "resend-response":
        if (this.#lastResponse && this.#lastResponse.messageId === message.header.messageId) {
          this.#env.counters.increment("ike.response.resent");
          for (const d of this.#lastResponse.datagrams) this.#env.transmit({ ...d, local: to, remote: from });
        }
        return;
      case "reply": {
        if (direction !== "request" || !this.sa.keys) return;
        const datagrams = this.#encode(this.#fields(message.header.exchangeType, message.header.messageId, true), [notify(action.notify)], to, from);
        for (const d of datagrams) this.#env.transmit(d);
        if (action.thenClose) this.close(`${kind}`, action.notify);
        return;
      }
    }
  }

  /** Feeds one parsed message of this SA (already matched by SPI and role). */
  handle(message: IkeMessage, from: Endpoint, to: Endpoint, now: Instant): void {
    if (this.#closed) return;
    const h = message.header;
    const direction: Direction = h.response ? "response" : "request";
    if (h.exchangeType === ExchangeType.ikeSaInit) {
      if (!h.response || !this.#active || this.#active.messageId !== h.messageId || this.#active.task.exchange !== ExchangeType.ikeSaInit) {
        return this.#fail(h.response ? "unexpected-response" : "old-request", direction, message, from, to);
      }
      return this.#deliver({ message, payloads: message.payloads, from, to }, now);
    }
    // Cheap checks before crypto: is there a request this could answer, or a request ID in the window?
    if (h.response && (!this.#active || this.#active.messageId !== h.messageId)) return this.#fail("unexpected-response", direction, message, from, to);
    if (!h.response && h.messageId !== this.#expectedRequestId && h.messageId !== this.#expectedRequestId - 1) return this.#fail("future-request", direction, message, from, to);
    if (!message.encrypted || !this.sa.keys) return this.#fail("unprotected", direction, message, from, to);
    const plain = decryptBody(message, this.sa.receiveDirection);
    if (!plain.ok) return this.#fail("integrity", direction, message, from, to);
    this.#env.heard(this.sa, now);
    if (!h.response && h.messageId === this.#expectedRequestId - 1) return this.#fail("old-request", direction, message, from, to);
    let inner = plain.value;
    let firstInner = message.encrypted.firstInner;
    if (message.encrypted.fragment) {
      const assembled = this.#reassemble(message, inner);
      if (assembled === "bad") return this.#fail("bad-fragment", direction, message, from, to);
      if (assembled === undefined) return;
      inner = assembled.plain;
      firstInner = assembled.firstInner;
    }
    const chain = walkChain(inner, firstInner);
    const payloads = chain.ok && !chain.value.encrypted ? decodePayloads(chain.value.payloads) : undefined;
    if (!payloads || !payloads.ok) return this.#fail("malformed-payload", direction, message, from, to);
    const critical = payloads.value.find((p) => p.kind === "unknown" && p.critical);
    if (critical && critical.kind === "unknown") {
      this.#env.counters.increment("ike.unsupported-critical-payload");
      if (!h.response) {
        this.#env.counters.increment(`ike.error.unsupported-critical.request`);
        const datagrams = this.#encode(this.#fields(h.exchangeType, h.messageId, true), [notify(1, Uint8Array.of(critical.type))], to, from);
        this.#expectedRequestId = (h.messageId + 1) >>> 0;
        this.#lastResponse = { messageId: h.messageId, datagrams };
        for (const d of datagrams) this.#env.transmit(d);
        return;
      }
      return this.#fail("unsupported-critical", direction, message, from, to);
    }
    this.#deliver({ message, payloads: payloads.value, from, to }, now);
  }

  #reassemble(message: IkeMessage, plain: Uint8Array): { plain: Uint8Array; firstInner: number } | "bad" | undefined {
    const e = message.encrypted!;
    if (!this.sa.fragmentation || e.totalFragments > MAX_FRAGMENTS) return "bad";
    const key = `${message.header.response ? "r" : "q"}${message.header.messageId}`;
    let r = this.#reassembly.get(key);
    if (r && r.total !== e.totalFragments) {
      // RFC 7383 §2.6.2: a different total means a new fragmentation of the message; start over.
      if (e.totalFragments < r.total) return undefined;
      r = undefined;
    }
    if (!r) {
      r = { total: e.totalFragments, parts: new Array(e.totalFragments).fill(undefined), firstInner: 0 };
      this.#reassembly.set(key, r);
    }
    r.parts[e.fragmentNumber - 1] = plain.slice();
    if (e.fragmentNumber === 1) r.firstInner = e.firstInner;
    this.#env.counters.increment("ike.fragments.received");
    if (r.parts.some((p) => p === undefined)) return undefined;
    this.#reassembly.delete(key);
    return { plain: concat(...(r.parts as Uint8Array[])), firstInner: r.firstInner };
  }

  #deliver(received: Received, now: Instant): void {
    const h = received.message.header;
    const ctx = this.#context(now);
    if (h.response) {
      const active = this.#active!;
      const outcome: TaskOutcome = active.task.process(this.sa, received, ctx);
      this.#outcome(active, outcome, now);
      return;
    }
    // A valid authenticated request behind a NAT: follow the peer's address (§2.23).
    if (!this.sa.isInitiator && (this.sa.natRemote || this.sa.natLocal) && (received.from.address !== this.sa.remote.address || received.from.port !== this.sa.remote.port)) {
      this.sa.remote = received.from;
      this.sa.local = received.to;
    }
    const responder = this.#env.responderFor(this.sa, h.exchangeType, received.payloads);
    let reply: Payload[];
    let then: "keep" | "close-ike-sa" = "keep";
    let reason: string | undefined;
    if (typeof responder === "number") {
      this.#env.counters.increment(`ike.request.refused.${responder}`);
      reply = [notify(responder)];
    } else {
      const r = responder.respond(this.sa, received, ctx);
      reply = r.payloads;
      then = r.then;
      reason = r.reason;
    }
    const datagrams = this.#encode(this.#fields(h.exchangeType, h.messageId, true), reply, received.to, received.from);
    this.#expectedRequestId = (h.messageId + 1) >>> 0;
    this.#lastResponse = { messageId: h.messageId, datagrams };
    for (const d of datagrams) this.#env.transmit(d);
    if (then === "close-ike-sa") this.close(reason ?? "closed by peer");
  }

  #outcome(active: Outstanding, outcome: TaskOutcome, now: Instant): void {
    switch (outcome.kind) {
      case "retry":
        this.#send(active.task, active.messageId, now);
        return;
      case "done":
        this.#active = undefined;
        if (outcome.closeIkeSa) this.close(outcome.reason ?? `${active.task.name} done`);
        else this.#startNext(now);
        return;
      case "failed":
        this.#active = undefined;
        this.#env.counters.increment(`ike.task.failed.${active.task.name}`);
        if (outcome.closeIkeSa) this.close(outcome.reason, outcome.notify);
        else this.#startNext(now);
        return;
    }
  }
}
