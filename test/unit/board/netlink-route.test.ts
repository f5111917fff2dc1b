// rtnetlink parsing: link (RTM_NEWLINK/DELLINK) and IPv6 address (RTM_NEWADDR/DELADDR) messages built by hand, truncation, fuzz.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { parseRouteMessages } from "../../../board/linux/netlink-route.ts";

function attr(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array((4 + value.length + 3) & ~3);
  new DataView(out.buffer).setUint16(0, 4 + value.length, true);
  new DataView(out.buffer).setUint16(2, type, true);
  out.set(value, 4);
  return out;
}

function message(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length, true);
  v.setUint16(4, type, true);
  out.set(body, 16);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** ifinfomsg { family, pad, type, index, flags, change } + IFLA_IFNAME + IFLA_OPERSTATE. */
function link(type: 16 | 17, index: number, flags: number, name: string, operState: number): Uint8Array {
  const head = new Uint8Array(16);
  new DataView(head.buffer).setInt32(4, index, true);
  new DataView(head.buffer).setUint32(8, flags, true);
  return message(type, concat(head, attr(3, new TextEncoder().encode(`${name}\0`)), attr(16, Uint8Array.of(operState))));
}

/** ifaddrmsg { family AF_INET6, prefixlen, flags, scope, index } + IFA_ADDRESS (+ IFA_FLAGS). */
function address(type: 20 | 21, index: number, bytes: Uint8Array, scope: number, flags8: number, flags32?: number): Uint8Array {
  const head = Uint8Array.of(10, 64, flags8, scope, 0, 0, 0, 0);
  new DataView(head.buffer).setUint32(4, index, true);
  const wide = flags32 === undefined ? new Uint8Array(0) : attr(8, new Uint8Array(new Uint32Array([flags32]).buffer));
  return message(type, concat(head, attr(1, bytes), wide));
}

const COA = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3);

describe("rtnetlink route messages", () => {
  test("a link losing carrier: IFF_UP without IFF_LOWER_UP, operstate lowerlayerdown (IF_OPER_* 3)", () => {
    const r = parseRouteMessages(link(16, 7, 0x1003, "mr-wifi", 3));
    expect(r).toEqual({ ok: true, value: [{ kind: "link", index: 7, name: "mr-wifi", carrier: false, operState: "lowerlayerdown", deleted: false }] });
  });

  test("carrier back: IFF_UP | IFF_LOWER_UP, operstate up (6); a deleted link has no carrier", () => {
    const r = parseRouteMessages(concat(link(16, 7, 0x11043, "mr-wifi", 6), link(17, 7, 0x11043, "mr-wifi", 6)));
    expect(r.ok && r.value.map((e) => e.kind === "link" && [e.carrier, e.operState, e.deleted])).toEqual([
      [true, "up", false],
      [false, "up", true],
    ]);
  });

  test("IPv6 addresses added and removed, the 32-bit IFA_FLAGS preferred over the 8-bit field", () => {
    const r = parseRouteMessages(concat(address(20, 7, COA, 0, 0x80, 0x20 | 0x80), address(21, 7, COA, 0, 0x40)));
    expect(r).toEqual({
      ok: true,
      value: [
        { kind: "address", index: 7, address: "2001:db8:2::3", prefixLength: 64, scope: 0, flags: 0xa0, deleted: false },
        { kind: "address", index: 7, address: "2001:db8:2::3", prefixLength: 64, scope: 0, flags: 0x40, deleted: true },
      ],
    });
  });

  test("IPv4 addresses and other message types are skipped", () => {
    const v4 = address(20, 7, COA, 0, 0);
    v4[16] = 2; // AF_INET
    expect(parseRouteMessages(concat(v4, message(24, new Uint8Array(12))))).toEqual({ ok: true, value: [] });
  });

  test("truncated at every offset: an error or fewer events, never a throw", () => {
    const whole = concat(link(16, 7, 0x11043, "mr-wifi", 6), address(20, 7, COA, 0, 0x80));
    for (let n = 0; n < whole.length; n++) {
      const r = parseRouteMessages(whole.subarray(0, n));
      if (r.ok) expect(r.value.length).toBeLessThan(2);
    }
    expect(parseRouteMessages(whole.subarray(0, 20))).toEqual({ ok: false, error: { kind: "truncated", at: 0 } });
  });

  test("a length below the header is refused", () => {
    const bad = link(16, 7, 0, "x", 6);
    new DataView(bad.buffer).setUint32(0, 8, true);
    expect(parseRouteMessages(bad)).toEqual({ ok: false, error: { kind: "bad-length", at: 0 } });
  });

  test("fuzz: random bytes never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        parseRouteMessages(bytes);
      }),
      { numRuns: 2000 },
    );
  });
});
