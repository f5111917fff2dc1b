// Link-aware OTA policy on virtual time: Wi-Fi-only pauses on LTE and resumes on Wi-Fi after the dwell, metered byte budgets, buckets, flow rules.
import { describe, expect, test } from "bun:test";
import { linkId, type LinkId } from "../../../board/api/link-metrics.ts";
import { instant, VirtualClock } from "../../../firmware/core/instant.ts";
import { OtaFetch } from "../../../firmware/fleet/ota-fetch.ts";
import { decideOtaDownload, OtaLinkGate, otaDownloadPolicy, type OtaDownloadPolicy, type OtaLinkSet, type OtaLinkView } from "../../../firmware/fleet/ota-policy.ts";

const wifi: OtaLinkView = { link: linkId("wifi0"), kind: "wifi", up: true, costPerGb: 0 };
const lte: OtaLinkView = { link: linkId("lte0"), kind: "cellular", up: true, costPerGb: 5 };
const on = (primary: LinkId, ...links: OtaLinkView[]): OtaLinkSet => ({ links, primary });
const MB = 1_000_000;

const wifiOnly = otaDownloadPolicy({ allowOnCellular: false });
const lteBudget = (budget: number): OtaDownloadPolicy => otaDownloadPolicy({ allowOnCellular: true }, { meteredBudgetBytes: budget });

describe("decideOtaDownload", () => {
  test("free Wi-Fi: download, unmetered, no allowance limit", () => {
    expect(decideOtaDownload(on(wifi.link, wifi, lte), wifiOnly, { meteredBytes: 0 })).toEqual({ action: "download", link: wifi.link, metered: false, allowanceBytes: undefined, maxBytesPerSecond: undefined });
  });

  test("LTE carries the traffic and cellular is not allowed: pause", () => {
    const d = decideOtaDownload(on(lte.link, wifi, lte), wifiOnly, { meteredBytes: 0 });
    expect(d).toMatchObject({ action: "pause", link: lte.link, reason: "cellular-not-allowed" });
  });

  test("the carrier is down, or there is no primary: pause with no-link", () => {
    expect(decideOtaDownload(on(wifi.link, { ...wifi, up: false }), wifiOnly, { meteredBytes: 0 })).toMatchObject({ action: "pause", reason: "no-link" });
    expect(decideOtaDownload({ links: [wifi], primary: undefined }, wifiOnly, { meteredBytes: 0 })).toMatchObject({ action: "pause", reason: "no-link" });
  });

  test("metered LTE under a byte budget: the allowance is what is left of it, and none when it is spent", () => {
    expect(decideOtaDownload(on(lte.link, lte), lteBudget(10 * MB), { meteredBytes: 3 * MB })).toMatchObject({ action: "download", metered: true, allowanceBytes: 7 * MB });
    expect(decideOtaDownload(on(lte.link, lte), lteBudget(10 * MB), { meteredBytes: 10 * MB })).toMatchObject({ action: "pause", reason: "budget-exhausted" });
  });

  test("a cheap link (at or below the job's price limit) has no budget", () => {
    const policy = otaDownloadPolicy({ allowOnCellular: true }, { maxCostPerGb: 5, meteredBudgetBytes: 1 });
    expect(decideOtaDownload(on(lte.link, lte), policy, { meteredBytes: 1 })).toMatchObject({ action: "download", metered: false, allowanceBytes: undefined });
  });

  test("a data bucket is never drawn below the reserve", () => {
    const bucket = (remainingBytes: number) => ({ remainingBytes, lowWaterBytes: 0, whenExhausted: "block" as const });
    const policy = { ...lteBudget(500 * MB), bucketReserveBytes: 50 * MB };
    expect(decideOtaDownload(on(lte.link, { ...lte, bucket: bucket(80 * MB) }), policy, { meteredBytes: 0 })).toMatchObject({ action: "download", allowanceBytes: 30 * MB });
    expect(decideOtaDownload(on(lte.link, { ...lte, bucket: bucket(40 * MB) }), policy, { meteredBytes: 0 })).toMatchObject({ action: "pause", reason: "bucket-low" });
    // A free link with a bucket is still metered.
    expect(decideOtaDownload(on(wifi.link, { ...wifi, bucket: bucket(60 * MB) }), policy, { meteredBytes: 0 })).toMatchObject({ action: "download", metered: true, allowanceBytes: 10 * MB });
  });

  test("multi-CoA: the OTA flow rule's link carries the download; a rule with no link waits", () => {
    const set = (link: LinkId | undefined): OtaLinkSet => ({ links: [wifi, lte], primary: lte.link, flows: [{ rule: "bulk", link }], flowRule: "bulk" });
    expect(decideOtaDownload(set(wifi.link), wifiOnly, { meteredBytes: 0 })).toMatchObject({ action: "download", link: wifi.link });
    expect(decideOtaDownload(set(undefined), wifiOnly, { meteredBytes: 0 })).toMatchObject({ action: "pause", reason: "flow-rule" });
  });

  test("the rate cap follows ota.image.maxDownloadMbps", () => {
    expect(otaDownloadPolicy({ allowOnCellular: false, maxDownloadMbps: 8 }).maxBytesPerSecond).toBe(1_000_000);
  });
});

describe("OtaLinkGate on a fake clock", () => {
  test("Wi-Fi only: paused on LTE, resumes only after Wi-Fi held for the dwell, a flap back restarts the dwell", () => {
    const clock = new VirtualClock();
    const gate = new OtaLinkGate(wifiOnly, 10_000, on(lte.link, wifi, lte), { meteredBytes: 0 });
    expect(gate.pollChange()).toMatchObject({ action: "pause", reason: "cellular-not-allowed" });
    expect(gate.decision.action).toBe("pause");

    clock.advance(5_000);
    gate.update(on(wifi.link, wifi, lte), { meteredBytes: 0 }, clock.now()); // depot Wi-Fi appears
    expect(gate.decision.action).toBe("pause");
    expect(gate.pollTimeout()).toBe(instant(15_000));

    clock.advance(4_000);
    gate.update(on(lte.link, wifi, lte), { meteredBytes: 0 }, clock.now()); // flaps back before the dwell
    expect(gate.pollTimeout()).toBeUndefined();
    expect(gate.pollChange()).toBeUndefined(); // still paused for the same reason: nothing to report

    clock.advance(1_000);
    gate.update(on(wifi.link, wifi, lte), { meteredBytes: 0 }, clock.now());
    clock.advance(9_999);
    gate.handleTimeout(clock.now());
    expect(gate.decision.action).toBe("pause");
    clock.advance(1);
    gate.handleTimeout(clock.now());
    expect(gate.decision).toMatchObject({ action: "download", link: wifi.link });
    expect(gate.pollChange()).toMatchObject({ action: "download", link: wifi.link });

    // Leaving Wi-Fi pauses at once.
    clock.advance(100);
    gate.update(on(lte.link, wifi, lte), { meteredBytes: 0 }, clock.now());
    expect(gate.decision).toMatchObject({ action: "pause", reason: "cellular-not-allowed" });
    expect(gate.pollChange()).toMatchObject({ action: "pause" });
  });
});

/** Drives gate + fetch + an instant transport on virtual time, with the link set given per instant. */
function drive(policy: OtaDownloadPolicy, size: number, linksAt: (t: number) => OtaLinkSet, untilMs: number) {
  const clock = new VirtualClock();
  const fetch = new OtaFetch({ size, offset: 0, rangeBytes: 1000, window: 2, requestTimeoutMs: 1000 });
  const usage = { meteredBytes: 0 };
  const gate = new OtaLinkGate(policy, 2_000, linksAt(0), usage);
  const requestedOn = new Map<string, number>();
  const timeline: string[] = [];
  let inFlight: { offset: number; length: number }[] = [];
  for (let t = 0; t <= untilMs && !fetch.complete; t += 100) {
    clock.set(instant(t));
    // Replies to the previous tick's requests arrive now (2 × 1000 bytes per 100 ms at most).
    for (const r of inFlight.splice(0)) fetch.handleData(r.offset, new Uint8Array(r.length), clock.now());
    gate.update(linksAt(t), usage, clock.now());
    for (let c = gate.pollChange(); c; c = gate.pollChange()) timeline.push(`${t}:${c.action}${c.action === "pause" ? `:${c.reason}` : `:${c.link}`}`);
    const d = gate.decision;
    fetch.setAllowance(d.action === "download" ? d.allowanceBytes : 0, undefined);
    for (let r = fetch.pollTransmit(clock.now()); r; r = fetch.pollTransmit(clock.now())) {
      if (d.action !== "download") throw new Error("requested while paused");
      if (d.metered) usage.meteredBytes += r.length;
      requestedOn.set(d.link, (requestedOn.get(d.link) ?? 0) + r.length);
      inFlight.push(r);
    }
  }
  return { fetch, usage, requestedOn, timeline };
}

describe("policy and fetch together (virtual time)", () => {
  test("pauses on LTE when the policy says Wi-Fi only, resumes on Wi-Fi, nothing requested over LTE", () => {
    // Wi-Fi for 0-3 s, LTE from 3 s to 10 s, Wi-Fi again from 10 s.
    const linksAt = (t: number) => (t < 3_000 || t >= 10_000 ? on(wifi.link, wifi, lte) : on(lte.link, wifi, lte));
    const { fetch, requestedOn, timeline } = drive(wifiOnly, 100_000, linksAt, 60_000);
    expect(fetch.complete).toBe(true);
    expect(requestedOn.get(lte.link)).toBeUndefined();
    expect(requestedOn.get(wifi.link)).toBe(100_000);
    expect(timeline).toEqual(["0:download:wifi0", "3000:pause:cellular-not-allowed", "12000:download:wifi0"]);
  });

  test("the metered byte budget on LTE is honoured exactly; the rest waits for Wi-Fi", () => {
    const linksAt = (t: number) => (t < 20_000 ? on(lte.link, lte, { ...wifi, up: false }) : on(wifi.link, wifi, lte));
    const { fetch, usage, requestedOn, timeline } = drive(lteBudget(12_345), 50_000, linksAt, 60_000);
    expect(fetch.complete).toBe(true);
    expect(requestedOn.get(lte.link)).toBe(12_345);
    expect(usage.meteredBytes).toBe(12_345);
    expect(requestedOn.get(wifi.link)).toBe(50_000 - 12_345);
    expect(timeline[0]).toBe("0:download:lte0");
    expect(timeline[1]).toBe("700:pause:budget-exhausted");
    expect(timeline[2]).toBe("22000:download:wifi0");
  });
});
