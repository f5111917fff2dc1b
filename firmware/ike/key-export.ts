// Debug key export (off by default): IKE SA keys as Wireshark ikev2_decryption_table lines (ESP SAs: firmware/ipsec/key-export.ts, via the SAD).

import { toHex } from "../core/hex.ts";
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

export const IKEV2_TABLE_HEADER = "# Wireshark ikev2_decryption_table written by monami: SECRET KEYS, delete after use.\n# Use: tshark -o 'uat:ikev2_decryption_table:LINE'\n";
