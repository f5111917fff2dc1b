// The real CommandRunner: runs a metrics tool (mmcli, qmicli, iw) with a timeout and the C locale.

import type { CommandOutput, CommandRunner } from "../api/link-metrics.ts";

export const processRunner: CommandRunner = {
  async run(argv: readonly string[], timeoutMs: number): Promise<CommandOutput> {
    let child: ReturnType<typeof Bun.spawn>;
    try {
      child = Bun.spawn([...argv], {
        stdout: "pipe",
        stderr: "pipe",
        stdin: "ignore",
        env: { ...process.env, LC_ALL: "C", LANG: "C" },
      });
    } catch (e) {
      return { exitCode: undefined, stdout: "", stderr: e instanceof Error ? e.message : String(e), timedOut: false };
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    try {
      const [stdout, stderr, exitCode] = await Promise.all([
        new Response(child.stdout as ReadableStream).text(),
        new Response(child.stderr as ReadableStream).text(),
        child.exited,
      ]);
      return { exitCode: timedOut ? undefined : exitCode, stdout, stderr, timedOut };
    } finally {
      clearTimeout(timer);
    }
  },
};
