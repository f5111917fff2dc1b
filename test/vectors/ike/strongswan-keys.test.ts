// RFC 7296 §2.13–2.17 key derivation and §2.15 AUTH against what strongSwan 5.9.8 derived in real exchanges (charon ike=4/chd=4 dumps).
import { describe, expect, test } from "bun:test";
import { fromHex, toHex } from "../../../firmware/core/hex.ts";
import { SecretBytes } from "../../../firmware/core/secret.ts";
import { pskAuthData } from "../../../firmware/ike/auth.ts";
import { deriveChildSaKeys, deriveIkeSaKeys, prf, prfPlus, skeyseedInitial } from "../../../firmware/ike/keys.ts";
import { parseProposal, selectProposal, proposalToWire } from "../../../firmware/ike/proposal.ts";
import gcm from "./strongswan-aes128gcm16-prfsha256-x25519.json";
import cbc from "./strongswan-aes128-sha256-ecp256.json";

const hex = (s: string) => fromHex(s)!;

function negotiated(text: string, protocol: "ike" | "esp") {
  const spec = parseProposal(text, protocol);
  if (!spec.ok) throw new Error(spec.error.reason);
  return selectProposal([proposalToWire(spec.value, 1, new Uint8Array(protocol === "esp" ? 4 : 0))], [spec.value], protocol)!;
}

for (const v of [gcm, cbc]) {
  describe(`strongSwan vector ${v.ikeProposal}`, () => {
    const ike = negotiated(v.ikeProposal, "ike");
    const nonces = hex(v.nonces);
    const ni = nonces.subarray(0, 32);
    const nr = nonces.subarray(32);

    test("SKEYSEED = prf(Ni | Nr, g^ir)", () => {
      expect(toHex(skeyseedInitial(ike.prf!, ni, nr, hex(v.sharedSecret)))).toBe(v.skeyseed);
    });

    test("SK_d, SK_ai/ar, SK_ei/er, SK_pi/pr = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)", () => {
      const k = deriveIkeSaKeys(ike, hex(v.skeyseed), ni, nr, hex(v.initiatorSpi), hex(v.responderSpi));
      const got = { d: k.skD, ai: k.skAi, ar: k.skAr, ei: k.skEi, er: k.skEr, pi: k.skPi, pr: k.skPr };
      expect(Object.fromEntries(Object.entries(got).map(([n, s]) => [n, toHex(s.expose())]))).toEqual(v.sk);
    });

    test("AUTH (PSK) = prf(prf(secret, \"Key Pad for IKEv2\"), octets), both directions", () => {
      for (const a of v.auth) {
        const octets = hex(a.octets);
        // The octets end in MACedID = prf(SK_p, IDx').
        expect(toHex(octets.subarray(octets.length - ike.prf!.length))).toBe(toHex(prf(ike.prf!, hex(a.skP), hex(a.idPrime))));
        expect(toHex(pskAuthData(ike.prf!, new SecretBytes(hex(v.psk)), octets))).toBe(a.auth);
      }
      // RealMessage1/2 start with the IKE header carrying both SPIs (the second with SPIr).
      expect(v.auth[0]!.octets.startsWith(v.initiatorSpi)).toBe(true);
      expect(v.auth[1]!.octets.startsWith(v.initiatorSpi + v.responderSpi)).toBe(true);
    });

    test("CHILD_SA KEYMAT from IKE_AUTH and from a PFS rekey (§2.17)", () => {
      const esps = v.espProposal.split(",");
      v.children.forEach((c, i) => {
        const esp = negotiated(esps[i === 0 ? 1 : 0]!, "esp");
        const seed = hex(c.seed);
        const shared = "dhSecret" in c && c.dhSecret ? hex(c.dhSecret as string) : undefined;
        const rest = shared ? seed.subarray(shared.length) : seed;
        if (shared) expect(toHex(seed.subarray(0, shared.length))).toBe(c.dhSecret as string);
        const keys = deriveChildSaKeys(ike.prf!, hex(v.sk.d), esp.encryption, esp.integrity, rest.subarray(0, 32), rest.subarray(32), shared);
        expect(toHex(keys.initiatorToResponder.encryption.expose())).toBe(c.encryptionInitiator);
        expect(toHex(keys.responderToInitiator.encryption.expose())).toBe(c.encryptionResponder);
        expect(toHex(keys.initiatorToResponder.integrity.expose())).toBe(c.integrityInitiator);
        expect(toHex(keys.responderToInitiator.integrity.expose())).toBe(c.integrityResponder);
      });
      expect(v.children.length).toBe(2);
    });
  });
}

describe("prf and prf+", () => {
  test("HMAC-SHA2 PRFs match RFC 4231 test case 2", () => {
    const key = new TextEncoder().encode("Jefe");
    const data = new TextEncoder().encode("what do ya want for nothing?");
    const p = (t: string) => negotiated(`aes128gcm16-${t}-x25519`, "ike").prf!;
    expect(toHex(prf(p("prfsha256"), key, data))).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    expect(toHex(prf(p("prfsha384"), key, data))).toBe("af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649");
    expect(toHex(prf(p("prfsha512"), key, data))).toBe(
      "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    );
  });

  test("prf+ is T1 | T2 | … with Tn = prf(K, Tn-1 | S | n), a prefix-stable stream", () => {
    const alg = negotiated("aes128gcm16-prfsha256-x25519", "ike").prf!;
    const key = hex("0b0b0b0b");
    const seed = hex("00010203");
    const t1 = prf(alg, key, hex("0001020301"));
    const t2 = prf(alg, key, new Uint8Array([...t1, 0, 1, 2, 3, 2]));
    expect(toHex(prfPlus(alg, key, seed, 64))).toBe(toHex(t1) + toHex(t2));
    expect(toHex(prfPlus(alg, key, seed, 40))).toBe((toHex(t1) + toHex(t2)).slice(0, 80));
    expect(() => prfPlus(alg, key, seed, 32 * 256)).toThrow(RangeError);
  });
});
