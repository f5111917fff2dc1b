// Static (manually keyed) SAs and policies as plain data: what the control plane hands the packet loop until IKEv2 keys them.

import type { Counters } from "../core/counters.ts";
import type { Instant } from "../core/instant.ts";
import { err, ok, type Result } from "../core/result.ts";
import { SecretBytes } from "../core/secret.ts";
import { ESP_SUITES, type EspSuiteId } from "../crypto/suites.ts";
import { EspInbound } from "../ipsec/esp-inbound.ts";
import { EspOutbound } from "../ipsec/esp-outbound.ts";
import { type CryptoProvider, SecurityAssociationDatabase, spi as toSpi, type IpsecMode, type SaDirection } from "../ipsec/sad.ts";
import { policyId, type PolicyAction, SecurityPolicyDatabase } from "../ipsec/spd.ts";
import { prefixSelector, type TrafficSelector } from "../ipsec/traffic-selector.ts";
import { parseIpv6 } from "../wire/address.ts";

/** A selector in text form (crosses postMessage and config files). */
export interface SelectorSpec {
  readonly source?: string;
  readonly destination?: string;
  readonly protocol?: number;
  readonly mobilityHeaderType?: number;
}

/** One SA with its keys as raw bytes (copied into the SAD, which wipes them on delete). */
export interface StaticSaSpec {
  readonly spi: number;
  readonly direction: SaDirection;
  readonly mode: IpsecMode;
  readonly suite: EspSuiteId;
  readonly encryptionKey: Uint8Array;
  readonly integrityKey?: Uint8Array;
  readonly selectors: readonly SelectorSpec[];
  readonly replayWindow?: number;
  /** 64-bit sequence numbers (RFC 4303 §2.2.1); both ends of a static SA must agree. */
  readonly extendedSequenceNumbers?: boolean;
  /** Tunnel mode: outer addresses (informational; the data plane chooses outer addresses per packet). */
  readonly endpoints?: { readonly source: string; readonly destination: string };
}

export interface StaticPolicySpec {
  readonly id: string;
  readonly direction: "outbound" | "inbound";
  readonly selector: SelectorSpec;
  readonly action: PolicyAction;
  readonly outboundSpi?: number;
}

export function compileSelector(spec: SelectorSpec): Result<TrafficSelector, string> {
  const source = spec.source === undefined ? undefined : prefixSelector(spec.source);
  const destination = spec.destination === undefined ? undefined : prefixSelector(spec.destination);
  if (spec.source !== undefined && source === undefined) return err(`selector source '${spec.source}' is not an address or prefix`);
  if (spec.destination !== undefined && destination === undefined) return err(`selector destination '${spec.destination}' is not an address or prefix`);
  return ok({
    ...(source ? { source } : {}),
    ...(destination ? { destination } : {}),
    ...(spec.protocol !== undefined ? { protocol: spec.protocol } : {}),
    ...(spec.mobilityHeaderType !== undefined ? { mobilityHeaderType: spec.mobilityHeaderType } : {}),
  });
}

/** An SPD, a SAD and the ESP processors over them, filled from static specs. */
export interface SecurityState {
  readonly spd: SecurityPolicyDatabase;
  readonly sad: SecurityAssociationDatabase;
  readonly outbound: EspOutbound;
  readonly inbound: EspInbound;
}

export function createSecurityState(provider: CryptoProvider, counters: Counters): SecurityState {
  const sad = new SecurityAssociationDatabase(provider);
  return { spd: new SecurityPolicyDatabase(), sad, outbound: new EspOutbound(sad, counters), inbound: new EspInbound(sad, counters) };
}

/** Installs one SA; the key bytes are copied and the caller's copies wiped. */
export function installSa(state: SecurityState, spec: StaticSaSpec, now: Instant): Result<void, string> {
  const suite = ESP_SUITES[spec.suite];
  if (suite === undefined) return err(`unknown ESP suite '${spec.suite}'`);
  const selectors: TrafficSelector[] = [];
  for (const s of spec.selectors) {
    const compiled = compileSelector(s);
    if (!compiled.ok) return compiled;
    selectors.push(compiled.value);
  }
  let endpoints: { source: Uint8Array; destination: Uint8Array } | undefined;
  if (spec.endpoints) {
    const source = parseIpv6(spec.endpoints.source);
    const destination = parseIpv6(spec.endpoints.destination);
    if (!source || !destination) return err(`SA ${spec.spi}: endpoints must be IPv6 addresses`);
    endpoints = { source, destination };
  }
  let spiValue;
  try {
    spiValue = toSpi(spec.spi);
  } catch (e) {
    return err((e as Error).message);
  }
  const keys = {
    encryption: new SecretBytes(Uint8Array.from(spec.encryptionKey)),
    ...(spec.integrityKey ? { integrity: new SecretBytes(Uint8Array.from(spec.integrityKey)) } : {}),
  };
  spec.encryptionKey.fill(0);
  spec.integrityKey?.fill(0);
  try {
    const added = state.sad.add(
      {
        spi: spiValue,
        direction: spec.direction,
        mode: spec.mode,
        suite: spec.suite,
        keys,
        selectors,
        ...(spec.replayWindow !== undefined ? { replayWindow: spec.replayWindow } : {}),
        ...(spec.extendedSequenceNumbers !== undefined ? { extendedSequenceNumbers: spec.extendedSequenceNumbers } : {}),
        ...(endpoints ? { endpoints } : {}),
      },
      now,
    );
    if (!added.ok) return err(added.error.kind === "duplicate-spi" ? `duplicate SPI ${spec.spi}` : `suite ${spec.suite} has no backend`);
  } catch (e) {
    return err(`SA ${spec.spi}: ${(e as Error).message}`);
  }
  return ok(undefined);
}

export function installPolicy(state: SecurityState, spec: StaticPolicySpec): Result<void, string> {
  const selector = compileSelector(spec.selector);
  if (!selector.ok) return selector;
  let outboundSpi;
  if (spec.outboundSpi !== undefined) {
    try {
      outboundSpi = toSpi(spec.outboundSpi);
    } catch (e) {
      return err((e as Error).message);
    }
  }
  state.spd.add({ id: policyId(spec.id), direction: spec.direction, selector: selector.value, action: spec.action, ...(outboundSpi ? { outboundSpi } : {}) });
  return ok(undefined);
}

