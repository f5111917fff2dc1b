// The Security Policy Database (RFC 4301 §4.4.1): ordered policies with PROTECT, BYPASS and DISCARD.

import type { Spi } from "./sad.ts";
import { selectorMatches, type PacketSelector, type TrafficSelector } from "./traffic-selector.ts";

export type PolicyAction = "protect" | "bypass" | "discard";
export type PolicyDirection = "outbound" | "inbound";
export type PolicyId = string & { readonly __brand: "PolicyId" };

export function policyId(text: string): PolicyId {
  return text as PolicyId;
}

export interface SecurityPolicy {
  readonly id: PolicyId;
  readonly direction: PolicyDirection;
  readonly selector: TrafficSelector;
  readonly action: PolicyAction;
  /** PROTECT, outbound: the SA that carries matching packets, once one exists (IKE fills it in). */
  readonly outboundSpi?: Spi;
}

/** The decision for one packet; `policy` is undefined when no entry matched (RFC 4301 §4.4.1: then DISCARD). */
export interface PolicyDecision {
  readonly action: PolicyAction;
  readonly policy: SecurityPolicy | undefined;
}

const NO_MATCH: PolicyDecision = { action: "discard", policy: undefined };

/**
 * An ordered list per direction: the first matching entry decides (RFC 4301 §4.4.1, "decorrelation"
 * is the operator's job). Lookups are a linear scan; monami's SPDs have a handful of entries.
 */
export class SecurityPolicyDatabase {
  readonly #entries: Record<PolicyDirection, SecurityPolicy[]> = { outbound: [], inbound: [] };

  /** Adds `policy` at `position` (default: last) in its direction. Replaces an entry with the same id. */
  add(policy: SecurityPolicy, position?: number): void {
    this.remove(policy.id);
    const list = this.#entries[policy.direction];
    list.splice(position ?? list.length, 0, policy);
  }

  remove(id: PolicyId): boolean {
    let removed = false;
    for (const direction of ["outbound", "inbound"] as const) {
      const list = this.#entries[direction];
      const index = list.findIndex((p) => p.id === id);
      if (index >= 0) {
        list.splice(index, 1);
        removed = true;
      }
    }
    return removed;
  }

  get(id: PolicyId): SecurityPolicy | undefined {
    return this.#entries.outbound.find((p) => p.id === id) ?? this.#entries.inbound.find((p) => p.id === id);
  }

  /** Points a PROTECT policy at a (new) outbound SA, e.g. after a rekey. */
  bindOutboundSa(id: PolicyId, spi: Spi): boolean {
    const list = this.#entries.outbound;
    const index = list.findIndex((p) => p.id === id);
    if (index < 0 || list[index]!.action !== "protect") return false;
    list[index] = { ...list[index]!, outboundSpi: spi };
    return true;
  }

  entries(direction: PolicyDirection): readonly SecurityPolicy[] {
    return this.#entries[direction];
  }

  /** The first matching policy's action, or DISCARD when none matches. */
  decide(direction: PolicyDirection, packet: PacketSelector): PolicyDecision {
    for (const policy of this.#entries[direction]) {
      if (selectorMatches(policy.selector, packet)) return { action: policy.action, policy };
    }
    return NO_MATCH;
  }

  /**
   * RFC 4301 §5.2 step 3a–b for a packet that arrived without IPsec: allowed only when the first
   * inbound match is BYPASS; a packet that should have been protected, or matches nothing, is dropped.
   */
  admitsUnprotected(packet: PacketSelector): boolean {
    return this.decide("inbound", packet).action === "bypass";
  }
}
