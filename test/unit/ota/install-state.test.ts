// The install state machine: the legal path, failure from any active phase, illegal events rejected.
import { describe, expect, test } from "bun:test";
import { InstallTransitionError, nextInstallState, type InstallEvent, type InstallState } from "../../../ota/install/install-state.ts";
import { buildImage } from "../../../ota/sign/build-image.ts";
import { fleetKey, testImageInput } from "./fixtures.ts";

const manifest = buildImage(testImageInput(), fleetKey).manifest;
const run = (events: InstallEvent[], from: InstallState = { phase: "idle" }) => events.reduce(nextInstallState, from);

describe("install state machine", () => {
  test("downloading → verifying → installing → rebooting → committed", () => {
    const phases: string[] = [];
    let s: InstallState = { phase: "idle" };
    for (const e of [
      { kind: "start", total: 100 },
      { kind: "received", received: 50 },
      { kind: "head-verified", manifest, total: 100 },
      { kind: "written", slot: "b" },
      { kind: "checked" },
      { kind: "marked" },
      { kind: "confirmed" },
    ] as InstallEvent[]) {
      s = nextInstallState(s, e);
      phases.push(s.phase);
    }
    expect(phases).toEqual(["downloading", "downloading", "downloading", "verifying", "installing", "rebooting", "committed"]);
    expect(s).toEqual({ phase: "committed", version: "1.0.0", slot: "b" });
  });

  test("rebooting can end rolled back, with a reason", () => {
    const s = run([{ kind: "start", total: undefined }, { kind: "head-verified", manifest, total: 1 }, { kind: "written", slot: "a" }, { kind: "checked" }, { kind: "marked" }, { kind: "rolled-back", reason: "broker unreachable" }]);
    expect(s).toEqual({ phase: "rolled-back", version: "1.0.0", slot: "a", reason: "broker unreachable" });
  });

  test("a refusal fails any active phase and a new install may start after it", () => {
    const failed = run([{ kind: "start", total: 1 }, { kind: "refused", refusal: { kind: "bad-signature" } }]);
    expect(failed).toEqual({ phase: "failed", reason: { kind: "bad-signature" } });
    expect(nextInstallState(failed, { kind: "start", total: 1 }).phase).toBe("downloading");
  });

  test("events out of order are installer bugs and throw", () => {
    expect(() => run([{ kind: "checked" }])).toThrow(InstallTransitionError);
    expect(() => run([{ kind: "start", total: 1 }, { kind: "written", slot: "b" }])).toThrow(InstallTransitionError);
    expect(() => run([{ kind: "refused", refusal: { kind: "bad-signature" } }, { kind: "refused", refusal: { kind: "bad-signature" } }])).toThrow(InstallTransitionError);
  });
});
