// Vector suite: the known packets parse and re-emit byte for byte; the rejected ones fail with their exact error.

import { describe, expect, test } from "bun:test";
import { fromHex } from "../../../firmware/core/hex.ts";
import { emitIpv4Packet, parseIpv4Packet } from "../../../firmware/wire/ipv4.ts";
import { emitIpv6Packet, parseIpv6Packet } from "../../../firmware/wire/ipv6.ts";
import { ECHO_REPLY, IPV6_CHAIN_ECHO, PACKET_TOO_BIG, UDP_IPV4, UDP_IPV6 } from "./known-packets.ts";
import { REJECTED } from "./rejected-packets.ts";

describe("accepted vectors re-emit identically", () => {
  for (const [name, bytes] of Object.entries({ IPV6_CHAIN_ECHO, UDP_IPV6, PACKET_TOO_BIG, ECHO_REPLY })) {
    test(name, () => {
      const p = parseIpv6Packet(bytes);
      if (!p.ok) throw new Error(JSON.stringify(p.error));
      const { header, extensionHeaders, upperProtocol, upperPayload } = p.value;
      expect(emitIpv6Packet({ ...header, extensionHeaders, upperProtocol, upperPayload })).toEqual(bytes);
    });
  }
  test("UDP_IPV4", () => {
    const p = parseIpv4Packet(UDP_IPV4);
    if (!p.ok) throw new Error(JSON.stringify(p.error));
    const h = p.value.header;
    expect(emitIpv4Packet({ ...h, upperProtocol: p.value.upperProtocol, upperPayload: p.value.upperPayload })).toEqual(UDP_IPV4);
  });
});

describe("rejected vectors", () => {
  for (const v of REJECTED) {
    test(v.name, () => {
      const bytes = fromHex(v.hex);
      if (!bytes) throw new Error("bad hex in vector");
      const r = v.parser === "ipv6" ? parseIpv6Packet(bytes) : parseIpv4Packet(bytes);
      expect(r.ok).toBe(false);
      if (!r.ok) expect({ layer: r.error.layer, kind: r.error.kind, at: r.error.at }).toEqual({ layer: v.layer, kind: v.kind, at: v.at });
    });
  }
});
