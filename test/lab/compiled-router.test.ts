// The compiled x64 binary (`bun run build`'s compile step, the packet-loop Worker inside) runs `monami router` and `monami homeagent`: lan → cn ping over ESP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireRoot } from "../../board/lab/lab.ts";
import { ping } from "../../board/lab/probes.ts";
import { ipv6Of } from "../../board/lab/topology.ts";
import { compile } from "../../scripts/build.ts";
import { type RouterLab, startRouterLab } from "./router-lab.ts";

const canRun = requireRoot("compiled router lab") && process.arch === "x64";

describe.skipIf(!canRun)("compiled binary in the lab", () => {
  let out: string;
  let binary: string;
  let h: RouterLab | undefined;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), "monami-h13-build-"));
    binary = join(out, "monami-linux-x64");
    compile("x64", binary, "h13-lab-test", true);
    h = await startRouterLab({ tag: "h13bin", monami: [binary] });
  }, 90_000);

  afterAll(async () => {
    await h?.destroy();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  test("the binary carries its build id", async () => {
    expect(statSync(binary).size).toBeGreaterThan(10 * 1024 * 1024);
    const proc = Bun.spawn([binary, "--version"], { stdout: "pipe" });
    expect(await new Response(proc.stdout).text()).toContain("h13-lab-test");
    expect(await proc.exited).toBe(0);
  });

  test("router and home agent from the binary: the packet loop runs in its Worker and lan → cn pings pass over ESP", async () => {
    const status = await h!.routerCommand("status");
    expect(status.placement).toBe("worker");
    const cn = ipv6Of(h!.lab.topology.correspondent);
    const result = await ping(h!.lab, "lan", cn, { count: 5 });
    expect(result.received).toBe(5);
    const counters = await h!.routerCommand("counters");
    expect(Number(counters["esp.tx.packets"])).toBeGreaterThanOrEqual(5);
    expect(Number(counters["esp.rx.packets"])).toBeGreaterThanOrEqual(5);
  });
});
