// Canonical JSON (RFC 8785 JCS) for signing desired documents: sorted keys, no whitespace, ES number form.

/**
 * Serializes a JSON value canonically (RFC 8785 §3.2): object members sorted by UTF-16 code units, no
 * insignificant whitespace, numbers and strings as ECMAScript `JSON.stringify` writes them (§3.2.2).
 * Returns undefined for values JSON cannot represent (non-finite numbers, functions, undefined members in arrays).
 */
export function canonicalJson(value: unknown): string | undefined {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : undefined;
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (const item of value) {
      const text = canonicalJson(item);
      if (text === undefined) return undefined;
      parts.push(text);
    }
    return `[${parts.join(",")}]`;
  }
  if (typeof value === "object") {
    const parts: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const inner = (value as Record<string, unknown>)[key];
      if (inner === undefined) continue;
      const text = canonicalJson(inner);
      if (text === undefined) return undefined;
      parts.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${parts.join(",")}}`;
  }
  return undefined;
}
