// Child process for the interop tests: runs a FleetLink from a config file and appends telemetry on command.
// Usage: bun mosquitto-device-child.ts CONFIG [APPEND_COUNT]. Prints one JSON line per event on stdout.

import { FleetLink } from "../../firmware/runtime/fleet-link.ts";
import { fakeSnapshot } from "./mosquitto-device.ts";

const [configPath, countText] = process.argv.slice(2);
if (!configPath) throw new Error("usage: mosquitto-device-child.ts CONFIG [APPEND_COUNT]");
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

const link = await FleetLink.start({ configPath, firmware: "test", snapshot: fakeSnapshot, log: (line) => say({ log: line }) });
say({ started: true });
const session = () => link.session?.status();
const poll = setInterval(() => {
  const s = session();
  if (s?.state === "connected") say({ connected: s.session });
}, 50);
const count = Number(countText ?? "0");
for (let i = 0; i < count; i++) {
  link.publishTelemetry();
  say({ appended: link.status().mqtt.outbox.messages, i });
  await Bun.sleep(5);
}
say({ appendedAll: count });
process.on("SIGTERM", async () => {
  clearInterval(poll);
  await link.stop("shutdown");
  process.exit(0);
});
