// Keeps a SAD and SPD in step with the IKE core's events: install, rekey (new outbound at once, old inbound for a grace period), move, delete.

import { earliest, later, type Duration, type Instant } from "../core/instant.ts";
import { err, ok, type Result } from "../core/result.ts";
import { espSpi, type ChildSaInstall } from "../ike/child-sa.ts";
import type { Endpoint } from "../ike/endpoint.ts";
import type { IkeEvent } from "../ike/events.ts";
import type { SaEvent, SecurityAssociation, SecurityAssociationDatabase, Spi } from "../ipsec/sad.ts";
import type { PolicyId, SecurityPolicy, SecurityPolicyDatabase } from "../ipsec/spd.ts";
import { parseIpv4, parseIpv6 } from "../wire/address.ts";
import { childSaEntries, type SaInstallError, type SaInstallOptions } from "./sa-install.ts";

/** RFC 7296 §2.8: after a rekey the old inbound SA still receives what the peer sent before it switched. */
export const DEFAULT_REKEY_GRACE_MS = 10_000;

export interface SaInstallerOptions extends Omit<SaInstallOptions, "policyBase"> {
  /** How long an inbound SA outlives its CHILD_SA (rekey or delete). */
  readonly graceMs?: Duration;
}

/** A CHILD_SA and its rekeyed successors: they share one set of SPD entries. */
interface Lineage {
  readonly base: string;
  readonly pairs: Pair[];
  outboundPolicies: PolicyId[];
  inboundPolicies: PolicyId[];
}

interface Pair {
  readonly inboundSpi: Spi;
  readonly outboundSpi: Spi;
  ikeSaName: string;
  readonly lineage: Lineage;
}

/** The target of the lifetime call an SAD event turns into (the IKE core's `childLifetimeExpired`). */
export interface LifetimeSink {
  childLifetimeExpired(spi: ReturnType<typeof espSpi>, direction: "inbound" | "outbound", hard: boolean, now: Instant): boolean;
}

/**
 * Applies IKE events to one SAD and SPD. Sans-IO: `handleEvent(event, now)`, `handleTimeout(now)`
 * and `pollTimeout()` (old inbound SAs are deleted when their grace period ends).
 */
export class IkeSaInstaller {
  readonly #sad: SecurityAssociationDatabase;
  readonly #spd: SecurityPolicyDatabase;
  readonly #options: SaInstallerOptions;
  readonly #pairs = new Map<number, Pair>();
  /** Inbound SPIs of CHILD_SAs that are gone, with the instant their SA is deleted. */
  readonly #grace = new Map<Spi, Instant>();

  constructor(sad: SecurityAssociationDatabase, spd: SecurityPolicyDatabase, options: SaInstallerOptions = {}) {
    this.#sad = sad;
    this.#spd = spd;
    this.#options = options;
  }

  /** Inbound SPIs whose CHILD_SA is gone but whose SA still receives until the grace period ends. */
  get graceSpis(): Spi[] {
    return [...this.#grace.keys()];
  }

  /**
   * Applies one IKE event. Installs return the two new SAs (for the debug key export); other events none.
   * `install`: settings of this CHILD_SA over the installer's (the multi-CoA replay window of its peer).
   */
  handleEvent(event: IkeEvent, now: Instant, install: { readonly replayWindow?: number } = {}): Result<SecurityAssociation[], SaInstallError> {
    switch (event.kind) {
      case "child-sa-installed":
        return this.#install(event.child, now, install);
      case "child-sa-deleted":
        this.#delete(event.inboundSpi, now);
        return ok([]);
      case "ike-sa-rekeyed":
        for (const pair of this.#pairs.values()) if (pair.ikeSaName === event.oldName) pair.ikeSaName = event.sa.name;
        return ok([]);
      case "endpoints-updated":
        this.#move(event.ikeSaName, event.local, event.remote, event.udpEncapsulation);
        return ok([]);
      default:
        return ok([]);
    }
  }

  /** Turns an SAD lifetime event into the IKE core's call (soft: rekey, hard: delete); false when no CHILD_SA has the SPI any more. */
  forwardLifetimeEvent(event: SaEvent, ike: LifetimeSink, now: Instant): boolean {
    if (event.direction === "inbound" && this.#grace.has(event.spi)) return false;
    return ike.childLifetimeExpired(espSpi(event.spi), event.direction, event.kind === "hard-expired", now);
  }

  handleTimeout(now: Instant): void {
    for (const [spi, at] of this.#grace) {
      if (now < at) continue;
      this.#grace.delete(spi);
      this.#sad.delete(spi, "inbound");
    }
  }

  pollTimeout(): Instant | undefined {
    let next: Instant | undefined;
    for (const at of this.#grace.values()) next = earliest(next, at);
    return next;
  }

  #install(child: ChildSaInstall, now: Instant, install: { readonly replayWindow?: number }): Result<SecurityAssociation[], SaInstallError> {
    // The record's keys are the IKE core's: wiped means the CHILD_SA was deleted again before this
    // event was applied (a redundant SA of a rekey collision): there is nothing to install.
    if (child.inbound.encryptionKey.wiped || child.outbound.encryptionKey.wiped) return ok([]);
    const predecessor = child.rekeys !== undefined ? this.#pairs.get(child.rekeys) : undefined;
    const lineage: Lineage = predecessor?.lineage ?? { base: `${child.childName}/${child.inboundSpi.toString(16).padStart(8, "0")}`, pairs: [], outboundPolicies: [], inboundPolicies: [] };
    const entries = childSaEntries(child, { ...this.#options, ...install, policyBase: lineage.base });
    if (!entries.ok) return entries;
    const { inbound, outbound } = entries.value;
    const wipe = () => [inbound.keys, outbound.keys].forEach((k) => (k.encryption.wipe(), k.integrity?.wipe()));
    const addedIn = this.#sad.add(inbound, now);
    if (!addedIn.ok) {
      wipe();
      return err({ kind: "reserved-spi", detail: `inbound SPI ${inbound.spi} already in the SAD` });
    }
    const addedOut = this.#sad.add(outbound, now);
    if (!addedOut.ok) {
      this.#sad.delete(inbound.spi, "inbound");
      outbound.keys.encryption.wipe();
      outbound.keys.integrity?.wipe();
      return err({ kind: "reserved-spi", detail: `outbound SPI ${outbound.spi} already in the SAD` });
    }
    const pair: Pair = { inboundSpi: inbound.spi, outboundSpi: outbound.spi, ikeSaName: child.ikeSaName, lineage };
    this.#pairs.set(inbound.spi, pair);
    lineage.pairs.push(pair);
    // §2.8: the rekey's initiator switches outbound to the new SA at once; its responder keeps sending on
    // the old one until that is deleted (#delete then falls back to the newest). Older inbound SAs stay.
    const keepOld = predecessor !== undefined && child.createdAsInitiator === false;
    const outboundPolicies = keepOld ? entries.value.outboundPolicies.map((p) => ({ ...p, outboundSpi: predecessor.outboundSpi })) : entries.value.outboundPolicies;
    lineage.outboundPolicies = this.#replacePolicies(lineage.outboundPolicies, outboundPolicies);
    lineage.inboundPolicies = this.#replacePolicies(lineage.inboundPolicies, entries.value.inboundPolicies);
    return ok([addedIn.value, addedOut.value]);
  }

  /** Puts `fresh` where the entries of `old` were (same id, same place), appends new ids, removes ids no longer wanted. */
  #replacePolicies(old: readonly PolicyId[], fresh: readonly SecurityPolicy[]): PolicyId[] {
    for (const policy of fresh) {
      const index = this.#spd.entries(policy.direction).findIndex((p) => p.id === policy.id);
      this.#spd.add(policy, index >= 0 ? index : undefined);
    }
    const keep = new Set(fresh.map((p) => p.id));
    for (const id of old) if (!keep.has(id)) this.#spd.remove(id);
    return fresh.map((p) => p.id);
  }

  #delete(inboundSpi: number, now: Instant): void {
    const pair = this.#pairs.get(inboundSpi);
    if (!pair) return;
    this.#pairs.delete(inboundSpi);
    this.#sad.delete(pair.outboundSpi, "outbound");
    this.#grace.set(pair.inboundSpi, later(now, this.#options.graceMs ?? DEFAULT_REKEY_GRACE_MS));
    const lineage = pair.lineage;
    lineage.pairs.splice(lineage.pairs.indexOf(pair), 1);
    const newest = lineage.pairs[lineage.pairs.length - 1];
    if (!newest) {
      for (const id of [...lineage.outboundPolicies, ...lineage.inboundPolicies]) this.#spd.remove(id);
      lineage.outboundPolicies = [];
      lineage.inboundPolicies = [];
      return;
    }
    // A rekey collision (§2.8.1) deleted the SA the policies pointed at: fall back to the survivor.
    for (const id of lineage.outboundPolicies) {
      if (this.#spd.get(id)?.outboundSpi === pair.outboundSpi) this.#spd.bindOutboundSa(id, newest.outboundSpi);
    }
  }

  #move(ikeSaName: string, local: Endpoint, remote: Endpoint, udpEncapsulation: boolean): void {
    const l = parseIpv6(local.address) ?? parseIpv4(local.address);
    const r = parseIpv6(remote.address) ?? parseIpv4(remote.address);
    if (!l || !r) return;
    for (const pair of this.#pairs.values()) {
      if (pair.ikeSaName !== ikeSaName) continue;
      this.#sad.setEndpoints(
        pair.inboundSpi,
        "inbound",
        { source: r, destination: l },
        udpEncapsulation ? { kind: "udp", sourcePort: remote.port, destinationPort: local.port } : { kind: "none" },
      );
      this.#sad.setEndpoints(
        pair.outboundSpi,
        "outbound",
        { source: l, destination: r },
        udpEncapsulation ? { kind: "udp", sourcePort: local.port, destinationPort: remote.port } : { kind: "none" },
      );
    }
  }
}
