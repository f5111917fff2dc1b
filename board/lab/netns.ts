// Network-namespace control for the lab: run commands (in a namespace or in batches), list, kill and delete, sweep.
//
// Everything goes through iproute2 (`ip netns`, `ip -n <ns> -batch -`), so the lab needs no netlink code.

import { readFileSync } from "node:fs";

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion and collects its output; never throws for a non-zero exit. */
export async function run(argv: readonly string[], input?: string): Promise<CommandResult> {
  const proc = Bun.spawn([...argv], {
    stdin: input === undefined ? "ignore" : new TextEncoder().encode(input),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { exitCode, stdout, stderr };
}

/** The synchronous twin of `run`, for teardown paths that cannot wait (process exit, signals). */
export function runSync(argv: readonly string[]): CommandResult {
  const r = Bun.spawnSync([...argv], { stdout: "pipe", stderr: "pipe" });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Runs a command and throws with its stderr when it fails: for setup steps that must succeed. */
export async function mustRun(argv: readonly string[], input?: string): Promise<string> {
  const r = await run(argv, input);
  if (r.exitCode !== 0) {
    const shown = input === undefined ? "" : `\n--- input ---\n${input}`;
    throw new Error(`${argv.join(" ")} failed (${r.exitCode}): ${r.stderr.trim()}${shown}`);
  }
  return r.stdout;
}

/** argv that runs `argv` inside namespace `ns` (`ip netns exec` execs it, so the pid is the command's own). */
export function inNamespace(ns: string, argv: readonly string[]): string[] {
  return ["ip", "netns", "exec", ns, ...argv];
}

/**
 * Runs iproute2 commands (one per line, without the leading `ip`) in one process inside `ns`. Batch lines
 * take no options, so `family` selects `ip -4`/`ip -6` for the whole batch (rules and device routes need it).
 */
export async function ipBatch(ns: string, commands: readonly string[], family?: 4 | 6): Promise<void> {
  if (commands.length === 0) return;
  const argv = ["ip", ...(family === undefined ? [] : [`-${family}`]), "-n", ns, "-batch", "-"];
  await mustRun(argv, `${commands.join("\n")}\n`);
}

export async function setSysctls(ns: string, values: Readonly<Record<string, string | number>>): Promise<void> {
  const args = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  await mustRun(inNamespace(ns, ["sysctl", "-q", "-w", ...args]));
}

export function listNamespaces(): string[] {
  const r = runSync(["ip", "-j", "netns", "list"]);
  if (r.exitCode !== 0 || r.stdout.trim() === "") return [];
  try {
    const entries = JSON.parse(r.stdout) as { name?: unknown }[];
    return entries.map((e) => e.name).filter((n): n is string => typeof n === "string");
  } catch {
    return [];
  }
}

/** Pids of every process whose network namespace is `ns`. */
export function namespacePids(ns: string): number[] {
  const r = runSync(["ip", "netns", "pids", ns]);
  if (r.exitCode !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** Whether `pid` is a running process (a zombie waiting to be reaped counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as { code?: string }).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Sends `signal` to each pid, ignoring ones already gone. */
export function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already exited
    }
  }
}

/** Waits (synchronously) until none of `pids` is alive or `timeoutMs` passed; returns the survivors. */
export function waitGoneSync(pids: readonly number[], timeoutMs: number): number[] {
  const deadline = performance.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && performance.now() < deadline) {
    Bun.sleepSync(20);
    alive = alive.filter(isAlive);
  }
  return alive;
}

/**
 * Stops every process inside the namespaces (SIGTERM, then SIGKILL after `graceMs`) and deletes them.
 * Deleting a namespace also deletes its veth ends and TUN devices. Idempotent; synchronous on purpose.
 */
export function deleteNamespacesSync(names: readonly string[], graceMs = 1000): void {
  const pids = names.flatMap(namespacePids);
  signalAll(pids, "SIGTERM");
  const survivors = waitGoneSync(pids, graceMs);
  signalAll(survivors, "SIGKILL");
  waitGoneSync(survivors, 1000);
  const existing = new Set(listNamespaces());
  for (const name of names) if (existing.has(name)) runSync(["ip", "netns", "del", name]);
}

const RUN_ID = /^([a-z0-9]+)-([a-z0-9]+)-(\d+)-([a-z0-9]+)$/;

/** A lab run id: `<prefix>-<tag>-<pid>-<random>`; prefix and tag are lowercase alphanumerics. */
export function makeRunId(prefix: string, tag: string, pid: number, random: string): string {
  const id = `${prefix}-${tag}-${pid}-${random}`;
  if (!RUN_ID.test(id)) throw new Error(`bad lab run id ${id}: prefix and tag must be [a-z0-9]+`);
  return id;
}

/** The owning pid of a namespace named `<runId>-<node>` with this prefix, or undefined if it is not one of ours. */
export function ownerPid(namespace: string, prefix: string): number | undefined {
  const cut = namespace.lastIndexOf("-");
  if (cut < 0) return undefined;
  const m = RUN_ID.exec(namespace.slice(0, cut));
  if (!m || m[1] !== prefix) return undefined;
  return Number(m[3]);
}

/**
 * Deletes the namespaces (and their processes) left by lab runs whose process is gone, so a crashed run never
 * blocks the next. Namespaces of live runs are left alone. Returns the names deleted.
 */
export function sweepStaleLabs(prefix: string): string[] {
  const stale = listNamespaces().filter((name) => {
    const pid = ownerPid(name, prefix);
    return pid !== undefined && pid !== process.pid && !isAlive(pid);
  });
  if (stale.length > 0) deleteNamespacesSync(stale);
  return stale;
}
