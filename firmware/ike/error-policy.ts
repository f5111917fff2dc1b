// The one IKE error policy: (error kind × request/response × SA state) → reply with a notify, drop, resend or close; always counted.

import type { Counters } from "../core/counters.ts";
import { NotifyType } from "./constants.ts";

export type IkeErrorKind =
  | "malformed-header" // the IKE header or clear payload chain does not parse
  | "bad-major-version"
  | "unknown-spi" // no IKE SA with this SPI
  | "reflected" // the I flag says the sender plays our own role: our message bounced back
  | "unprotected" // a message after IKE_SA_INIT without an SK payload
  | "integrity" // SK / SKF integrity check failed (forged, corrupted, wrong keys)
  | "malformed-payload" // the decrypted inner chain does not parse
  | "unsupported-critical" // an unknown payload with the critical bit (§2.5)
  | "unexpected-response" // a response that matches no outstanding request
  | "old-request" // a request below the window (retransmission of one already answered)
  | "future-request" // a request beyond the window
  | "bad-fragment" // RFC 7383 fragment that is inconsistent or unexpected
  | "authentication-failed"
  | "no-proposal"
  | "invalid-ke"
  | "invalid-syntax"
  | "half-open-limit" // too many half-open IKE SAs (§2.6)
  | "cookie-required"; // no valid cookie while cookies are engaged

export type Direction = "request" | "response";
export type PolicyState = "half-open" | "established" | "*";

export type ErrorAction =
  | { readonly action: "drop" }
  | { readonly action: "reply"; readonly notify: number; readonly thenClose: boolean }
  | { readonly action: "resend-response" }
  | { readonly action: "close-sa" };

const drop: ErrorAction = { action: "drop" };
const reply = (notify: number, thenClose = false): ErrorAction => ({ action: "reply", notify, thenClose });

/** Rows are matched in order; the first row whose kind, direction and state fit wins (RFC 7296 §2.21, §2.5, §2.6). */
const table: readonly (readonly [IkeErrorKind, Direction | "*", PolicyState, ErrorAction])[] = [
  ["malformed-header", "*", "*", drop],
  ["bad-major-version", "request", "*", reply(NotifyType.invalidMajorVersion)],
  ["bad-major-version", "response", "*", drop],
  ["unknown-spi", "*", "*", drop], // §2.21.4: MAY send INVALID_IKE_SPI; silence avoids being a reflector
  ["reflected", "*", "*", drop],
  ["unprotected", "*", "*", drop],
  ["integrity", "*", "*", drop], // §2.21.2: never answer what did not authenticate
  ["malformed-payload", "request", "*", reply(NotifyType.invalidSyntax)],
  ["malformed-payload", "response", "half-open", { action: "close-sa" }],
  ["malformed-payload", "response", "*", drop],
  ["unsupported-critical", "request", "*", reply(NotifyType.unsupportedCriticalPayload)],
  ["unsupported-critical", "response", "*", { action: "close-sa" }],
  ["unexpected-response", "*", "*", drop],
  ["old-request", "*", "*", { action: "resend-response" }],
  ["future-request", "*", "*", drop],
  ["bad-fragment", "*", "*", drop],
  ["authentication-failed", "request", "*", reply(NotifyType.authenticationFailed, true)],
  ["authentication-failed", "response", "*", { action: "close-sa" }],
  ["no-proposal", "request", "*", reply(NotifyType.noProposalChosen)],
  ["invalid-ke", "request", "*", reply(NotifyType.invalidKePayload)],
  ["invalid-syntax", "request", "*", reply(NotifyType.invalidSyntax)],
  ["half-open-limit", "*", "*", drop],
  ["cookie-required", "request", "*", reply(NotifyType.cookie)],
];

/** Looks up the action and counts `ike.error.<kind>.<direction>`. */
export function errorAction(kind: IkeErrorKind, direction: Direction, state: PolicyState, counters: Counters): ErrorAction {
  counters.increment(`ike.error.${kind}.${direction}`);
  for (const [k, d, s, action] of table) {
    if (k === kind && (d === "*" || d === direction) && (s === "*" || s === state)) return action;
  }
  return drop;
}
