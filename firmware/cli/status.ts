// `monami status`: the technician's view from the local control socket (links, CoAs, bindings, SAs, MQTT, decisions).

import { parseArgs } from "node:util";
import type { StatusDocument } from "../fleet/telemetry.ts";
import { queryControlSocket } from "../runtime/control-socket.ts";
import { ExitCode } from "./command.ts";

const DEFAULT_SOCKET = "/run/monami/control.sock";
const USAGE = `usage: monami status [--socket PATH] [--json]

Asks the running device over its local control socket (root or the configured group only).

options:
  --socket PATH  control socket (default ${DEFAULT_SOCKET})
  --json         print the raw status document
  -h, --help     show this help`;

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

const opt = (value: unknown, unit = ""): string => (value === undefined || value === null ? "-" : `${String(value)}${unit}`);

/** Renders the status document for people; tolerant of missing sections (an older device). */
export function formatStatus(s: StatusDocument): string {
  const out: string[] = [];
  out.push(`device ${s.deviceId}   firmware ${s.system?.firmwareVersion ?? "?"}${s.system?.slot ? ` (slot ${s.system.slot})` : ""}   up ${opt(s.system?.uptimeSeconds, "s")}   config v${s.config?.version ?? "?"} (${s.config?.transaction ?? "?"})`);
  out.push("", "links:");
  out.push(...table(["id", "state", "primary", "care-of address", "rtt", "loss", "signal", "rx", "tx"], (s.links ?? []).map((l) => [
    l.id, l.up ? "up" : "down", l.primary ? "*" : "", opt(l.careOfAddress), opt(l.rttMs, "ms"), opt(l.lossPercent, "%"), opt(l.signalDbm, "dBm"), String(l.rxBytes), String(l.txBytes),
  ])));
  out.push("", "bindings:");
  out.push(...table(["bid", "link", "care-of address", "state", "lifetime left"], (s.bindings ?? []).map((b) => [
    String(b.bindingId), b.linkId, b.careOfAddress, b.state, `${b.lifetimeRemainingSeconds}s`,
  ])));
  out.push("", "security associations:");
  out.push(...table(["spi", "dir", "link", "bytes", "packets", "drops"], (s.securityAssociations ?? []).map((a) => [
    a.spi, a.direction, opt(a.linkId), String(a.bytes), String(a.packets), Object.entries(a.drops ?? {}).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`).join(",") || "0",
  ])));
  const m = s.mqtt;
  out.push("", `mqtt: ${m?.state ?? "?"}${m?.protocol ? ` (MQTT ${m.protocol})` : ""} ${m?.broker ?? ""} as ${m?.clientId ?? "?"}, session ${m?.session ?? "?"}, ${m?.reconnects ?? 0} reconnects${m?.lastError ? `, last error: ${m.lastError}` : ""}`);
  if (m?.outbox) out.push(`  outbox: ${m.outbox.messages} messages, ${m.outbox.bytes}/${m.outbox.maxBytes} bytes, ${m.outbox.dropped} dropped`);
  out.push("", "last decisions:");
  for (const d of (s.decisions ?? []).slice(-5)) out.push(`  ${new Date(d.at).toISOString()}  ${d.kind}  ${d.from ? `${d.from} -> ` : ""}${d.to}  [${d.rule}] ${d.reason}`);
  if ((s.decisions ?? []).length === 0) out.push("  (none)");
  return out.join("\n");
}

export async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { help: { type: "boolean", short: "h" }, json: { type: "boolean" }, socket: { type: "string" } } }));
  } catch (e) {
    console.error(`monami status: ${(e as Error).message}\n${USAGE}`);
    return ExitCode.usage;
  }
  if (values.help) {
    console.log(USAGE);
    return ExitCode.ok;
  }
  const path = values.socket ?? DEFAULT_SOCKET;
  let reply: unknown;
  try {
    reply = await queryControlSocket(path, "status");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint = code === "EACCES" ? " (permission denied: run as root or as a member of the control group)" : code === "ENOENT" || code === "ECONNREFUSED" ? " (is monami running?)" : "";
    console.error(`monami status: cannot reach ${path}: ${(e as Error).message}${hint}`);
    return ExitCode.failure;
  }
  if (typeof reply !== "object" || reply === null || "error" in reply) {
    console.error(`monami status: ${JSON.stringify(reply)}`);
    return ExitCode.failure;
  }
  console.log(values.json ? JSON.stringify(reply, null, 2) : formatStatus(reply as StatusDocument));
  return ExitCode.ok;
}
