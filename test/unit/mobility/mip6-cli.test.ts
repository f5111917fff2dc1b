// `monami mip6 decode` and `selftest-pcap` as a user runs them.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../../firmware/core/hex.ts";
import { encodeMobilityPacket } from "../../../firmware/mobility/mobility-packet.ts";
import { selftestExchange } from "../../../firmware/mobility/selftest-exchange.ts";

const root = join(import.meta.dir, "../../..");
const mip6 = (...args: string[]) => Bun.spawnSync(["bun", "firmware/main.ts", "mip6", ...args], { cwd: root });

test("decode a whole IPv6 packet: checksum verified over the HAO, statuses as text", () => {
  const ba = selftestExchange()[5]!; // BA status 4 with a per-BID 164
  const r = mip6("decode", toHex(encodeMobilityPacket(ba.transmit)));
  expect(r.exitCode).toBe(0);
  const out = JSON.parse(r.stdout.toString());
  expect(out.ipv6.routingType2Address).toBe("2001:db8:a::1");
  expect(out.checksum.verified).toBe(true);
  expect(out.message.type).toBe("binding-acknowledgement");
  expect(out.message.statusText).toContain("MCOA NOTCOMPLETE");
  expect(out.message.options.find((o: { status: number }) => o.status === 164).statusText).toContain("MCOA MALFORMED");
});

test("decode the lab's captured BU as a bare Mobility Header, with and without pseudo-header", () => {
  const bu = "3b040500465700 2ac40000962304000100000100061200302001 0db800ab00000000000000000000".replace(/ /g, "");
  const plain = mip6("decode", bu);
  expect(plain.exitCode).toBe(0);
  const out = JSON.parse(plain.stdout.toString());
  expect(out.checksum).toEqual({ value: "0x4657", verified: null });
  expect(out.message).toMatchObject({ type: "binding-update", sequenceNumber: 42, lifetimeUnits: 150, lifetimeSeconds: 600 });
  expect(mip6("decode", bu, "--source", "2001:db8:a::1", "--destination", "2001:db8:1::b").exitCode).toBe(0);
  const wrong = mip6("decode", bu, "--source", "2001:db8:a::2", "--destination", "2001:db8:1::b");
  expect(wrong.exitCode).toBe(1);
  expect(JSON.parse(wrong.stderr.toString().split("\nmonami")[0]!).error).toMatchObject({ layer: "mobility", kind: "bad-checksum" });
});

test("bad input prints the typed error and exits non-zero", () => {
  const r = mip6("decode", "3b0905");
  expect(r.exitCode).toBe(1);
  expect(r.stderr.toString()).toContain('"kind": "truncated"');
  expect(mip6("decode", "zz").exitCode).toBe(2);
  expect(mip6("bogus", "x").exitCode).toBe(2);
});

test("selftest-pcap writes a LINKTYPE_RAW pcap with one record per message", () => {
  const dir = mkdtempSync(join(tmpdir(), "monami-h3-cli-"));
  try {
    const file = join(dir, "s.pcap");
    const r = mip6("selftest-pcap", file);
    expect(r.exitCode).toBe(0);
    const bytes = readFileSync(file);
    expect(bytes.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(bytes.readUInt32LE(20)).toBe(101);
    expect(r.stdout.toString()).toContain(`wrote ${selftestExchange().length} packets`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
