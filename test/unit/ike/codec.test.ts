// The IKEv2 codec over real captured datagrams: deconstruct, construct, truncation at every offset, parse, emit, buffer length.
import { describe, expect, test } from "bun:test";
import { fromHex, toHex } from "../../../firmware/core/hex.ts";
import { SecretBytes } from "../../../firmware/core/secret.ts";
import { decryptBody } from "../../../firmware/ike/encrypted-payload.ts";
import { parseProposal } from "../../../firmware/ike/proposal.ts";
import { IKE_HEADER_LENGTH, IkeHeaderView } from "../../../firmware/wire/ikev2/header.ts";
import { encodeMessage, parseMessage } from "../../../firmware/wire/ikev2/message.ts";
import { chainLen, decodePayloads, encodeChain, walkChain } from "../../../firmware/wire/ikev2/payloads.ts";
import { ikeAuthResponse, ikeSaInitRequest, ikeSaInitResponse, keyLine } from "./captures.ts";

const bytes = (h: string) => fromHex(h)!;

describe("IKEv2 codec on strongSwan's IKE_SA_INIT response", () => {
  const raw = bytes(ikeSaInitResponse);

  test("deconstruct: header fields", () => {
    const v = IkeHeaderView.parse(raw);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.value.initiatorSpi).not.toBe(0n);
    expect(v.value.responderSpi).not.toBe(0n);
    expect(v.value.exchangeType).toBe(34);
    expect(v.value.isResponse).toBe(true);
    expect(v.value.isInitiator).toBe(false);
    expect(v.value.messageId).toBe(0);
    expect(v.value.majorVersion).toBe(2);
    expect(v.value.length).toBe(raw.length);
    expect(v.value.nextPayload).toBe(33);
  });

  test("parse: payloads and the chosen proposal", () => {
    const m = parseMessage(raw);
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(m.value.payloads.slice(0, 3).map((p) => p.kind)).toEqual(["sa", "ke", "nonce"]);
    const sa = m.value.payloads[0]!;
    if (sa.kind !== "sa") throw new Error("no SA");
    expect(sa.proposals).toHaveLength(1);
    const t = sa.proposals[0]!.transforms.map((x) => [x.type, x.id, x.attributes.map((a) => a.value)]);
    expect(t).toEqual([
      [1, 20, [128]],
      [2, 5, []],
      [4, 31, []],
    ]);
    const ke = m.value.payloads[1]!;
    expect(ke.kind === "ke" && ke.group === 31 && ke.data.length === 32).toBe(true);
    const notifies = m.value.payloads.filter((p) => p.kind === "notify").map((p) => (p.kind === "notify" ? p.notifyType : 0));
    expect(notifies).toContain(16388);
    expect(notifies).toContain(16389);
    expect(notifies).toContain(16430);
  });

  test("construct + emit: re-encoding the parsed message gives the captured octets", () => {
    for (const hex of [ikeSaInitRequest, ikeSaInitResponse]) {
      const m = parseMessage(bytes(hex));
      if (!m.ok) throw new Error("parse");
      const h = m.value.header;
      const again = encodeMessage({ initiatorSpi: h.initiatorSpi, responderSpi: h.responderSpi, exchangeType: h.exchangeType, response: h.response, initiator: h.initiator, messageId: h.messageId }, m.value.payloads);
      expect(toHex(again)).toBe(hex);
    }
  });

  test("buffer length: header plus the chain", () => {
    const m = parseMessage(raw);
    if (!m.ok) throw new Error("parse");
    expect(IKE_HEADER_LENGTH + chainLen(m.value.payloads)).toBe(raw.length);
  });

  test("truncated at every offset: a typed error, never a throw", () => {
    for (let n = 0; n < raw.length; n++) {
      const r = parseMessage(raw.subarray(0, n));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.layer).toBe("ikev2");
    }
    // Inner chain cut short, with the header length patched to match.
    const body = raw.subarray(IKE_HEADER_LENGTH);
    for (let n = 1; n < body.length; n++) expect(walkChain(body.subarray(0, n), 33).ok).toBe(false);
  });

  test("a higher major version is bad-version (the caller answers INVALID_MAJOR_VERSION)", () => {
    const copy = raw.slice();
    copy[17] = 0x30;
    const r = parseMessage(copy);
    expect(!r.ok && r.error.kind).toBe("bad-version");
  });
});

describe("SK payload of a real strongSwan IKE_AUTH response", () => {
  const [spiI, spiR, , skEr] = keyLine.split(",");
  const aead = parseProposal("aes128gcm16-prfsha256-x25519", "ike");
  if (!aead.ok) throw new Error("proposal");
  const direction = { encryption: aead.value.encryption[0]!, encryptionKey: new SecretBytes(bytes(skEr!)), integrityKey: new SecretBytes(new Uint8Array(0)) };

  test("decrypts with SK_er and parses IDr AUTH SA TSi TSr N N", () => {
    const m = parseMessage(bytes(ikeAuthResponse));
    if (!m.ok) throw new Error("parse");
    expect(m.value.header.initiatorSpi.toString(16).padStart(16, "0")).toBe(spiI!);
    expect(m.value.header.responderSpi.toString(16).padStart(16, "0")).toBe(spiR!);
    const plain = decryptBody(m.value, direction);
    expect(plain.ok).toBe(true);
    if (!plain.ok) return;
    const chain = walkChain(plain.value, m.value.encrypted!.firstInner);
    if (!chain.ok) throw new Error("chain");
    const payloads = decodePayloads(chain.value.payloads);
    if (!payloads.ok) throw new Error("payloads");
    expect(payloads.value.map((p) => p.kind)).toEqual(["idr", "auth", "sa", "tsi", "tsr", "notify", "notify"]);
    const idr = payloads.value[0]!;
    expect(idr.kind === "idr" && new TextDecoder().decode(idr.data)).toBe("b.lab");
    // Inner payloads re-encode to the decrypted octets.
    expect(toHex(encodeChain(payloads.value))).toBe(toHex(plain.value));
  });

  test("any flipped bit fails the ICV", () => {
    const raw = bytes(ikeAuthResponse);
    for (const at of [0, 20, 30, raw.length - 1, raw.length - 20]) {
      const copy = raw.slice();
      copy[at]! ^= 0x01;
      const m = parseMessage(copy);
      if (!m.ok) continue; // header damage is caught earlier
      expect(decryptBody(m.value, direction)).toEqual({ ok: false, error: "integrity" });
    }
  });
});

describe("unknown payloads", () => {
  test("an unknown critical payload is surfaced with its type; non-critical ones are kept", () => {
    const chain = encodeChain([
      { kind: "unknown", type: 200, critical: true, data: Uint8Array.of(1, 2, 3) },
      { kind: "unknown", type: 201, critical: false, data: new Uint8Array(0) },
      { kind: "nonce", data: new Uint8Array(16) },
    ]);
    const w = walkChain(chain, 200);
    if (!w.ok) throw new Error("walk");
    const p = decodePayloads(w.value.payloads);
    expect(p.ok && p.value.map((x) => (x.kind === "unknown" ? `${x.type}:${x.critical}` : x.kind))).toEqual(["200:true", "201:false", "nonce"]);
  });

  test("malformed bodies are typed errors: short nonce, bad TS length, bad delete count", () => {
    const cases: [number, number[]][] = [
      [40, [0, 0, 0, 0, 0, 0, 0, 0]],
      [44, [1, 0, 0, 0, 8, 0, 0, 40, 0, 0, 255, 255]],
      [42, [3, 4, 0, 2, 1, 2, 3, 4]],
      [33, [0, 0, 0, 8, 1, 1, 0, 1]],
    ];
    for (const [type, body] of cases) {
      const bytes = Uint8Array.from([0, 0, 0, 4 + body.length, ...body]);
      const w = walkChain(bytes, type);
      expect(w.ok).toBe(true);
      if (!w.ok) continue;
      const p = decodePayloads(w.value.payloads);
      expect(p.ok).toBe(false);
    }
  });
});
