// Local delivery: inner UDP packets to one of our own address/port pairs (the link probes) go to the control plane, not the tunnel interface.

import { parseIpv6 } from "../wire/address.ts";
import { IpProtocol } from "../wire/protocol-numbers.ts";

/** Where the control plane listens inside the tunnel; plain data so it crosses a postMessage. */
export interface LocalPortSetup {
  /** Our inner address (the router's home address, the home agent's address). */
  readonly address: string;
  readonly port: number;
}

const IPV6_HEADER = 40;
const UDP_HEADER = 8;
const NEXT_HEADER = 6;
const DESTINATION = 24;

/**
 * Matches an inner IPv6 packet carrying UDP (no extension headers) to `address`:`port`, allocation-free.
 * Only packets that ESP already authenticated and selector-checked reach this test.
 */
export class LocalPort {
  readonly #address: Uint8Array;
  readonly #port: number;

  constructor(setup: LocalPortSetup) {
    const address = parseIpv6(setup.address);
    if (address === undefined) throw new RangeError(`local delivery: '${setup.address}' is not an IPv6 address`);
    if (!Number.isInteger(setup.port) || setup.port < 1 || setup.port > 0xffff) throw new RangeError(`local delivery: bad port ${setup.port}`);
    this.#address = address;
    this.#port = setup.port;
  }

  /** True when `data[at, at+length)` is IPv6/UDP to our address and port. */
  matches(data: Uint8Array, at: number, length: number): boolean {
    if (length < IPV6_HEADER + UDP_HEADER || data[at]! >>> 4 !== 6 || data[at + NEXT_HEADER] !== IpProtocol.udp) return false;
    const a = this.#address;
    for (let i = 0; i < 16; i++) if (data[at + DESTINATION + i] !== a[i]) return false;
    const port = (data[at + IPV6_HEADER + 2]! << 8) | data[at + IPV6_HEADER + 3]!;
    return port === this.#port;
  }
}
