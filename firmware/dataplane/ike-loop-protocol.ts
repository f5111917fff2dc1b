// IKE ↔ packet loop messages: CHILD_SA installs with their keys moved (never copied, never logged), SA events, IKE on the NAT-T socket, lifetimes and ESP activity back.

import { SecretBytes } from "../core/secret.ts";
import type { ChildSaInstall, EspSpi } from "../ike/child-sa.ts";
import type { Endpoint } from "../ike/endpoint.ts";
import type { IkeEvent } from "../ike/events.ts";

/** A ChildSaInstall as plain data: the four keys live in one ArrayBuffer that is transferred (moved) to the loop. */
export interface ChildSaTransfer extends Omit<ChildSaInstall, "inbound" | "outbound"> {
  /** inbound encryption ‖ inbound integrity ‖ outbound encryption ‖ outbound integrity. */
  readonly keys: Uint8Array;
  readonly keyLengths: readonly [number, number, number, number];
}

/** The IKE events the loop's installer applies besides installs; plain data, structured-cloned as they are. */
export type SaLifecycleEvent = Extract<IkeEvent, { kind: "child-sa-deleted" | "ike-sa-rekeyed" | "endpoints-updated" }>;

export type IkeToLoop =
  /** `replayWindow`: the tunnel SA's inbound anti-replay window (ipsec.multiCoa.replayWindow; the SAD default when absent). */
  | { readonly kind: "install"; readonly child: ChildSaTransfer; readonly replayWindow?: number }
  | { readonly kind: "event"; readonly event: SaLifecycleEvent }
  /**
   * One datagram from the uplink's NAT-T socket (RFC 3948): an IKE message with the non-ESP marker
   * already prepended, or a NAT keepalive (`keepalive`: skipped when ESP left that socket recently).
   */
  | { readonly kind: "send"; readonly uplink: number; readonly local: string; readonly remote: Endpoint; readonly bytes: Uint8Array; readonly keepalive: boolean };

export type IkeFromLoop =
  /** An SAD lifetime ran out (RFC 4301 §4.4.2.1) for a CHILD_SA's SA: soft → rekey, hard → delete. */
  | { readonly kind: "lifetime"; readonly spi: EspSpi; readonly direction: "inbound" | "outbound"; readonly hard: boolean }
  /** Inbound SAs that opened packets since the last report (the peer is alive, RFC 7296 §2.4). */
  | { readonly kind: "activity"; readonly inboundSpis: readonly EspSpi[] }
  /** An IKE message that arrived on an uplink's NAT-T socket (marker removed). */
  | { readonly kind: "datagram"; readonly uplink: number; readonly local: Endpoint; readonly remote: Endpoint; readonly bytes: Uint8Array }
  | { readonly kind: "install-failed"; readonly childName: string; readonly detail: string };

export const isSaLifecycleEvent = (e: IkeEvent): e is SaLifecycleEvent => e.kind === "child-sa-deleted" || e.kind === "ike-sa-rekeyed" || e.kind === "endpoints-updated";

/**
 * Packs an install record for the loop: the keys are copied once into a fresh buffer, which the caller
 * must pass in postMessage's transfer list (so no copy stays behind in this thread).
 */
export function childSaTransfer(child: ChildSaInstall): { transfer: ChildSaTransfer; buffer: ArrayBuffer } {
  const parts = [child.inbound.encryptionKey, child.inbound.integrityKey, child.outbound.encryptionKey, child.outbound.integrityKey].map((k) => k.expose());
  const keys = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    keys.set(p, at);
    at += p.length;
  }
  const { inbound: _i, outbound: _o, ...rest } = child;
  const lengths = parts.map((p) => p.length) as unknown as [number, number, number, number];
  return { transfer: { ...rest, keys, keyLengths: lengths }, buffer: keys.buffer as ArrayBuffer };
}

/** Unpacks a transfer into an install record whose keys are SecretBytes over copies; the transferred buffer is zeroed. */
export function childSaInstallOf(transfer: ChildSaTransfer): ChildSaInstall {
  const { keys, keyLengths, ...rest } = transfer;
  const out: SecretBytes[] = [];
  let at = 0;
  for (const n of keyLengths) {
    out.push(new SecretBytes(keys.slice(at, at + n)));
    at += n;
  }
  keys.fill(0);
  return {
    ...rest,
    inbound: { encryptionKey: out[0]!, integrityKey: out[1]! },
    outbound: { encryptionKey: out[2]!, integrityKey: out[3]! },
  };
}

/** Wipes the keys of an unpacked record (after the installer copied them into the SAD). */
export function wipeChildSaInstall(child: ChildSaInstall): void {
  for (const k of [child.inbound.encryptionKey, child.inbound.integrityKey, child.outbound.encryptionKey, child.outbound.integrityKey]) k.wipe();
}
