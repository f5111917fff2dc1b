// Loading signing and fleet public keys from key files, with messages fit for a CLI.

import { readFileSync } from "node:fs";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import { parsePublicKeyFile, parseSecretKeyFile, type PublicKey, type SigningKey } from "../sign/ed25519.ts";

export function loadSigningKey(path: string): Result<SigningKey, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return err(`cannot read key ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const key = parseSecretKeyFile(text);
  return key.ok ? key : err(`${path}: ${key.error}`);
}

/** Several keys may be trusted at once (key rotation); at least one is required. */
export function loadPublicKeys(paths: readonly string[]): Result<PublicKey[], string> {
  if (paths.length === 0) return err("no fleet public key given (--pubkey FILE)");
  const keys: PublicKey[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      return err(`cannot read public key ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const key = parsePublicKeyFile(text);
    if (!key.ok) return err(`${path}: ${key.error}`);
    keys.push(key.value);
  }
  return ok(keys);
}
