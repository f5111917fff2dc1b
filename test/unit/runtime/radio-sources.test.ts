// Radio sources per board and driver with a fake command runner and AT port: reader choice, missing tools, hung tools, bad output.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { boardName, type BoardDefinition } from "../../../board/api/board.ts";
import type { CommandOutput, CommandRunner, LinkMetricsError } from "../../../board/api/link-metrics.ts";
import { genericArm64Gateway } from "../../../board/boards/generic-arm64-gateway.ts";
import { rpiCm4 } from "../../../board/boards/rpi-cm4.ts";
import { simulatedBoard } from "../../../board/boards/simulated.ts";
import type { AtPort } from "../../../board/modem/at-port.ts";
import { parseMmcliModemList, parseMmcliModemPorts } from "../../../board/modem/mmcli-modem.ts";
import { Counters } from "../../../firmware/core/counters.ts";
import { instant } from "../../../firmware/core/instant.ts";
import { err, ok, type Result } from "../../../firmware/core/result.ts";
import type { UplinkConfig } from "../../../firmware/config/schema.ts";
import { validateConfig } from "../../../firmware/config/validate.ts";
import { planRadio, radioSources, type RadioSourcesOptions, type RadioTool } from "../../../firmware/runtime/radio-sources.ts";

const vectors = resolve(import.meta.dir, "../../vectors");
const modemVector = (name: string) => readFileSync(join(vectors, "modem", name), "utf8");
const wifiVector = (name: string) => readFileSync(join(vectors, "wifi", name), "utf8");

/** Uplinks through the real schema, so defaults (modemDevice) are the ones a device gets. */
function uplinks(list: unknown[]): UplinkConfig[] {
  const r = validateConfig({
    device: { id: "radio-unit" },
    uplinks: list,
    ipsec: { auth: { method: "psk", psk: { ref: "env:PSK" } } },
    mobility: { homeAddress: "2001:db8:10::20", homeAgent: "2001:db8:10::1", mobileNetworkPrefixes: ["2001:db8:20::/64"] },
    mqtt: { url: "mqtt://127.0.0.1:1883" },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value.uplinks;
}

const LTE0 = { id: "lte0", driver: { kind: "cellular", interface: "wwan0", apn: "internet" } };
const LTE1 = { id: "lte1", driver: { kind: "cellular", interface: "wwan1", apn: "internet" } };
const WIFI = { id: "wifi0", driver: { kind: "wifi", interface: "wlan0", ssid: "depot" } };
const ETH = { id: "wan", driver: { kind: "ethernet", interface: "eth1" } };

const atBoard: BoardDefinition = {
  ...genericArm64Gateway,
  name: boardName("at-test"),
  uplinks: [{ interface: "wwan0", kind: "lte", driver: "option", modem: { protocol: "at", device: "/dev/ttyUSB2" } }],
};

const tools = (...present: RadioTool[]) => (t: RadioTool) => present.includes(t);
const planOptions = { atDialect: "3gpp" as const, kernelDriverOf: () => undefined };
const [lte0, lte1, wifi0, wan] = uplinks([LTE0, LTE1, WIFI, ETH]) as [UplinkConfig, UplinkConfig, UplinkConfig, UplinkConfig];

describe("which reader for which board and driver", () => {
  test("generic gateway: QMI modem → qmicli on the board's device, MBIM modem → ModemManager, Wi-Fi → iw, Ethernet → none", () => {
    const all = tools("qmicli", "mmcli", "iw", "stty");
    expect(planRadio(genericArm64Gateway, lte0, all, planOptions)).toEqual({ kind: "qmicli", device: "/dev/cdc-wdm0", mbim: false });
    expect(planRadio(genericArm64Gateway, lte1, all, planOptions)).toEqual({ kind: "mmcli", ports: ["cdc-wdm1", "wwan1"] });
    expect(planRadio(genericArm64Gateway, wifi0, all, planOptions)).toEqual({ kind: "iw", iface: "wlan0" });
    expect(planRadio(genericArm64Gateway, wan, all, planOptions).kind).toBe("none");
  });

  test("fallbacks: QMI without qmicli → ModemManager; MBIM without ModemManager → qmicli with QMI over MBIM on the board's device (not the config default)", () => {
    expect(planRadio(genericArm64Gateway, lte0, tools("mmcli"), planOptions)).toEqual({ kind: "mmcli", ports: ["cdc-wdm0", "wwan0"] });
    expect(planRadio(genericArm64Gateway, lte1, tools("qmicli"), planOptions)).toEqual({ kind: "qmicli", device: "/dev/cdc-wdm1", mbim: true });
    expect(planRadio(rpiCm4, lte0, tools("qmicli"), planOptions)).toEqual({ kind: "qmicli", device: "/dev/cdc-wdm0", mbim: false });
  });

  test("a modem the board does not describe: a tty is an AT channel; a cdc-wdm device speaks what the interface's kernel driver says", () => {
    const [usb, tty] = uplinks([
      { id: "lte9", driver: { kind: "cellular", interface: "wwan9", apn: "x", modemDevice: "/dev/cdc-wdm3" } },
      { id: "lte8", driver: { kind: "cellular", interface: "wwan8", apn: "x", modemDevice: "/dev/ttyUSB2" } },
    ]) as [UplinkConfig, UplinkConfig];
    const mbimDriver = { atDialect: "quectel" as const, kernelDriverOf: (i: string) => (i === "wwan9" ? "cdc_mbim" : undefined) };
    expect(planRadio(rpiCm4, usb, tools("qmicli"), mbimDriver)).toEqual({ kind: "qmicli", device: "/dev/cdc-wdm3", mbim: true });
    expect(planRadio(rpiCm4, tty, tools("stty"), mbimDriver)).toEqual({ kind: "at", device: "/dev/ttyUSB2", dialect: "quectel" });
    expect(planRadio(atBoard, lte0, tools("stty", "mmcli"), planOptions)).toEqual({ kind: "at", device: "/dev/ttyUSB2", dialect: "3gpp" });
  });

  test("no tool for the job: a missing-tool plan naming what to install", () => {
    const p = planRadio(genericArm64Gateway, lte0, tools("iw"), planOptions);
    expect(p.kind === "missing-tool" && p.tools).toEqual(["qmicli", "mmcli"]);
    expect(p.kind === "missing-tool" && p.reason).toContain("libqmi-utils or modemmanager");
    const w = planRadio(rpiCm4, wifi0, tools("qmicli"), planOptions);
    expect(w.kind === "missing-tool" && w.tools).toEqual(["iw"]);
  });
});

/** A runner answering by argv (argv[0] as the probed path); `hang` holds matching calls until released. */
function fakeRunner(answers: Record<string, Partial<CommandOutput>>) {
  const calls: string[] = [];
  let release: (() => void) | undefined;
  let hang: RegExp | undefined;
  const runner: CommandRunner = {
    async run(argv) {
      const key = argv.join(" ");
      calls.push(key);
      if (hang?.test(key)) await new Promise<void>((r) => (release = r));
      const a = answers[key] ?? { exitCode: 127, stderr: `unexpected ${key}` };
      return { exitCode: 0, stdout: "", stderr: "", timedOut: false, ...a };
    },
  };
  return {
    runner,
    calls,
    answers,
    hangOn(re: RegExp) {
      hang = re;
    },
    release() {
      hang = undefined;
      release?.();
    },
  };
}

const QMI = "/usr/bin/qmicli -d /dev/cdc-wdm0 -p --nas-get-signal-info";
const which = (present: RadioTool[]) => (t: RadioTool) => (present.includes(t) ? `/usr/bin/${t}` : undefined);

function build(extra: Partial<RadioSourcesOptions> & Pick<RadioSourcesOptions, "uplinks">) {
  const counters = new Counters();
  const logs: string[] = [];
  const r = radioSources({ board: genericArm64Gateway, env: {}, counters, log: (l) => logs.push(l), timing: { waitMs: 40, holdMs: 5000 }, ...extra });
  return { r, counters, logs };
}

describe("radio sources", () => {
  test("each uplink gets its reader; tools run from the path found at start; a QMI reading comes through", async () => {
    const fake = fakeRunner({ [QMI]: { stdout: modemVector("qmicli-rm500q-signal-info.txt") } });
    const { r, logs } = build({ uplinks: [lte0, wifi0, wan], runner: fake.runner, which: which(["qmicli", "iw"]) });
    expect([...r.sources.keys()]).toEqual(["lte0", "wifi0"]);
    expect(r.sources.get("lte0")!.kind).toBe("cellular");
    expect(r.sources.get("wifi0")!.kind).toBe("wifi");
    const s = await r.sources.get("lte0")!.read(instant(1000));
    expect(s.ok && s.value.radio).toEqual({ kind: "cellular", access: "nr5g-nsa", rssiDbm: -47, rsrqDb: -5, rsrpDbm: -70, sinrDb: 30, nrRsrpDbm: -75, nrSinrDb: 18.5, nrRsrqDb: -11 });
    expect(fake.calls).toEqual([QMI]);
    expect(logs.some((l) => l.startsWith("radio of lte0: qmicli -d /dev/cdc-wdm0 -p") && l.includes("/usr/bin/qmicli"))).toBe(true);
    const st = r.status();
    expect(st["lte0"]!.state).toBe("ok");
    expect(st["lte0"]!.radio).toMatchObject({ rsrpDbm: -70 });
    expect(st["wan"]).toMatchObject({ state: "none", source: "wired uplink: no radio" });
  });

  test("a missing tool: no source, one log line, a counter, never a throw", () => {
    const { r, counters, logs } = build({ uplinks: [lte0, lte1, wifi0], runner: fakeRunner({}).runner, which: which(["iw"]) });
    expect([...r.sources.keys()]).toEqual(["wifi0"]);
    expect(counters.get("router.radio.tool-missing")).toBe(2);
    const missing = logs.filter((l) => l.includes("not on PATH"));
    expect(missing).toHaveLength(2);
    expect(missing[0]).toBe("radio of lte0: none: qmicli and mmcli are not on PATH (QMI modem on /dev/cdc-wdm0); install libqmi-utils or modemmanager");
    expect(r.status()["lte1"]!.state).toBe("no-tool");
  });

  test("a hung tool: the caller waits at most waitMs, the next read is skipped rather than stacked, and reads resume once it returns", async () => {
    const fake = fakeRunner({ [QMI]: { stdout: modemVector("qmicli-rm500q-signal-info.txt") } });
    const { r, counters } = build({ uplinks: [lte0], runner: fake.runner, which: which(["qmicli"]) });
    const src = r.sources.get("lte0")!;
    fake.hangOn(/qmicli/);
    const t0 = performance.now();
    const first = await src.read(instant(0));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(first.ok ? "ok" : first.error.kind).toBe("timeout");
    const second = await src.read(instant(1000));
    expect(second.ok ? "ok" : second.error.detail).toContain("still running");
    expect(fake.calls).toHaveLength(1); // no overlap
    expect(counters.get("router.radio.slow")).toBe(1);
    expect(counters.get("router.radio.skipped")).toBe(1);
    fake.release();
    await Bun.sleep(5);
    // The late reading was kept; the next read runs the tool again.
    const third = await src.read(instant(2000));
    expect(third.ok && third.value.radio).toMatchObject({ rsrpDbm: -70 });
    expect(fake.calls).toHaveLength(2);
    // Hung again: the last good reading stands in (stamped with its own time) until holdMs.
    fake.hangOn(/qmicli/);
    const held = await src.read(instant(3000));
    expect(held.ok && held.value.at).toBe(instant(2000));
    expect(counters.get("router.radio.held")).toBe(1);
    const stale = await src.read(instant(2000 + 5001));
    expect(stale.ok ? "ok" : stale.error.kind).toBe("timeout");
    fake.release();
  });

  test("bad tool output: a typed error and counters; the previous good reading is kept, then the error shows after holdMs", async () => {
    const fake = fakeRunner({ [QMI]: { stdout: modemVector("qmicli-rm500q-signal-info.txt") } });
    // status() reads this clock; the reads carry their own instants (0, 1000, …).
    const { r, counters, logs } = build({ uplinks: [lte0], runner: fake.runner, which: which(["qmicli"]), now: () => instant(1000) });
    const src = r.sources.get("lte0")!;
    const good = await src.read(instant(0));
    expect(good.ok).toBe(true);
    fake.answers[QMI] = { stdout: modemVector("garbage-html.txt") };
    const bad = await src.read(instant(1000));
    expect(bad.ok && bad.value.at).toBe(instant(0));
    expect(bad.ok && bad.value.radio).toMatchObject({ rsrpDbm: -70 });
    expect(counters.get("router.radio.failed")).toBe(1);
    expect(counters.total("board.metrics.qmicli.")).toBeGreaterThanOrEqual(1);
    const st = r.status()["lte0"]!;
    expect(st.state).toBe("held");
    expect(st.lastError).toMatch(/^qmicli: /);
    const late = await src.read(instant(6001));
    expect(late.ok).toBe(false);
    if (!late.ok) expect(["malformed", "empty", "no-data"]).toContain(late.error.kind);
    // One log line for the change to failing, not one per read.
    expect(logs.filter((l) => l.startsWith("radio of lte0: qmicli:"))).toHaveLength(1);
    fake.answers[QMI] = { stdout: modemVector("qmicli-rm500q-signal-info.txt") };
    expect((await src.read(instant(7000))).ok).toBe(true);
    expect(logs.at(-1)).toContain("reading again");
  });

  test("a tool that exits non-zero is a typed tool-failed error", async () => {
    const fake = fakeRunner({ [QMI]: { exitCode: 1, stderr: modemVector("garbage-qmicli-error.txt") } });
    const { r, counters } = build({ uplinks: [lte0], runner: fake.runner, which: which(["qmicli"]) });
    const s = await r.sources.get("lte0")!.read(instant(0));
    expect(s.ok ? "ok" : `${s.error.source} ${s.error.kind}`).toBe("qmicli tool-failed");
    expect(counters.get("board.metrics.qmicli.tool-failed")).toBe(1);
  });

  test("Wi-Fi: iw link and station dump on the driver's interface", async () => {
    const fake = fakeRunner({
      "/usr/bin/iw dev wlan0 link": { stdout: "Connected to 00:1f:90:b4:8a:80 (on wlan0)\n\tSSID: depot\n\tfreq: 5180\n\tsignal: -44 dBm\n" },
      "/usr/bin/iw dev wlan0 station dump": { stdout: wifiVector("iw-station-dump.txt") },
    });
    const files = { readText: async () => undefined };
    const { r } = build({ uplinks: [wifi0], runner: fake.runner, which: which(["iw"]), files });
    const s = await r.sources.get("wifi0")!.read(instant(0));
    expect(s.ok && s.value.radio).toMatchObject({ kind: "wifi", associated: true, signalDbm: -43, signalAvgDbm: -43, txBitrateMbps: 48, frequencyMhz: 5180 });
  });

  test("ModemManager: the modem that owns the board's port is found among several and read", async () => {
    const m0 = "/org/freedesktop/ModemManager1/Modem/0";
    const m3 = "/org/freedesktop/ModemManager1/Modem/3";
    const fake = fakeRunner({
      "/usr/bin/mmcli -L -K": { stdout: `modem-list.length                               : 2\nmodem-list.value[1]                             : ${m0}\nmodem-list.value[2]                             : ${m3}\n` },
      [`/usr/bin/mmcli -m ${m0} -K`]: { stdout: "modem.generic.ports.length : 2\nmodem.generic.ports.value[1] : cdc-wdm0 (qmi)\nmodem.generic.ports.value[2] : wwan0 (net)\n" },
      [`/usr/bin/mmcli -m ${m3} -K`]: { stdout: "modem.generic.ports.length : 3\nmodem.generic.ports.value[1] : cdc-wdm1 (mbim)\nmodem.generic.ports.value[2] : ttyACM0 (at)\nmodem.generic.ports.value[3] : wwan1 (net)\n" },
      [`/usr/bin/mmcli -m ${m3} --signal-get -K`]: { stdout: modemVector("mmcli-lte-repo-fixture.txt") },
    });
    const { r } = build({ uplinks: [lte1], runner: fake.runner, which: which(["mmcli"]) });
    const s = await r.sources.get("lte1")!.read(instant(0));
    expect(s.ok && s.value.radio).toEqual({ kind: "cellular", access: "lte", rssiDbm: -71, rsrqDb: -9, rsrpDbm: -100, sinrDb: 19 });
    await r.sources.get("lte1")!.read(instant(1000));
    expect(fake.calls.filter((c) => c.endsWith("-L -K"))).toHaveLength(1); // looked up once
  });

  test("AT channel: opened at the first read through the injected opener, re-opened after a failed open", async () => {
    let opens = 0;
    const port: AtPort & { close(): void; closed: boolean } = {
      closed: false,
      async transact(command) {
        return command === "AT+CESQ" ? ok(modemVector("spec-cesq-lte.txt")) : ok("ERROR");
      },
      close() {
        this.closed = true;
      },
    };
    const openAtPort = async (device: string): Promise<Result<AtPort & { close(): void }, LinkMetricsError>> => {
      opens++;
      if (opens === 1) return err({ source: "at-port", kind: "io", line: 0, detail: `${device}: busy` });
      return ok(port);
    };
    const { r } = build({ board: atBoard, uplinks: [lte0], runner: fakeRunner({}).runner, which: which(["stty"]), openAtPort });
    const first = await r.sources.get("lte0")!.read(instant(0));
    expect(first.ok ? "ok" : `${first.error.source} ${first.error.kind}`).toBe("at-port io");
    const second = await r.sources.get("lte0")!.read(instant(1000));
    expect(second.ok && second.value.radio).toEqual({ kind: "cellular", access: "lte", rsrqDb: -10, rsrpDbm: -91 });
    expect(opens).toBe(2);
    r.close();
    expect(port.closed).toBe(true);
  });

  test("simulated board: the link trace replays per uplink as before (by id, else by kind)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rad-trace-"));
    try {
      const path = join(dir, "t.jsonl");
      writeFileSync(
        path,
        [
          JSON.stringify({ format: "monami-link-trace", version: 1, name: "unit", durationMs: 5000, demandKbps: 100, links: [{ id: "cell", kind: "cellular" }, { id: "wifi0", kind: "wifi" }] }),
          '{"t":0,"link":"cell","up":true,"rtt":40,"loss":0,"rsrp":-90,"sinr":12}',
          '{"t":0,"link":"wifi0","up":true,"rtt":20,"loss":0,"signal":-60}',
        ].join("\n"),
      );
      const sims = uplinks([
        { id: "lte0", driver: { kind: "simulated", name: "sim-lte0" } },
        { id: "wifi0", driver: { kind: "simulated", name: "sim-wifi0" } },
        { id: "wan", driver: { kind: "simulated", name: "sim-eth0" } },
      ]);
      let clock = 100;
      const { r, logs } = build({ board: simulatedBoard(dir), uplinks: sims, env: { MONAMI_SIM_LINK_TRACE: path }, now: () => instant(clock) });
      expect([...r.sources.keys()]).toEqual(["lte0", "wifi0"]);
      expect(logs).toEqual(["radio of lte0: trace unit, link cell", "radio of wifi0: trace unit, link wifi0"]);
      clock = 600;
      const s = await r.sources.get("lte0")!.read(instant(600));
      expect(s.ok && s.value).toMatchObject({ link: "lte0", at: 600, radio: { kind: "cellular", rsrpDbm: -90, sinrDb: 12 } });
      writeFileSync(path, "not a trace");
      expect(() => build({ board: simulatedBoard(dir), uplinks: sims, env: { MONAMI_SIM_LINK_TRACE: path } })).toThrow(/MONAMI_SIM_LINK_TRACE/);
      expect(build({ board: simulatedBoard(dir), uplinks: sims }).r.sources.size).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ModemManager list and port parsers", () => {
  test("no modem, several modems, and a bad path", () => {
    expect(parseMmcliModemList("modem-list : 0\n")).toEqual(ok([]));
    expect(parseMmcliModemList("modem-list.length   : 1\nmodem-list.value[1] : /org/freedesktop/ModemManager1/Modem/0")).toEqual(ok(["/org/freedesktop/ModemManager1/Modem/0"]));
    const counters = new Counters();
    const bad = parseMmcliModemList("modem-list.value[1] : /tmp/x; reboot", counters);
    expect(bad.ok ? "ok" : bad.error.kind).toBe("bad-value");
    expect(counters.get("board.metrics.mmcli.bad-value")).toBe(1);
    expect(parseMmcliModemList("").ok).toBe(false);
    expect(parseMmcliModemList("error: couldn't find the ModemManager process in the bus").ok).toBe(false);
  });

  test("ports in the indexed form (ModemManager ≥ 1.18) and the one-line form (older)", () => {
    expect(parseMmcliModemPorts("modem.generic.ports.length : 2\nmodem.generic.ports.value[1] : cdc-wdm0 (mbim)\nmodem.generic.ports.value[2] : wwp198s0f0u3 (net)\n")).toEqual(
      ok([
        { name: "cdc-wdm0", type: "mbim" },
        { name: "wwp198s0f0u3", type: "net" },
      ]),
    );
    expect(parseMmcliModemPorts("modem.generic.ports : ttyUSB0 (at), wwan0 (net), cdc-wdm0 (qmi)")).toEqual(
      ok([
        { name: "ttyUSB0", type: "at" },
        { name: "wwan0", type: "net" },
        { name: "cdc-wdm0", type: "qmi" },
      ]),
    );
    const r = parseMmcliModemPorts("modem.generic.ports.value[1] : <html>");
    expect(r.ok ? "ok" : r.error.kind).toBe("malformed");
    expect(parseMmcliModemPorts("modem.generic.state : connected").ok).toBe(false);
  });
});
