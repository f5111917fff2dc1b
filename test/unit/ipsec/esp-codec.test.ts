// ESP and RFC 3948 codecs: deconstruct, construct, truncation at every offset, parse, emit, buffer length.
import { describe, expect, test } from "bun:test";
import { constantTimeEqual } from "../../../firmware/crypto/constant-time.ts";
import { zeroize } from "../../../firmware/crypto/zeroize.ts";
import { fromHex, toHex } from "../../../firmware/core/hex.ts";
import {
  checkEspTrailer,
  emitEspHeader,
  emitEspPlaintext,
  espHeaderLen,
  espPadLength,
  espPlaintextLen,
  EspView,
  parseEspHeader,
  parseEspPlaintext,
} from "../../../firmware/wire/esp.ts";
import { emitUdpEncapsulated, encodeUdpEncapsulated, parseUdpEncapsulated, udpEncapsulatedLen } from "../../../firmware/wire/udp-encapsulation.ts";

// RFC 7634 Appendix A: SPI 0x01020304, sequence 5, then IV and ciphertext.
const captured = fromHex("01020304000000051011121314151617240394")!;

describe("ESP header", () => {
  test("deconstruct", () => {
    const view = EspView.parse(captured);
    expect(view.ok).toBe(true);
    if (!view.ok) return;
    expect(view.value.securityParameterIndex).toBe(0x01020304);
    expect(view.value.sequenceNumber).toBe(5);
    expect(toHex(view.value.body)).toBe("1011121314151617240394");
  });

  test("construct / emit / buffer length", () => {
    const repr = { securityParameterIndex: 0x01020304, sequenceNumber: 5 };
    const out = new Uint8Array(espHeaderLen(repr));
    expect(emitEspHeader(repr, out, 0)).toBe(8);
    expect(toHex(out)).toBe("0102030400000005");
    expect(() => emitEspHeader({ securityParameterIndex: 0, sequenceNumber: 1 }, out, 0)).toThrow(RangeError);
  });

  test("parse", () => {
    const view = EspView.parse(captured);
    expect(view.ok && parseEspHeader(view.value)).toEqual({ securityParameterIndex: 0x01020304, sequenceNumber: 5 });
  });

  test("truncated at every offset below the header; SPI 0 refused", () => {
    for (let n = 0; n < 8; n++) {
      const r = EspView.parse(captured.subarray(0, n));
      expect(!r.ok && r.error.kind).toBe("truncated");
    }
    const zero = EspView.parse(new Uint8Array(16));
    expect(!zero.ok && zero.error.kind).toBe("bad-value");
  });
});

describe("ESP padding and trailer (RFC 4303 §2.4–2.6)", () => {
  test("pad lengths align Pad Length + Next Header", () => {
    expect(espPadLength(0, 4)).toBe(2);
    expect(espPadLength(2, 4)).toBe(0);
    expect(espPadLength(84, 4)).toBe(2); // RFC 7634 App. A: 84-octet packet, pad 01 02
    expect(espPadLength(84, 16)).toBe(10);
    for (let n = 0; n < 100; n++) for (const a of [4, 16]) expect((n + espPadLength(n, a) + 2) % a).toBe(0);
  });

  test("emit then parse a plaintext", () => {
    const payload = Uint8Array.from({ length: 84 }, (_, i) => i);
    const out = new Uint8Array(espPlaintextLen(84, 4));
    expect(emitEspPlaintext(payload, 4, 4, out, 0)).toBe(88);
    expect(toHex(out.subarray(84))).toBe("01020204");
    const parsed = parseEspPlaintext(out);
    expect(parsed.ok && [parsed.value.padLength, parsed.value.nextHeader, parsed.value.payload.length]).toEqual([2, 4, 84]);
  });

  test("bad padding and impossible pad lengths are errors, not throws", () => {
    expect(checkEspTrailer(Uint8Array.from([9, 1, 3, 2, 4]), 0, 5)).toBe(-1);
    const long = parseEspPlaintext(Uint8Array.from([1, 2, 9, 4]));
    expect(!long.ok && long.error.kind).toBe("bad-length");
    const bad = parseEspPlaintext(Uint8Array.from([0, 2, 1, 2, 4]));
    expect(!bad.ok && bad.error.kind).toBe("bad-value");
    const short = parseEspPlaintext(Uint8Array.from([4]));
    expect(!short.ok && short.error.kind).toBe("truncated");
    expect(checkEspTrailer(Uint8Array.from([7, 0, 41]), 0, 3)).toBe(1);
  });
});

describe("UDP encapsulation (RFC 3948)", () => {
  test("the three kinds", () => {
    expect(parseUdpEncapsulated(Uint8Array.from([0xff]))).toEqual({ ok: true, value: { kind: "nat-keepalive" } });
    const ike = parseUdpEncapsulated(fromHex("00000000aabbccdd")!);
    expect(ike.ok && ike.value.kind === "ike" && toHex(ike.value.message)).toBe("aabbccdd");
    const esp = parseUdpEncapsulated(captured);
    expect(esp.ok && esp.value.kind === "esp" && esp.value.packet.length).toBe(captured.length);
  });

  test("truncation at every offset", () => {
    for (let n = 0; n < 8; n++) {
      const r = parseUdpEncapsulated(captured.subarray(0, n));
      expect(r.ok).toBe(false);
    }
    expect(parseUdpEncapsulated(new Uint8Array(4)).ok).toBe(false); // marker with no IKE message
  });

  test("emit and buffer length round-trip", () => {
    for (const repr of [
      { kind: "nat-keepalive" } as const,
      { kind: "ike", message: fromHex("0102030405")! } as const,
      { kind: "esp", packet: captured } as const,
    ]) {
      const bytes = encodeUdpEncapsulated(repr);
      expect(bytes.length).toBe(udpEncapsulatedLen(repr));
      const back = parseUdpEncapsulated(bytes);
      expect(back.ok && back.value.kind).toBe(repr.kind);
    }
    expect(() => emitUdpEncapsulated({ kind: "esp", packet: new Uint8Array(8) }, new Uint8Array(8), 0)).toThrow(RangeError);
  });
});

describe("constant-time compare and zeroisation", () => {
  test("equal, unequal, out of range", () => {
    const a = Uint8Array.from([1, 2, 3, 4, 5]);
    const b = Uint8Array.from([9, 2, 3, 4, 5]);
    expect(constantTimeEqual(a, 1, b, 1, 4)).toBe(true);
    expect(constantTimeEqual(a, 0, b, 0, 5)).toBe(false);
    expect(constantTimeEqual(a, 3, b, 3, 4)).toBe(false);
    expect(constantTimeEqual(a, 0, b, 0, 0)).toBe(true);
  });

  test("zeroize overwrites every buffer given", () => {
    const a = Uint8Array.from([1, 2, 3]);
    const b = Uint8Array.from([4]);
    zeroize(a, undefined, b, null);
    expect([...a, ...b]).toEqual([0, 0, 0, 0]);
  });
});
