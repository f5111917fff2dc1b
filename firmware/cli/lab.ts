// `monami lab`: bring the network-namespace lab up (foreground), check it, measure the emulator, or clean up.

import { parseArgs } from "node:util";
import { createLab, DEFAULT_PREFIX, type Lab } from "../../board/lab/lab.ts";
import { isAlive, listNamespaces, ownerPid, signalAll, sweepStaleLabs, deleteNamespacesSync } from "../../board/lab/netns.ts";
import { iperf3 } from "../../board/lab/probes.ts";
import { describePath, LINK_PROFILES } from "../../board/lab/profiles.ts";
import { runSmoke } from "../../board/lab/smoke.ts";
import { ACCESS_LINKS, cidr, type LabInterface } from "../../board/lab/topology.ts";
import { ExitCode } from "./command.ts";

const USAGE = `usage: monami lab <up|smoke|perf|down|sweep> [options]

  up      build the lab and stay in the foreground until Ctrl-C (then tear it down)
  smoke   build the lab, check RTT per access network, shaping, loss and NAT44, tear down
  perf    build the lab, measure the link emulator's throughput and CPU (UDP, 1400-byte datagrams)
  down    stop running labs (signal their owner) and delete every lab namespace left
  sweep   delete only the namespaces of labs whose process is gone

options:
  --tag <name>   namespace tag (default: $MONAMI_LAB_TAG or 'lab')
  -v, --verbose  print the lab's progress
  -h, --help     show this help`;

function describe(lab: Lab): string[] {
  const t = lab.topology;
  const addr = (i: LabInterface) =>
    `${i.name} ${[i.ipv6, i.ipv4].flatMap((a) => (a ? [cidr(a)] : [])).join(" ")}`;
  const lines = [`lab ${t.runId}`, "namespaces:"];
  for (const [node, ns] of Object.entries(t.namespaces)) lines.push(`  ${node.padEnd(4)} ${ns}`);
  lines.push("access networks:");
  for (const name of ACCESS_LINKS) {
    const a = t.access[name];
    lines.push(`  ${name.padEnd(4)} mr ${addr(a.router)}  ←→  net ${addr(a.gateway)}  (${describePath(LINK_PROFILES[name].uplink)})`);
  }
  lines.push(
    `mobile network ${t.mobileNetworkPrefix}: mr ${addr(t.mobileRouterLan)}, lan ${addr(t.lanHost)}`,
    `core: net ${addr(t.coreNet)}  ←→  ha ${addr(t.coreHomeAgent)}`,
    `home link ${t.homePrefix}: ha ${addr(t.homeAgentHome)}`,
    `correspondent ${t.cnPrefix}: ha ${addr(t.homeAgentCn)}, cn ${addr(t.correspondent)}`,
    `run a command: ip netns exec ${t.namespaces.lan} ping ${t.correspondent.ipv6?.address}`,
  );
  return lines;
}

/** The emulator's counters as one row per link direction. */
function counterTable(counters: Readonly<Record<string, number>>): string[] {
  const columns = ["rx.packets", "tx.packets", "tx.bytes", "drop.loss", "drop.queue", "drop.cut", "drop.pool", "reordered"];
  const lines = [`link emulator counters:\n  ${"".padEnd(14)}${columns.map((c) => c.padStart(12)).join("")}`];
  for (const link of ACCESS_LINKS) {
    for (const direction of ["uplink", "downlink"]) {
      const cells = columns.map((c) => String(counters[`${link}.${direction}.${c}`] ?? 0).padStart(12));
      lines.push(`  ${`${link} ${direction}`.padEnd(14)}${cells.join("")}`);
    }
  }
  return lines;
}

async function up(lab: Lab): Promise<number> {
  for (const line of describe(lab)) console.log(line);
  console.log("lab is up; Ctrl-C tears it down");
  // The lab's own SIGINT/SIGTERM handlers tear it down and exit; until then keep the process alive.
  setInterval(() => {}, 1 << 30);
  await new Promise<never>(() => {});
  return ExitCode.ok;
}

async function smoke(lab: Lab): Promise<number> {
  for (const line of describe(lab)) console.log(line);
  const checks = await runSmoke(lab, (line) => console.log(line));
  const c = await lab.emulatorCounters();
  for (const line of counterTable(c.counters)) console.log(line);
  const cpu = (c.cpuUserMicros + c.cpuSystemMicros) / 1000;
  console.log(`link emulator CPU: ${cpu.toFixed(0)} ms in ${(c.uptimeMs / 1000).toFixed(1)} s (${((cpu / c.uptimeMs) * 100).toFixed(1)} % of one core)`);
  const failed = checks.filter((ch) => !ch.ok);
  console.log(failed.length === 0 ? `smoke: all ${checks.length} checks passed` : `smoke: ${failed.length} of ${checks.length} checks FAILED`);
  return failed.length === 0 ? ExitCode.ok : ExitCode.failure;
}

async function perf(lab: Lab): Promise<number> {
  const cn = lab.topology.correspondent.ipv6?.address ?? "";
  await lab.useUplink("wifi");
  await lab.setProfile("wifi", "ideal");
  console.log("link emulator throughput, profile 'ideal' on wifi, iperf3 UDP lan→cn, 1400-byte datagrams:");
  for (const rate of [100e6, 200e6, 400e6]) {
    const before = await lab.emulatorCounters();
    const start = performance.now();
    const r = await iperf3(lab, { server: "cn", address: cn, client: "lan", seconds: 3, udp: { bitsPerSecond: rate, lengthBytes: 1400 } });
    const after = await lab.emulatorCounters();
    const cpuMs = (after.cpuUserMicros + after.cpuSystemMicros - before.cpuUserMicros - before.cpuSystemMicros) / 1000;
    const cpu = (cpuMs / (performance.now() - start)) * 100;
    console.log(
      `  offered ${(rate / 1e6).toFixed(0)} Mbit/s: received ${(r.bitsPerSecond / 1e6).toFixed(1)} Mbit/s, ` +
        `lost ${(r.lostPercent ?? 0).toFixed(2)} %, emulator CPU ${cpu.toFixed(0)} % of one core`,
    );
  }
  const tcp = await iperf3(lab, { server: "cn", address: cn, client: "lan", seconds: 3 });
  console.log(`  TCP through the emulator: ${(tcp.bitsPerSecond / 1e6).toFixed(0)} Mbit/s`);
  await lab.setProfile("wifi", "off");
  const plain = await iperf3(lab, { server: "cn", address: cn, client: "lan", seconds: 3 });
  console.log(`  TCP with profile 'off' (kernel forwarding only): ${(plain.bitsPerSecond / 1e6).toFixed(0)} Mbit/s`);
  return ExitCode.ok;
}

/** Stops labs whose owner is alive (it tears its own down), then deletes whatever namespaces remain. */
async function down(prefix: string): Promise<number> {
  const ours = listNamespaces().filter((ns) => ownerPid(ns, prefix) !== undefined);
  const owners = [...new Set(ours.map((ns) => ownerPid(ns, prefix)!))].filter((pid) => pid !== process.pid && isAlive(pid));
  signalAll(owners, "SIGTERM");
  const deadline = performance.now() + 5000;
  while (owners.some(isAlive) && performance.now() < deadline) await Bun.sleep(50);
  const left = listNamespaces().filter((ns) => ownerPid(ns, prefix) !== undefined);
  deleteNamespacesSync(left);
  console.log(`stopped ${owners.length} lab process(es), deleted ${left.length} leftover namespace(s)`);
  return ExitCode.ok;
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      tag: { type: "string" },
      verbose: { type: "boolean", short: "v" },
      help: { type: "boolean", short: "h" },
    },
  });
  const action = positionals[0];
  if (values.help || action === undefined) {
    console.log(USAGE);
    return values.help ? ExitCode.ok : ExitCode.usage;
  }
  if (process.getuid?.() !== 0) {
    console.error("monami lab: needs root (network namespaces, TUN devices, nftables)");
    return ExitCode.failure;
  }
  switch (action) {
    case "down":
      return down(DEFAULT_PREFIX);
    case "sweep": {
      const swept = sweepStaleLabs(DEFAULT_PREFIX);
      console.log(swept.length === 0 ? "no stale lab namespaces" : `deleted ${swept.join(" ")}`);
      return ExitCode.ok;
    }
    case "up":
    case "smoke":
    case "perf": {
      const lab = await createLab({
        ...(values.tag === undefined ? {} : { tag: values.tag }),
        ...(values.verbose ? { log: (line: string) => console.log(`[lab] ${line}`) } : {}),
      });
      try {
        if (action === "up") return await up(lab);
        return action === "smoke" ? await smoke(lab) : await perf(lab);
      } finally {
        await lab.destroy();
      }
    }
    default:
      console.error(`monami lab: unknown action '${action}'\n\n${USAGE}`);
      return ExitCode.usage;
  }
}
