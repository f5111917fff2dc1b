// tshark (Wireshark's MIPv6 dissector, code we did not write) dissects `monami mip6 selftest-pcap`:
// every field must equal what the cores meant to send, every checksum must verify, and nothing is malformed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../firmware/core/hex.ts";
import { parseIpv6 } from "../../firmware/wire/address.ts";
import { encodeMobilityMessage, type MobilityMessage } from "../../firmware/wire/mobility-header.ts";
import { selftestExchange, type SelftestRecord } from "../../firmware/mobility/selftest-exchange.ts";
import { transmitPseudoHeader } from "../../firmware/mobility/types.ts";

const tshark = Bun.which("tshark");
const root = join(import.meta.dir, "../..");

type Fields = Map<string, string[]>;

/** Collects every field of one frame (depth first, document order); `_raw` arrays kept as [hex]. */
function collect(node: unknown, out: Fields = new Map(), key = ""): Fields {
  if (Array.isArray(node)) {
    if (key.endsWith("_raw") && typeof node[0] === "string") {
      out.set(key, [...(out.get(key) ?? []), node[0]]);
      return out;
    }
    for (const item of node) collect(item, out, key);
  } else if (node !== null && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) collect(v, out, k);
  } else if (key !== "") {
    out.set(key, [...(out.get(key) ?? []), String(node)]);
  }
  return out;
}

/** RFC 1071 written out here on purpose, so the check does not reuse monami's checksum code. */
function onesComplement(parts: Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) sum += (p[i]! << 8) | (p[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

const colon = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
const flag = (b: boolean) => (b ? "1" : "0");

/** The tshark fields each message should produce, from the Repr we emitted. */
function expectedFields(m: MobilityMessage): Record<string, string[]> {
  const e: Record<string, string[]> = {};
  const add = (k: string, v: string) => (e[k] ??= []).push(v);
  switch (m.type) {
    case "binding-update":
      add("mip6.bu.seqnr", String(m.sequenceNumber));
      add("mip6.bu.a_flag", flag(m.flags.acknowledge));
      add("mip6.bu.h_flag", flag(m.flags.homeRegistration));
      add("mip6.bu.l_flag", flag(m.flags.linkLocalCompatibility));
      add("mip6.bu.k_flag", flag(m.flags.keyManagementCapability));
      add("mip6.bu.m_flag", flag(m.flags.mapRegistration));
      add("mip6.nemo.bu.r_flag", flag(m.flags.mobileRouter));
      add("mip6.bu.p_flag", flag(m.flags.proxyRegistration));
      add("mip6.bu.f_flag", flag(m.flags.forceUdpEncapsulation));
      add("mip6.bu.t_flag", flag(m.flags.tlvHeaderFormat));
      add("mip6.bu.b_flag", flag(m.flags.bulkBindingUpdate));
      add("mip6.bu.lifetime", String(m.lifetimeUnits));
      break;
    case "binding-acknowledgement":
      add("mip6.ba.status", String(m.status));
      add("mip6.ba.k_flag", flag(m.flags.keyManagementCapability));
      add("mip6.nemo.ba.r_flag", flag(m.flags.mobileRouter));
      add("mip6.ba.p_flag", flag(m.flags.proxyRegistration));
      add("mip6.ba.seqnr", String(m.sequenceNumber));
      add("mip6.ba.lifetime", String(m.lifetimeUnits));
      break;
    case "binding-error":
      add("mip6.be.status", String(m.status));
      add("mip6.be.haddr", m.homeAddress);
      break;
    case "home-test-init":
      add("mip6.hoti.cookie", `0x${toHex(m.homeInitCookie)}`);
      break;
    case "care-of-test-init":
      add("mip6.coti.cookie", `0x${toHex(m.careOfInitCookie)}`);
      break;
    case "home-test":
      add("mip6.hot.nindex", String(m.homeNonceIndex));
      add("mip6.hot.cookie", `0x${toHex(m.homeInitCookie)}`);
      add("mip6.hot.token", `0x${toHex(m.homeKeygenToken)}`);
      break;
    case "care-of-test":
      add("mip6.cot.nindex", String(m.careOfNonceIndex));
      add("mip6.cot.cookie", `0x${toHex(m.careOfInitCookie)}`);
      break;
    case "binding-refresh-request":
    case "unrecognized":
      break;
  }
  if (m.type !== "unrecognized") {
    for (const o of m.options) {
      switch (o.type) {
        case "binding-identifier":
          add("mip6.bi.bid", String(o.bindingId));
          add("mip6.bi.status", String(o.status));
          add("mip6.bi.h_flag", flag(o.simultaneousHomeAndForeign));
          if (o.careOfAddress?.family === "ipv6") add("mip6.bi.coa_ipv6", o.careOfAddress.address);
          if (o.careOfAddress?.family === "ipv4") add("mip6.bi.coa_ipv4", o.careOfAddress.address);
          break;
        case "mobile-network-prefix":
          add("mip6.nemo.mnp.pfl", String(o.prefixLength));
          add("mip6.nemo.mnp.mnp", o.prefix);
          break;
        case "binding-refresh-advice":
          add("mip6.bra.interval", String(o.refreshIntervalUnits));
          break;
        case "alternate-care-of-address":
          add("mip6.acoa.acoa", o.careOfAddress);
          break;
        case "nonce-indices":
          add("mip6.ni.hni", String(o.homeNonceIndex));
          add("mip6.ni.cni", String(o.careOfNonceIndex));
          break;
        case "binding-authorization-data":
          add("mip6.bad.auth", colon(o.authenticator));
          break;
        case "ipv4-care-of-address":
          add("mip6.ipv4coa.addr", o.careOfAddress);
          break;
        case "nat-detection":
          add("mip6.natd.f_flag", flag(o.udpEncapsulationRequired));
          add("mip6.natd.refresh_t", String(o.refreshTimeSeconds));
          break;
        case "malformed-binding-identifier":
        case "unknown":
          break;
      }
    }
  }
  return e;
}

const mhTypeNumber: Record<string, number> = {
  "binding-refresh-request": 0,
  "home-test-init": 1,
  "care-of-test-init": 2,
  "home-test": 3,
  "care-of-test": 4,
  "binding-update": 5,
  "binding-acknowledgement": 6,
  "binding-error": 7,
};

describe.skipIf(!tshark)("tshark dissects the selftest pcap", () => {
  let dir = "";
  let frames: Fields[] = [];
  let expertText = "";
  const records: SelftestRecord[] = selftestExchange();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "monami-h3-tshark-"));
    const pcap = join(dir, "mip6-selftest.pcap");
    const made = Bun.spawnSync(["bun", "firmware/main.ts", "mip6", "selftest-pcap", pcap], { cwd: root });
    if (made.exitCode !== 0) throw new Error(`selftest-pcap failed: ${made.stderr.toString()}`);
    const json = Bun.spawnSync([tshark!, "-r", pcap, "-T", "json", "--no-duplicate-keys", "-x"], { stderr: "pipe" });
    if (json.exitCode !== 0) throw new Error(`tshark failed: ${json.stderr.toString()}`);
    const parsed = JSON.parse(json.stdout.toString()) as { _source: { layers: unknown } }[];
    frames = parsed.map((f) => collect(f._source.layers));
    expertText = Bun.spawnSync([tshark!, "-r", pcap, "-q", "-z", "expert"], { stderr: "pipe" }).stdout.toString();
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("one frame per packet, each dissected down to the Mobility Header", () => {
    expect(frames.length).toBe(records.length);
    for (const f of frames) expect(f.get("frame.protocols")?.[0]).toMatch(/:mipv6$/);
  });

  test("no malformed packet and no expert information at all", () => {
    for (const f of frames) {
      for (const key of f.keys()) expect(key.startsWith("_ws.malformed") || key.startsWith("_ws.expert")).toBe(false);
    }
    expect(expertText).not.toMatch(/Errors|Warns|Malformed/);
  });

  test("every message type and every option appears", () => {
    const types = new Set<string>(records.map((r) => r.transmit.message.type));
    expect([...types].sort()).toEqual(Object.keys(mhTypeNumber).sort());
    const options = new Set<string>(records.flatMap((r) => (r.transmit.message.type === "unrecognized" ? [] : r.transmit.message.options.map((o): string => o.type))));
    expect([...options].sort()).toEqual(
      ["alternate-care-of-address", "binding-authorization-data", "binding-identifier", "binding-refresh-advice", "ipv4-care-of-address", "mobile-network-prefix", "nat-detection", "nonce-indices"].sort(),
    );
    const all = frames.flatMap((f) => [...f.keys()]);
    expect(all).toContain("mip6.options.padn"); // emit-inserted padding, dissected as PadN
    // The BU with an IPv6 care-of address in its BID option, and MNP options.
    const bulk = frames[0]!;
    expect(bulk.get("mip6.bi.coa_ipv6")).toEqual(["2001:db8:1::a"]);
    expect(bulk.get("mip6.nemo.mnp.mnp")).toEqual(["2001:db8:ab::"]);
    // RFC 5555: the IPv4 CoA in a BU of its own (BID and IPv4 Care-of Address option); its BA says NAT (F=1, 110 s).
    expect(frames[2]!.get("mip6.bi.coa_ipv4")).toEqual(["198.51.100.7"]);
    expect(frames[2]!.get("mip6.ipv4coa.addr")).toEqual(["198.51.100.7"]);
    expect(frames[3]!.get("mip6.natd.f_flag")).toEqual(["1"]);
    expect(frames[3]!.get("mip6.natd.refresh_t")).toEqual(["110"]);
    // A BA with per-BID statuses (164 for the link-local CoA) under status 4.
    expect(frames[5]!.get("mip6.ba.status")).toEqual(["4"]);
    expect(frames[5]!.get("mip6.bi.status")).toEqual(["0", "164"]);
  });

  test("each field equals what the cores meant to send", () => {
    records.forEach((r, i) => {
      const f = frames[i]!;
      const t = r.transmit;
      const m = t.message;
      const mh = encodeMobilityMessage(m, transmitPseudoHeader(t));
      const got = (k: string) => f.get(k);
      expect(got("ipv6.src")).toEqual([t.source]);
      expect(got("ipv6.dst")).toEqual([t.destination]);
      expect(got("ipv6.opt.mipv6.home_address")).toEqual(t.homeAddressOption ? [t.homeAddressOption] : undefined);
      expect(got("ipv6.routing.mipv6.home_address")).toEqual(t.routingType2Address ? [t.routingType2Address] : undefined);
      expect(got("mip6.proto")).toEqual(["59"]);
      expect(got("mip6.hlen")).toEqual([String(mh.length / 8 - 1)]);
      expect(got("mip6.mhtype")).toEqual([String(mhTypeNumber[m.type])]);
      expect(got("mip6.csum")).toEqual([`0x${toHex(mh.subarray(4, 6))}`]);
      for (const [field, values] of Object.entries(expectedFields(m))) {
        expect({ frame: i + 1, field, values: got(field) }).toEqual({ frame: i + 1, field, values });
      }
    });
  });

  test("every checksum verifies over the home-address pseudo-header (computed here, from tshark's bytes)", () => {
    frames.forEach((f) => {
      const mh = hexBytes(f.get("mipv6_raw")![0]!);
      const source = parseIpv6(f.get("ipv6.opt.mipv6.home_address")?.[0] ?? f.get("ipv6.src")![0]!)!;
      const destination = parseIpv6(f.get("ipv6.routing.mipv6.home_address")?.[0] ?? f.get("ipv6.dst")![0]!)!;
      const length = Uint8Array.from([0, 0, mh.length >> 8, mh.length & 0xff, 0, 0, 0, 135]);
      expect(onesComplement([source, destination, length, mh])).toBe(0xffff);
    });
  });

  test("a corrupted checksum is caught by the same check", () => {
    const f = frames[0]!;
    const mh = hexBytes(f.get("mipv6_raw")![0]!);
    mh[4]! ^= 0x10;
    const source = parseIpv6(f.get("ipv6.opt.mipv6.home_address")![0]!)!;
    const destination = parseIpv6(f.get("ipv6.dst")![0]!)!;
    expect(onesComplement([source, destination, Uint8Array.from([0, 0, 0, mh.length, 0, 0, 0, 135]), mh])).not.toBe(0xffff);
  });
});
