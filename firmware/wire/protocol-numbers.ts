// IANA Assigned Internet Protocol Numbers used by monami (next-header values).

export const IpProtocol = {
  hopByHop: 0,
  icmp: 1,
  ipv4: 4, // IPv4 encapsulation
  tcp: 6,
  udp: 17,
  ipv6: 41, // IPv6 encapsulation
  routing: 43,
  fragment: 44,
  esp: 50,
  ah: 51,
  icmpv6: 58,
  noNextHeader: 59,
  destinationOptions: 60,
  mobility: 135,
} as const;
export type IpProtocolNumber = number;
