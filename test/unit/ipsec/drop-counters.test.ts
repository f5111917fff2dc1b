// Every ESP drop bumps its own counter, in the documented order of checks, and nothing throws.
import { describe, expect, test } from "bun:test";
import { instant } from "../../../firmware/core/instant.ts";
import { EspCounter } from "../../../firmware/ipsec/constants.ts";
import { prefixSelector } from "../../../firmware/ipsec/traffic-selector.ts";
import { loadCryptoBackends } from "../../../firmware/runtime/crypto-backends.ts";
import { writeEspHeader } from "../../../firmware/wire/esp.ts";
import { addPair, harness, ipv6Packet, T0, v6 } from "./fixtures.ts";

const backend = (await loadCryptoBackends())[0]!;
const endpoints = { source: v6("2001:db8:1::10"), destination: v6("2001:db8:ffff::1") };
const inner = ipv6Packet("2001:db8:aaaa::10", "2001:db8:5::1", 59, new Uint8Array(40));

function setup(extra: Partial<Parameters<typeof addPair>[2]> = {}) {
  const a = harness(backend);
  const b = harness(backend);
  const pair = addPair(a, b, { suite: "aes128gcm16", mode: "tunnel", endpoints, ...extra });
  const send = (packet = inner, now = T0) => {
    const length = a.outbound.protectTunnel(pair.outbound, packet, now);
    return Uint8Array.from(pair.outbound.output!.subarray(0, length));
  };
  const receive = (packet: Uint8Array, now = T0) => b.inbound.process(packet, 0, packet.length, now);
  /** Seals hand-made plaintext (payload ‖ padding ‖ trailer) so it authenticates but breaks a later rule. */
  const sealRaw = (plaintext: Uint8Array) => {
    const sa = pair.outbound;
    sa.nextSequence();
    const out = new Uint8Array(16 + plaintext.length + 16);
    writeEspHeader(out, 0, sa.spi, sa.sequenceLow);
    out.set(plaintext, 16);
    sa.transform.seal(out, 0, plaintext.length, 0, sa.sequenceLow, false);
    return out;
  };
  return { a, b, pair, send, receive, sealRaw };
}

function onlyCounter(counters: { snapshot(): Record<string, number> }, name: string) {
  expect(counters.snapshot()).toEqual({ [name]: 1 });
}

describe("inbound drops", () => {
  test("truncated: shorter than SPI + sequence", () => {
    const { b, receive } = setup();
    expect(receive(new Uint8Array(7))).toBe(false);
    onlyCounter(b.counters, EspCounter.truncated);
  });

  test("bad SPI: 0 (the RFC 3948 non-ESP marker)", () => {
    const { b, receive } = setup();
    expect(receive(new Uint8Array(64))).toBe(false);
    onlyCounter(b.counters, EspCounter.badSpi);
  });

  test("unknown SPI", () => {
    const { b, send, receive } = setup();
    const packet = send();
    packet[3] = packet[3]! ^ 0xff;
    expect(receive(packet)).toBe(false);
    onlyCounter(b.counters, EspCounter.unknownSpi);
  });

  test("expired SA (hard time lifetime), checked before any crypto", () => {
    const { b, send, receive } = setup({ lifetimes: { hard: { time: 60_000 } } });
    expect(receive(send(), instant(T0 + 60_000))).toBe(false);
    onlyCounter(b.counters, EspCounter.saExpired);
    expect(b.sad.pollEvent()?.kind).toBe("hard-expired");
  });

  test("bad length: ciphertext not a multiple of the alignment", () => {
    const { b, send, receive } = setup();
    const packet = send();
    expect(receive(packet.subarray(0, packet.length - 1))).toBe(false);
    onlyCounter(b.counters, EspCounter.badLength);
  });

  test("replay: duplicate, then too old", () => {
    const { a, b, pair, send, receive } = setup();
    const first = send();
    expect(receive(Uint8Array.from(first))).toBe(true);
    expect(receive(Uint8Array.from(first))).toBe(false);
    expect(b.counters.get(EspCounter.replayDuplicate)).toBe(1);
    pair.outbound.sequenceLow = 5000;
    expect(receive(send())).toBe(true);
    expect(receive(first)).toBe(false);
    expect(b.counters.get(EspCounter.replayTooOld)).toBe(1);
    expect(a.counters.total("esp.drop.")).toBe(0);
  });

  test("ICV: one flipped ciphertext bit", () => {
    const { b, send, receive } = setup();
    const packet = send();
    packet[20] = packet[20]! ^ 1;
    expect(receive(packet)).toBe(false);
    onlyCounter(b.counters, EspCounter.icv);
  });

  test("bad padding: authentic packet whose padding is not 1, 2, 3, …", () => {
    const { b, receive, sealRaw } = setup();
    expect(receive(sealRaw(Uint8Array.from([...inner.subarray(0, 44), 1, 3, 2, 41])))).toBe(false);
    onlyCounter(b.counters, EspCounter.badPadding);
  });

  test("bad padding: pad length beyond the plaintext", () => {
    const { b, receive, sealRaw } = setup();
    expect(receive(sealRaw(Uint8Array.from([0, 0, 200, 41])))).toBe(false);
    onlyCounter(b.counters, EspCounter.badPadding);
  });

  test("bad next header in tunnel mode (17 is not an IP version)", () => {
    const { b, receive, sealRaw } = setup();
    expect(receive(sealRaw(Uint8Array.from([...inner, 1, 2, 2, 17])))).toBe(false);
    onlyCounter(b.counters, EspCounter.badNextHeader);
  });

  test("bad next header: inner IPv6 header claims more than was sent", () => {
    const { b, receive, sealRaw } = setup();
    const short = Uint8Array.from(inner.subarray(0, 62));
    expect(receive(sealRaw(Uint8Array.from([...short, 0, 41])))).toBe(false);
    onlyCounter(b.counters, EspCounter.badNextHeader);
  });

  test("dummy packet", () => {
    const { a, b, pair, receive } = setup();
    const length = a.outbound.protectDummy(pair.outbound, 10, T0);
    expect(receive(pair.outbound.output!.slice(0, length))).toBe(false);
    onlyCounter(b.counters, EspCounter.dummy);
  });

  test("selector mismatch after decryption (RFC 4301 §5.2 step 4)", () => {
    const { b, send, receive } = setup({ selectors: [{ source: prefixSelector("2001:db8:aaaa::/48")!, destination: prefixSelector("2001:db8:5::/64")! }] });
    expect(receive(send())).toBe(true);
    expect(receive(send(ipv6Packet("2001:db8:bad::1", "2001:db8:5::1", 59, new Uint8Array(8))))).toBe(false);
    onlyCounter(b.counters, EspCounter.selectorMismatch);
  });

  test("selector with a protocol: only MH type 5 passes", () => {
    const { b, send, receive } = setup({ selectors: [{ protocol: 135, mobilityHeaderType: 5 }] });
    const bu = ipv6Packet("2001:db8:aaaa::10", "2001:db8:ffff::1", 135, Uint8Array.from([59, 0, 5, 0, 0, 0, 0, 0]));
    const ba = ipv6Packet("2001:db8:aaaa::10", "2001:db8:ffff::1", 135, Uint8Array.from([59, 0, 6, 0, 0, 0, 0, 0]));
    expect(receive(send(bu))).toBe(true);
    expect(receive(send(ba))).toBe(false);
    onlyCounter(b.counters, EspCounter.selectorMismatch);
  });
});

describe("outbound drops", () => {
  test("expired SA", () => {
    const { a, pair } = setup({ lifetimes: { hard: { packets: 1 } } });
    expect(a.outbound.protectTunnel(pair.outbound, inner, T0)).toBeGreaterThan(0);
    expect(a.outbound.protectTunnel(pair.outbound, inner, T0)).toBe(-1);
    onlyCounter(a.counters, EspCounter.outboundSaExpired);
  });

  test("too big", () => {
    const { a, pair } = setup();
    expect(a.outbound.protectTunnel(pair.outbound, ipv6Packet("::1", "::2", 59, new Uint8Array(70_000)), T0)).toBe(-1);
    onlyCounter(a.counters, EspCounter.tooBig);
  });

  test("not an IP packet in tunnel mode", () => {
    const { a, pair } = setup();
    expect(a.outbound.protectTunnel(pair.outbound, Uint8Array.from([0x10, 0, 0]), T0)).toBe(-1);
    onlyCounter(a.counters, EspCounter.badInnerPacket);
  });

  test("a deleted SA wipes its keys and refuses traffic", () => {
    const { a, b, pair, send, receive } = setup();
    const packet = send();
    expect(b.sad.delete(pair.inbound.spi, "inbound")).toBe(true);
    expect(pair.inbound.deleted).toBe(true);
    expect(receive(packet)).toBe(false);
    onlyCounter(b.counters, EspCounter.unknownSpi);
    a.sad.clear();
    expect(a.outbound.protectTunnel(pair.outbound, inner, T0)).toBe(-1);
    expect(pair.outbound.output!.every((x) => x === 0)).toBe(true);
  });
});

test("random garbage never throws and always counts exactly one drop", () => {
  const { b, receive } = setup();
  let state = 7;
  for (let i = 0; i < 2000; i++) {
    const length = i % 120;
    const packet = Uint8Array.from({ length }, () => (state = (state * 1103515245 + 12345) >>> 0) >>> 24);
    if (length >= 4 && i % 3 === 0) packet.set([0, 0, 0x10, 0], 0); // the live SPI, so the crypto path runs too
    expect(receive(packet)).toBe(false);
  }
  expect(b.counters.total("esp.drop.")).toBe(2000);
});
