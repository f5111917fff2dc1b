// Proposals in strongSwan's syntax: parsing, clear refusals, wire form and selection (RFC 7296 §2.7, §3.3).
import { describe, expect, test } from "bun:test";
import { acceptChosen, describeNegotiated, negotiatedToWire, parseProposal, parseProposals, proposalToWire, selectProposal } from "../../../firmware/ike/proposal.ts";

const spec = (t: string, p: "ike" | "esp") => {
  const r = parseProposal(t, p);
  if (!r.ok) throw new Error(r.error.reason);
  return r.value;
};

describe("proposal syntax", () => {
  test("the issue's examples parse to the right transforms", () => {
    const a = spec("aes128gcm16-prfsha256-x25519", "ike");
    expect([a.encryption[0]!.name, a.encryption[0]!.keyBits, a.prf[0]!.name, a.dh[0]!.name, a.integrity.length]).toEqual(["AES_GCM_16", 128, "PRF_HMAC_SHA2_256", "CURVE_25519", 0]);
    const b = spec("aes256gcm16-prfsha384-ecp384", "ike");
    expect([b.encryption[0]!.keyBits, b.prf[0]!.name, b.dh[0]!.name]).toEqual([256, "PRF_HMAC_SHA2_384", "ECP_384"]);
    const c = spec("aes128-sha256-ecp256", "ike");
    expect([c.encryption[0]!.name, c.integrity[0]!.name, c.prf[0]!.name]).toEqual(["AES_CBC", "HMAC_SHA2_256_128", "PRF_HMAC_SHA2_256"]);
    const esp = spec("aes128gcm16", "esp");
    expect(esp.esn).toEqual([false]);
    expect(spec("aes128gcm16-esn-noesn", "esp").esn).toEqual([true, false]);
    expect(parseProposals("aes128gcm16-prfsha256-x25519, aes256gcm16-prfsha384-ecp384", "ike").ok).toBe(true);
  });

  test("unsupported or malformed proposals are refused with the token and a reason", () => {
    const cases: [string, "ike" | "esp", string | undefined][] = [
      ["aes128-sha256-modp2048", "ike", "modp2048"],
      ["aes128gcm16-prfsha256-ecp521", "ike", "ecp521"],
      ["aes128gcm16-x25519", "ike", undefined], // AEAD without PRF
      ["aes128-prfsha256-x25519", "ike", undefined], // CBC without integrity
      ["aes128gcm16-sha256-prfsha256-x25519", "ike", undefined], // AEAD plus integrity
      ["aes128gcm16-prfsha256", "ike", undefined], // no group
      ["3des-sha1-modp1024", "ike", "3des"],
      ["chacha20poly1305-prfsha256-x25519", "ike", "chacha20poly1305"],
      ["aes128gcm16-prfsha256", "esp", "prfsha256"],
      ["aes128gcm16-prfsha256-x25519-esn", "ike", "esn"],
      ["blowfish", "esp", "blowfish"],
      ["", "esp", undefined],
    ];
    for (const [text, protocol, token] of cases) {
      const r = parseProposal(text, protocol);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.token).toBe(token);
        expect(r.error.reason.length).toBeGreaterThan(5);
      }
    }
  });

  test("selection follows our preference and the responder returns one transform per type", () => {
    const offer = parseProposals("aes256gcm16-prfsha384-ecp384, aes128gcm16-prfsha256-x25519", "ike");
    const ours = parseProposals("aes128gcm16-prfsha256-x25519, aes256gcm16-prfsha384-ecp384", "ike");
    if (!offer.ok || !ours.ok) throw new Error("parse");
    const wire = offer.value.map((s, i) => proposalToWire(s, i + 1, new Uint8Array(0)));
    const n = selectProposal(wire, ours.value, "ike")!;
    expect(describeNegotiated(n)).toBe("AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519");
    expect(n.proposalNumber).toBe(2);
    const reply = negotiatedToWire(n, "ike", new Uint8Array(0));
    expect(reply.transforms.map((t) => t.type)).toEqual([1, 2, 4]);
    expect(acceptChosen([reply], offer.value, "ike")).toEqual(n);
    // A reply with two DH groups, or one we never offered, is not acceptable.
    expect(acceptChosen([{ ...reply, transforms: [...reply.transforms, { type: 4, id: 19, attributes: [] }] }], offer.value, "ike")).toBeUndefined();
    expect(acceptChosen([{ ...reply, number: 7 }], offer.value, "ike")).toBeUndefined();
  });

  test("ESN: a peer offering only ESN is refused unless we allow it; non-ESN preferred by default", () => {
    const esnOnly = proposalToWire(spec("aes128gcm16-esn", "esp"), 1, Uint8Array.of(1, 2, 3, 4));
    expect(selectProposal([esnOnly], [spec("aes128gcm16", "esp")], "esp")).toBeUndefined();
    const both = proposalToWire(spec("aes128gcm16-esn-noesn", "esp"), 1, Uint8Array.of(1, 2, 3, 4));
    expect(selectProposal([both], [spec("aes128gcm16", "esp")], "esp")!.esn).toBe(false);
    expect(selectProposal([both], [spec("aes128gcm16-esn", "esp")], "esp")!.esn).toBe(true);
  });

  test("a transform with an unknown attribute is skipped (§3.3.6)", () => {
    const p = proposalToWire(spec("aes128gcm16-prfsha256-x25519", "ike"), 1, new Uint8Array(0));
    const odd = { ...p, transforms: p.transforms.map((t) => (t.type === 1 ? { ...t, attributes: [...t.attributes, { type: 99, value: 1 }] } : t)) };
    expect(selectProposal([odd], [spec("aes128gcm16-prfsha256-x25519", "ike")], "ike")).toBeUndefined();
  });
});
