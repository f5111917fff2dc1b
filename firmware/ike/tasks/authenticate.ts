// Building and checking AUTH (and CERT) for IKE_AUTH, PSK or RFC 7427 signatures, for either role (RFC 7296 §2.15, §3.6).

import { toHex } from "../../core/hex.ts";
import type { Payload } from "../../wire/ikev2/payloads.ts";
import { pskAuthData, signatureAuthData, signedOctets, verifyPskAuth, verifySignatureAuth } from "../auth.ts";
import { certificateCoversIdentity, parseCertificate, verifyChain, type Certificate } from "../certificate.ts";
import { AuthMethod, CertEncoding } from "../constants.ts";
import type { IkeSa } from "../ike-sa.ts";
import { identityEquals, identityPayloadBody, type Identity } from "../identity.ts";

/** Our ID, CERT and AUTH payloads. As initiator we sign RealMessage1 | Nr | MACedIDForI, as responder the mirror. */
export function ownAuthPayloads(sa: IkeSa): { id: Payload; cert: Payload[]; auth: Payload } {
  const id = sa.config.localId;
  const realMessage = sa.isInitiator ? sa.initRequest : sa.initResponse;
  const peerNonce = sa.isInitiator ? sa.nonceR : sa.nonceI;
  const skP = sa.isInitiator ? sa.keys!.skPi : sa.keys!.skPr;
  const octets = signedOctets(sa.negotiated!.prf!, realMessage, peerNonce, skP, identityPayloadBody(id));
  const idPayload: Payload = sa.isInitiator ? { kind: "idi", idType: id.type, data: id.data } : { kind: "idr", idType: id.type, data: id.data };
  const auth = sa.config.auth;
  if (auth.kind === "psk") return { id: idPayload, cert: [], auth: { kind: "auth", method: AuthMethod.sharedKeyMic, data: pskAuthData(sa.negotiated!.prf!, auth.secret, octets) } };
  return {
    id: idPayload,
    cert: [{ kind: "cert", encoding: CertEncoding.x509Signature, data: auth.credential.certificate.der }],
    auth: { kind: "auth", method: AuthMethod.digitalSignature, data: signatureAuthData(auth.credential.key, octets) },
  };
}

export type PeerAuthResult = { readonly ok: true; readonly peerId: Identity; readonly certificate?: Certificate } | { readonly ok: false; readonly reason: string };

/**
 * Checks the peer's ID and AUTH (and its certificate chain against our trust anchors). The
 * peer's ID payload is `idPayload`; `certs` are its CERT payloads (end entity first).
 */
export function verifyPeerAuth(sa: IkeSa, idPayload: Extract<Payload, { kind: "idi" | "idr" }>, authPayload: Extract<Payload, { kind: "auth" }>, certs: readonly Extract<Payload, { kind: "cert" }>[]): PeerAuthResult {
  const peerId: Identity = { type: idPayload.idType, data: idPayload.data };
  if (sa.config.remoteId && !identityEquals(sa.config.remoteId, peerId)) return { ok: false, reason: "peer identity does not match the configured remote ID" };
  const realMessage = sa.isInitiator ? sa.initResponse : sa.initRequest;
  const ourNonce = sa.isInitiator ? sa.nonceI : sa.nonceR;
  const skP = sa.isInitiator ? sa.keys!.skPr : sa.keys!.skPi;
  const octets = signedOctets(sa.negotiated!.prf!, realMessage, ourNonce, skP, identityPayloadBody(peerId));
  const auth = sa.config.auth;
  if (auth.kind === "psk") {
    return verifyPskAuth(sa.negotiated!.prf!, auth.secret, octets, authPayload.method, authPayload.data) ? { ok: true, peerId } : { ok: false, reason: "pre-shared key AUTH does not verify" };
  }
  const parsed: Certificate[] = [];
  for (const c of certs) {
    if (c.encoding !== CertEncoding.x509Signature) continue;
    const cert = parseCertificate(c.data);
    if (!cert.ok) return { ok: false, reason: `peer certificate: ${cert.error}` };
    parsed.push(cert.value);
  }
  const leaf = parsed[0];
  if (!leaf) return { ok: false, reason: "peer sent no certificate" };
  const chain = verifyChain(leaf, parsed.slice(1), auth.trust, sa.config.wallClockSeconds?.());
  if (!chain.ok) return { ok: false, reason: `peer certificate chain: ${chain.error}` };
  if (!certificateCoversIdentity(leaf, peerId) && !(peerId.type === 9 && toHex(peerId.data) === toHex(leaf.subject))) {
    return { ok: false, reason: "peer certificate does not cover its identity" };
  }
  if (!verifySignatureAuth(leaf.publicKey, authPayload.method, authPayload.data, octets)) return { ok: false, reason: "signature AUTH does not verify" };
  return { ok: true, peerId, certificate: leaf };
}
