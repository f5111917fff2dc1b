// `monami ipsec suites|selftest-pcap`: the ESP suites and backends of this build, and the tshark oracle capture with its keys.

import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { randomFillSync } from "node:crypto";
import { ESP_SUITE_IDS, ESP_SUITES } from "../crypto/suites.ts";
import { buildSelftestCapture } from "../ipsec/selftest-capture.ts";
import { PcapWriter } from "../pcap/pcap-writer.ts";
import { loadCryptoBackends, pickBackend } from "../runtime/crypto-backends.ts";
import { ExitCode } from "./command.ts";

const USAGE = `usage: monami ipsec suites [--json]
       monami ipsec selftest-pcap PCAP KEYS

suites         list the ESP suites with their IKEv2 transform IDs and the crypto backend that
               would run each here (libcrypto over FFI, node:crypto or @noble).
selftest-pcap  write PCAP (LINKTYPE_RAW) with, for every suite, ESP packets in tunnel mode (an
               ICMPv6 echo inside) and transport mode (a Binding Update inside), plus one
               ESP-in-UDP packet over IPv4; and KEYS, the matching Wireshark esp_sa table.
               KEYS HOLDS SECRET KEYS (fresh random ones, used for nothing else).
               Decrypt with: tshark -r PCAP -o esp.enable_encryption_decode:TRUE
                 -o esp.enable_authentication_check:TRUE -o "uat:esp_sa:LINE" (once per line of KEYS)

options:
  --json      machine-readable output (suites)
  -h, --help  show this help`;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { help: { type: "boolean", short: "h" }, json: { type: "boolean" } } });
  } catch (e) {
    console.error(`monami ipsec: ${(e as Error).message}\n${USAGE}`);
    return ExitCode.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return ExitCode.ok;
  }
  const [action, ...operands] = positionals;
  if (action === "suites" && operands.length === 0) return suites(values.json === true);
  if (action === "selftest-pcap" && operands.length === 2) return selftestPcap(operands[0]!, operands[1]!);
  console.error(USAGE);
  return ExitCode.usage;
}

async function suites(json: boolean): Promise<number> {
  const backends = await loadCryptoBackends();
  const rows = ESP_SUITE_IDS.map((id) => {
    const suite = ESP_SUITES[id];
    return { suite: id, description: suite.description, ike: suite.ike, backend: pickBackend(backends, suite)?.name ?? "none" };
  });
  if (json) {
    console.log(JSON.stringify({ backends: backends.map((b) => b.name), suites: rows }, null, 2));
    return ExitCode.ok;
  }
  console.log(`backends (fastest first): ${backends.map((b) => b.name).join(", ")}`);
  for (const row of rows) console.log(`  ${row.suite.padEnd(18)} ${row.backend.padEnd(10)} ${row.description}`);
  return ExitCode.ok;
}

async function selftestPcap(pcapPath: string, keysPath: string): Promise<number> {
  const backends = await loadCryptoBackends();
  const capture = buildSelftestCapture((suite) => pickBackend(backends, suite), (into) => randomFillSync(into));
  const writer = new PcapWriter();
  for (const p of capture.packets) writer.add(p.packet, p.timestampMs);
  writeFileSync(pcapPath, writer.bytes());
  writeFileSync(keysPath, capture.keyFile, { mode: 0o600 });
  const suites = new Set(capture.packets.map((p) => p.suite)).size;
  console.log(`wrote ${capture.packets.length} ESP packets (${suites} suites, tunnel + transport + UDP) to ${pcapPath}, keys to ${keysPath}`);
  return ExitCode.ok;
}
