// Interop: tshark decodes the packets monami's wire codecs emit (through monami's pcap file writer) field by field, without warnings.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PcapFileWriter } from "../../firmware/pcap/pcap-writer.ts";
import { buildIcmpv6Error, buildPacketTooBig, emitIcmpv6, type Icmpv6Repr } from "../../firmware/wire/icmpv6.ts";
import { emitIpv4Packet, ipv4ReprChecksumAddresses, type Ipv4PacketRepr } from "../../firmware/wire/ipv4.ts";
import { emitIpv6Packet, ipv6ReprChecksumAddresses, type Ipv6PacketRepr } from "../../firmware/wire/ipv6.ts";
import { emitUdp, type UdpRepr } from "../../firmware/wire/udp.ts";

const TSHARK = Bun.which("tshark");
if (!TSHARK) console.warn("tshark-wire: tshark not installed, interop tests skipped (CI installs it)");

const FIELDS = [
  "frame.len",
  "ipv6.src",
  "ipv6.dst",
  "ipv6.hlim",
  "ipv6.tclass",
  "ipv6.flow",
  "ipv6.hopopts.len_oct",
  "ipv6.opt.mipv6.home_address",
  "ipv6.routing.type",
  "ipv6.routing.segleft",
  "ipv6.routing.mipv6.home_address",
  "ipv6.fraghdr.offset",
  "ipv6.fraghdr.more",
  "ipv6.fraghdr.ident",
  "icmpv6.type",
  "icmpv6.code",
  "icmpv6.checksum.status",
  "icmpv6.echo.identifier",
  "icmpv6.echo.sequence_number",
  "icmpv6.mtu",
  "icmpv6.pointer",
  "udp.srcport",
  "udp.dstport",
  "udp.length",
  "udp.checksum.status",
  "ip.src",
  "ip.dst",
  "ip.ttl",
  "ip.id",
  "ip.flags.df",
  "ip.flags.mf",
  "ip.frag_offset",
  "ip.hdr_len",
  "ip.checksum.status",
] as const;
type Field = (typeof FIELDS)[number];
type Decoded = Partial<Record<Field, string[]>>;

const CHECKS = ["-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"];
const STATUS_GOOD = "1";

function ipv6With(repr: Omit<Ipv6PacketRepr, "upperPayload">, upper: (addresses: ReturnType<typeof ipv6ReprChecksumAddresses>) => Uint8Array): Uint8Array {
  return emitIpv6Packet({ ...repr, upperPayload: upper(ipv6ReprChecksumAddresses({ ...repr, upperPayload: new Uint8Array(0) })) });
}
const icmp = (m: Icmpv6Repr) => (a: ReturnType<typeof ipv6ReprChecksumAddresses>) => emitIcmpv6(m, a);
const udp = (u: UdpRepr) => (a: ReturnType<typeof ipv6ReprChecksumAddresses>) => emitUdp(u, a);
function ipv4Udp(repr: Omit<Ipv4PacketRepr, "upperPayload">, u: UdpRepr): Uint8Array {
  return emitIpv4Packet({ ...repr, upperPayload: emitUdp(u, ipv4ReprChecksumAddresses({ ...repr, upperPayload: new Uint8Array(0) })) });
}
const text = (s: string) => new TextEncoder().encode(s);

// The capture, in order. Ports avoid well-known dissectors (53 would be read as DNS).
const FULL_CHAIN: Omit<Ipv6PacketRepr, "upperPayload"> = {
  source: "2001:db8:1::a",
  destination: "2001:db8:1::b",
  hopLimit: 61,
  trafficClass: 0xb8,
  flowLabel: 0x12345,
  extensionHeaders: [
    { kind: "hop-by-hop", options: [{ type: "unknown", optionType: 5, data: new Uint8Array(2) }] },
    { kind: "routing-type2", homeAddress: "2001:db8:c::2" },
    { kind: "destination-options", options: [{ type: "home-address", homeAddress: "2001:db8:a::1" }] },
    { kind: "fragment", fragmentOffset: 0, moreFragments: false, identification: 0x1234 },
  ],
  upperProtocol: 58,
};
const PLAIN_UDP6: Omit<Ipv6PacketRepr, "upperPayload"> = { source: "2001:db8::1", destination: "2001:db8::2", upperProtocol: 17 };
const udpOverIpv6 = ipv6With(PLAIN_UDP6, udp({ sourcePort: 40000, destinationPort: 40001, payload: text("monami") }));
const oversize = ipv6With(PLAIN_UDP6, udp({ sourcePort: 40002, destinationPort: 40003, payload: new Uint8Array(1452) }));
const mustBuild = (r: ReturnType<typeof buildPacketTooBig>) => {
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

const PACKETS: { name: string; bytes: Uint8Array; expected: Decoded }[] = [
  {
    name: "echo request behind HBH, Type 2 RH, DestOpt with HAO and a Fragment header",
    bytes: ipv6With(FULL_CHAIN, icmp({ kind: "echo-request", identifier: 0x42, sequenceNumber: 7, data: text("hello") })),
    expected: {
      "ipv6.src": ["2001:db8:1::a"],
      "ipv6.dst": ["2001:db8:1::b"],
      "ipv6.hlim": ["61"],
      "ipv6.tclass": ["0x000000b8"],
      "ipv6.flow": ["0x012345"],
      "ipv6.hopopts.len_oct": ["8"],
      "ipv6.routing.type": ["2"],
      "ipv6.routing.segleft": ["1"],
      "ipv6.routing.mipv6.home_address": ["2001:db8:c::2"],
      "ipv6.opt.mipv6.home_address": ["2001:db8:a::1"],
      "ipv6.fraghdr.offset": ["0"],
      "ipv6.fraghdr.more": ["0"],
      "ipv6.fraghdr.ident": ["0x00001234"],
      "icmpv6.type": ["128"],
      "icmpv6.code": ["0"],
      "icmpv6.checksum.status": [STATUS_GOOD],
      "icmpv6.echo.identifier": ["0x0042"],
      "icmpv6.echo.sequence_number": ["7"],
    },
  },
  {
    name: "echo reply",
    bytes: ipv6With({ source: "2001:db8:1::b", destination: "2001:db8:1::a", upperProtocol: 58 }, icmp({ kind: "echo-reply", identifier: 0xbeef, sequenceNumber: 65535, data: text("ping") })),
    expected: { "icmpv6.type": ["129"], "icmpv6.echo.identifier": ["0xbeef"], "icmpv6.echo.sequence_number": ["65535"], "icmpv6.checksum.status": [STATUS_GOOD] },
  },
  {
    name: "UDP over IPv6",
    bytes: udpOverIpv6,
    expected: { "ipv6.hlim": ["64"], "udp.srcport": ["40000"], "udp.dstport": ["40001"], "udp.length": ["14"], "udp.checksum.status": [STATUS_GOOD] },
  },
  {
    name: "UDP over IPv6 with a Home Address option: the checksum covers the home address",
    bytes: ipv6With(
      { ...PLAIN_UDP6, extensionHeaders: [{ kind: "destination-options", options: [{ type: "home-address", homeAddress: "2001:db8:a::77" }] }] },
      udp({ sourcePort: 40004, destinationPort: 40005, payload: text("from the home address") }),
    ),
    expected: { "ipv6.opt.mipv6.home_address": ["2001:db8:a::77"], "udp.srcport": ["40004"], "udp.checksum.status": [STATUS_GOOD] },
  },
  {
    name: "Packet Too Big for a 1500-octet packet, capped at 1280 octets",
    bytes: mustBuild(buildPacketTooBig(oversize, 1400, { source: "2001:db8:ff::1" })),
    expected: {
      "frame.len": ["1280"],
      "ipv6.src": ["2001:db8:ff::1", "2001:db8::1"],
      "ipv6.dst": ["2001:db8::1", "2001:db8::2"],
      "icmpv6.type": ["2"],
      "icmpv6.code": ["0"],
      "icmpv6.mtu": ["1400"],
      "icmpv6.checksum.status": [STATUS_GOOD],
      "udp.srcport": ["40002"],
    },
  },
  {
    name: "Destination Unreachable (port) quoting a UDP datagram",
    bytes: mustBuild(buildIcmpv6Error({ kind: "destination-unreachable", code: 4 }, udpOverIpv6, { source: "2001:db8::2" })),
    expected: { "icmpv6.type": ["1"], "icmpv6.code": ["4"], "icmpv6.checksum.status": [STATUS_GOOD], "udp.dstport": ["40001"] },
  },
  {
    name: "Parameter Problem (unrecognised next header) with its pointer",
    bytes: mustBuild(buildIcmpv6Error({ kind: "parameter-problem", code: 1, pointer: 6 }, udpOverIpv6, { source: "2001:db8::2" })),
    expected: { "icmpv6.type": ["4"], "icmpv6.code": ["1"], "icmpv6.pointer": ["6"], "icmpv6.checksum.status": [STATUS_GOOD] },
  },
  {
    name: "UDP over IPv4 with DF",
    bytes: ipv4Udp({ source: "192.0.2.1", destination: "198.51.100.2", timeToLive: 17, identification: 0x1c46, dontFragment: true, upperProtocol: 17 }, { sourcePort: 40006, destinationPort: 40007, payload: text("monami") }),
    expected: {
      "ip.src": ["192.0.2.1"],
      "ip.dst": ["198.51.100.2"],
      "ip.ttl": ["17"],
      "ip.id": ["0x1c46"],
      "ip.flags.df": ["1"],
      "ip.flags.mf": ["0"],
      "ip.hdr_len": ["20"],
      "ip.checksum.status": [STATUS_GOOD],
      "udp.srcport": ["40006"],
      "udp.checksum.status": [STATUS_GOOD],
    },
  },
  {
    name: "IPv4 with options (NOP, NOP, End of List) and a zero UDP checksum",
    bytes: emitIpv4Packet({
      source: "192.0.2.9",
      destination: "192.0.2.10",
      options: Uint8Array.from([1, 1, 0, 0]),
      upperProtocol: 17,
      upperPayload: emitUdp({ sourcePort: 40008, destinationPort: 40009, payload: text("x") }, { source: Uint8Array.from([192, 0, 2, 9]), destination: Uint8Array.from([192, 0, 2, 10]) }, { ipv4ZeroChecksum: true }),
    }),
    expected: { "ip.hdr_len": ["24"], "ip.checksum.status": [STATUS_GOOD], "udp.srcport": ["40008"] },
  },
  {
    name: "IPv4 last fragment (offset 185 units)",
    bytes: emitIpv4Packet({ source: "192.0.2.1", destination: "198.51.100.2", identification: 7, fragmentOffset: 185, upperProtocol: 17, upperPayload: new Uint8Array(16) }),
    expected: { "ip.flags.mf": ["0"], "ip.frag_offset": ["185"], "ip.checksum.status": [STATUS_GOOD] }, // tshark 4.0 shows 8-octet units
  },
];

function runTshark(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync([TSHARK!, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function writeCapture(path: string, packets: Uint8Array[]): void {
  const writer = PcapFileWriter.open(path, { bufferBytes: 2048 });
  packets.forEach((p, i) => writer.add(p, 1_700_000_000_000 + i));
  writer.close();
}

describe.skipIf(!TSHARK)("tshark decodes monami's wire packets", () => {
  let dir = "";
  let decoded: Decoded[] = [];
  let capture = "";

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "monami-h1-tshark-"));
    capture = join(dir, "wire.pcap");
    writeCapture(capture, PACKETS.map((p) => p.bytes));
    const r = runTshark(["-r", capture, ...CHECKS, "-T", "json", ...FIELDS.flatMap((f) => ["-e", f])]);
    if (r.code !== 0) throw new Error(`tshark failed: ${r.stderr}`);
    decoded = (JSON.parse(r.stdout) as { _source: { layers: Decoded } }[]).map((p) => p._source.layers);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("every packet is in the capture", () => {
    expect(decoded.length).toBe(PACKETS.length);
  });

  PACKETS.forEach((packet, i) => {
    test(`frame ${i + 1}: ${packet.name}`, () => {
      const layers = decoded[i]!;
      for (const [field, values] of Object.entries(packet.expected)) {
        expect({ field, values: layers[field as Field] }).toEqual({ field, values });
      }
      expect(Number(layers["frame.len"]?.[0])).toBe(packet.bytes.length);
    });
  });

  test("no malformed packet and no expert warning or error", () => {
    const r = runTshark(["-r", capture, ...CHECKS, "-Y", "_ws.malformed || _ws.expert.severity >= warning", "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("");
  });

  test("control: the same filter does flag a packet with a broken checksum", () => {
    const broken = Uint8Array.from(udpOverIpv6);
    broken[broken.length - 1]! ^= 0xff;
    const path = join(dir, "broken.pcap");
    writeCapture(path, [broken]);
    const r = runTshark(["-r", path, ...CHECKS, "-Y", "_ws.malformed || _ws.expert.severity >= warning", "-T", "fields", "-e", "frame.number"]);
    expect(r.stdout.trim()).toBe("1");
  });
});
