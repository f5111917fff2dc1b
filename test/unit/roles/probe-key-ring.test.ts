// IKE-keyed link probes: both ends derive the same key from the tunnel CHILD_SA, follow its rekeys, and accept the old key until the old SA goes.
import { describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import { toHex } from "../../../firmware/core/hex.ts";
import { SecretBytes } from "../../../firmware/core/secret.ts";
import type { ChildSaInstall, EspSpi } from "../../../firmware/ike/child-sa.ts";
import { decodeProbePacket, encodeProbePacket, linkProbeKeyOfChild, ProbeKeyRing, ProbeResponder } from "../../../firmware/roles/link-probes.ts";

const HOME = "2001:db8:10::20";
const HA = "2001:db8:10::1";
const bytes = (seed: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (seed * 7 + i) & 0xff);

/** One tunnel CHILD_SA as each end's IKE core reports it: the router's outbound is the home agent's inbound. */
function child(seed: number, spis: { router: number; homeagent: number }, rekeys?: { router: number; homeagent: number }, ikeSaName = "ike-1"): { router: ChildSaInstall; homeagent: ChildSaInstall } {
  const toHa = { encryptionKey: bytes(seed, 20), integrityKey: bytes(seed + 1, 0) };
  const toMr = { encryptionKey: bytes(seed + 2, 20), integrityKey: bytes(seed + 3, 0) };
  const wrap = (k: typeof toHa) => ({ encryptionKey: new SecretBytes(k.encryptionKey.slice()), integrityKey: new SecretBytes(k.integrityKey.slice()) });
  const base = { ikeSaName, childName: "tunnel", protocol: "esp", mode: "tunnel" } as unknown as ChildSaInstall;
  const make = (local: "router" | "homeagent"): ChildSaInstall => ({
    ...base,
    inboundSpi: spis[local] as EspSpi,
    outboundSpi: spis[local === "router" ? "homeagent" : "router"] as EspSpi,
    inbound: wrap(local === "router" ? toMr : toHa),
    outbound: wrap(local === "router" ? toHa : toMr),
    ...(rekeys ? { rekeys: rekeys[local] as EspSpi } : {}),
  });
  return { router: make("router"), homeagent: make("homeagent") };
}

const request = (key: SecretBytes, sequenceNumber: number) => encodeProbePacket({ type: "echo-request", bindingId: 1, sequenceNumber, originTimestampMs: 5, responderDelayUs: 0 }, key, HOME, HA);

describe("probe keys from IKE CHILD_SAs", () => {
  test("both ends derive the same key from one CHILD_SA, and another CHILD_SA gives another key", () => {
    const a = child(1, { router: 0x100, homeagent: 0x200 });
    const b = child(9, { router: 0x101, homeagent: 0x201 });
    const r = linkProbeKeyOfChild(a.router, "router");
    expect(toHex(r.expose())).toBe(toHex(linkProbeKeyOfChild(a.homeagent, "homeagent").expose()));
    // The two directions are not interchangeable: the router's derivation over the home agent's view differs.
    expect(toHex(r.expose())).not.toBe(toHex(linkProbeKeyOfChild(a.homeagent, "router").expose()));
    expect(toHex(r.expose())).not.toBe(toHex(linkProbeKeyOfChild(b.router, "router").expose()));
  });

  test("a request the router seals is answered by the home agent's ring; the router opens the reply", () => {
    const routerRing = new ProbeKeyRing();
    const haRing = new ProbeKeyRing();
    const counters = new Counters();
    const responder = new ProbeResponder(new Map([[HOME, haRing]]), counters);
    expect(routerRing.key).toBeUndefined();
    const sa = child(1, { router: 0x100, homeagent: 0x200 });
    expect(routerRing.handleChildInstalled(sa.router, "router")).toBe(true);
    // Before the home agent has its CHILD_SA keys, nothing is answered.
    expect(responder.answer(request(routerRing.key!, 1), 0)).toBeUndefined();
    expect(haRing.handleChildInstalled(sa.homeagent, "homeagent")).toBe(true);
    const reply = responder.answer(request(routerRing.key!, 2), 0);
    expect(reply).toBeDefined();
    const opened = routerRing.decode(reply!, counters);
    expect(opened.ok && opened.value.probe.type === "echo-reply" && opened.value.probe.sequenceNumber === 2).toBe(true);
    expect(counters.get("homeagent.probe.answered")).toBe(1);
  });

  test("a rekey switches the key; the old one is accepted until the old CHILD_SA is deleted", () => {
    const ring = new ProbeKeyRing();
    const first = child(1, { router: 0x100, homeagent: 0x200 });
    ring.handleChildInstalled(first.homeagent, "homeagent");
    const oldKey = linkProbeKeyOfChild(first.router, "router");
    // Another tunnel CHILD_SA of the same IKE SA (no rekey) leaves the key alone.
    expect(ring.handleChildInstalled(child(5, { router: 0x300, homeagent: 0x400 }).homeagent, "homeagent")).toBe(false);
    const second = child(3, { router: 0x101, homeagent: 0x201 }, { router: 0x100, homeagent: 0x200 });
    expect(ring.handleChildInstalled(second.homeagent, "homeagent")).toBe(true);
    const newKey = linkProbeKeyOfChild(second.router, "router");
    expect(toHex(ring.key!.expose())).toBe(toHex(newKey.expose()));
    expect(ring.decode(request(newKey, 1)).ok).toBe(true);
    expect(ring.decode(request(oldKey, 2)).ok).toBe(true);
    // Deleting some other SA does not end the grace period; deleting the old one does.
    ring.handleChildDeleted(0x999);
    expect(ring.decode(request(oldKey, 3)).ok).toBe(true);
    ring.handleChildDeleted(0x200);
    const counters = new Counters();
    expect(ring.decode(request(oldKey, 4), counters).ok).toBe(false);
    expect(Object.keys(counters.snapshot()).length).toBe(1);
    expect(ring.decode(request(newKey, 5)).ok).toBe(true);
    // A rekey of a CHILD_SA the key did not come from is ignored.
    expect(ring.handleChildInstalled(child(7, { router: 0x102, homeagent: 0x202 }, { router: 0x300, homeagent: 0x400 }).homeagent, "homeagent")).toBe(false);
  });

  test("after an IKE SA rekey the CHILD_SA's rekey still follows; a new IKE SA (re-established) re-keys", () => {
    const ring = new ProbeKeyRing();
    ring.handleChildInstalled(child(1, { router: 0x100, homeagent: 0x200 }).router, "router");
    ring.handleIkeRekeyed("ike-1", "ike-2");
    expect(ring.handleChildInstalled(child(5, { router: 0x300, homeagent: 0x400 }, undefined, "ike-2").router, "router")).toBe(false);
    const fresh = child(8, { router: 0x500, homeagent: 0x600 }, undefined, "ike-3");
    expect(ring.handleChildInstalled(fresh.router, "router")).toBe(true);
    expect(toHex(ring.key!.expose())).toBe(toHex(linkProbeKeyOfChild(fresh.router, "router").expose()));
  });

  test("a static key in a ring opens what decodeProbePacket opens", () => {
    const key = new SecretBytes(bytes(4, 32));
    const ring = new ProbeKeyRing(key);
    const packet = request(key, 9);
    expect(decodeProbePacket(packet, key).ok).toBe(true);
    expect(ring.decode(packet).ok).toBe(true);
    expect(new ProbeKeyRing().decode(packet).ok).toBe(false);
  });
});
