// Debug key export (off by default): IKE SA keys as Wireshark ikev2_decryption_table lines, CHILD_SAs as esp_sa lines.

import { toHex } from "../core/hex.ts";
import { ESP_SUITES } from "../crypto/suites.ts";
import { espSpiHex, type ChildSaInstall } from "./child-sa.ts";
import type { IkeSaKeysForExport } from "./events.ts";
import type { Negotiated } from "./proposal.ts";

/** Wireshark's names for IKE encryption (packet-isakmp.c UAT choices). */
function ikeEncryptionName(n: Negotiated): string | undefined {
  const e = n.encryption;
  if (e.name === "AES_CBC") return `AES-CBC-${e.keyBits} [RFC3602]`;
  if (e.name.startsWith("AES_GCM_")) return `AES-GCM-${e.keyBits} with ${e.icvLength} octet ICV [RFC5282]`;
  return undefined;
}

function ikeIntegrityName(n: Negotiated): string | undefined {
  if (!n.integrity) return "NONE [RFC4306]";
  return { HMAC_SHA2_256_128: "HMAC_SHA2_256_128 [RFC4868]", HMAC_SHA2_384_192: "HMAC_SHA2_384_192 [RFC4868]", HMAC_SHA2_512_256: "HMAC_SHA2_512_256 [RFC4868]" }[n.integrity.name];
}

/**
 * One ikev2_decryption_table line: SPIi, SPIr, SK_ei, SK_er, encryption, SK_ai, SK_ar, integrity
 * (hex without 0x; SPIs 16 hex digits). THE OUTPUT CONTAINS SECRET KEYS.
 */
export function ikev2DecryptionTableLine(k: IkeSaKeysForExport): string | undefined {
  const enc = ikeEncryptionName(k.negotiated);
  const integ = ikeIntegrityName(k.negotiated);
  if (!enc || !integ) return undefined;
  const hex = (s: { expose(): Uint8Array; length: number }) => (s.length > 0 ? toHex(s.expose()) : "");
  return `${k.initiatorSpi},${k.responderSpi},${hex(k.skEi)},${hex(k.skEr)},"${enc}",${hex(k.skAi)},${hex(k.skAr)},"${integ}"`;
}

/**
 * The two esp_sa lines of a CHILD_SA (inbound and outbound), addresses as `*` so they keep
 * matching after MOBIKE moves; AEAD keys are key ‖ salt as Wireshark expects (RFC 4106 §8.1).
 */
export function espSaLines(c: ChildSaInstall): string[] {
  if (!c.suite) return [];
  const suite = ESP_SUITES[c.suite];
  const family = c.local.address.includes(":") ? "IPv6" : "IPv4";
  const line = (spi: string, keys: ChildSaInstall["inbound"]) =>
    [family, "*", "*", `0x${spi}`, suite.wireshark.encryption, keys.encryptionKey.length > 0 ? `0x${toHex(keys.encryptionKey.expose())}` : "", suite.wireshark.authentication, keys.integrityKey.length > 0 ? `0x${toHex(keys.integrityKey.expose())}` : ""]
      .map((f) => `"${f}"`)
      .join(",");
  return [line(espSpiHex(c.inboundSpi), c.inbound), line(espSpiHex(c.outboundSpi), c.outbound)];
}

export const IKEV2_TABLE_HEADER = "# Wireshark ikev2_decryption_table written by monami: SECRET KEYS, delete after use.\n# Use: tshark -o 'uat:ikev2_decryption_table:LINE'\n";
export const ESP_SA_HEADER = "# Wireshark esp_sa table written by monami: SECRET KEYS, delete after use.\n# Use: tshark -o 'uat:esp_sa:LINE' -o esp.enable_encryption_decode:TRUE\n";
