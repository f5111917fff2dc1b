// Cellular and Wi-Fi readers with an injected command runner and AT port; AT reply framing.
import { describe, expect, test } from "bun:test";
import { linkId, type CommandOutput, type CommandRunner } from "../../../board/api/link-metrics.ts";
import { AtReplyAssembler, type AtPort } from "../../../board/modem/at-port.ts";
import { AtModemReader, MmcliReader, QmicliReader } from "../../../board/modem/modem-reader.ts";
import { WifiReader } from "../../../board/wifi/wifi-reader.ts";
import { Counters } from "../../../firmware/core/counters.ts";
import { ok } from "../../../firmware/core/result.ts";
import { instant } from "../../../firmware/core/instant.ts";

function runner(answers: Record<string, Partial<CommandOutput>>): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async run(argv) {
      const key = argv.join(" ");
      calls.push(key);
      const a = answers[key] ?? { exitCode: 1, stderr: "no such command" };
      return { exitCode: 0, stdout: "", stderr: "", timedOut: false, ...a };
    },
  };
}

const MMCLI_OFF = "modem.signal.refresh.rate : 0\nmodem.signal.lte.rsrp : --\n";
const MMCLI_ON = "modem.signal.refresh.rate : 5\nmodem.signal.lte.rsrp : -101.00\nmodem.signal.lte.snr : 7.00\n";

describe("cellular readers", () => {
  test("mmcli: turns signal polling on once when it finds it off, then reads", async () => {
    let on = false;
    const r: CommandRunner & { calls: string[] } = {
      calls: [],
      async run(argv) {
        this.calls.push(argv.join(" "));
        if (argv.includes("--signal-setup=5")) on = true;
        return { exitCode: 0, stdout: on ? MMCLI_ON : MMCLI_OFF, stderr: "", timedOut: false };
      },
    };
    const counters = new Counters();
    const reader = new MmcliReader({ link: linkId("lte0"), counters, modem: "0", runner: r });
    const first = await reader.read(instant(0));
    expect(first.ok ? "ok" : first.error.kind).toBe("no-data");
    const second = await reader.read(instant(1000));
    expect(second.ok && second.value.radio).toEqual({ kind: "cellular", access: "lte", rsrpDbm: -101, sinrDb: 7 });
    expect(r.calls.filter((c) => c.includes("--signal-setup")).length).toBe(1);
    expect(counters.get("board.metrics.mmcli.no-data")).toBe(1);
  });

  test("qmicli: a failing tool is a typed, counted error", async () => {
    const counters = new Counters();
    const reader = new QmicliReader({ link: linkId("lte0"), counters, device: "/dev/cdc-wdm0", runner: runner({}) });
    const r = await reader.read(instant(0));
    expect(r.ok ? "ok" : r.error.kind).toBe("tool-failed");
    expect(counters.get("board.metrics.qmicli.tool-failed")).toBe(1);
  });

  test("AT: Quectel QENG first, then falls back to +CESQ when QENG is refused", async () => {
    const sent: string[] = [];
    const port: AtPort = {
      async transact(command) {
        sent.push(command);
        if (command.startsWith("AT+QENG")) return ok("ERROR");
        if (command === "AT+CESQ") return ok("+CESQ: 99,99,255,255,20,50\r\n\r\nOK");
        return ok("ERROR");
      },
    };
    const reader = new AtModemReader({ link: linkId("lte0"), counters: new Counters(), port, dialect: "quectel" });
    const r = await reader.read(instant(0));
    expect(r.ok && r.value.radio).toEqual({ kind: "cellular", access: "lte", rsrqDb: -10, rsrpDbm: -91 });
    expect(sent).toEqual(['AT+QENG="servingcell"', "AT+CESQ"]);
  });
});

describe("AT reply framing", () => {
  test("cuts replies at final result codes across arbitrary chunking", () => {
    const a = new AtReplyAssembler();
    const stream = 'AT+QENG="servingcell"\r\r\n+QENG: "servingcell","SEARCH"\r\n\r\nOK\r\n\r\n+CME ERROR: 10\r\n';
    for (const ch of stream) a.push(ch);
    expect(a.pollReply()).toBe('AT+QENG="servingcell"\n+QENG: "servingcell","SEARCH"\nOK');
    expect(a.pollReply()).toBe("+CME ERROR: 10");
    expect(a.pollReply()).toBeUndefined();
  });

  test("noise without line ends does not grow without bound", () => {
    const a = new AtReplyAssembler();
    a.push("x".repeat(100_000));
    a.push("\r\nOK\r\n");
    expect(a.pollReply()!.length).toBeLessThan(2000);
  });
});

describe("Wi-Fi reader", () => {
  test("combines iw link and station dump, and derives the retry ratio between reads", async () => {
    const link = "Connected to 00:1f:90:b4:8a:80 (on wlan0)\n\tSSID: depot\n\tfreq: 5180\n\tsignal: -50 dBm\n";
    const dump = (packets: number, retries: number) =>
      `Station 00:1f:90:b4:8a:80 (on wlan0)\n\ttx packets:\t${packets}\n\ttx retries:\t${retries}\n\tsignal:\t-51 dBm\n\tsignal avg:\t-52 dBm\n\texpected throughput:\t60.5Mbps\n`;
    let n = 0;
    const r: CommandRunner = {
      async run(argv) {
        const out = argv.includes("link") ? link : n++ === 0 ? dump(100, 10) : dump(200, 60);
        return { exitCode: 0, stdout: out, stderr: "", timedOut: false };
      },
    };
    const reader = new WifiReader({ link: linkId("wifi0"), iface: "wlan0", runner: r, counters: new Counters() });
    const a = await reader.read(instant(0));
    expect(a.ok && a.value.radio).toEqual({ kind: "wifi", associated: true, signalDbm: -51, signalAvgDbm: -52, expectedThroughputMbps: 60.5, frequencyMhz: 5180 });
    const b = await reader.read(instant(1000));
    expect(b.ok && b.value.radio && "retryRatio" in b.value.radio ? b.value.radio.retryRatio : undefined).toBeCloseTo(50 / 150, 6);
  });

  test("not associated is reported as such (a hard link state), not as an error", async () => {
    const r: CommandRunner = { run: async () => ({ exitCode: 0, stdout: "Not connected.\n", stderr: "", timedOut: false }) };
    const reader = new WifiReader({ link: linkId("wifi0"), iface: "wlan0", runner: r, counters: new Counters() });
    const s = await reader.read(instant(0));
    expect(s.ok && s.value.radio).toEqual({ kind: "wifi", associated: false });
  });
});
