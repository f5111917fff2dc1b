// Debug key export: SAs as lines of Wireshark's esp_sa table, so a field engineer can decrypt a capture.

import { toHex } from "../core/hex.ts";
import { formatIpv4, formatIpv6 } from "../wire/address.ts";
import { formatSpi, type SecurityAssociation } from "./sad.ts";

export interface KeyExportOptions {
  /**
   * "wildcard" (default) writes `*` for both addresses, so the line keeps matching after a
   * handover moves the tunnel endpoints; "exact" writes the SA's current endpoints.
   */
  readonly addresses?: "wildcard" | "exact";
}

function quote(field: string): string {
  return `"${field.replace(/"/g, '\\"')}"`;
}

/**
 * One esp_sa UAT line for `sa` (8 fields, as Wireshark 4.0 reads them): protocol, source,
 * destination, SPI, encryption algorithm, encryption key, authentication algorithm,
 * authentication key. AEAD keys are key ‖ salt (RFC 4106 §8.1), as Wireshark expects.
 * THE OUTPUT CONTAINS SECRET KEYS: write it only where the operator asked for it.
 */
export function espSaUatLine(sa: SecurityAssociation, options: KeyExportOptions = {}): string {
  const keys = sa.keysForDebugExport();
  const endpoints = sa.endpoints;
  const v4 = endpoints !== undefined && endpoints.source.length === 4;
  const format = (address: Uint8Array) => (v4 ? formatIpv4(address) : formatIpv6(address));
  const exact = options.addresses === "exact" && endpoints !== undefined;
  const encryptionKey = keys.encryption.length > 0 ? `0x${toHex(keys.encryption.expose())}` : "";
  const integrityKey = keys.integrity !== undefined ? `0x${toHex(keys.integrity.expose())}` : "";
  return [
    v4 ? "IPv4" : "IPv6",
    exact ? format(endpoints.source) : "*",
    exact ? format(endpoints.destination) : "*",
    formatSpi(sa.spi),
    sa.suite.wireshark.encryption,
    encryptionKey,
    sa.suite.wireshark.authentication,
    integrityKey,
  ]
    .map(quote)
    .join(",");
}

/** A whole esp_sa file (Wireshark profile format: one quoted line per SA, `#` comments). */
export function espSaKeyFile(sas: readonly SecurityAssociation[], options: KeyExportOptions = {}): string {
  const header = [
    "# Wireshark esp_sa table written by monami: SECRET KEYS, delete after use.",
    "# Use: copy to the profile's esp_sa file, or pass each line to tshark as -o 'uat:esp_sa:LINE'",
    "# with -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE.",
  ];
  return [...header, ...sas.map((sa) => espSaUatLine(sa, options))].join("\n") + "\n";
}
