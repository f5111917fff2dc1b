// tshark dissects RFC 5555 BU/BA in IPv4/UDP port 4191, made by the real cores through a NAT: IPv4 CoA, BID and NAT Detection fields equal ours.
//
// The inner Mobility Header is left unprotected here so tshark can read it (in the daemons it is under ESP
// transport mode, see test/lab/dsmip-nat.test.ts); the encapsulation and the options are the same bytes.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Counters } from "../../firmware/core/counters.ts";
import { instant } from "../../firmware/core/instant.ts";
import { BindingCache } from "../../firmware/mobility/binding-cache.ts";
import { BindingUpdateList } from "../../firmware/mobility/binding-update-list.ts";
import { encodeMobilityPacket } from "../../firmware/mobility/mobility-packet.ts";
import { bindingId, linkId, type MobilityTransmit } from "../../firmware/mobility/types.ts";
import { PcapWriter } from "../../firmware/pcap/pcap-writer.ts";
import { DSMIPV6_UDP_PORT, emitDsmipDatagram } from "../../firmware/wire/dsmip-udp.ts";
import { HOME_ADDRESS, HOME_AGENT, MNP, routerConfig } from "../scenario/mobility-harness.ts";

const tshark = Bun.which("tshark");
const dir = mkdtempSync(join(tmpdir(), "monami-dsm-tshark-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COA = "100.64.0.2";
const NAT = { address: "192.0.2.1", port: 40001 };
const HA_V4 = "192.0.2.2";

/** BU (router → NAT → home agent) and BA (home agent → NAT's address:port), as the cores emit them. */
function exchange(): { bu: MobilityTransmit; ba: MobilityTransmit } {
  const mr = new BindingUpdateList(routerConfig({ homeAgentIpv4Address: HA_V4, prefixMode: "implicit" }), new Counters());
  const ha = new BindingCache({ homeAgentAddress: HOME_AGENT, homeAgentIpv4Address: HA_V4, mobileNodes: [{ homeAddress: HOME_ADDRESS, prefixes: [MNP] }], keyManagementCapability: false }, new Counters());
  mr.addCareOfAddress(instant(0), { bindingId: bindingId(7), linkId: linkId("lte"), careOfAddress: { family: "ipv4", address: COA } });
  const bu = mr.pollTransmit(instant(0))!;
  ha.handleMessage({ message: bu.message, source: bu.source, destination: bu.destination, protectedByEsp: true, udpEncapsulation: NAT }, instant(10));
  return { bu, ba: ha.pollTransmit(instant(10))! };
}

test.skipIf(!tshark)("tshark: UDP 4191 → IPv6 → MIPv6, no malformed/expert, fields equal the cores' (IPv4 CoA, BID, NAT Detection)", () => {
  const { bu, ba } = exchange();
  // As seen behind the home agent: the BU from the NAT's address; the BA back to it.
  const pcap = new PcapWriter();
  pcap.add(emitDsmipDatagram({ ipv4Source: NAT.address, ipv4Destination: HA_V4, sourcePort: NAT.port, destinationPort: DSMIPV6_UDP_PORT, ipv6Packet: encodeMobilityPacket(bu) }), 0);
  pcap.add(emitDsmipDatagram({ ipv4Source: HA_V4, ipv4Destination: NAT.address, sourcePort: DSMIPV6_UDP_PORT, destinationPort: NAT.port, ipv6Packet: encodeMobilityPacket(ba) }), 10);
  const file = join(dir, "dsmip.pcap");
  writeFileSync(file, pcap.bytes());
  const fields = ["frame.protocols", "udp.srcport", "udp.dstport", "ipv6.src", "ipv6.dst", "mip6.mhtype", "mip6.bi.bid", "mip6.bi.coa_ipv4", "mip6.ipv4coa.addr", "mip6.natd.f_flag", "mip6.natd.refresh_t", "mip6.ba.status", "_ws.malformed", "_ws.expert"];
  const r = Bun.spawnSync([tshark!, "-n", "-r", file, "-d", `udp.port==${DSMIPV6_UDP_PORT},ipv6`, "-T", "fields", "-E", "separator=/t", ...fields.flatMap((f) => ["-e", f])], { stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(0);
  const rows = r.stdout.toString().split("\n").filter((l) => l.length > 0).map((l) => Object.fromEntries(l.split("\t").map((v, i) => [fields[i]!, v])));
  expect(rows.length).toBe(2);
  const [b, a] = rows as [Record<string, string>, Record<string, string>];
  for (const row of rows) {
    expect(row["frame.protocols"]).toBe("raw:ip:udp:ipv6:mipv6");
    expect(row["_ws.malformed"]).toBe("");
    expect(row["_ws.expert"]).toBe("");
  }
  // BU: home address → home agent (no HAO), BID 7 and the IPv4 Care-of Address option both name 100.64.0.2.
  expect(b["udp.dstport"]).toBe("4191");
  expect([b["ipv6.src"], b["ipv6.dst"], b["mip6.mhtype"]]).toEqual([HOME_ADDRESS, HOME_AGENT, "5"]);
  expect(b["mip6.bi.bid"]).toBe("7");
  expect(b["mip6.bi.coa_ipv4"]).toBe(COA);
  expect(b["mip6.ipv4coa.addr"]).toBe(COA);
  // BA: back to the NAT's port, to the home address, accepted, NAT Detection F=1 with 110 s.
  expect([a["udp.srcport"], a["udp.dstport"]]).toEqual(["4191", String(NAT.port)]);
  expect([a["ipv6.src"], a["ipv6.dst"], a["mip6.mhtype"], a["mip6.ba.status"]]).toEqual([HOME_AGENT, HOME_ADDRESS, "6", "0"]);
  expect(a["mip6.bi.bid"]).toBe("7");
  const nat = ba.message.type === "binding-acknowledgement" ? ba.message.options.find((o) => o.type === "nat-detection") : undefined;
  if (nat?.type !== "nat-detection") throw new Error("the BA carries no NAT Detection option");
  expect(a["mip6.natd.f_flag"]).toBe(nat.udpEncapsulationRequired ? "1" : "0");
  expect(a["mip6.natd.refresh_t"]).toBe(String(nat.refreshTimeSeconds));
  expect(a["mip6.natd.refresh_t"]).toBe("110");
});
