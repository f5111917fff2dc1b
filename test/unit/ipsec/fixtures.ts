// Test fixtures for the IPsec core: an SAD on one chosen backend, deterministic keys, address helpers.
import type { CryptoBackend } from "../../../firmware/crypto/backend.ts";
import { ESP_SUITES, type EspSuiteId } from "../../../firmware/crypto/suites.ts";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { SecretBytes } from "../../../firmware/core/secret.ts";
import { parseIpv4, parseIpv6 } from "../../../firmware/wire/address.ts";
import { EspInbound } from "../../../firmware/ipsec/esp-inbound.ts";
import { EspOutbound } from "../../../firmware/ipsec/esp-outbound.ts";
import type { EspKeys } from "../../../firmware/ipsec/esp-transform.ts";
import { SecurityAssociationDatabase, spi, type SaConfig } from "../../../firmware/ipsec/sad.ts";

export const T0 = instant(1_000);

export function v6(text: string): Uint8Array {
  const bytes = parseIpv6(text);
  if (!bytes) throw new Error(`bad IPv6 ${text}`);
  return bytes;
}

export function v4(text: string): Uint8Array {
  const bytes = parseIpv4(text);
  if (!bytes) throw new Error(`bad IPv4 ${text}`);
  return bytes;
}

/** Deterministic key material for `suite` (distinct per `seed`); fresh SecretBytes each call. */
export function testKeys(suiteId: EspSuiteId, seed = 1): EspKeys {
  const suite = ESP_SUITES[suiteId];
  const fill = (length: number, offset: number) => new SecretBytes(Uint8Array.from({ length }, (_, i) => (seed * 31 + offset + i * 13) & 0xff));
  return suite.kind === "aead"
    ? { encryption: fill(suite.encryptionKeyLength, 0) }
    : { encryption: fill(suite.encryptionKeyLength, 0), integrity: fill(suite.integrityKeyLength, 101) };
}

export interface Harness {
  readonly sad: SecurityAssociationDatabase;
  readonly counters: Counters;
  readonly inbound: EspInbound;
  readonly outbound: EspOutbound;
}

/** An SAD whose every SA uses `backend`, with the in/outbound processors around it. */
export function harness(backend: CryptoBackend): Harness {
  const sad = new SecurityAssociationDatabase(() => backend);
  const counters = new Counters();
  return { sad, counters, inbound: new EspInbound(sad, counters), outbound: new EspOutbound(sad, counters) };
}

/** Adds a matching outbound/inbound pair (same keys, same SPI) to one harness, or across two. */
export function addPair(
  sender: Harness,
  receiver: Harness,
  config: Omit<SaConfig, "direction" | "keys" | "spi"> & { spi?: number; seed?: number },
) {
  const id = spi(config.spi ?? 0x1000);
  const { seed, ...rest } = config;
  const out = sender.sad.add({ ...rest, spi: id, direction: "outbound", keys: testKeys(config.suite, seed) }, T0);
  const inn = receiver.sad.add({ ...rest, spi: id, direction: "inbound", keys: testKeys(config.suite, seed) }, T0);
  if (!out.ok || !inn.ok) throw new Error("could not add SA pair");
  return { outbound: out.value, inbound: inn.value };
}

/** A minimal IPv6 packet: fixed header + `payload` with next header `protocol` (no checksum work: ESP does not look). */
export function ipv6Packet(source: string, destination: string, protocol: number, payload: Uint8Array): Uint8Array {
  const packet = new Uint8Array(40 + payload.length);
  packet[0] = 0x60;
  packet[4] = payload.length >>> 8;
  packet[5] = payload.length & 0xff;
  packet[6] = protocol;
  packet[7] = 64;
  packet.set(v6(source), 8);
  packet.set(v6(destination), 24);
  packet.set(payload, 40);
  return packet;
}
