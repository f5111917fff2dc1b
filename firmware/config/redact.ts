// Redaction of anything secret-looking before a config or document is echoed (reported state, logs, CLI).

export const REDACTED = "[redacted]";

/** Keys whose values are secrets (or secret references): psk, password, privateKey, simPin, mnHaKey, accessToken… */
const SECRET_KEY = /(password|passphrase|psk|secret|privatekey|accesstoken|authtoken|bearertoken|pin|key)$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

function isReference(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === "ref" && typeof (value as { ref: unknown }).ref === "string";
}

/**
 * A deep copy of `value` in which every secret-keyed field is `[redacted]`, except secret references
 * (`{ "ref": "file:/…" }`), which name where a secret lives and are safe to show. Accepts any JSON-like value.
 */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (isSecretKey(key) && inner !== undefined && !isReference(inner)) out[key] = REDACTED;
    else out[key] = redactSecrets(inner);
  }
  return out;
}
