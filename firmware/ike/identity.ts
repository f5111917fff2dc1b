// IKE identities (RFC 7296 §3.5) as RFC 4877 uses them: home address, FQDN or NAI, parsed like strongSwan's `id =`.

import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "../wire/address.ts";
import { bytesEqual } from "../wire/bytes.ts";
import { IdType } from "./constants.ts";

export interface Identity {
  readonly type: number;
  readonly data: Uint8Array;
}

/**
 * `2001:db8::1` / `192.0.2.1` → IPv6/IPv4 address; `@host.example` or `host.example` → FQDN;
 * `user@realm` → RFC 822 (NAI); `fqdn:`, `email:`, `keyid:` prefixes force a type.
 */
export function parseIdentity(text: string): Identity {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  if (text.startsWith("fqdn:")) return { type: IdType.fqdn, data: utf8(text.slice(5)) };
  if (text.startsWith("email:")) return { type: IdType.rfc822Address, data: utf8(text.slice(6)) };
  if (text.startsWith("keyid:")) return { type: IdType.keyId, data: utf8(text.slice(6)) };
  const v6 = parseIpv6(text);
  if (v6) return { type: IdType.ipv6Address, data: v6 };
  const v4 = parseIpv4(text);
  if (v4) return { type: IdType.ipv4Address, data: v4 };
  if (text.startsWith("@")) return { type: IdType.fqdn, data: utf8(text.slice(1)) };
  if (text.includes("@")) return { type: IdType.rfc822Address, data: utf8(text) };
  return { type: IdType.fqdn, data: utf8(text) };
}

export function formatIdentity(id: Identity): string {
  switch (id.type) {
    case IdType.ipv6Address:
      return id.data.length === 16 ? formatIpv6(id.data) : "(bad IPv6 ID)";
    case IdType.ipv4Address:
      return id.data.length === 4 ? formatIpv4(id.data) : "(bad IPv4 ID)";
    case IdType.fqdn:
    case IdType.rfc822Address:
    case IdType.keyId:
      return new TextDecoder("utf-8", { fatal: false }).decode(id.data);
    case IdType.derAsn1Dn:
      return `dn:${Buffer.from(id.data).toString("hex")}`;
    default:
      return `id-type-${id.type}:${Buffer.from(id.data).toString("hex")}`;
  }
}

export function identityEquals(a: Identity, b: Identity): boolean {
  return a.type === b.type && bytesEqual(a.data, b.data);
}

/** The octets after the generic header of an ID payload: ID Type | RESERVED(3) | data (§2.15 RestOfInitIDPayload). */
export function identityPayloadBody(id: Identity): Uint8Array {
  const out = new Uint8Array(4 + id.data.length);
  out[0] = id.type;
  out.set(id.data, 4);
  return out;
}
