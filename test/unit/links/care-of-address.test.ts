// The care-of address of an uplink as its addresses change (renumbering, deprecation, DAD).
import { describe, expect, test } from "bun:test";
import { chooseCareOfAddress, type InterfaceAddress } from "../../../firmware/links/care-of-address.ts";

const a = (address: string, o: Partial<InterfaceAddress> = {}): InterfaceAddress => ({ address, global: true, deprecated: false, tentative: false, ...o });
const OLD = "2001:db8:2::2";
const NEW = "2001:db8:2::3";

describe("chooseCareOfAddress", () => {
  test("an extra address does not move the care-of address", () => {
    expect(chooseCareOfAddress(OLD, [a("fe80::1", { global: false }), a(OLD), a(NEW)])).toBe(OLD);
  });

  test("the current address removed: the newest usable global address", () => {
    expect(chooseCareOfAddress(OLD, [a("fe80::1", { global: false }), a("2001:db8:2::9"), a(NEW)])).toBe(NEW);
  });

  test("the current address deprecated (preferred lifetime over): a fresh one takes over", () => {
    expect(chooseCareOfAddress(OLD, [a(OLD, { deprecated: true }), a(NEW)])).toBe(NEW);
  });

  test("deprecated with nothing fresh: it stays while it exists", () => {
    expect(chooseCareOfAddress(OLD, [a(OLD, { deprecated: true })])).toBe(OLD);
  });

  test("tentative (DAD running) and link-local addresses are never chosen", () => {
    expect(chooseCareOfAddress(OLD, [a(NEW, { tentative: true }), a("fe80::1", { global: false })])).toBeUndefined();
  });

  test("no address yet: the first usable one", () => {
    expect(chooseCareOfAddress(undefined, [a(NEW)])).toBe(NEW);
  });
});
