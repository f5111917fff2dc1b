// The responder's front door for IKE_SA_INIT: half-open limits and stateless cookies (RFC 7296 §2.6), so a flood keeps memory bounded.

import type { Counters } from "../core/counters.ts";
import { later, type Instant } from "../core/instant.ts";
import { parseIpv4, parseIpv6 } from "../wire/address.ts";
import { spiBytes } from "../wire/ikev2/header.ts";
import type { Payload } from "../wire/ikev2/payloads.ts";
import type { IkeConfig } from "./config.ts";
import { COOKIE_SECRET_LIFETIME_MS, HALF_OPEN_COOKIE_THRESHOLD, HALF_OPEN_LIMIT, HALF_OPEN_TIMEOUT_MS, NotifyType } from "./constants.ts";
import type { RandomSource } from "./dh.ts";
import { constantTimeEqual } from "./encrypted-payload.ts";
import type { Datagram } from "./endpoint.ts";
import { errorAction } from "./error-policy.ts";
import type { IkeSa } from "./ike-sa.ts";
import { concat, hmacFor } from "./keys.ts";
import { firstOf, notify, type Received } from "./task.ts";
import { respondIkeSaInit } from "./tasks/ike-init.ts";
import { freshIkeSpi } from "./tasks/ike-rekey.ts";

export interface ResponderLimits {
  /** Half-open SAs at which cookies are demanded. */
  readonly cookieThreshold: number;
  /** Half-open SAs above which IKE_SA_INIT requests are dropped outright. */
  readonly halfOpenLimit: number;
  readonly halfOpenTimeoutMs: number;
  readonly secretLifetimeMs: number;
}

export const defaultResponderLimits: ResponderLimits = {
  cookieThreshold: HALF_OPEN_COOKIE_THRESHOLD,
  halfOpenLimit: HALF_OPEN_LIMIT,
  halfOpenTimeoutMs: HALF_OPEN_TIMEOUT_MS,
  secretLifetimeMs: COOKIE_SECRET_LIFETIME_MS,
};

interface HalfOpen {
  readonly sa: IkeSa;
  readonly expiresAt: Instant;
  readonly response: Datagram;
}

export type InitDecision =
  | { readonly kind: "accept"; readonly sa: IkeSa; readonly reply: Payload[] }
  /** An unprotected reply with SPIr = 0 and no state kept (COOKIE, INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN). */
  | { readonly kind: "stateless-reply"; readonly payloads: Payload[] }
  | { readonly kind: "resend"; readonly response: Datagram }
  | { readonly kind: "drop" };

const COOKIE_VERSION_LENGTH = 1;
const COOKIE_MAC_LENGTH = 16;

export class InitResponder {
  readonly #config: IkeConfig;
  readonly #random: RandomSource;
  readonly #counters: Counters;
  readonly #limits: ResponderLimits;
  readonly #halfOpen = new Map<string, HalfOpen>();
  #secret: Uint8Array;
  #previousSecret: Uint8Array | undefined;
  #secretVersion = 0;
  #secretSince: Instant | undefined;
  #names = 0;

  constructor(config: IkeConfig, random: RandomSource, counters: Counters, limits: ResponderLimits = defaultResponderLimits) {
    this.#config = config;
    this.#random = random;
    this.#counters = counters;
    this.#limits = limits;
    this.#secret = random(32);
  }

  get halfOpenCount(): number {
    return this.#halfOpen.size;
  }

  get cookiesEngaged(): boolean {
    return this.#halfOpen.size >= this.#limits.cookieThreshold;
  }

  #rotate(now: Instant): void {
    if (this.#secretSince === undefined) this.#secretSince = now;
    if (now - this.#secretSince < this.#limits.secretLifetimeMs) return;
    this.#previousSecret = this.#secret;
    this.#secret = this.#random(32);
    this.#secretVersion = (this.#secretVersion + 1) & 0xff;
    this.#secretSince = now;
  }

  /** Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>) (§2.6), as a truncated HMAC-SHA-256. */
  #cookie(version: number, secret: Uint8Array, request: Received, nonce: Uint8Array): Uint8Array {
    const address = parseIpv6(request.from.address) ?? parseIpv4(request.from.address) ?? new Uint8Array(0);
    const mac = hmacFor("sha256", secret, concat(nonce, address, spiBytes(request.message.header.initiatorSpi)));
    return concat(Uint8Array.of(version), mac.subarray(0, COOKIE_MAC_LENGTH));
  }

  #validCookie(request: Received, nonce: Uint8Array): boolean {
    const first = request.payloads[0];
    if (!first || first.kind !== "notify" || first.notifyType !== NotifyType.cookie) return false;
    const data = first.data;
    if (data.length !== COOKIE_VERSION_LENGTH + COOKIE_MAC_LENGTH) return false;
    const version = data[0]!;
    if (version === this.#secretVersion) return constantTimeEqual(data, this.#cookie(version, this.#secret, request, nonce));
    if (this.#previousSecret && version === ((this.#secretVersion + 255) & 0xff)) return constantTimeEqual(data, this.#cookie(version, this.#previousSecret, request, nonce));
    return false;
  }

  #key(request: Received): string {
    return `${request.message.header.initiatorSpi.toString(16)}|${request.from.address}|${request.from.port}`;
  }

  /** Decides about an IKE_SA_INIT request (SPIr = 0). */
  handle(request: Received, now: Instant): InitDecision {
    this.sweep(now);
    this.#rotate(now);
    const key = this.#key(request);
    const existing = this.#halfOpen.get(key);
    if (existing) {
      // A retransmitted request gets the same response (§2.1); anything else with this SPIi is dropped.
      if (constantTimeEqual(existing.sa.initRequest, request.message.raw)) {
        this.#counters.increment("ike.init.retransmit-answered");
        return { kind: "resend", response: existing.response };
      }
      this.#counters.increment("ike.init.duplicate-spi");
      return { kind: "drop" };
    }
    if (this.#halfOpen.size >= this.#limits.halfOpenLimit) {
      errorAction("half-open-limit", "request", "half-open", this.#counters);
      return { kind: "drop" };
    }
    const nonce = firstOf(request.payloads, "nonce");
    if (!nonce) {
      errorAction("invalid-syntax", "request", "half-open", this.#counters);
      return { kind: "stateless-reply", payloads: [notify(NotifyType.invalidSyntax)] };
    }
    if (this.cookiesEngaged && !this.#validCookie(request, nonce.data)) {
      errorAction("cookie-required", "request", "half-open", this.#counters);
      return { kind: "stateless-reply", payloads: [notify(NotifyType.cookie, this.#cookie(this.#secretVersion, this.#secret, request, nonce.data))] };
    }
    const spiR = freshIkeSpi(this.#random);
    const name = `${this.#config.name}[${++this.#names}]`;
    const result = respondIkeSaInit(this.#config, request, spiR, name, this.#random);
    if (!result.ok) {
      const kind = result.error.notify === NotifyType.invalidKePayload ? "invalid-ke" : result.error.notify === NotifyType.noProposalChosen ? "no-proposal" : "invalid-syntax";
      errorAction(kind, "request", "half-open", this.#counters);
      return { kind: "stateless-reply", payloads: [notify(result.error.notify, result.error.data)] };
    }
    this.#counters.increment("ike.init.accepted");
    return { kind: "accept", sa: result.value.sa, reply: result.value.reply };
  }

  /** Remembers an accepted SA as half-open until IKE_AUTH completes or it times out. */
  track(request: Received, sa: IkeSa, response: Datagram, now: Instant): void {
    this.#halfOpen.set(this.#key(request), { sa, expiresAt: later(now, this.#limits.halfOpenTimeoutMs), response });
  }

  /**
   * Drops entries whose SA got established or closed, and returns the SAs that stayed
   * half-open too long (the caller closes them).
   */
  sweep(now: Instant): IkeSa[] {
    const expired: IkeSa[] = [];
    for (const [key, h] of this.#halfOpen) {
      if (h.sa.state !== "authenticating") this.#halfOpen.delete(key);
      else if (now >= h.expiresAt) {
        this.#halfOpen.delete(key);
        this.#counters.increment("ike.half-open.expired");
        expired.push(h.sa);
      }
    }
    return expired;
  }

  nextExpiry(): Instant | undefined {
    let next: Instant | undefined;
    for (const h of this.#halfOpen.values()) if (next === undefined || h.expiresAt < next) next = h.expiresAt;
    return next;
  }
}
