// `monami mip6 decode|selftest-pcap`: field debugging of Mobility Header messages and the tshark oracle capture.

import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { fromHex, toHex } from "../core/hex.ts";
import { parseIpv6 } from "../wire/address.ts";
import { formatWireError, type WireError } from "../wire/error.ts";
import { decodeMobilityMessage, MobilityHeaderView, type MobilityMessage } from "../wire/mobility-header.ts";
import { LIFETIME_UNIT_MS } from "../mobility/constants.ts";
import { decodeMobilityPacket, encodeMobilityPacket } from "../mobility/mobility-packet.ts";
import { selftestExchange, SELFTEST_EPOCH_MS } from "../mobility/selftest-exchange.ts";
import { baStatusText, beStatusText } from "../mobility/status.ts";
import { PcapWriter } from "../pcap/pcap-writer.ts";
import { ExitCode } from "./command.ts";

const USAGE = `usage: monami mip6 decode HEX [--source ADDR --destination ADDR]
       monami mip6 selftest-pcap FILE

decode         print a Mobility Header message as JSON, with status texts. HEX is either a whole IPv6
               packet (first nibble 6: the checksum is verified over the home-address pseudo-header)
               or a bare Mobility Header (first octet 59); give --source/--destination to verify its
               checksum. Bad input prints the typed error as JSON on stderr and exits 1.
selftest-pcap  write a pcap (LINKTYPE_RAW) of every MH message and option monami handles, produced by
               the router and home agent cores, for tshark to check.

options:
  --source ADDR       pseudo-header source for a bare MH (the home address when a HAO was present)
  --destination ADDR  pseudo-header destination for a bare MH
  -h, --help          show this help`;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { help: { type: "boolean", short: "h" }, source: { type: "string" }, destination: { type: "string" } },
    });
  } catch (e) {
    console.error(`monami mip6: ${(e as Error).message}\n${USAGE}`);
    return ExitCode.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return ExitCode.ok;
  }
  const [action, operand, ...extra] = positionals;
  if (operand === undefined || extra.length > 0) {
    console.error(USAGE);
    return ExitCode.usage;
  }
  if (action === "decode") return decode(operand, values.source, values.destination);
  if (action === "selftest-pcap") return selftestPcap(operand);
  console.error(USAGE);
  return ExitCode.usage;
}

function fail(error: WireError): number {
  console.error(JSON.stringify({ error }, null, 2));
  console.error(`monami mip6: ${formatWireError(error)}`);
  return ExitCode.failure;
}

function decode(hex: string, source: string | undefined, destination: string | undefined): number {
  const bytes = fromHex(hex);
  if (!bytes) {
    console.error("monami mip6: HEX is not hexadecimal");
    return ExitCode.usage;
  }
  if (bytes.length > 0 && bytes[0]! >> 4 === 6) {
    const r = decodeMobilityPacket(bytes);
    if (!r.ok) return fail(r.error);
    const p = r.value;
    const view = MobilityHeaderView.parse(p.packet.upperPayload);
    console.log(
      JSON.stringify(
        {
          ipv6: {
            source: p.source,
            destination: p.destination,
            hopLimit: p.packet.header.hopLimit,
            ...(p.homeAddressOption ? { homeAddressOption: p.homeAddressOption } : {}),
            ...(p.routingType2Address ? { routingType2Address: p.routingType2Address } : {}),
          },
          checksum: { value: hex16(view.ok ? view.value.checksum : 0), verified: true },
          message: describe(p.message),
        },
        jsonBytes,
        2,
      ),
    );
    return ExitCode.ok;
  }
  if ((source === undefined) !== (destination === undefined)) {
    console.error("monami mip6: give both --source and --destination, or neither");
    return ExitCode.usage;
  }
  let pseudo: { source: Uint8Array; destination: Uint8Array } | undefined;
  if (source !== undefined && destination !== undefined) {
    const s = parseIpv6(source);
    const d = parseIpv6(destination);
    if (!s || !d) {
      console.error("monami mip6: --source and --destination must be IPv6 addresses");
      return ExitCode.usage;
    }
    pseudo = { source: s, destination: d };
  }
  const r = decodeMobilityMessage(bytes, pseudo);
  if (!r.ok) return fail(r.error);
  const view = MobilityHeaderView.parse(bytes);
  console.log(JSON.stringify({ checksum: { value: hex16(view.ok ? view.value.checksum : 0), verified: pseudo ? true : null }, message: describe(r.value) }, jsonBytes, 2));
  return ExitCode.ok;
}

function hex16(n: number): string {
  return `0x${n.toString(16).padStart(4, "0")}`;
}

/** The message with status texts and lifetimes in seconds added next to the wire values. */
function describe(m: MobilityMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m };
  if (m.type === "binding-acknowledgement") out.statusText = baStatusText(m.status);
  if (m.type === "binding-error") out.statusText = beStatusText(m.status);
  if (m.type === "binding-update" || m.type === "binding-acknowledgement") out.lifetimeSeconds = (m.lifetimeUnits * LIFETIME_UNIT_MS) / 1000;
  if (m.type !== "unrecognized") {
    out.options = m.options.map((o) => {
      if (o.type === "binding-identifier" && o.status !== 0) return { ...o, statusText: baStatusText(o.status) };
      if (o.type === "binding-refresh-advice") return { ...o, refreshIntervalSeconds: (o.refreshIntervalUnits * LIFETIME_UNIT_MS) / 1000 };
      return o;
    });
  }
  return out;
}

function jsonBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? toHex(value) : value;
}

function selftestPcap(file: string): number {
  const writer = new PcapWriter();
  const records = selftestExchange();
  for (const r of records) writer.add(encodeMobilityPacket(r.transmit), SELFTEST_EPOCH_MS + r.atMs);
  try {
    writeFileSync(file, writer.bytes());
  } catch (e) {
    console.error(`monami mip6: cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    return ExitCode.failure;
  }
  records.forEach((r, i) => console.log(`${String(i + 1).padStart(2)}  ${r.transmit.message.type.padEnd(24)}  ${r.note}`));
  console.log(`wrote ${records.length} packets to ${file}`);
  return ExitCode.ok;
}
