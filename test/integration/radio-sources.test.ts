// Real processes: `qmicli` and `iw` stand-ins on PATH print captured tool output; the readings reach the router's link engine.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { genericArm64Gateway } from "../../board/boards/generic-arm64-gateway.ts";
import { Counters } from "../../firmware/core/counters.ts";
import { instant } from "../../firmware/core/instant.ts";
import type { UplinkConfig } from "../../firmware/config/schema.ts";
import { validateConfig } from "../../firmware/config/validate.ts";
import { linkConfigOf, linkPolicyOf } from "../../firmware/roles/link-settings.ts";
import { linkProbeKey } from "../../firmware/roles/link-probes.ts";
import { RouterLinks } from "../../firmware/roles/router-links.ts";
import { radioSources } from "../../firmware/runtime/radio-sources.ts";

const vectors = resolve(import.meta.dir, "../vectors");
const QMICLI_CAPTURE = join(vectors, "modem/qmicli-rm500q-signal-info.txt");
const IW_LINK_CAPTURE = join(vectors, "wifi/iw-link-connected.txt");
const IW_STATION_CAPTURE = join(vectors, "wifi/iw-station-dump.txt");

const config = (() => {
  const r = validateConfig({
    device: { id: "radio-integration" },
    uplinks: [
      { id: "lte0", driver: { kind: "cellular", interface: "wwan0", apn: "internet" } },
      { id: "wifi0", driver: { kind: "wifi", interface: "wlan0", ssid: "depot" } },
    ],
    ipsec: { auth: { method: "psk", psk: { ref: "env:PSK" } } },
    mobility: { homeAddress: "2001:db8:10::20", homeAgent: "2001:db8:10::1", mobileNetworkPrefixes: ["2001:db8:20::/64"] },
    mqtt: { url: "mqtt://127.0.0.1:1883" },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
})();

let bin: string;

function tool(name: string, body: string): void {
  const path = join(bin, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), "rad-bin-"));
  // Each stand-in checks its arguments are the reader's, then prints the captured output.
  tool("qmicli", `[ "$*" = "-d /dev/cdc-wdm0 -p --nas-get-signal-info" ] || { echo "unexpected: $*" >&2; exit 2; }\nexec cat '${QMICLI_CAPTURE}'`);
  tool("iw", `case "$*" in\n  "dev wlan0 link") exec cat '${IW_LINK_CAPTURE}' ;;\n  "dev wlan0 station dump") exec cat '${IW_STATION_CAPTURE}' ;;\n  *) echo "unexpected: $*" >&2; exit 2 ;;\nesac`);
});

afterAll(() => rmSync(bin, { recursive: true, force: true }));

describe("radio sources with real processes", () => {
  test("a full QMI and Wi-Fi sample from tools found on PATH reaches the link engine (RouterLinks)", async () => {
    const counters = new Counters();
    const logs: string[] = [];
    // Only the temp dir: qmicli and iw are ours, mmcli is absent, so the QMI modem is read with qmicli.
    const radio = radioSources({ board: genericArm64Gateway, uplinks: config.uplinks, env: { PATH: bin }, counters, log: (l) => logs.push(l), files: { readText: async () => undefined } });
    expect([...radio.sources.keys()]).toEqual(["lte0", "wifi0"]);
    expect(logs).toContain(`radio of lte0: qmicli -d /dev/cdc-wdm0 -p --nas-get-signal-info (${join(bin, "qmicli")})`);

    const direct = await radio.sources.get("lte0")!.read(instant(0));
    expect(direct.ok && direct.value.radio).toEqual({ kind: "cellular", access: "nr5g-nsa", rssiDbm: -47, rsrqDb: -5, rsrpDbm: -70, sinrDb: 30, nrRsrpDbm: -75, nrSinrDb: 18.5, nrRsrqDb: -11 });

    // The consumer: the router's link engine samples both uplinks (on `lo`, which exists) with these radios.
    const links = new RouterLinks(
      {
        uplinks: config.uplinks.map((u, index) => ({ id: u.id, index, interfaceName: "lo", bindingId: index + 1, careOfAddress: `2001:db8:${index + 1}::2` })),
        homeAddress: "2001:db8:10::20",
        homeAgent: "2001:db8:10::1",
        probeKey: linkProbeKey(new Uint8Array(20).fill(5), new Uint8Array(20).fill(6)),
        sendProbe: () => {},
        actions: { isRegistered: () => false, prepare: () => "pending", release: () => {}, setPrimary: () => {} },
        onDecision: () => {},
        counters,
        log: () => {},
        sampleIntervalMs: 100,
        radio: radio.sources,
        netlink: false,
      },
      linkPolicyOf(config),
      config.uplinks.map((u: UplinkConfig) => linkConfigOf(u)),
    );
    links.start();
    try {
      const deadline = performance.now() + 5000;
      const signals = () => Object.fromEntries(links.metrics().map((m) => [m.id, m.signalDbm]));
      while (signals()["lte0"] === undefined || signals()["wifi0"] === undefined) {
        if (performance.now() > deadline) throw new Error(`no radio reached the engine: ${JSON.stringify(links.metrics())} ${JSON.stringify(counters.snapshot())}`);
        await Bun.sleep(20);
      }
      // LTE: RSRP of the capture; Wi-Fi: the station dump's averaged signal.
      expect(signals()).toEqual({ lte0: -70, wifi0: -43 });
      const status = radio.status();
      expect(status["lte0"]).toMatchObject({ state: "ok", radio: { rsrpDbm: -70 }, failed: 0 });
      expect(status["wifi0"]).toMatchObject({ state: "ok", radio: { kind: "wifi", associated: true, signalAvgDbm: -43, frequencyMhz: 5180 } });
      expect(counters.total("board.metrics.")).toBe(0);
    } finally {
      links.stop();
    }
  }, 15_000);

  test("a tool that hangs (and whose children hold its output open) is bounded: the caller is answered at once, the tool and its children are killed, no second copy runs meanwhile", async () => {
    const marker = join(bin, "qmicli-runs");
    const sleeper = `${(40 + (process.pid % 1000) / 1000).toFixed(3)}`;
    tool("qmicli", `echo run >> '${marker}'\ncat '${QMICLI_CAPTURE}'\nsleep ${sleeper}\necho late`);
    const counters = new Counters();
    const radio = radioSources({
      board: genericArm64Gateway,
      uplinks: config.uplinks.filter((u) => u.id === "lte0"),
      env: { PATH: bin },
      counters,
      log: () => {},
      timing: { waitMs: 100, toolTimeoutMs: 400, holdMs: 10_000 },
    });
    const src = radio.sources.get("lte0")!;
    const runs = () => (existsSync(marker) ? readFileSync(marker, "utf8").split("\n").filter(Boolean).length : 0);
    const t0 = performance.now();
    const first = await src.read(instant(0));
    expect(performance.now() - t0).toBeLessThan(400);
    expect(first.ok ? "ok" : first.error.kind).toBe("timeout");
    const second = await src.read(instant(150));
    expect(second.ok ? "ok" : second.error.detail).toContain("still running");
    expect(runs()).toBe(1);
    // The runner kills the tool's process group at toolTimeoutMs; the `sleep` child goes with it.
    await Bun.sleep(900);
    const sleeping = Bun.spawnSync(["pgrep", "-f", `sleep ${sleeper}`]).stdout.toString().trim();
    expect(sleeping).toBe("");
    expect(counters.get("board.metrics.qmicli.timeout")).toBe(1);
    expect(counters.get("router.radio.slow")).toBe(1);
    expect(counters.get("router.radio.skipped")).toBe(1);
  }, 10_000);
});
