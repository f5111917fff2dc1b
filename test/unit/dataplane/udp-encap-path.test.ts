// RFC 3948 on the data path: sorting what arrives on port 4500, IPv4-mapped addressing, and the IKE → loop key transfer.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { SecretBytes } from "../../../firmware/core/secret.ts";
import { espSpi, type ChildSaInstall } from "../../../firmware/ike/child-sa.ts";
import { childSaInstallOf, childSaTransfer } from "../../../firmware/dataplane/ike-loop-protocol.ts";
import { addressBytes, addressText, classifyUdpDatagram, mappedAddress, senderOf } from "../../../firmware/dataplane/udp-encap-path.ts";

describe("RFC 3948 §2.2/§2.3: what arrives on the NAT-T socket", () => {
  test("keepalive, non-ESP marker (IKE), ESP, too short", () => {
    expect(classifyUdpDatagram(Uint8Array.of(0xff), 0, 1)).toBe("keepalive");
    expect(classifyUdpDatagram(Uint8Array.of(0, 0, 0, 0, 1, 2, 3, 4, 5), 0, 9)).toBe("ike");
    expect(classifyUdpDatagram(Uint8Array.of(0, 0, 1, 0, 0, 0, 0, 1), 0, 8)).toBe("esp");
    expect(classifyUdpDatagram(Uint8Array.of(0, 0, 1, 0, 0, 0, 0), 0, 7)).toBe("invalid");
    expect(classifyUdpDatagram(Uint8Array.of(0xfe), 0, 1)).toBe("invalid");
  });

  test("property: never throws; a zero first word of 8+ octets is always IKE, any other first word ESP", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const kind = classifyUdpDatagram(bytes, 0, bytes.length);
        if (bytes.length >= 8) expect(kind).toBe(bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0 && bytes[3] === 0 ? "ike" : "esp");
        else expect(["keepalive", "invalid"]).toContain(kind);
      }),
    );
  });

  test("IPv4 peers on the dual-stack socket are IPv4-mapped, and print as IPv4", () => {
    const mapped = mappedAddress(Uint8Array.of(192, 0, 2, 1));
    expect([...mapped]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]);
    expect(addressText(mapped, 0)).toBe("192.0.2.1");
    expect(addressBytes("192.0.2.1")).toEqual(mapped);
    expect(addressText(addressBytes("2001:db8::1")!, 0)).toBe("2001:db8::1");
    // sockaddr_in6: family, port (network order), flowinfo, address.
    const name = new Uint8Array(28);
    name.set([0x11, 0x94], 2);
    name.set(mapped, 8);
    expect(senderOf(name, 0)).toEqual({ address: "192.0.2.1", port: 4500 });
  });
});

describe("CHILD_SA keys into the loop's thread", () => {
  const install = (): ChildSaInstall =>
    ({
      ikeSaName: "t[1]",
      childName: "payload",
      protocol: "esp",
      mode: "tunnel",
      inboundSpi: espSpi(0x1001),
      outboundSpi: espSpi(0x2002),
      suite: "aes128gcm16",
      negotiated: { proposalNumber: 1, encryption: { id: 20, keyBits: 128, aead: true, icvLength: 16, name: "AES_GCM_16" }, esn: false },
      esn: false,
      inbound: { encryptionKey: new SecretBytes(new Uint8Array(20).fill(1)), integrityKey: new SecretBytes(new Uint8Array(0)) },
      outbound: { encryptionKey: new SecretBytes(new Uint8Array(20).fill(2)), integrityKey: new SecretBytes(new Uint8Array(0)) },
      localTs: [],
      remoteTs: [],
      local: { address: "2001:db8::a", port: 4500 },
      remote: { address: "2001:db8::b", port: 4500 },
      lifetimes: { rekeyAfterMs: 1, expireAfterMs: 2, rekeyJitterMs: 0 },
    }) as ChildSaInstall;

  test("the transfer is plain data (structured clone), the keys travel in one buffer that moves and is zeroed on arrival", () => {
    const { transfer, buffer } = childSaTransfer(install());
    expect(JSON.stringify(transfer)).not.toContain("redacted");
    const cloned = structuredClone(transfer, { transfer: [buffer] });
    expect(buffer.byteLength).toBe(0); // moved: nothing stays behind in the sender's thread
    const received = childSaInstallOf(cloned);
    expect([...received.inbound.encryptionKey.expose()]).toEqual(new Array(20).fill(1));
    expect([...received.outbound.encryptionKey.expose()]).toEqual(new Array(20).fill(2));
    expect(received.inbound.integrityKey.length).toBe(0);
    expect([...cloned.keys].every((b) => b === 0)).toBe(true);
    expect(String(received.inbound.encryptionKey)).toBe("[redacted]");
  });
});
