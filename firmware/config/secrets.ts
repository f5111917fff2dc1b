// Resolution of secret references ({ ref: "file:/…" | "env:NAME" }) into SecretBytes at start-up.

import { readFileSync, statSync } from "node:fs";
import { err, ok, type Result } from "../core/result.ts";
import { SecretBytes } from "../core/secret.ts";
import type { SecretRef } from "./schema.ts";

/**
 * Reads the secret a reference names. A file must not be readable by "other" (mode & 0o004) and one trailing
 * newline is stripped; an environment variable must be set and non-empty. Errors name the reference, never the value.
 */
export function resolveSecret(ref: SecretRef, env: Record<string, string | undefined> = process.env): Result<SecretBytes, string> {
  if (ref.ref.startsWith("env:")) {
    const name = ref.ref.slice(4);
    const value = env[name];
    if (value === undefined || value === "") return err(`secret ${ref.ref}: variable not set`);
    return ok(new SecretBytes(new TextEncoder().encode(value)));
  }
  const path = ref.ref.slice(5);
  try {
    const mode = statSync(path).mode;
    if ((mode & 0o004) !== 0) return err(`secret ${ref.ref}: file is world-readable (chmod o-r)`);
    let bytes = new Uint8Array(readFileSync(path));
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0a) bytes = bytes.subarray(0, bytes.length - 1);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    return ok(new SecretBytes(Uint8Array.from(bytes)));
  } catch (e) {
    return err(`secret ${ref.ref}: ${(e as NodeJS.ErrnoException).code ?? "unreadable"}`);
  }
}

/** The secret as UTF-8 text (passwords); the caller must not log it. */
export function secretText(secret: SecretBytes): string {
  return new TextDecoder().decode(secret.expose());
}
