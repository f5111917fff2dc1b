// Validation of a device configuration: path-precise, classified issues that never echo a secret.

import * as v from "valibot";
import { err, ok, type Result } from "../core/result.ts";
import { DeviceConfigSchema, type DeviceConfig } from "./schema.ts";
import { isSecretKey, REDACTED } from "./redact.ts";

/** Why a field was refused; counters and config results use these names. */
export type ConfigIssueKind = "unknown-field" | "wrong-type" | "missing-field" | "invalid-value";

export interface ConfigIssue {
  readonly kind: ConfigIssueKind;
  /** Dotted path with array indexes, e.g. `uplinks[1].driver.apn`; `(document)` for the root. */
  readonly path: string;
  readonly message: string;
}

/** Validates a parsed document, filling defaults. Every issue is reported (no early abort). */
export function validateConfig(input: unknown): Result<DeviceConfig, ConfigIssue[]> {
  const parsed = v.safeParse(DeviceConfigSchema, input, { abortEarly: false, abortPipeEarly: false });
  return parsed.success ? ok(parsed.output) : err(parsed.issues.map((issue) => toConfigIssue(issue)));
}

/** Parses config file text (JSON with comments) and validates it. */
export function parseConfigText(text: string): Result<DeviceConfig, ConfigIssue[]> {
  let input: unknown;
  try {
    input = Bun.JSONC.parse(text);
  } catch (e) {
    return err([{ kind: "wrong-type", path: "(document)", message: `not JSON: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  return validateConfig(input);
}

/** Converts a valibot issue (from any schema) into a `ConfigIssue`, with `prefix` before its path. */
export function toConfigIssue(issue: v.BaseIssue<unknown>, prefix = ""): ConfigIssue {
  const keys = (issue.path ?? []).map((item) => item.key);
  const path = formatPath(prefix, keys);
  const kind = classify(issue);
  const underSecret = keys.some((k) => typeof k === "string" && isSecretKey(k));
  let message = issue.message;
  // A refused value under a secret key may itself be a secret: state what was expected, never what was received.
  if (underSecret) message = message.replace(/received .*$/s, `received ${REDACTED}`);
  if (kind === "unknown-field") message = `unknown field '${String(keys[keys.length - 1])}'`;
  if (kind === "missing-field") message = `missing required field '${String(keys[keys.length - 1])}'`;
  return { kind, path, message };
}

function classify(issue: v.BaseIssue<unknown>): ConfigIssueKind {
  if (issue.kind !== "schema") return "invalid-value";
  if (issue.type === "strict_object" && issue.expected === "never") return "unknown-field";
  if (issue.input === undefined && issue.path !== undefined && issue.expected !== "never") return "missing-field";
  return "wrong-type";
}

export function formatPath(prefix: string, keys: readonly unknown[]): string {
  let out = prefix;
  for (const key of keys) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(document)" : out;
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.path}: ${issue.message}`;
}
