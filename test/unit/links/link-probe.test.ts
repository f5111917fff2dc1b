// Link probe codec: the six codec tests over a fixed probe, plus the authenticator.
import { describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { toHex } from "../../../firmware/core/hex.ts";
import { SecretBytes } from "../../../firmware/core/secret.ts";
import {
  echoReplyFor,
  emitLinkProbe,
  LINK_PROBE_LEN,
  linkProbeBufferLen,
  LinkProbeView,
  parseLinkProbe,
  type LinkProbeRepr,
} from "../../../firmware/wire/link-probe.ts";

const KEY = SecretBytes.fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const REPR: LinkProbeRepr = { type: "echo-request", bindingId: 7, sequenceNumber: 0x01020304, originTimestampMs: 0x1_0000_0005, responderDelayUs: 0 };
const HEADER = "01010007010203040000000100000005" + "00000000";

describe("link probe codec", () => {
  const bytes = emitLinkProbe(REPR, KEY);

  test("construct: the fixed fields in network order, then a 16-octet authenticator", () => {
    expect(bytes.length).toBe(LINK_PROBE_LEN);
    expect(toHex(bytes.subarray(0, 20))).toBe(HEADER);
    expect(linkProbeBufferLen()).toBe(36);
  });

  test("deconstruct: the view's getters", () => {
    const v = LinkProbeView.parse(bytes);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect([v.value.type, v.value.bindingId, v.value.sequenceNumber, v.value.originTimestampMs, v.value.responderDelayUs]).toEqual([
      "echo-request",
      7,
      0x01020304,
      0x1_0000_0005,
      0,
    ]);
    expect(v.value.verify(KEY)).toBe(true);
  });

  test("parse(emit(r)) = r, and the reply echoes every field", () => {
    expect(parseLinkProbe(bytes, KEY)).toEqual({ ok: true, value: REPR });
    const reply = echoReplyFor(REPR, 1234.4);
    expect(parseLinkProbe(emitLinkProbe(reply, KEY), KEY)).toEqual({ ok: true, value: { ...REPR, type: "echo-reply", responderDelayUs: 1234 } });
  });

  test("truncated at every offset and over-long input are rejected, never thrown", () => {
    const counters = new Counters();
    for (let n = 0; n < LINK_PROBE_LEN; n++) {
      const r = parseLinkProbe(bytes.subarray(0, n), KEY, counters);
      expect(r.ok ? "ok" : r.error.kind).toBe("truncated");
    }
    const long = new Uint8Array(LINK_PROBE_LEN + 1);
    long.set(bytes);
    expect(LinkProbeView.parse(long).ok).toBe(false);
    expect(counters.get("wire.link-probe.truncated")).toBe(LINK_PROBE_LEN);
  });

  test("any flipped bit or a different key fails the authenticator (bad-checksum, counted)", () => {
    const counters = new Counters();
    for (let i = 0; i < LINK_PROBE_LEN; i++) {
      const copy = bytes.slice();
      copy[i]! ^= 0x10;
      const r = parseLinkProbe(copy, KEY, counters);
      expect(r.ok).toBe(false);
    }
    const other = SecretBytes.fromHex("ff".repeat(32));
    const r = parseLinkProbe(bytes, other, counters);
    expect(r.ok ? undefined : r.error).toMatchObject({ layer: "link-probe", kind: "bad-checksum", detail: "authenticator" });
    expect(counters.total("wire.link-probe.")).toBe(LINK_PROBE_LEN + 1);
  });

  test("bad version and type are rejected before the MAC is computed", () => {
    const v = bytes.slice();
    v[0] = 2;
    expect(LinkProbeView.parse(v)).toMatchObject({ ok: false, error: { kind: "bad-version" } });
    const t = bytes.slice();
    t[1] = 9;
    expect(LinkProbeView.parse(t)).toMatchObject({ ok: false, error: { kind: "bad-value", at: 1 } });
  });

  test("a short key is a programmer error at the API boundary", () => {
    expect(() => emitLinkProbe(REPR, new SecretBytes(new Uint8Array(8)))).toThrow(RangeError);
  });
});
