// Child for the power-loss test: commits config versions 1, 2, 3… in a loop until killed (mode "atomic"),
// or rewrites the file in place without rename (mode "naive", the control that must tear).

import { closeSync, openSync, writeSync } from "node:fs";
import { commitStoredConfig, configStorePaths } from "../../../firmware/config/store.ts";
import { configText } from "./atomic-config-text.ts";

const [path, mode] = process.argv.slice(2);
if (!path) throw new Error("usage: atomic-writer-child.ts PATH [atomic|naive]");
const paths = configStorePaths(path);
process.stdout.write("ready\n");
for (let n = 2; ; n++) {
  const text = configText(n);
  if (mode === "naive") {
    const fd = openSync(path, "w");
    const bytes = new TextEncoder().encode(text);
    for (let at = 0; at < bytes.length; at += 4096) writeSync(fd, bytes, at, Math.min(4096, bytes.length - at));
    closeSync(fd);
  } else {
    commitStoredConfig(paths, text);
  }
  process.stdout.write(`${n}\n`);
}
