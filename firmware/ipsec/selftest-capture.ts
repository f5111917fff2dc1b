// The IPsec selftest capture: for every suite, ESP in tunnel mode (ICMPv6 echo inside) and transport mode (a BU inside), with the key file.

import { ESP_SUITE_IDS, ESP_SUITES, type EspSuiteId } from "../crypto/suites.ts";
import { Counters } from "../core/counters.ts";
import { instant, type Instant } from "../core/instant.ts";
import { SecretBytes } from "../core/secret.ts";
import { emitIcmpv6 } from "../wire/icmpv6.ts";
import { emitIpv6Packet } from "../wire/ipv6.ts";
import { buFlags, encodeMobilityMessage } from "../wire/mobility-header.ts";
import { IpProtocol } from "../wire/protocol-numbers.ts";
import { parseIpv4, parseIpv6 } from "../wire/address.ts";
import { EspOutbound } from "./esp-outbound.ts";
import { sealTransportIpv6, sealTunnelPacket } from "./esp-packets.ts";
import type { EspKeys } from "./esp-transform.ts";
import { espSaKeyFile } from "./key-export.ts";
import { SecurityAssociationDatabase, spi, type CryptoProvider, type SecurityAssociation } from "./sad.ts";

/** Addresses of the selftest: a mobile router (CoA, HoA) and its home agent. */
export const SELFTEST_ADDRESSES = {
  careOf: "2001:db8:1::10",
  homeAgent: "2001:db8:ffff::1",
  home: "2001:db8:aaaa::10",
  correspondent: "2001:db8:5::1",
  careOfV4: "192.0.2.10",
  homeAgentV4: "198.51.100.1",
} as const;

export interface SelftestPacket {
  readonly suite: EspSuiteId;
  readonly mode: "tunnel" | "transport";
  readonly encapsulation: "none" | "udp";
  readonly spi: number;
  readonly inner: "icmpv6-echo" | "binding-update";
  readonly packet: Uint8Array;
  readonly timestampMs: number;
}

export interface SelftestCapture {
  readonly packets: readonly SelftestPacket[];
  /** The Wireshark esp_sa key file for every SA used. */
  readonly keyFile: string;
}

function address(text: string): Uint8Array {
  const bytes = parseIpv6(text) ?? parseIpv4(text);
  if (!bytes) throw new RangeError(`selftest address ${text}`);
  return bytes;
}

function randomKeys(suiteId: EspSuiteId, random: (into: Uint8Array) => void): EspKeys {
  const suite = ESP_SUITES[suiteId];
  const fresh = (length: number) => {
    const bytes = new Uint8Array(length);
    random(bytes);
    return new SecretBytes(bytes);
  };
  return suite.kind === "aead"
    ? { encryption: fresh(suite.encryptionKeyLength) }
    : { encryption: fresh(suite.encryptionKeyLength), integrity: fresh(suite.integrityKeyLength) };
}

/**
 * Builds the capture with fresh random keys on `provider`'s backends. Sequence numbers are 32-bit
 * (tshark 4.0 has no ESN). The SAs are deleted (keys wiped) before this returns; only the key
 * file keeps them, as text for the operator.
 */
export function buildSelftestCapture(provider: CryptoProvider, random: (into: Uint8Array) => void, startMs = 1_700_000_000_000): SelftestCapture {
  const a = SELFTEST_ADDRESSES;
  const sad = new SecurityAssociationDatabase(provider);
  const outbound = new EspOutbound(sad, new Counters());
  const packets: SelftestPacket[] = [];
  const used: SecurityAssociation[] = [];
  let nextSpi = 0xc0de0100;
  let clock = startMs;
  const now = (): Instant => instant(clock);

  // Transport-mode BU/BA SAs are set up on the home address, not the CoA (RFC 4877 §4.4); Wireshark
  // likewise takes the Home Address option's address as the packet source when it matches SAs.
  const add = (suite: EspSuiteId, mode: "tunnel" | "transport", v4Udp = false): SecurityAssociation => {
    const added = sad.add(
      {
        spi: spi(nextSpi++),
        direction: "outbound",
        mode,
        suite,
        keys: randomKeys(suite, random),
        endpoints: v4Udp
          ? { source: address(a.careOfV4), destination: address(a.homeAgentV4) }
          : { source: address(mode === "transport" ? a.home : a.careOf), destination: address(a.homeAgent) },
        ...(v4Udp ? { encapsulation: { kind: "udp", sourcePort: 4500, destinationPort: 4500 } as const } : {}),
      },
      now(),
    );
    if (!added.ok) throw new Error(`selftest: cannot add ${suite} SA (${added.error.kind})`);
    used.push(added.value);
    return added.value;
  };

  const echo = (sequenceNumber: number): Uint8Array => {
    const data = new TextEncoder().encode(`monami ipsec selftest ${sequenceNumber}`.padEnd(48, "."));
    const icmp = emitIcmpv6({ kind: "echo-request", identifier: 0x4d49, sequenceNumber, data }, { source: address(a.home), destination: address(a.correspondent) });
    return emitIpv6Packet({ source: a.home, destination: a.correspondent, upperProtocol: IpProtocol.icmpv6, upperPayload: icmp });
  };
  // A BU from the care-of address with a Home Address option (RFC 6275 §6.3); its checksum covers
  // the home address (§6.1.1). Built from the wire codecs: the IPsec core does not import mobility.
  const bindingUpdate = (sequenceNumber: number): Uint8Array => {
    const message = encodeMobilityMessage(
      { type: "binding-update", sequenceNumber, flags: buFlags({ acknowledge: true, homeRegistration: true, mobileRouter: true }), lifetimeUnits: 0x100, options: [] },
      { source: address(a.home), destination: address(a.homeAgent) },
    );
    return emitIpv6Packet({
      source: a.careOf,
      destination: a.homeAgent,
      extensionHeaders: [{ kind: "destination-options", options: [{ type: "home-address", homeAddress: a.home }] }],
      upperProtocol: IpProtocol.mobility,
      upperPayload: message,
    });
  };

  const record = (p: Omit<SelftestPacket, "timestampMs">) => {
    packets.push({ ...p, timestampMs: clock });
    clock += 10;
  };

  ESP_SUITE_IDS.forEach((suite, i) => {
    const tunnel = add(suite, "tunnel");
    for (let n = 1; n <= 2; n++) {
      const sealed = sealTunnelPacket(outbound, tunnel, echo(i * 10 + n), now());
      if (!sealed.ok) throw new Error(`selftest: ${suite} tunnel: ${JSON.stringify(sealed.error)}`);
      record({ suite, mode: "tunnel", encapsulation: "none", spi: tunnel.spi, inner: "icmpv6-echo", packet: sealed.value });
    }
    const transport = add(suite, "transport");
    const sealed = sealTransportIpv6(outbound, transport, bindingUpdate(100 + i), now());
    if (!sealed.ok) throw new Error(`selftest: ${suite} transport: ${JSON.stringify(sealed.error)}`);
    record({ suite, mode: "transport", encapsulation: "none", spi: transport.spi, inner: "binding-update", packet: sealed.value });
  });
  // RFC 3948: the same tunnel over an IPv4 care-of address in UDP 4500 (LTE behind carrier NAT).
  const udp = add("aes128gcm16", "tunnel", true);
  const sealed = sealTunnelPacket(outbound, udp, echo(99), now());
  if (!sealed.ok) throw new Error(`selftest: UDP: ${JSON.stringify(sealed.error)}`);
  record({ suite: "aes128gcm16", mode: "tunnel", encapsulation: "udp", spi: udp.spi, inner: "icmpv6-echo", packet: sealed.value });

  const keyFile = espSaKeyFile(used, { addresses: "exact" });
  sad.clear();
  return { packets, keyFile };
}
