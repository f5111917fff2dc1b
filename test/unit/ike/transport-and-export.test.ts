// RFC 4877 transport-mode CHILD_SAs for BU/BA (MH selectors with the home address) and the debug key export lines.
import { describe, expect, test } from "bun:test";
import { instant } from "../../../firmware/core/instant.ts";
import { toHex } from "../../../firmware/core/hex.ts";
import { NotifyType } from "../../../firmware/ike/constants.ts";
import { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { ikev2DecryptionTableLine } from "../../../firmware/ike/key-export.ts";
import { createNobleBackend } from "../../../firmware/crypto/noble-backend.ts";
import { espSaKeyFile, espSaUatLine } from "../../../firmware/ipsec/key-export.ts";
import { SecurityAssociationDatabase } from "../../../firmware/ipsec/sad.ts";
import { SecurityPolicyDatabase } from "../../../firmware/ipsec/spd.ts";
import { IkeSaInstaller } from "../../../firmware/multicoa/sa-installer.ts";
import { formatSelector, selectorFromPrefix } from "../../../firmware/ike/traffic-selectors.ts";
import { config, connect, eventsOf, seededRandom } from "./harness.ts";

const HOA = "2001:db8:a::1";
const HA = "2001:db8:b::1";

function pair(routerMode: "transport" | "tunnel", haMode: "transport" | "tunnel", over: Parameters<typeof config>[0] = {}) {
  const mh = (addr: string, type: number) => [selectorFromPrefix(`${addr}/128[mh/${type}]`)!];
  const router = config({ remote: "b.lab", mode: routerMode, exportKeys: true, ...over });
  const ha = config({ local: "b.lab", mode: haMode, exportKeys: true, ...over });
  const a = new IkeEndpoint({ random: seededRandom("t-a") });
  const b = new IkeEndpoint({ random: seededRandom("t-b"), responder: { ...ha, localTs: mh(HA, 6), remoteTs: mh(HOA, 5) } });
  const net = connect(a, b, ["2001:db8:1::a"], ["2001:db8:1::b"]);
  a.initiate({ ...router, localTs: mh(HOA, 5), remoteTs: mh(HA, 6) }, { address: "2001:db8:1::a", port: 500 }, { address: "2001:db8:1::b", port: 500 }, instant(0));
  net.run();
  return { a, b, net };
}

describe("RFC 4877 BU/BA SA", () => {
  test("transport mode with MH-type selectors (BU from the HoA, BA to it)", () => {
    const { a, b, net } = pair("transport", "transport");
    const child = eventsOf(net.events.get(a)!, "child-sa-installed")[0]!.child;
    expect(child.mode).toBe("transport");
    expect(child.localTs.map(formatSelector)).toEqual([`${HOA}/128[135/5]`]);
    expect(child.remoteTs.map(formatSelector)).toEqual([`${HA}/128[135/6]`]);
    expect(eventsOf(net.events.get(b)!, "child-sa-installed")[0]!.child.mode).toBe("transport");
  });

  test("a tunnel-only peer refuses our transport request: the CHILD_SA fails, the IKE SA stays", () => {
    const { a, b, net } = pair("transport", "tunnel");
    expect(eventsOf(net.events.get(a)!, "ike-sa-established")).toHaveLength(1);
    expect(eventsOf(net.events.get(a)!, "child-sa-failed")[0]!.notify).toBe(NotifyType.noProposalChosen);
    // The tunnel-mode SA the peer made anyway is deleted again (§1.3.1).
    expect(eventsOf(net.events.get(b)!, "child-sa-installed")).toHaveLength(1);
    expect(eventsOf(net.events.get(b)!, "child-sa-deleted")).toHaveLength(1);
    expect(b.ikeSas[0]!.children).toHaveLength(0);
  });
});

describe("debug key export", () => {
  test("ikev2_decryption_table and esp_sa lines in Wireshark's format; both sides write the same IKE line", () => {
    const { a, b, net } = pair("transport", "transport", { ike: "aes256-sha384-ecp384", esp: "aes128-sha256" });
    const ka = eventsOf(net.events.get(a)!, "ike-sa-keys")[0]!.keys;
    const kb = eventsOf(net.events.get(b)!, "ike-sa-keys")[0]!.keys;
    const line = ikev2DecryptionTableLine(ka)!;
    expect(line).toBe(ikev2DecryptionTableLine(kb)!);
    const f = line.split(",");
    expect(f).toHaveLength(8);
    expect(f[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(f[1]).toMatch(/^[0-9a-f]{16}$/);
    expect(f[2]).toHaveLength(64); // SK_ei: AES-256 key
    expect(f[4]).toBe('"AES-CBC-256 [RFC3602]"');
    expect(f[5]).toHaveLength(96); // SK_ai: HMAC-SHA-384 key
    expect(f[7]).toBe('"HMAC_SHA2_384_192 [RFC4868]"');
    const installed = eventsOf(net.events.get(a)!, "child-sa-installed")[0]!;
    const child = installed.child;
    // ESP lines come from the one esp_sa writer, the IPsec core's, over the SAs the adapter installed.
    const backend = createNobleBackend();
    const sas = new IkeSaInstaller(new SecurityAssociationDatabase(() => backend), new SecurityPolicyDatabase()).handleEvent(installed, instant(0));
    if (!sas.ok) throw new Error(sas.error.detail);
    const esp = sas.value.map((sa) => espSaUatLine(sa));
    expect(esp).toHaveLength(2);
    expect(espSaKeyFile(sas.value)).toContain(esp[1]!);
    expect(esp[1]).toContain(`"0x${child.outboundSpi.toString(16).padStart(8, "0")}"`);
    expect(esp[0]).toBe(`"IPv6","*","*","0x${child.inboundSpi.toString(16).padStart(8, "0")}","AES-CBC [RFC3602]","0x${toHex(child.inbound.encryptionKey.expose())}","HMAC-SHA-256-128 [RFC4868]","0x${toHex(child.inbound.integrityKey.expose())}"`);
    // Keys never leak through JSON.
    expect(JSON.stringify(child)).not.toContain(toHex(child.inbound.encryptionKey.expose()));
  });
});
