// Transport endpoints of IKE and the datagram shape that crosses the sans-IO boundary.

/** An IP address (text, RFC 5952 for IPv6) and UDP port. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export function endpointText(e: Endpoint): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port;
}

/**
 * One IKE datagram. `bytes` is the IKE message only; when `nonEspMarker` is set the I/O edge
 * prepends (on send) or has stripped (on receive) the four zero octets of RFC 3948 §2.2.
 */
export interface Datagram {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly bytes: Uint8Array;
  readonly nonEspMarker: boolean;
}
