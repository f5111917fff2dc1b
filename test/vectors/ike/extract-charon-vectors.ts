// Turns a strongSwan 5.9.8 charon filelog (ike = 4, chd = 4) of one IKE SA into a key-derivation vector file.
// Usage: bun test/vectors/ike/extract-charon-vectors.ts charon.log "ike proposal" "esp proposal" > vector.json
// Every value comes from strongSwan's own dumps; monami's code is not involved.

import { readFileSync } from "node:fs";

const [file, ike, esp] = process.argv.slice(2);
if (!file || !ike || !esp) throw new Error("usage: extract-charon-vectors.ts charon.log IKE ESP");
const lines = readFileSync(file, "utf8").split("\n");
const header = /^\S+ \d+\[\w+\] (.*?) => (\d+) bytes @/;
const hexLine = /^\S+ \d+\[\w+\]\s+\d+: ((?:[0-9A-F]{2} ?)+)/;

interface Dump {
  readonly name: string;
  readonly hex: string;
}
const dumps: Dump[] = [];
lines.forEach((line, i) => {
  const m = header.exec(line);
  if (!m) return;
  const length = Number(m[2]);
  let hex = "";
  for (let j = i + 1; hex.length < 2 * length && j < lines.length; j++) {
    const h = hexLine.exec(lines[j]!);
    if (!h) break;
    hex += h[1]!.replace(/ /g, "").slice(0, 2 * length - hex.length);
  }
  dumps.push({ name: m[1]!, hex: hex.toLowerCase() });
});

const all = (name: string) => dumps.filter((d) => d.name === name).map((d) => d.hex);
const one = (name: string) => {
  const v = all(name)[0];
  if (v === undefined) throw new Error(`no '${name}' dump`);
  return v;
};
const spis = all("natd_chunk").filter((c) => c.length === 68 && c.slice(16, 32) !== "0".repeat(16)).pop()!;
const seeds = all("seed");
const encI = all("encryption initiator key");
const encR = all("encryption responder key");
const integI = all("integrity initiator key");
const integR = all("integrity responder key");
const octets = all("octets = message + nonce + prf(Sk_px, IDx')");
const authValues = all("AUTH = prf(prf(secret, keypad), octets)");
const idPrimes = all("IDx'");
const skPs = all("SK_p");
const psk = all("secret")[0]!;

const vector = {
  source: "strongSwan 5.9.8 charon filelog, ike = 4, chd = 4 (responder side of a real exchange with monami)",
  ikeProposal: ike,
  espProposal: esp,
  initiatorSpi: spis.slice(0, 16),
  responderSpi: spis.slice(16, 32),
  sharedSecret: one("shared Diffie Hellman secret"),
  /** Ni | Nr as charon's CHILD_SA seed of IKE_AUTH shows it; both nonces are 32 octets here. */
  nonces: seeds[0]!,
  skeyseed: one("SKEYSEED"),
  sk: {
    d: one("Sk_d secret"),
    ai: all("Sk_ai secret")[0] ?? "",
    ar: all("Sk_ar secret")[0] ?? "",
    ei: one("Sk_ei secret"),
    er: one("Sk_er secret"),
    pi: one("Sk_pi secret"),
    pr: one("Sk_pr secret"),
  },
  psk,
  auth: octets.map((o, i) => ({ idPrime: idPrimes[i]!, skP: skPs[i]!, octets: o, auth: authValues[i]! })),
  children: seeds.map((seed, i) => ({
    seed,
    ...(all("DH secret")[i - 1] !== undefined && i > 0 ? { dhSecret: all("DH secret")[i - 1] } : {}),
    encryptionInitiator: encI[i]!,
    encryptionResponder: encR[i]!,
    integrityInitiator: integI[i] ?? "",
    integrityResponder: integR[i] ?? "",
  })),
};
console.log(JSON.stringify(vector, null, 2));
