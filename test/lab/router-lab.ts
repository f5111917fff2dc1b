// Lab harness for the router as a device (`primary` design): any `monami` command (bun + main.ts, or the compiled binary), an optional device config; board/lab/role-daemons.ts starts the daemons; always torn down.

import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { createLab, type Lab, type LabProcess } from "../../board/lab/lab.ts";
import { bunExecutable as labBun, MONAMI_FROM_SOURCES, startRoleDaemons } from "../../board/lab/role-daemons.ts";
import type { AccessLinkName } from "../../board/lab/topology.ts";

export const MAIN = resolve(import.meta.dir, "../../firmware/main.ts");
export const bunExecutable = labBun();

export interface RouterLab {
  readonly lab: Lab;
  readonly dir: string;
  readonly router: LabProcess;
  readonly homeAgent: LabProcess;
  readonly routerControl: string;
  readonly homeAgentAddress: string;
  readonly logs: string[];
  routerCommand(command: string): Promise<Record<string, unknown>>;
  homeAgentCommand(command: string): Promise<Record<string, unknown>>;
  /** Polls the router's `status` until `match` holds (or throws with the logs after `timeoutMs`). */
  waitForStatus(match: (s: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>>;
  destroy(): Promise<void>;
}

export interface RouterLabOptions {
  /** Lab tag (lower-case alphanumerics); the namespaces are `mnm-<tag>-<pid>-<random>-<node>`. */
  readonly tag: string;
  /** The program to run: `[bun, MAIN]` (default) or a compiled binary. */
  readonly monami?: readonly string[];
  /** Writes the device config (if any) into `dir` and returns its path; it is added to the router's config. */
  readonly device?: (lab: Lab, dir: string) => string;
  /** Environment for the router (e.g. MONAMI_BOARD), given the lab's scratch directory. */
  readonly routerEnv?: (dir: string) => Readonly<Record<string, string>>;
  /** Started in the router's namespace before the router (e.g. the MQTT relay); stopped at teardown. */
  readonly beforeRouter?: (lab: Lab, dir: string) => Promise<void>;
  readonly log?: (line: string) => void;
  /** How the SAs are keyed: the lab's static keys (default) or IKEv2 with a PSK (both daemons' `ike` sections). */
  readonly security?: "static" | "ikev2";
}

/** The lab (emulator on plain pass-through), the home agent and the router (`primary` design) running, the router registered. */
export async function startRouterLab(o: RouterLabOptions): Promise<RouterLab> {
  const lab = await createLab({ tag: o.tag, profiles: { lte: "off", wifi: "off" } });
  try {
    const dir = lab.workDir;
    mkdirSync(dir, { recursive: true });
    const device = o.device?.(lab, dir);
    const primary = (ipsec: unknown) => ({ ...(ipsec as Record<string, unknown>), multiCoaMode: "primary" });
    const d = await startRoleDaemons(lab, {
      security: o.security ?? "static",
      command: o.monami ?? MONAMI_FROM_SOURCES,
      readyTimeoutMs: 30_000,
      registered: "any",
      routerEnv: o.routerEnv?.(dir) ?? {},
      ...(o.beforeRouter ? { beforeRouter: () => o.beforeRouter!(lab, dir) } : {}),
      ...(o.log ? { log: o.log } : {}),
      routerConfig: (c) => ({ ...c, ipsec: primary(c.ipsec), ...(device ? { device } : {}) }),
      homeAgentConfig: (c) => ({
        ...c,
        mobileRouters: (c.mobileRouters as Record<string, unknown>[]).map((r) => ({ ...r, ipsec: primary(r.ipsec) })),
      }),
    });
    const harness: RouterLab = {
      lab,
      dir,
      router: d.router,
      homeAgent: d.homeAgent,
      routerControl: d.routerControl,
      homeAgentAddress: d.homeAgentAddress,
      logs: d.logs,
      routerCommand: d.routerCommand,
      homeAgentCommand: d.homeAgentCommand,
      async waitForStatus(match, timeoutMs, what) {
        const deadline = performance.now() + timeoutMs;
        for (;;) {
          const status = await d.routerCommand("status");
          if (match(status)) return status;
          if (performance.now() > deadline) throw new Error(`router: no ${what} within ${timeoutMs} ms: ${JSON.stringify(status).slice(0, 3000)}\n${d.logs.slice(-60).join("\n")}`);
          await Bun.sleep(100);
        }
      },
      async destroy() {
        await d.stop();
        await lab.destroy();
      },
    };
    return harness;
  } catch (e) {
    await lab.destroy();
    throw e;
  }
}

type Json = Record<string, unknown>;
/** One of the router's decision records (`status.decisions`). */
export type Decision = { at: number; kind: string; from?: string; to: string; rule: string; reason: string };

/** The link engine's primary in a router `status`. */
export const primaryOf = (s: Json) => (s.links as Json[]).find((l) => l.primary === true)?.id as AccessLinkName | undefined;
export const otherOf = (id: AccessLinkName): AccessLinkName => (id === "lte" ? "wifi" : "lte");

/**
 * Once both links answer and traffic is on the primary, blackholes the primary and waits (10 s) until traffic is on
 * the other link; returns the engine's down verdict on the primary and the handover since the cut. The caller
 * restores the primary (`h.lab.restore(primary)`); if the wait fails the link is restored here.
 */
export async function blackholePrimary(h: RouterLab): Promise<{ primary: AccessLinkName; other: AccessLinkName; cutAt: number; down: Decision | undefined; handover: Decision | undefined }> {
  const s0 = await h.waitForStatus((s) => (s.links as Json[]).every((l) => l.up === true) && primaryOf(s) !== undefined && s.activeUplink === primaryOf(s), 20_000, "both links up, traffic on the primary");
  const primary = primaryOf(s0)!;
  const other = otherOf(primary);
  const cutAt = Date.now();
  await h.lab.cut(primary, "blackhole");
  try {
    const moved = await h.waitForStatus((s) => s.activeUplink === other, 10_000, `move to ${other}`);
    const decisions = moved.decisions as Decision[];
    const down = decisions.find((d) => d.at >= cutAt - 50 && new RegExp(`^${primary} (up|degraded) → down`).test(d.reason));
    const handover = decisions.find((d) => d.at >= cutAt - 50 && d.kind === "handover" && d.from === primary && d.to === other);
    return { primary, other, cutAt, down, handover };
  } catch (e) {
    await h.lab.restore(primary);
    throw e;
  }
}
