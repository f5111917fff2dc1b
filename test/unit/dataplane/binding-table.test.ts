// The home agent's binding table: who may send for a mobile network, and which care-of address carries packets to it.
import { describe, expect, test } from "bun:test";
import { BindingTable } from "../../../firmware/dataplane/binding-table.ts";
import { parseIpv6 } from "../../../firmware/wire/address.ts";

const a = (text: string) => parseIpv6(text)!;

describe("BindingTable", () => {
  const table = new BindingTable([
    { homeAddress: "2001:db8:10::20", prefixes: ["2001:db8:20::/64"], careOfAddresses: ["2001:db8:2::2", "2001:db8:1::2"] },
    { homeAddress: "2001:db8:10::21", prefixes: ["2001:db8:21::/64"], careOfAddresses: ["2001:db8:3::2"] },
  ]);

  test("an inner source in a mobile network prefix is accepted only from that router's care-of addresses", () => {
    const inner = a("2001:db8:20::55");
    expect(table.isRegistered(inner, 0, 16, a("2001:db8:1::2"), 0)).toBe(true);
    expect(table.isRegistered(inner, 0, 16, a("2001:db8:2::2"), 0)).toBe(true);
    expect(table.isRegistered(inner, 0, 16, a("2001:db8:3::2"), 0)).toBe(false); // the other router's CoA
    expect(table.isRegistered(inner, 0, 16, a("2001:db8:f::1"), 0)).toBe(false);
  });

  test("the home address itself belongs to its router; an unknown inner source to nobody", () => {
    expect(table.isRegistered(a("2001:db8:10::21"), 0, 16, a("2001:db8:3::2"), 0)).toBe(true);
    expect(table.isRegistered(a("2001:db8:99::1"), 0, 16, a("2001:db8:1::2"), 0)).toBe(false);
  });

  test("towards a router, the first care-of address (the binding cache's choice) carries the packet", () => {
    expect(table.careOfAddressFor(a("2001:db8:20::9"), 0, 16)).toEqual(a("2001:db8:2::2"));
    expect(table.careOfAddressFor(a("2001:db8:21::9"), 0, 16)).toEqual(a("2001:db8:3::2"));
    expect(table.careOfAddressFor(a("2001:db8:22::9"), 0, 16)).toBeUndefined();
  });

  test("addresses are read in place at an offset (no copies on the data path)", () => {
    const packet = new Uint8Array(64);
    packet.set(a("2001:db8:20::1"), 24);
    const names = new Uint8Array(40);
    names.set(a("2001:db8:1::2"), 8);
    expect(table.isRegistered(packet, 24, 16, names, 8)).toBe(true);
    expect(table.isRegistered(packet, 24, 16, names, 7)).toBe(false);
  });

  test("a malformed entry is a programming error", () => {
    expect(() => new BindingTable([{ homeAddress: "nope", prefixes: [], careOfAddresses: [] }])).toThrow(RangeError);
  });
});
