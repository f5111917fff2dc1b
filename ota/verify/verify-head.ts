// Verifying an image head: trusted key id, Ed25519 signature, board compatibility, anti-rollback security version.

import { bytesEqual } from "../../firmware/wire/bytes.ts";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import { signedMessage, type ImageHead } from "../image/container.ts";
import { verifySignature, type PublicKey } from "../sign/ed25519.ts";
import type { Refusal } from "./refusal.ts";

/** Checks that a trusted key signed the head. The key id picks the key; the signature decides. */
export function verifyHeadSignature(head: ImageHead, trusted: readonly PublicKey[]): Result<PublicKey, Refusal> {
  const key = trusted.find((k) => bytesEqual(k.keyId, head.header.keyId));
  if (!key) return err({ kind: "wrong-key", imageKeyId: head.header.keyId, trustedKeyIds: trusted.map((k) => k.keyId) });
  if (!verifySignature(key.publicKey, signedMessage(head.signedBytes), head.signature)) return err({ kind: "bad-signature" });
  return ok(key);
}

export interface InstallPolicy {
  /** The board being installed on or flashed. */
  readonly board: string;
  /** Security version of the installed (committed) image; 0 on a factory-fresh device. */
  readonly installedSecurityVersion: number;
}

/** Board and anti-rollback checks (Uptane/TUF-style: the security version never goes down). */
export function checkInstallPolicy(head: ImageHead, policy: InstallPolicy): Result<void, Refusal> {
  const { manifest } = head;
  if (!manifest.compatible.includes(policy.board)) return err({ kind: "wrong-board", board: policy.board, compatible: manifest.compatible });
  if (manifest.securityVersion < policy.installedSecurityVersion) {
    return err({ kind: "downgrade", imageSecurityVersion: manifest.securityVersion, installedSecurityVersion: policy.installedSecurityVersion });
  }
  return ok(undefined);
}

/** Signature, then policy: the order every installer and the flashing tool use, before writing anything. */
export function verifyHead(head: ImageHead, trusted: readonly PublicKey[], policy: InstallPolicy): Result<PublicKey, Refusal> {
  const key = verifyHeadSignature(head, trusted);
  if (!key.ok) return key;
  const allowed = checkInstallPolicy(head, policy);
  return allowed.ok ? key : allowed;
}
