// Inner MTU arithmetic: exact values per suite and encapsulation, and the ESP packet always fits (property).
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ESP_SUITE_IDS, ESP_SUITES } from "../../../firmware/crypto/suites.ts";
import { espPacketLength, innerMtu, outerHeaderLength, tunnelInterfaceMtu, type OuterEncapsulation } from "../../../firmware/dataplane/mtu.ts";

const OUTERS: OuterEncapsulation[] = ["esp6", "esp4", "udp6", "udp4"];

describe("inner MTU", () => {
  test("AES-GCM over IPv6 on a 1500 link: 1500 − 40 − 8 − 8 − 16 = 1428, aligned to 4, − 2 = 1426", () => {
    expect(innerMtu(1500, ESP_SUITES.aes128gcm16, "esp6")).toBe(1426);
    expect(innerMtu(1500, ESP_SUITES.aes128gcm16, "udp4")).toBe(1438);
    expect(innerMtu(1500, ESP_SUITES.aes128gcm16, "esp4")).toBe(1446);
  });

  test("AES-CBC + HMAC: 16-octet IV and alignment", () => {
    // 1500 − 40 − 8 − 16 − 16 = 1420 → 1408 − 2
    expect(innerMtu(1500, ESP_SUITES["aes128-sha256"], "esp6")).toBe(1406);
  });

  test("the largest inner packet fits and one octet more does not, for every suite, encapsulation and MTU", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1280, max: 9000 }), fc.constantFrom(...ESP_SUITE_IDS), fc.constantFrom(...OUTERS), (mtu, id, outer) => {
        const suite = ESP_SUITES[id];
        const inner = innerMtu(mtu, suite, outer);
        expect(outerHeaderLength(outer) + espPacketLength(inner, suite)).toBeLessThanOrEqual(mtu);
        expect(outerHeaderLength(outer) + espPacketLength(inner + 1, suite)).toBeGreaterThan(mtu);
      }),
      { numRuns: 2000 },
    );
  });

  test("the tunnel interface takes the largest usable inner MTU; none below 1280 counts", () => {
    expect(tunnelInterfaceMtu([1426, 1326])).toBe(1426);
    expect(tunnelInterfaceMtu([1206, 1326])).toBe(1326);
    expect(tunnelInterfaceMtu([1206])).toBeUndefined();
  });
});
