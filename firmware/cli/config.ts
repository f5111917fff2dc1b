// `monami config validate|schema|example`: check a config file, print the JSON Schema or a commented example.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { EXAMPLE_CONFIG } from "../config/example.ts";
import { deviceConfigJsonSchema } from "../config/json-schema.ts";
import { redactSecrets } from "../config/redact.ts";
import { formatIssue, parseConfigText } from "../config/validate.ts";
import { ExitCode } from "./command.ts";

const USAGE = `usage: monami config validate FILE [--print]   check FILE; exit 0, or 1 with every error and its path
       monami config schema                    print the configuration as JSON Schema (draft-07)
       monami config example                   print a commented example configuration

options:
  --print      (validate) print the config with defaults filled in (secrets stay references)
  -h, --help   show this help`;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { help: { type: "boolean", short: "h" }, print: { type: "boolean" } } });
  } catch (e) {
    console.error(`monami config: ${(e as Error).message}\n${USAGE}`);
    return ExitCode.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return ExitCode.ok;
  }
  const [action, file, ...extra] = positionals;
  switch (action) {
    case "validate": {
      if (file === undefined || extra.length > 0) break;
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (e) {
        console.error(`monami config: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        return ExitCode.failure;
      }
      const result = parseConfigText(text);
      if (!result.ok) {
        console.error(`${file}: ${result.error.length} error${result.error.length === 1 ? "" : "s"}`);
        for (const issue of result.error) console.error(`  ${formatIssue(issue)}`);
        return ExitCode.failure;
      }
      if (values.print) console.log(JSON.stringify(redactSecrets(result.value), null, 2));
      else console.log(`${file}: valid`);
      return ExitCode.ok;
    }
    case "schema":
      if (file !== undefined) break;
      console.log(JSON.stringify(deviceConfigJsonSchema(), null, 2));
      return ExitCode.ok;
    case "example":
      if (file !== undefined) break;
      process.stdout.write(EXAMPLE_CONFIG);
      return ExitCode.ok;
  }
  console.error(USAGE);
  return ExitCode.usage;
}
