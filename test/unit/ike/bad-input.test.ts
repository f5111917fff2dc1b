// Bad input at the IKE core: unknown critical payloads, reflected, replayed, forged and malformed messages, and an IKE_SA_INIT flood.
import { describe, expect, test } from "bun:test";
import { instant } from "../../../firmware/core/instant.ts";
import { NotifyType } from "../../../firmware/ike/constants.ts";
import { encryptMessage } from "../../../firmware/ike/encrypted-payload.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { ikeSpi } from "../../../firmware/wire/ikev2/header.ts";
import { encodeMessage, parseMessage } from "../../../firmware/wire/ikev2/message.ts";
import { decryptBody } from "../../../firmware/ike/encrypted-payload.ts";
import { decodePayloads, walkChain } from "../../../firmware/wire/ikev2/payloads.ts";
import { config, connect, eventsOf, seededRandom } from "./harness.ts";

const A = { address: "2001:db8:1::a", port: 4500 };
const B = { address: "2001:db8:1::b", port: 4500 };

function established() {
  const a = new IkeEndpoint({ random: seededRandom("xa") });
  const b = new IkeEndpoint({ random: seededRandom("xb"), responder: config({ local: "b.lab", localTs: "2001:db8:b::/64", remoteTs: "2001:db8:a::/64" }) });
  const net = connect(a, b, [A.address], [B.address]);
  const sa = a.initiate(config({ remote: "b.lab" }), { address: A.address, port: 500 }, { address: B.address, port: 500 }, instant(0));
  net.run();
  return { a, b, net, sa, rsa: b.ikeSas[0]! };
}

describe("bad input", () => {
  test("an authenticated request with an unknown critical payload gets UNSUPPORTED_CRITICAL_PAYLOAD naming the type", () => {
    const { b, sa } = established();
    const bytes = encryptMessage(
      { initiatorSpi: sa.initiatorSpi, responderSpi: sa.responderSpi, exchangeType: 37, response: false, initiator: true, messageId: 2 },
      [{ kind: "unknown", type: 222, critical: true, data: Uint8Array.of(9) }],
      sa.sendDirection,
      seededRandom("x"),
    );
    b.handleDatagram({ local: B, remote: A, bytes, nonEspMarker: true }, instant(0));
    const reply = b.pollTransmit()!;
    const m = parseMessage(reply.bytes);
    if (!m.ok) throw new Error("reply does not parse");
    const plain = decryptBody(m.value, sa.receiveDirection);
    if (!plain.ok) throw new Error("reply does not decrypt");
    const w = walkChain(plain.value, m.value.encrypted!.firstInner);
    const p = w.ok ? decodePayloads(w.value.payloads) : undefined;
    const n = p?.ok ? p.value[0] : undefined;
    expect(n?.kind === "notify" && n.notifyType).toBe(NotifyType.unsupportedCriticalPayload);
    expect(n?.kind === "notify" && [...n.data]).toEqual([222]);
    expect(m.value.header.response).toBe(true);
    expect(m.value.header.messageId).toBe(2);
  });

  test("a forged (unauthenticated) request is dropped silently and counted", () => {
    const { b, sa } = established();
    const bytes = encodeMessage({ initiatorSpi: sa.initiatorSpi, responderSpi: sa.responderSpi, exchangeType: 37, response: false, initiator: true, messageId: 2 }, [{ kind: "delete", protocolId: 1, spiSize: 0, spis: [] }]);
    b.handleDatagram({ local: B, remote: A, bytes, nonEspMarker: true }, instant(0));
    expect(b.pollTransmit()).toBeUndefined();
    expect(b.counters.get("ike.error.unprotected.request")).toBe(1);
    const tampered = encryptMessage({ initiatorSpi: sa.initiatorSpi, responderSpi: sa.responderSpi, exchangeType: 37, response: false, initiator: true, messageId: 2 }, [], sa.sendDirection, seededRandom("y"));
    tampered[tampered.length - 1]! ^= 1;
    b.handleDatagram({ local: B, remote: A, bytes: tampered, nonEspMarker: true }, instant(0));
    expect(b.pollTransmit()).toBeUndefined();
    expect(b.counters.get("ike.error.integrity.request")).toBe(1);
    expect(b.ikeSas[0]!.state).toBe("established");
  });

  test("a reflected message (our own request sent back) is dropped", () => {
    const { a, b, net, sa } = established();
    a.checkLiveness(sa, net.now);
    const request = a.pollTransmit()!;
    a.handleDatagram({ local: request.local, remote: request.remote, bytes: request.bytes, nonEspMarker: true }, net.now);
    expect(a.counters.get("ike.error.reflected.request")).toBe(1);
    expect(a.pollTransmit()).toBeUndefined();
    b.handleDatagram({ local: request.remote, remote: request.local, bytes: request.bytes, nonEspMarker: true }, net.now);
    net.run();
    expect(eventsOf(net.events.get(a)!, "liveness")).toHaveLength(1);
  });

  test("a replayed request gets the cached response, not a second execution", () => {
    const { a, b, net, sa } = established();
    a.checkLiveness(sa, net.now);
    const request = a.pollTransmit()!;
    for (let i = 0; i < 3; i++) b.handleDatagram({ local: request.remote, remote: request.local, bytes: request.bytes, nonEspMarker: true }, net.now);
    const replies = [b.pollTransmit(), b.pollTransmit(), b.pollTransmit()];
    expect(replies.every((r) => r !== undefined)).toBe(true);
    expect(replies[1]!.bytes).toEqual(replies[0]!.bytes);
    expect(b.counters.get("ike.response.resent")).toBe(2);
  });

  test("a request far outside the window is dropped", () => {
    const { b, sa } = established();
    const bytes = encryptMessage({ initiatorSpi: sa.initiatorSpi, responderSpi: sa.responderSpi, exchangeType: 37, response: false, initiator: true, messageId: 99 }, [], sa.sendDirection, seededRandom("z"));
    b.handleDatagram({ local: B, remote: A, bytes, nonEspMarker: true }, instant(0));
    expect(b.pollTransmit()).toBeUndefined();
    expect(b.counters.get("ike.error.future-request.request")).toBe(1);
  });

  test("garbage, truncated headers and unknown SPIs never throw", () => {
    const b = new IkeEndpoint({ random: seededRandom("g"), responder: config() });
    const samples = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(28), new Uint8Array(100).fill(0xff)];
    for (const bytes of samples) b.handleDatagram({ local: B, remote: A, bytes, nonEspMarker: false }, instant(0));
    const unknown = encodeMessage({ initiatorSpi: ikeSpi(5n), responderSpi: ikeSpi(7n), exchangeType: 37, response: false, initiator: true, messageId: 0 }, []);
    b.handleDatagram({ local: B, remote: A, bytes: unknown, nonEspMarker: false }, instant(0));
    expect(b.pollTransmit()).toBeUndefined();
    expect(b.counters.get("ike.error.unknown-spi.request")).toBe(1);
    expect(b.counters.total("wire.ikev2.")).toBeGreaterThan(0);
  });
});
