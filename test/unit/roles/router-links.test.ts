// Router link selection without a lab: settings from the device config, role checks, board refusal, and RouterLinks driving probes to a primary.
import { describe, expect, test } from "bun:test";
import { Counters } from "../../../firmware/core/counters.ts";
import type { DeviceConfig } from "../../../firmware/config/schema.ts";
import { validateConfig } from "../../../firmware/config/validate.ts";
import type { LinkDecision } from "../../../firmware/links/explain.ts";
import { linkConfigOf, linkPolicyOf, uplinkKind } from "../../../firmware/roles/link-settings.ts";
import { decodeProbePacket, encodeProbePacket, linkProbeKey } from "../../../firmware/roles/link-probes.ts";
import type { RouterConfig } from "../../../firmware/roles/role-config.ts";
import { RouterLinks } from "../../../firmware/roles/router-links.ts";
import { echoReplyFor } from "../../../firmware/wire/link-probe.ts";
import { mismatchWithRole, type RouterCore, startRouterServices } from "../../../firmware/runtime/router-runtime.ts";

const HOME = "2001:db8:10::20";
const HA = "2001:db8:10::1";
const MNP = "2001:db8:20::/64";

function device(overrides: Record<string, unknown> = {}): DeviceConfig {
  const r = validateConfig({
    device: { id: "unit-mr" },
    uplinks: [
      { id: "lte", driver: { kind: "cellular", interface: "lte0", apn: "x" }, priority: 10, costPerMegabyte: 0.01, probeIntervalMs: 1000, probeTimeoutMs: 800 },
      { id: "wifi", driver: { kind: "wifi", interface: "wlan0", ssid: "depot" }, priority: 5, probeIntervalMs: 3000 },
      { id: "eth", driver: { kind: "ethernet", interface: "eth1" }, enabled: false },
    ],
    selection: { downCount: 4, upCount: 2, failureRttMs: 900, recoveryRttMs: 300, failureLossPercent: 30, recoveryLossPercent: 5, minimumDwellMs: 7000, maxSwitchesPerWindow: 3, switchWindowSeconds: 120 },
    ipsec: { auth: { method: "psk", psk: { ref: "env:PSK" } } },
    mobility: { homeAddress: HOME, homeAgent: HA, mobileNetworkPrefixes: [MNP] },
    mqtt: { url: "mqtt://127.0.0.1:1883" },
    ...overrides,
  });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

const role = {
  homeAddress: HOME,
  homeAgent: HA,
  mobileNetworkPrefixes: [MNP],
  uplinks: [
    { id: "lte", interface: "lo", bindingId: 1, careOfAddress: "2001:db8:1::2", mtu: 1500 },
    { id: "wifi", interface: "lo", bindingId: 2, careOfAddress: "2001:db8:2::2", mtu: 1500 },
  ],
} as unknown as RouterConfig;

describe("link settings from the device config", () => {
  test("kinds, preference by priority, price per GB", () => {
    const d = device();
    expect(d.uplinks.map(uplinkKind)).toEqual(["cellular", "wifi", "wired"]);
    const [lte, wifi] = d.uplinks.map(linkConfigOf);
    expect(lte!.preference).toBe(0);
    expect(wifi!.preference).toBe(15 + 5 * 2);
    expect(lte!.costPerGb).toBeCloseTo(10.24);
  });

  test("selection maps onto the policy: N-of-M, hysteresis, dwell, budget, probe rates from the enabled uplinks", () => {
    const p = linkPolicyOf(device());
    expect(p.health.failWindow).toEqual({ failures: 4, of: 6 });
    expect(p.health.recoverProbes).toBe(2);
    expect([p.health.failRttMs, p.health.recoverRttMs, p.health.failLossRatio, p.health.recoverLossRatio]).toEqual([900, 300, 0.3, 0.05]);
    expect(p.switching.minDwellMs).toBe(7000);
    expect(p.switching.budget).toEqual({ maxSwitches: 3, windowMs: 120_000 });
    expect(p.probe.activeIntervalMs).toBe(1000);
    expect(p.probe.standbyIntervalMs).toBe(5000);
    expect(p.probe.maxTimeoutMs).toBe(2000); // the wifi uplink's default probeTimeoutMs
    expect(p.mode).toBe("multi"); // simultaneous, the default design: an active set and a flow map
    expect(linkPolicyOf(device({ ipsec: { auth: { method: "psk", psk: { ref: "env:PSK" } }, multiCoaMode: "primary" } })).mode).toBe("primary");
    expect(linkPolicyOf(device({ selection: { policy: "cost-aware" } })).weights.costPointsPerCurrencyPerGb).toBe(4);
  });

  test("a device config that does not describe the router is named precisely", () => {
    expect(mismatchWithRole(device(), role)).toBeUndefined();
    expect(mismatchWithRole(device({ mobility: { homeAddress: "2001:db8:10::21", homeAgent: HA, mobileNetworkPrefixes: [MNP] } }), role)).toContain("mobility.homeAddress");
    const oneUplink = device({ uplinks: [{ id: "lte", driver: { kind: "cellular", interface: "lte0", apn: "x" } }] });
    expect(mismatchWithRole(oneUplink, role)).toBe("uplinks wifi are not in the device config");
  });
});

describe("board selection at start-up", () => {
  const core = { log: () => {} } as unknown as RouterCore;
  test("an unknown board, or none identifiable, is refused with a clear message", async () => {
    await expect(startRouterServices(core, "/nonexistent.json", { MONAMI_BOARD: "toaster" })).rejects.toThrow(/refusing to run: board 'toaster'.*known boards: .*simulated/);
    if (!require("node:fs").existsSync("/proc/device-tree/compatible")) {
      await expect(startRouterServices(core, "/nonexistent.json", {})).rejects.toThrow(/no \/proc\/device-tree\/compatible/);
    }
  });

  test("on a known board a missing device config is refused", async () => {
    await expect(startRouterServices(core, "/nonexistent/device.json", { MONAMI_BOARD: "simulated", MONAMI_SIM_ROOT: "/nonexistent" })).rejects.toThrow(/device config \/nonexistent\/device.json/);
  });
});

describe("RouterLinks", () => {
  test("answered probes bring links up; the policy's first primary is prepared and set; a silent link goes down and traffic moves", async () => {
    const key = linkProbeKey(new Uint8Array(20).fill(1), new Uint8Array(20).fill(2));
    const dead = new Set<number>();
    const registered = new Set<string>();
    const moves: string[] = [];
    const decisions: LinkDecision[] = [];
    let links: RouterLinks;
    const d = device({ selection: { downCount: 2, upCount: 2, minimumDwellMs: 0 } });
    links = new RouterLinks(
      {
        uplinks: role.uplinks.map((u, index) => ({ id: u.id, index, interfaceName: u.interface, bindingId: u.bindingId, careOfAddress: u.careOfAddress })),
        homeAddress: HOME,
        homeAgent: HA,
        probeKey: key,
        // The "home agent": answers each probe at once unless that uplink is blackholed.
        sendProbe: (index, packet) => {
          if (dead.has(index)) return;
          const request = decodeProbePacket(packet, key);
          if (!request.ok) throw new Error("bad probe");
          const reply = encodeProbePacket(echoReplyFor(request.value.probe, 0), key, HA, HOME);
          setTimeout(() => links.handleProbePacket(index, reply), 2);
        },
        actions: {
          isRegistered: (id) => registered.has(id),
          prepare: () => "ready",
          release: (id) => registered.delete(id),
          setPrimary: (id) => {
            registered.add(id);
            moves.push(id);
          },
        },
        onDecision: (decision) => decisions.push(decision),
        counters: new Counters(),
        log: () => {},
        sampleIntervalMs: 200,
      },
      linkPolicyOf(d),
      d.uplinks.filter((u) => u.enabled).map(linkConfigOf),
    );
    links.start();
    try {
      const until = async (what: () => boolean, ms: number) => {
        const deadline = performance.now() + ms;
        while (!what()) {
          if (performance.now() > deadline) throw new Error(`timeout; decisions: ${decisions.map((x) => `${x.rule}: ${x.summary}`).join(" | ")}`);
          await Bun.sleep(20);
        }
      };
      await until(() => links.primary !== undefined, 5000);
      const first = links.primary!;
      expect(first).toBe("wifi"); // preferred kind and priority
      expect(moves).toEqual(["wifi"]);
      expect(links.homeAgentReachable(2000)).toBe(true);
      const m = links.metrics();
      expect(m.find((x) => x.id === "wifi")!.primary).toBe(true);
      expect(m.every((x) => x.rttMs !== undefined && x.probe !== undefined)).toBe(true);
      dead.add(1);
      await until(() => links.primary === "lte", 6000);
      expect(moves).toEqual(["wifi", "lte"]);
      const failover = decisions.find((x) => x.rule === "failover")!;
      expect(failover.summary).toContain("wifi is down");
      expect(links.otaLinkSet().primary as string).toBe("lte");
    } finally {
      links.stop();
    }
  }, 15_000);

  test("the engine's verdicts reach the router in the event's own turn: carrier loss leaves the uplink at once; a renumbered uplink's new address goes out and the policy asks for its registration", async () => {
    const key = linkProbeKey(new Uint8Array(20).fill(3), new Uint8Array(20).fill(4));
    const registered = new Set<string>();
    const calls: string[] = [];
    const decisions: LinkDecision[] = [];
    let links: RouterLinks;
    const d = device({ selection: { downCount: 2, upCount: 2, minimumDwellMs: 0, recoveryHoldMs: 100 }, ipsec: { multiCoaMode: "simultaneous", auth: { method: "psk", psk: { ref: "env:PSK" } } } });
    links = new RouterLinks(
      {
        uplinks: role.uplinks.map((u, index) => ({ id: u.id, index, interfaceName: u.interface, bindingId: u.bindingId, careOfAddress: u.careOfAddress })),
        homeAddress: HOME,
        homeAgent: HA,
        probeKey: key,
        sendProbe: (index, packet) => {
          const request = decodeProbePacket(packet, key);
          if (!request.ok) throw new Error("bad probe");
          const reply = encodeProbePacket(echoReplyFor(request.value.probe, 0), key, HA, HOME);
          setTimeout(() => links.handleProbePacket(index, reply), 2);
        },
        actions: {
          isRegistered: (id) => registered.has(id),
          prepare: (id) => {
            registered.add(id);
            return "ready";
          },
          release: (id) => registered.delete(id),
          setPrimary: (id) => calls.push(`primary ${id}`),
          linkUsable: (id, usable) => calls.push(`${id} ${usable ? "usable" : "down"}`),
          addressChanged: (id, address) => {
            registered.delete(id);
            calls.push(`${id} address ${address}`);
          },
        },
        onDecision: (decision) => decisions.push(decision),
        counters: new Counters(),
        log: () => {},
        sampleIntervalMs: 200,
        netlink: false,
      },
      linkPolicyOf(d),
      d.uplinks.filter((u) => u.enabled).map(linkConfigOf),
    );
    links.start();
    try {
      const until = async (what: () => boolean, ms: number) => {
        const deadline = performance.now() + ms;
        while (!what()) {
          if (performance.now() > deadline) throw new Error(`timeout; ${calls.join(", ")}; decisions: ${decisions.map((x) => `${x.rule}: ${x.summary}`).join(" | ")}`);
          await Bun.sleep(10);
        }
      };
      await until(() => links.primary === "wifi", 5000);
      // Both came up at start: no verdict is news to the router yet.
      expect(calls).toEqual(["primary wifi"]);
      // Both test uplinks sit on `lo` (ifindex 1); an event for another interface changes nothing.
      links.handleRouteEvent({ kind: "link", index: 1, name: "lo-not-an-uplink", carrier: false, operState: "down", deleted: false });
      expect(calls).toEqual(["primary wifi"]);
      const wifiFrom = calls.length;
      // Link events are matched by interface name (the first uplink on lo: lte); the verdict is synchronous, in the event's turn.
      links.handleRouteEvent({ kind: "link", index: 1, name: "lo", carrier: false, operState: "lowerlayerdown", deleted: false });
      expect(calls.slice(wifiFrom)).toEqual(["lte down"]);
      expect(decisions.find((x) => x.rule === "hard-down")?.summary).toContain("lte up → down: no carrier");
      // Carrier back: usable at once, as at start-up (a design may have to register or key it before probes pass); the probes then bring it up.
      links.handleRouteEvent({ kind: "link", index: 1, name: "lo", carrier: true, operState: "up", deleted: false });
      expect(calls.at(-1)).toBe("lte usable");
      const hardDown = decisions.findIndex((x) => x.rule === "hard-down");
      await until(() => decisions.slice(hardDown).some((x) => x.rule === "prepared" && x.link === "lte"), 5000);

      // Renumbering of the first uplink on lo (ifindex 1): an extra address does nothing, the old one's removal moves the CoA.
      // (lo has no 2001:db8:1::2: the kernel announcing it stands for the interface having it.)
      const before = calls.length;
      links.handleRouteEvent({ kind: "address", index: 1, address: "2001:db8:1::2", prefixLength: 64, scope: 0, flags: 0x80, deleted: false });
      links.handleRouteEvent({ kind: "address", index: 1, address: "2001:db8:1::9", prefixLength: 64, scope: 0, flags: 0x80, deleted: false });
      expect(calls.length).toBe(before);
      links.handleRouteEvent({ kind: "address", index: 1, address: "2001:db8:1::2", prefixLength: 64, scope: 0, flags: 0x80, deleted: true });
      expect(calls[before]).toBe("lte address 2001:db8:1::9");
      expect(links.careOfAddress("lte")).toBe("2001:db8:1::9");
      // The policy saw the new address at once and asks for the registration again (no wait for its evaluation period).
      const change = decisions.find((x) => x.rule === "address-change");
      expect(change?.summary).toContain("2001:db8:1::9");
      expect(registered.has("lte")).toBe(true);
      expect(links.metrics().find((m) => m.id === "lte")!.careOfAddress).toBe("2001:db8:1::9");
    } finally {
      links.stop();
    }
  }, 15_000);
});
