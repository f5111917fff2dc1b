// The OTA agent on the simulated board with an in-process fleet channel: link-aware pause/resume, watchdog + boot-counter rollback, full disk.
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { linkId } from "../../../board/api/link-metrics.ts";
import { WatchdogFeeder } from "../../../board/api/watchdog.ts";
import { simulatedBoard } from "../../../board/boards/simulated.ts";
import { SimWatchdog } from "../../../board/sim/watchdog.ts";
import { VirtualClock } from "../../../firmware/core/instant.ts";
import { answerChunkRequest, decodeChunkRequest, encodeChunk } from "../../../firmware/fleet/ota-chunk.ts";
import type { OtaLinkSet } from "../../../firmware/fleet/ota-policy.ts";
import { fleetTopics } from "../../../firmware/fleet/topics.ts";
import type { Stamp } from "../../../firmware/fleet/messages.ts";
import { OtaAgent, type OtaChannel } from "../../../firmware/runtime/ota-agent.ts";
import { memoryImage } from "../../../ota/download/chunk-server.ts";
import { SimSlots } from "../../../ota/slots/sim-slots.ts";
import { fleetKey, fleetPublic, testImage } from "./fixtures.ts";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const topics = (() => {
  const t = fleetTopics("monami", "bus-1");
  if (!t.ok) throw new Error(t.error);
  return t.value;
})();

/** The fleet link and the back-end in one: statuses are collected, chunk requests answered from `images`. */
class LoopbackFleet implements OtaChannel {
  readonly topics = topics;
  readonly statuses: Record<string, unknown>[] = [];
  readonly images = new Map<string, Uint8Array>();
  requests = 0;
  agent: OtaAgent | undefined;
  #seq = 0;

  connection(): number | undefined {
    return 1;
  }

  publishDurable(topic: string, _retain: boolean, build: (stamp: Stamp) => Uint8Array): void {
    const payload = build({ seq: ++this.#seq, session: 1, at: 0 });
    if (topic === topics.otaStatus) this.statuses.push(JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>);
  }

  publishVolatile(topic: string, payload: Uint8Array): boolean {
    if (topic !== topics.otaChunkRequest) return false;
    this.requests++;
    const request = decodeChunkRequest(payload);
    if (!request.ok) return true;
    const image = this.images.get(request.value.jobId);
    const reply = encodeChunk(answerChunkRequest(request.value, image ? memoryImage(image) : undefined));
    setTimeout(() => this.agent?.handleMessage(topics.otaChunk, reply), 1);
    return true;
  }

  job(jobId: string, image: Uint8Array, version: string): void {
    this.images.set(jobId, image);
    const body = { jobId, version, size: image.length, sha256: sha256(image), source: { kind: "mqtt", chunkBytes: 4096 }, confirmWithinSeconds: 5 };
    this.agent?.handleMessage(topics.otaJob, new TextEncoder().encode(JSON.stringify(body)));
  }

  states(jobId: string): string[] {
    return this.statuses.filter((s) => s.jobId === jobId).map((s) => s.state as string);
  }
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(5);
  }
}

const wifi = { link: linkId("wifi0"), kind: "wifi" as const, up: true, costPerGb: 0 };
const lte = { link: linkId("lte0"), kind: "cellular" as const, up: true, costPerGb: 5 };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(slotCapacity = 1024 * 1024) {
  const root = mkdtempSync(join(tmpdir(), "monami-h10-agent-"));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const slots = new SimSlots(simulatedBoard(root, slotCapacity), [fleetPublic]);
  const v1 = testImage({ version: "1.0.0", securityVersion: 1 }, fleetKey, 4096);
  slots.provision(root, v1);
  return { root, slots, v1 };
}

async function startAgent(root: string, slots: SimSlots, fleet: LoopbackFleet, links: () => OtaLinkSet, extra: Partial<ConstructorParameters<typeof OtaAgent>[0]> = {}) {
  const reboots: string[] = [];
  const agent = new OtaAgent({
    board: slots.board,
    store: slots.store,
    trusted: [fleetPublic],
    stateDir: join(root, "ota"),
    imagePolicy: { allowOnCellular: false },
    links,
    bindingsUp: () => true,
    reboot: (reason) => reboots.push(reason),
    tuning: { requestTimeoutMs: 300, resumeAfterMs: 0, linkPollMs: 50, healthPollMs: 20 },
    log: () => {},
    ...extra,
  });
  fleet.agent = agent;
  await agent.start(fleet);
  cleanups.push(() => agent.stop());
  return { agent, reboots };
}

describe("OTA agent (simulated board, loopback fleet)", () => {
  test("Wi-Fi-only policy: paused while LTE carries the traffic (no chunk asked for), resumes when Wi-Fi takes over", async () => {
    const { root, slots } = setup();
    expect((await slots.boot()).ok).toBe(true);
    const fleet = new LoopbackFleet();
    let set: OtaLinkSet = { links: [wifi, lte], primary: lte.link };
    const { agent, reboots } = await startAgent(root, slots, fleet, () => set);
    const v2 = testImage({ version: "2.0.0", securityVersion: 1 }, fleetKey, 64 * 1024);
    fleet.job("j-wifi", v2, "2.0.0");
    await until(() => fleet.states("j-wifi").includes("paused"), 2000, "paused");
    await Bun.sleep(200);
    expect(fleet.requests).toBe(0);
    expect(fleet.statuses.find((s) => s.state === "paused")).toMatchObject({ reason: "cellular-not-allowed", link: "lte0", received: 0 });

    set = { links: [wifi, lte], primary: wifi.link };
    agent.linksChanged();
    await until(() => reboots.length === 1, 5000, "installed");
    expect(fleet.states("j-wifi")).toContain("rebooting");
    expect(fleet.statuses.filter((s) => s.jobId === "j-wifi" && s.state === "downloading").at(-1)).toMatchObject({ link: "wifi0", percent: 100 });
    expect(agent.counters.get("ota.download.paused.cellular-not-allowed")).toBe(1);
  });

  test("a trial image that hangs: the watchdog resets the board, the boot counter falls back, rolled-back is reported by the old image", async () => {
    const { root, slots, v1 } = setup();
    expect((await slots.boot()).ok).toBe(true);
    const fleet = new LoopbackFleet();
    const links = (): OtaLinkSet => ({ links: [wifi], primary: wifi.link });
    const first = await startAgent(root, slots, fleet, links);
    const v2 = testImage({ version: "2.0.0-hangs", securityVersion: 1 }, fleetKey, 16 * 1024);
    fleet.job("j-hang", v2, "2.0.0-hangs");
    await until(() => first.reboots.length === 1, 5000, "installed");
    await first.agent.stop();

    // Power-on: the bootloader tries slot B once. Its main loop never becomes healthy, so the watchdog is not fed.
    const trialBoot = await slots.boot();
    expect(trialBoot.ok && trialBoot.value.slot).toBe("b");
    const clock = new VirtualClock();
    const watchdog = new SimWatchdog(clock, slots.board.watchdog.timeoutSeconds);
    const feeder = new WatchdogFeeder(slots.board.watchdog.timeoutSeconds);
    for (let t = 0; t < 15_000 && !watchdog.expired(clock.now()); t += 500) {
      if (feeder.tick(clock.now(), false)) watchdog.keepalive();
      clock.advance(500);
    }
    expect(watchdog.expired(clock.now())).toBe(true);
    expect(watchdog.keepalives).toBe(0);

    // Reset: slot B has no attempts left, the bootloader falls back to A.
    const fallback = await slots.boot();
    expect(fallback.ok && fallback.value.slot).toBe("a");
    const old = await startAgent(root, slots, fleet, links);
    await until(() => fleet.states("j-hang").includes("rolled-back"), 2000, "rolled-back reported");
    expect(fleet.statuses.find((s) => s.state === "rolled-back")).toMatchObject({ jobId: "j-hang", version: "2.0.0-hangs", slot: "b", runningSlot: "a" });
    expect(String(fleet.statuses.find((s) => s.state === "rolled-back")!.reason)).toContain("boot counter");
    expect(old.agent.record.last).toMatchObject({ jobId: "j-hang", state: "rolled-back" });
    expect(sha256(readFileSync(slots.board.slots.a.device))).toBe(sha256(v1));
    const state = await slots.store.read();
    expect(state.ok && state.value).toMatchObject({ order: ["a", "b"], trial: undefined });
  });

  test("full disk under the inactive slot: failed with no-space, the active slot and boot order untouched", async () => {
    const { root, slots, v1 } = setup();
    expect((await slots.boot()).ok).toBe(true);
    const fleet = new LoopbackFleet();
    const { reboots } = await startAgent(root, slots, fleet, () => ({ links: [wifi], primary: wifi.link }), { openSlot: SimSlots.limitedOpener(8 * 1024) });
    const v2 = testImage({ version: "2.0.0", securityVersion: 1 }, fleetKey, 32 * 1024);
    fleet.job("j-full", v2, "2.0.0");
    await until(() => fleet.states("j-full").includes("failed"), 5000, "failed");
    expect(fleet.statuses.find((s) => s.state === "failed")).toMatchObject({ reason: { kind: "no-space" } });
    expect(reboots).toEqual([]);
    expect(sha256(readFileSync(slots.board.slots.a.device))).toBe(sha256(v1));
    const state = await slots.store.read();
    expect(state.ok && state.value.order[0]).toBe("a");
    expect(state.ok && state.value.left.a).toBeGreaterThan(0);
  });
});
