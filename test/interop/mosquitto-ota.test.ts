// Full OTA cycles over a real Mosquitto on the simulated board: chunked download across a broker restart and a process restart,
// install, reboot, commit; an HTTP (Range) download of an image that never gets healthy, rolled back; refusals that touch no slot.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { simulatedBoard } from "../../board/boards/simulated.ts";
import { linkId } from "../../board/api/link-metrics.ts";
import type { OtaLinkSet } from "../../firmware/fleet/ota-policy.ts";
import { FleetLink } from "../../firmware/runtime/fleet-link.ts";
import { fleetLinkChannel, OtaAgent } from "../../firmware/runtime/ota-agent.ts";
import { ChunkServer, memoryImage } from "../../ota/download/chunk-server.ts";
import { SimSlots } from "../../ota/slots/sim-slots.ts";
import { fleetKey, fleetPublic, otherKey, testImage } from "../unit/ota/fixtures.ts";
import { hasMosquitto, Inbox, MosquittoBroker, publish, subscribe } from "./mosquitto-broker.ts";
import { fakeSnapshot, makeDeviceFiles, type DeviceFiles } from "./mosquitto-device.ts";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const fileSha = (path: string) => sha256(readFileSync(path));

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(10);
  }
}

/** Only depot Wi-Fi (free): the policy lets every job download. */
const wifiOnly: OtaLinkSet = { links: [{ link: linkId("wifi0"), kind: "wifi", up: true, costPerGb: 0 }], primary: linkId("wifi0") };

interface Running {
  readonly agent: OtaAgent;
  readonly link: FleetLink;
  readonly slot: "a" | "b";
  readonly version: string;
  readonly reboots: string[];
}

describe.skipIf(!hasMosquitto)("OTA over MQTT against Mosquitto (simulated board)", () => {
  let broker: MosquittoBroker;
  let device: DeviceFiles;
  let backend: MqttClient;
  let inbox: Inbox;
  let chunks: ChunkServer;
  let root: string;
  let slots: SimSlots;
  let running: Running | undefined;
  const logs: string[] = [];
  const deviceId = `ota-${process.pid}`;
  const statusTopic = `monami/${deviceId}/ota/status`;
  const jobTopic = `monami/${deviceId}/ota/job`;
  const v1 = testImage({ version: "1.0.0", securityVersion: 1 }, fleetKey, 8 * 1024);

  async function powerOn(): Promise<Running> {
    const booted = await slots.boot();
    if (!booted.ok) throw new Error(booted.error);
    const version = booted.value.image.head.manifest.version;
    const reboots: string[] = [];
    const agent = new OtaAgent({
      board: slots.board,
      store: slots.store,
      trusted: [fleetPublic],
      stateDir: join(root, "ota-state"),
      imagePolicy: { allowOnCellular: false },
      links: () => wifiOnly,
      // The "bad" image never gets its bindings up: its trial must be rolled back.
      bindingsUp: () => !version.includes("bad"),
      reboot: (reason) => reboots.push(reason),
      tuning: { requestTimeoutMs: 800, resumeAfterMs: 0, checkpointBytes: 32 * 1024, healthPollMs: 50 },
      log: (line) => logs.push(`[${version}] ${line}`),
    });
    const link = await FleetLink.start({
      configPath: device.configPath,
      firmware: version,
      snapshot: fakeSnapshot,
      log: (line) => logs.push(`[${version}] ${line}`),
      subscriptions: OtaAgent.subscriptions,
      onMessage: agent.handleMessage,
    });
    await agent.start(fleetLinkChannel(link));
    running = { agent, link, slot: booted.value.slot, version, reboots };
    return running;
  }

  async function powerOff(): Promise<void> {
    const r = running;
    running = undefined;
    if (!r) return;
    await r.agent.stop();
    await r.link.stop("ota");
  }

  function statuses(jobId: string): Record<string, unknown>[] {
    return inbox.json(statusTopic).filter((s) => s.jobId === jobId);
  }

  function job(jobId: string, image: Uint8Array, version: string, source: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
    return JSON.stringify({ jobId, version, size: image.length, sha256: sha256(image), source, ...extra });
  }

  beforeAll(async () => {
    broker = await MosquittoBroker.start({ persistence: true });
    device = makeDeviceFiles(broker, deviceId, (c) => {
      // 4 Mbit/s cap: a 384 KiB image takes ~0.8 s, long enough to break the broker mid-download.
      c.ota.image = { allowOnCellular: false, maxDownloadMbps: 4 };
    });
    root = mkdtempSync(join(tmpdir(), "monami-h10-ota-"));
    slots = new SimSlots(simulatedBoard(root, 4 * 1024 * 1024), [fleetPublic]);
    slots.provision(root, v1);
    backend = await broker.observer({ clientId: `backend-${deviceId}`, clean: false, reconnectPeriod: 100 });
    inbox = new Inbox(backend);
    await subscribe(backend, statusTopic);
    chunks = await ChunkServer.start(backend);
  });

  afterAll(async () => {
    await powerOff();
    backend?.end(true);
    broker?.cleanup();
    device?.cleanup();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test("chunked over MQTT: broker restart and process restart mid-download resume by offset; installed, rebooted, committed", async () => {
    const v2 = testImage({ version: "2.0.0", securityVersion: 2 }, fleetKey, 384 * 1024);
    chunks.serve("job-v2", memoryImage(v2));
    const r = await powerOn();
    expect(r.slot).toBe("a");
    await until(() => r.link.session?.connected === true, 10_000, "device connected");
    await publish(backend, jobTopic, job("job-v2", v2, "2.0.0", { kind: "mqtt", chunkBytes: 8192 }), true);

    // Broker restart at ~30 %.
    await until(() => (r.agent.progress()?.received ?? 0) > v2.length * 0.3, 10_000, "30 % downloaded");
    const atRestart = r.agent.progress()!.received;
    await broker.stopProcess();
    await Bun.sleep(300);
    await broker.startProcess();
    // Process restart ("power cut" of the firmware, not of the slots) at ~60 %.
    await until(() => (running?.agent.progress()?.received ?? 0) > v2.length * 0.6, 15_000, "60 % downloaded");
    const atKill = r.agent.progress()!.received;
    expect(r.link.counters.get("mqtt.disconnected")).toBeGreaterThanOrEqual(1);
    expect(atRestart).toBeLessThan(v2.length);
    expect(atKill).toBeLessThan(v2.length);
    await powerOff();
    const again = await powerOn();
    expect(again.slot).toBe("a");
    expect(again.agent.counters.get("ota.download.resumed")).toBe(1);
    // A graceful stop writes and checkpoints everything received: the restart resumes exactly there.
    expect(again.agent.progress()!.received).toBeGreaterThanOrEqual(atKill);

    await until(() => again.reboots.length > 0, 20_000, "install finished and reboot requested");
    expect(again.reboots).toEqual(["ota-install"]);
    const served = chunks.stats().bytesServed;
    expect(served).toBeGreaterThanOrEqual(v2.length);
    expect(served).toBeLessThan(1.5 * v2.length);
    console.log(`ota chunked cycle: image ${v2.length} B, served ${served} B (${(served / v2.length).toFixed(3)}x), broker restart at ${atRestart} B, process restart at ${atKill} B`);
    // The inactive slot holds exactly the new image; the active one was never written.
    expect(sha256(readFileSync(slots.board.slots.b.device).subarray(0, v2.length))).toBe(sha256(v2));
    expect(fileSha(slots.board.slots.a.device)).toBe(sha256(v1));

    await powerOff();
    const trial = await powerOn();
    expect(trial.slot).toBe("b");
    expect(trial.version).toBe("2.0.0");
    await inbox.waitFor((m) => m.topic === statusTopic && m.json.jobId === "job-v2" && m.json.state === "committed", 15_000, "committed");
    const states = statuses("job-v2").map((s) => s.state as string);
    const firstOf = (s: string) => states.indexOf(s);
    expect(firstOf("downloading")).toBeGreaterThanOrEqual(0);
    expect(firstOf("downloading")).toBeLessThan(firstOf("verifying"));
    expect(firstOf("verifying")).toBeLessThan(firstOf("installing"));
    expect(firstOf("installing")).toBeLessThan(firstOf("rebooting"));
    expect(firstOf("rebooting")).toBeLessThan(firstOf("committed"));
    const progress = statuses("job-v2").filter((s) => s.state === "downloading");
    expect(progress.at(-1)).toMatchObject({ received: v2.length, total: v2.length, percent: 100, source: "mqtt", link: "wifi0" });
    expect(statuses("job-v2").find((s) => s.state === "committed")).toMatchObject({ version: "2.0.0", slot: "b" });
    const state = await slots.store.read();
    expect(state.ok && state.value).toEqual({ order: ["b", "a"], left: { a: 3, b: 3 }, trial: undefined });
    // The retained job is delivered again on every connection: it is not run twice.
    expect(trial.agent.counters.get("ota.job.duplicate")).toBeGreaterThanOrEqual(1);
  }, 60_000);

  test("HTTP Range download of an image that never reports healthy: trial times out, rolled back to the old slot, reported after the reboot", async () => {
    const bad = testImage({ version: "3.0.0-bad", securityVersion: 2 }, fleetKey, 96 * 1024);
    let rangeRequests = 0;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const m = /^bytes=(\d+)-(\d+)$/.exec(request.headers.get("range") ?? "");
        if (!m) return new Response(bad);
        rangeRequests++;
        const start = Number(m[1]);
        const end = Math.min(Number(m[2]), bad.length - 1);
        if (start >= bad.length) return new Response(null, { status: 416, headers: { "Content-Range": `bytes */${bad.length}` } });
        return new Response(bad.subarray(start, end + 1), { status: 206, headers: { "Content-Range": `bytes ${start}-${end}/${bad.length}` } });
      },
    });
    try {
      const r = running!;
      expect(r.slot).toBe("b");
      const url = `http://127.0.0.1:${server.port}/images/monami-3.0.0-bad.img`;
      await publish(backend, jobTopic, job("job-bad", bad, "3.0.0-bad", { kind: "http", url }, { confirmWithinSeconds: 5 }), true);
      await until(() => r.reboots.length > 0, 15_000, "bad image installed");
      expect(rangeRequests).toBeGreaterThanOrEqual(1);
      expect(sha256(readFileSync(slots.board.slots.a.device).subarray(0, bad.length))).toBe(sha256(bad));

      await powerOff();
      const trial = await powerOn();
      expect(trial.slot).toBe("a");
      await until(() => trial.reboots.length > 0, 10_000, "trial gives up and asks to reboot");
      expect(trial.reboots).toEqual(["ota-rollback"]);
      // Nothing final is reported from the failing image itself.
      expect(statuses("job-bad").some((s) => s.state === "rolled-back" || s.state === "committed")).toBe(false);

      await powerOff();
      const back = await powerOn();
      expect(back.slot).toBe("b");
      expect(back.version).toBe("2.0.0");
      const rolled = await inbox.waitFor((m) => m.topic === statusTopic && m.json.jobId === "job-bad" && m.json.state === "rolled-back", 15_000, "rolled-back");
      expect(rolled).toMatchObject({ version: "3.0.0-bad", slot: "a", runningSlot: "b" });
      expect(String(rolled.reason)).toContain("bindings");
      const state = await slots.store.read();
      expect(state.ok && state.value.order[0]).toBe("b");
      expect(state.ok && state.value.trial).toBeUndefined();
    } finally {
      server.stop(true);
    }
  }, 60_000);

  test("refusals are reported as failed with the reason and write nothing to either slot", async () => {
    const r = running!;
    expect(r.slot).toBe("b");
    const before = { a: fileSha(slots.board.slots.a.device), b: fileSha(slots.board.slots.b.device), boot: readFileSync(slots.store.path, "utf8") };

    // Corrupted in transit: one byte of one chunk flipped (after the head, so only the whole-image digest can tell).
    const v4 = testImage({ version: "4.0.0", securityVersion: 2 }, fleetKey, 64 * 1024);
    chunks.serve("job-corrupt", memoryImage(v4));
    chunks.transform = (reply) => {
      if (reply.offset !== 32 * 1024 || reply.data.length === 0) return reply;
      const data = reply.data.slice();
      data[7]! ^= 0xff;
      return { ...reply, data };
    };
    await publish(backend, jobTopic, job("job-corrupt", v4, "4.0.0", { kind: "mqtt", chunkBytes: 8192 }), true);
    const corrupt = await inbox.waitFor((m) => m.topic === statusTopic && m.json.jobId === "job-corrupt" && m.json.state === "failed", 15_000, "corrupt refused");
    chunks.transform = undefined;
    expect(corrupt.reason).toMatchObject({ kind: "download-corrupt" });

    // Signed by a key the fleet does not trust: refused from the head, long before the image is fetched.
    const foreign = testImage({ version: "5.0.0", securityVersion: 2 }, otherKey, 256 * 1024);
    chunks.serve("job-foreign", memoryImage(foreign));
    const servedBefore = chunks.stats().bytesServed;
    await publish(backend, jobTopic, job("job-foreign", foreign, "5.0.0", { kind: "mqtt", chunkBytes: 8192 }), true);
    const wrongKey = await inbox.waitFor((m) => m.topic === statusTopic && m.json.jobId === "job-foreign" && m.json.state === "failed", 15_000, "foreign key refused");
    expect(wrongKey.reason).toMatchObject({ kind: "wrong-key" });
    await Bun.sleep(300);
    expect(chunks.stats().bytesServed - servedBefore).toBeLessThan(foreign.length / 2);

    // A trusted key id but a tampered signature.
    const tampered = testImage({ version: "6.0.0", securityVersion: 2 }, fleetKey, 16 * 1024);
    const manifestLength = new DataView(tampered.buffer, tampered.byteOffset).getUint32(12);
    tampered[24 + manifestLength + 3]! ^= 0x01; // inside the Ed25519 signature
    chunks.serve("job-tampered", memoryImage(tampered));
    await publish(backend, jobTopic, job("job-tampered", tampered, "6.0.0", { kind: "mqtt", chunkBytes: 8192 }), true);
    const badSignature = await inbox.waitFor((m) => m.topic === statusTopic && m.json.jobId === "job-tampered" && m.json.state === "failed", 15_000, "tampered refused");
    expect(badSignature.reason).toMatchObject({ kind: "bad-signature" });

    // Downgrade below the installed security version (2).
    const old = testImage({ version: "1.5.0", securityVersion: 1 }, fleetKey, 16 * 1024);
    chunks.serve("job-old", memoryImage(old));
    await publish(backend, jobTopic, job("job-old", old, "1.5.0", { kind: "mqtt", chunkBytes: 8192 }), true);
    const downgrade = await inbox.waitFor((m) => m.topic === statusTopic && m.json.jobId === "job-old" && m.json.state === "failed", 15_000, "downgrade refused");
    expect(downgrade.reason).toMatchObject({ kind: "downgrade" });
    expect(String((downgrade.reason as { detail: string }).detail)).toContain("security version 1");

    // A job the schema refuses.
    await publish(backend, jobTopic, JSON.stringify({ jobId: "job-typo", version: "7", size: 10, sha256: "00", source: { kind: "ftp" } }), true);
    const badJob = await inbox.waitFor((m) => m.topic === statusTopic && m.json.jobId === "job-typo" && m.json.state === "failed", 15_000, "bad job refused");
    expect(badJob.reason).toMatchObject({ kind: "bad-job" });

    expect(fileSha(slots.board.slots.a.device)).toBe(before.a);
    expect(fileSha(slots.board.slots.b.device)).toBe(before.b);
    expect(readFileSync(slots.store.path, "utf8")).toBe(before.boot);
    expect(r.reboots).toEqual([]);
  }, 60_000);
});
