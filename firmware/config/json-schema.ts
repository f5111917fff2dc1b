// The device configuration as JSON Schema (draft-07), for fleet back-ends and editors.

import { toJsonSchema } from "@valibot/to-json-schema";
import { DeviceConfigSchema } from "./schema.ts";

/**
 * JSON Schema of the config file. Cross-field checks (hysteresis order, RFC 3963 explicit-mode prefixes,
 * lifetimes, unique uplinks) cannot be expressed there and are only enforced by `monami config validate`.
 */
export function deviceConfigJsonSchema(): Record<string, unknown> {
  const schema = toJsonSchema(DeviceConfigSchema, { errorMode: "ignore" }) as Record<string, unknown>;
  return {
    ...schema,
    $id: "https://monami.invalid/schema/device-config.json",
    title: "monami device configuration",
    description:
      "One document for the whole device: local file at boot and remote desired state. Secrets are references ({ \"ref\": \"file:/…\" }). " +
      "Cross-field rules are enforced by `monami config validate`, not by this schema.",
  };
}
