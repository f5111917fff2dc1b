// Messages between the control plane (main thread) and the packet loop (its Worker, or the main thread when measuring).

import type { EspSuiteId } from "../crypto/suites.ts";
import type { BindingTableEntry } from "./binding-table.ts";
import type { IkeFromLoop, IkeToLoop } from "./ike-loop-protocol.ts";
import type { LocalPortSetup } from "./local-delivery.ts";
import type { StaticPolicySpec, StaticSaSpec } from "./static-security.ts";
import type { SteeringSpec } from "../multicoa/flow-steering.ts";

export type LoopRole = "router" | "homeagent";
export type OuterSocketKind = "esp6";

export interface UplinkSetup {
  readonly id: string;
  readonly interfaceName: string;
  /** Link MTU of the interface. */
  readonly mtu: number;
  /** Outer source of ESP sent here (IPV6_PKTINFO): the router's care-of address, the home agent's address. */
  readonly sourceAddress?: string;
  /**
   * Router: this uplink's care-of address is IPv4 (an IPv4-only uplink, RFC 5555): its ESP goes in UDP from
   * the NAT-T socket to `homeAgentIpv4Address` (RFC 3948), whatever the SA's own encapsulation; with `dsmip`,
   * its RFC 5555 socket is bound here (any port). Home agent: its IPv4 address, where `dsmip` binds port 4191.
   */
  readonly ipv4Address?: string;
}

export interface LoopSetup {
  readonly role: LoopRole;
  readonly tunName: string;
  /** The tunnel SA's suite, for the inner MTU. */
  readonly tunnelSuite: EspSuiteId;
  readonly batchSize: number;
  readonly uplinks: readonly UplinkSetup[];
  /** Router: the home agent address (outer destination). */
  readonly homeAgentAddress?: string;
  /** Router: the home agent's IPv4 address, the outer destination of uplinks with an IPv4 care-of address. */
  readonly homeAgentIpv4Address?: string;
  /** Source address of Packet Too Big messages sent into the tunnel interface. */
  readonly tooBigSource?: string;
  readonly sas: readonly StaticSaSpec[];
  readonly policies: readonly StaticPolicySpec[];
  /** Open the Mobility signalling sockets (packet socket in, header-included raw socket out) per uplink. */
  readonly signalling: boolean;
  readonly socketBufferBytes: number;
  /** Open the tunnel interface with vnet headers and TSO offloads (large segments across it). */
  readonly offload: boolean;
  /** Router: the uplink in use at start (index), −1 for none. */
  readonly activeUplink?: number;
  /** Inner UDP to this address/port comes up as `local` messages instead of the tunnel interface (link probes). */
  readonly localPort?: LocalPortSetup;
  /** Open a NAT-T socket per uplink on this UDP port (ESP in UDP and IKE, RFC 3948); the inner MTU then allows for the UDP header. */
  readonly udpEncapsulationPort?: number;
  /** Open an IPv6-in-IPv6 socket per uplink: bypass flows and `auth-option` payload go tunnelled by mobility alone (no IPsec). */
  readonly clearTunnel?: boolean;
  /**
   * RFC 5555 §4.1: a UDP socket on each uplink with an `ipv4Address` (router: any port; home agent: `port`,
   * 4191) carrying BU/BA — handed up as `signalling` with the sender — and clear payload as IPv6 in UDP.
   * `homeAgentAddress`: the home agent's IPv6 address, which tells BU/BA from payload (dsmip-path.ts).
   */
  readonly dsmip?: { readonly homeAgentAddress: string; readonly port: number };
}

export type ToLoop =
  | { readonly type: "start"; readonly setup: LoopSetup; readonly counters: SharedArrayBuffer; readonly control: SharedArrayBuffer }
  | { readonly type: "active-uplink"; readonly index: number }
  | { readonly type: "bindings"; readonly entries: readonly BindingTableEntry[] }
  /** The multi-CoA design's directive (firmware/multicoa): router flow steering and care-of addresses; home agent return paths. */
  | { readonly type: "steering"; readonly steering: SteeringSpec; readonly careOfAddresses?: readonly string[]; readonly learnReturnPaths?: boolean }
  | { readonly type: "send-signalling"; readonly uplink: number; readonly destination: string; readonly packet: Uint8Array }
  /** RFC 5555: a whole IPv6 signalling packet in UDP from `uplink`'s socket to `destination` (IPv4) and `port`. */
  | { readonly type: "send-signalling-udp"; readonly uplink: number; readonly destination: string; readonly port: number; readonly packet: Uint8Array }
  /** Seal an inner packet (a link probe) on `uplink`; `destination`: the outer destination (home agent: the request's care-of address). */
  | { readonly type: "send-local"; readonly uplink: number; readonly destination?: string; readonly packet: Uint8Array }
  | { readonly type: "counters"; readonly id: number }
  /** IKE-keyed SAs and the NAT-T socket (ike-loop-protocol.ts). */
  | { readonly type: "ike"; readonly command: IkeToLoop }
  | { readonly type: "stop" };

export type FromLoop =
  | { readonly type: "ready"; readonly tunName: string; readonly tunnelMtu: number; readonly innerMtus: readonly number[]; readonly uplinkErrors: readonly string[] }
  | { readonly type: "failed"; readonly message: string }
  /** `from`: the UDP sender when it came on an RFC 5555 socket (a NAT's address and port). */
  | { readonly type: "signalling"; readonly uplink: number; readonly packet: Uint8Array; readonly from?: { readonly address: string; readonly port: number } }
  | { readonly type: "local"; readonly uplink: number; readonly source: string; readonly packet: Uint8Array }
  | { readonly type: "counters"; readonly id: number; readonly values: Record<string, number> }
  | { readonly type: "ike"; readonly report: IkeFromLoop }
  | { readonly type: "stopped"; readonly closedDescriptors: number };

/** Index 0 of the control Int32Array: set by the control plane after posting, so a busy loop yields to read it. */
export const CONTROL_PENDING = 0;
