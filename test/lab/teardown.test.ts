// Lab teardown (root): a lab's namespaces and processes vanish on SIGINT, SIGTERM, uncaught errors and exit;
// sweepStaleLabs removes namespaces of dead runs and spares live ones.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { requireRoot } from "../../board/lab/lab.ts";
import { isAlive, listNamespaces, mustRun, namespacePids, sweepStaleLabs } from "../../board/lab/netns.ts";

const canRun = requireRoot("lab teardown");
const FIXTURE = join(import.meta.dir, "fixtures", "lab-owner.ts");

/** Starts the fixture, waits for its run id, and returns the process with the namespaces it made. */
async function startOwner(how: string) {
  const proc = Bun.spawn([process.execPath, FIXTURE, how], { stdout: "pipe", stderr: "pipe" });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const chunk = await reader.read();
    if (chunk.done) throw new Error(`fixture ended early: ${await new Response(proc.stderr).text()}`);
    text += new TextDecoder().decode(chunk.value);
  }
  reader.releaseLock();
  const runId = text.trim();
  const namespaces = listNamespaces().filter((n) => n.startsWith(`${runId}-`));
  const pids = namespaces.flatMap(namespacePids);
  return { proc, runId, namespaces, pids };
}

function expectGone(runId: string, pids: readonly number[]): void {
  expect(listNamespaces().filter((n) => n.startsWith(`${runId}-`))).toEqual([]);
  for (const pid of pids) expect(isAlive(pid)).toBe(false);
}

describe.skipIf(!canRun)("lab teardown", () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    test(`${signal} to the owning process deletes the lab (exit ${code})`, async () => {
      const owner = await startOwner("wait");
      expect(owner.namespaces.length).toBe(5);
      expect(owner.pids.length).toBeGreaterThan(0);
      owner.proc.kill(signal);
      expect(await owner.proc.exited).toBe(code);
      expectGone(owner.runId, owner.pids);
    });
  }

  for (const how of ["throw", "reject", "exit"]) {
    test(`the lab is deleted when its process ends by ${how}`, async () => {
      const owner = await startOwner(how);
      expect(owner.namespaces.length).toBe(5);
      expect(await owner.proc.exited).not.toBe(0);
      expectGone(owner.runId, owner.pids);
    });
  }

  test("sweepStaleLabs deletes the namespaces of a dead run and spares a live one", async () => {
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    const stale = `mnm-test-${dead.pid}-dead-mr`;
    const live = `mnm-test-${process.pid}-live-mr`;
    await mustRun(["ip", "netns", "add", stale]);
    await mustRun(["ip", "netns", "add", live]);
    try {
      const sleeper = Bun.spawn(["ip", "netns", "exec", stale, "sleep", "60"]);
      await Bun.sleep(100);
      expect(namespacePids(stale)).toContain(sleeper.pid);
      const swept = sweepStaleLabs("mnm");
      expect(swept).toContain(stale);
      expect(swept).not.toContain(live);
      expect(listNamespaces()).not.toContain(stale);
      expect(listNamespaces()).toContain(live);
      expect(await sleeper.exited).not.toBe(0);
    } finally {
      await mustRun(["ip", "netns", "del", live]);
    }
  });
});
