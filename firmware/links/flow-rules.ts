// Flow rules for the multi-CoA modes: classify a flow (DSCP, protocol, ports, destination) and map rules to links.

import type { LinkId, LinkKind } from "../../board/api/link-metrics.ts";
import { parseIpv4, parseIpv6, parsePrefix, prefixMatches } from "../wire/address.ts";
import type { FlowPreference, FlowRule } from "./config.ts";

/** What the data plane knows of a flow when it picks an uplink (from the inner packet). */
export interface FlowKey {
  readonly dscp: number;
  readonly protocol: number;
  readonly destinationPort?: number | undefined;
  /** Inner destination address, IPv6 or IPv4 text. */
  readonly destination: string;
}

/** A link's figures as the flow map needs them. */
export interface FlowCandidate {
  readonly link: LinkId;
  readonly kind: LinkKind;
  readonly score: number;
  readonly rttMs?: number | undefined;
  readonly jitterMs?: number | undefined;
  readonly costPerGb: number;
}

export interface FlowAssignment {
  readonly rule: string;
  /** Undefined: no link in the active set may carry this rule's traffic now (it waits, e.g. bulk off Wi-Fi). */
  readonly link: LinkId | undefined;
}

export function ruleMatches(rule: FlowRule, flow: FlowKey): boolean {
  const m = rule.match;
  if (m.dscp && !m.dscp.includes(flow.dscp)) return false;
  if (m.protocol && !m.protocol.includes(flow.protocol)) return false;
  if (m.ports) {
    const port = flow.destinationPort;
    if (port === undefined || !m.ports.some((r) => port >= r.from && port <= r.to)) return false;
  }
  if (m.destination) {
    const address = parseIpv6(flow.destination) ?? parseIpv4(flow.destination);
    if (address === undefined) return false;
    const hit = m.destination.some((text) => {
      const prefix = parsePrefix(text);
      const network = prefix === undefined ? undefined : (parseIpv6(prefix.address) ?? parseIpv4(prefix.address));
      return prefix !== undefined && network !== undefined && network.length === address.length && prefixMatches(network, address, prefix.length);
    });
    if (!hit) return false;
  }
  return true;
}

/** The first rule (in configuration order) that matches, like a firewall chain. */
export function classifyFlow(rules: readonly FlowRule[], flow: FlowKey): FlowRule | undefined {
  return rules.find((r) => ruleMatches(r, flow));
}

function better(prefer: FlowPreference, a: FlowCandidate, b: FlowCandidate): boolean {
  switch (prefer) {
    case "best":
      return a.score > b.score;
    case "lowest-rtt":
      return (a.rttMs ?? Infinity) < (b.rttMs ?? Infinity) || ((a.rttMs ?? Infinity) === (b.rttMs ?? Infinity) && a.score > b.score);
    case "lowest-jitter":
      return (a.jitterMs ?? Infinity) < (b.jitterMs ?? Infinity) || ((a.jitterMs ?? Infinity) === (b.jitterMs ?? Infinity) && a.score > b.score);
    case "cheapest":
      return a.costPerGb < b.costPerGb || (a.costPerGb === b.costPerGb && a.score > b.score);
  }
}

/**
 * Assigns each rule a link from the active set. A rule keeps its previous link while that link is
 * still a candidate and no other candidate is clearly better (10 % on RTT/jitter, `margin` points on score):
 * flows do not chase noise.
 */
export function assignFlows(
  rules: readonly FlowRule[],
  activeSet: readonly FlowCandidate[],
  previous: ReadonlyMap<string, LinkId | undefined>,
  margin: number,
): FlowAssignment[] {
  return rules.map((rule) => {
    const candidates = activeSet.filter((c) => rule.kinds === undefined || rule.kinds.includes(c.kind));
    if (candidates.length === 0) return { rule: rule.name, link: undefined };
    let best = candidates[0]!;
    for (const c of candidates.slice(1)) if (better(rule.prefer, c, best)) best = c;
    const kept = candidates.find((c) => c.link === previous.get(rule.name));
    if (kept && kept !== best && !clearlyBetter(rule.prefer, best, kept, margin)) return { rule: rule.name, link: kept.link };
    return { rule: rule.name, link: best.link };
  });
}

function clearlyBetter(prefer: FlowPreference, a: FlowCandidate, b: FlowCandidate, margin: number): boolean {
  switch (prefer) {
    case "best":
      return a.score > b.score + margin;
    case "lowest-rtt":
      return (a.rttMs ?? Infinity) < 0.9 * (b.rttMs ?? Infinity);
    case "lowest-jitter":
      return (a.jitterMs ?? Infinity) < 0.9 * (b.jitterMs ?? Infinity) - 1;
    case "cheapest":
      return a.costPerGb < b.costPerGb;
  }
}
