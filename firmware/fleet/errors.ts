// FleetError: the typed refusal of an incoming fleet document, published as the config result and counted.

import type { ConfigIssue } from "../config/validate.ts";

export type FleetErrorKind =
  | "oversized" // the payload is larger than the configured limit (refused unread)
  | "malformed-json" // not UTF-8 or not JSON
  | "wrong-type" // a field has the wrong JSON type
  | "missing-field"
  | "unknown-field" // a field the schema does not know (typos are refused, not ignored)
  | "invalid-value" // right type, forbidden value (range, pattern, cross-field rule)
  | "missing-signature" // signatures are required and the document has none
  | "bad-signature" // the Ed25519 signature does not verify
  | "stale-version"; // the version is not above the last one processed (stale or replayed)

export interface FleetError {
  readonly kind: FleetErrorKind;
  readonly detail: string;
  /** Path-precise issues, for schema refusals. */
  readonly issues?: readonly ConfigIssue[];
  /** The document's version, when it could be read. */
  readonly version?: number;
  readonly clientToken?: string;
}

/** Counter name for a refusal, e.g. `fleet.desired.unknown-field`. */
export function fleetErrorCounter(error: FleetError): string {
  return `fleet.desired.${error.kind}`;
}
