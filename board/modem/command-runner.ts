// The real CommandRunner: runs a metrics tool (mmcli, qmicli, iw) with a timeout and the C locale.

import type { CommandOutput, CommandRunner } from "../api/link-metrics.ts";

/** After the kill at the timeout, output is awaited this much longer, then given up on. */
const KILL_GRACE_MS = 200;

/**
 * Runs `argv` in a process group of its own (`setsid`), so a timeout kills the tool and whatever it
 * started (a wrapper script's children would otherwise hold the output pipes open and the call would
 * last as long as they do). Resolves within `timeoutMs` + a short grace whatever the tool does.
 */
export const processRunner: CommandRunner = {
  async run(argv: readonly string[], timeoutMs: number): Promise<CommandOutput> {
    let child: ReturnType<typeof Bun.spawn>;
    try {
      child = Bun.spawn([...argv], {
        stdout: "pipe",
        stderr: "pipe",
        stdin: "ignore",
        detached: true,
        env: { ...process.env, LC_ALL: "C", LANG: "C" },
      });
    } catch (e) {
      return { exitCode: undefined, stdout: "", stderr: e instanceof Error ? e.message : String(e), timedOut: false };
    }
    const stdout = drain(child.stdout as ReadableStream<Uint8Array>);
    const stderr = drain(child.stderr as ReadableStream<Uint8Array>);
    const finished = Promise.all([stdout.done, stderr.done, child.exited]).then(() => "finished" as const);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      if ((await Promise.race([finished, deadline])) === "finished") {
        return { exitCode: await child.exited, stdout: stdout.text(), stderr: stderr.text(), timedOut: false };
      }
      killGroup(child);
      await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, KILL_GRACE_MS))]);
      stdout.cancel();
      stderr.cancel();
      return { exitCode: undefined, stdout: stdout.text(), stderr: stderr.text(), timedOut: true };
    } finally {
      clearTimeout(timer);
    }
  },
};

function killGroup(child: ReturnType<typeof Bun.spawn>): void {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // The group is gone already (or was never made): the tool itself still gets the signal.
    child.kill("SIGKILL");
  }
}

/** Reads a pipe to the end in the background; what arrived so far is available at any time. */
function drain(stream: ReadableStream<Uint8Array>): { readonly done: Promise<void>; text(): string; cancel(): void } {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const done = (async () => {
    try {
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        text += decoder.decode(value, { stream: true });
      }
      text += decoder.decode();
    } catch {
      // Cancelled after a timeout, or the pipe broke: keep what arrived.
    }
  })();
  return {
    done,
    text: () => text,
    cancel: () => void reader.cancel().catch(() => undefined),
  };
}
