// `bun run bench:dataplane`: iperf3 TCP lan→cn through monami, the plain routed path and strongSwan's userspace ESP, in one lab run.
//
// Emulation off (plain veth). monami: router in mr, home agent in ha, raw ESP, AES-GCM-128. strongSwan 5.9.8 with
// kernel-libipsec between the same two namespaces (two charon instances, each with a private /run; libipsec only
// does ESP in UDP/4500, no ESN), AES-GCM-128. CPU per Gbit/s counts the two tunnel endpoints' processes.
// `--json` prints the same figures with a `headline`; `--seconds N` (default 10).

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Lab, LabProcess } from "../board/lab/lab.ts";
import { iperf3 } from "../board/lab/probes.ts";
import { ipv6Of } from "../board/lab/topology.ts";
import { startDataplaneLab } from "../test/lab/dataplane-harness.ts";

const TICKS_PER_SECOND = 100;

/** utime + stime of a process (all its threads), in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Busy time of the whole machine (all CPUs), in CPU-seconds. */
function systemBusySeconds(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / TICKS_PER_SECOND;
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export interface PathResult {
  readonly path: string;
  readonly mbps: number;
  readonly retransmits: number | undefined;
  /** CPU of the two tunnel endpoints (router + home agent, or the two charons), in cores. */
  readonly endpointCores: number | undefined;
  /** Busy cores of the whole machine during the run (iperf3, kernel, everything). */
  readonly systemCores: number;
  readonly endpointCoresPerGbps: number | undefined;
  readonly systemCoresPerGbps: number;
}

async function measure(lab: Lab, path: string, seconds: number, endpoints: readonly number[]): Promise<PathResult> {
  const cpu0 = endpoints.map(cpuSeconds);
  const sys0 = systemBusySeconds();
  const t0 = performance.now();
  const r = await iperf3(lab, { server: "cn", address: ipv6Of(lab.topology.correspondent), client: "lan", seconds });
  const elapsed = (performance.now() - t0) / 1000;
  const endpointCores = endpoints.length === 0 ? undefined : endpoints.reduce((sum, pid, i) => sum + cpuSeconds(pid) - cpu0[i]!, 0) / elapsed;
  const systemCores = (systemBusySeconds() - sys0) / elapsed;
  const gbps = r.bitsPerSecond / 1e9;
  return {
    path,
    mbps: r.bitsPerSecond / 1e6,
    retransmits: r.retransmits,
    endpointCores,
    systemCores,
    endpointCoresPerGbps: endpointCores === undefined ? undefined : endpointCores / gbps,
    systemCoresPerGbps: systemCores / gbps,
  };
}

// ---- strongSwan (kernel-libipsec) between mr and ha --------------------------------------------

interface Charon {
  readonly process: LabProcess;
  readonly vici: string;
  readonly dir: string;
}

function strongswanConf(dir: string): string {
  return `charon {
  load_modular = no
  load = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici updown
  install_routes = yes
  filelog {
    bench {
      path = ${dir}/charon.log
      default = 1
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
  plugins {
    vici {
      socket = unix://${dir}/charon.vici
    }
  }
}
swanctl {
  load = random nonce openssl pem pkcs1 x509 pubkey
}
`;
}

function swanctlConf(o: { local: string; remote: string; localTs: string; remoteTs: string; localId: string; remoteId: string }): string {
  return `connections {
  bench {
    version = 2
    local_addrs = ${o.local}
    remote_addrs = ${o.remote}
    proposals = aes128gcm16-prfsha256-ecp256
    mobike = no
    local {
      auth = psk
      id = ${o.localId}
    }
    remote {
      auth = psk
      id = ${o.remoteId}
    }
    children {
      net {
        mode = tunnel
        local_ts = ${o.localTs}
        remote_ts = ${o.remoteTs}
        esp_proposals = aes128gcm16
      }
    }
  }
}
secrets {
  ike-bench {
    id-mr = mr.bench
    id-ha = ha.bench
    secret = "bench-psk-0123456789abcdef"
  }
}
`;
}

async function startCharon(lab: Lab, node: "mr" | "ha", conf: Parameters<typeof swanctlConf>[0]): Promise<Charon> {
  const dir = join(lab.workDir, `charon-${node}`);
  mkdirSync(join(dir, "run"), { recursive: true });
  writeFileSync(join(dir, "strongswan.conf"), strongswanConf(dir));
  writeFileSync(join(dir, "swanctl.conf"), swanctlConf(conf));
  // A private /run per instance: charon's pid file is hard-coded; `ip netns exec` gives each its own mount namespace.
  const process = lab.spawn(node, ["sh", "-c", `mount --bind ${dir}/run /run && exec env STRONGSWAN_CONF=${dir}/strongswan.conf /usr/lib/ipsec/charon`]);
  void new Response(process.process.stdout).text();
  void new Response(process.process.stderr).text();
  const vici = `unix://${dir}/charon.vici`;
  for (let i = 0; i < 100; i++) {
    const r = await lab.exec(node, ["env", `STRONGSWAN_CONF=${dir}/strongswan.conf`, "swanctl", "--stats", "--uri", vici]);
    if (r.exitCode === 0) break;
    await Bun.sleep(50);
  }
  const load = await lab.exec(node, ["env", `STRONGSWAN_CONF=${dir}/strongswan.conf`, "swanctl", "--load-all", "--file", join(dir, "swanctl.conf"), "--uri", vici]);
  if (load.exitCode !== 0) throw new Error(`swanctl --load-all in ${node}: ${load.stderr}${load.stdout}`);
  return { process, vici, dir };
}

async function measureStrongswan(lab: Lab, seconds: number): Promise<PathResult> {
  const t = lab.topology;
  const mrAddress = ipv6Of(t.access.lte.router);
  const haAddress = ipv6Of(t.homeAgentHome);
  const ha = await startCharon(lab, "ha", { local: haAddress, remote: mrAddress, localTs: t.cnPrefix, remoteTs: t.mobileNetworkPrefix, localId: "ha.bench", remoteId: "mr.bench" });
  const mr = await startCharon(lab, "mr", { local: mrAddress, remote: haAddress, localTs: t.mobileNetworkPrefix, remoteTs: t.cnPrefix, localId: "mr.bench", remoteId: "ha.bench" });
  try {
    const up = await lab.exec("mr", ["env", `STRONGSWAN_CONF=${mr.dir}/strongswan.conf`, "swanctl", "-i", "--child", "net", "--uri", mr.vici]);
    if (up.exitCode !== 0) throw new Error(`strongSwan did not come up: ${up.stdout}${up.stderr}`);
    return await measure(lab, "strongSwan kernel-libipsec (ESP in UDP)", seconds, [mr.process.pid, ha.process.pid]);
  } finally {
    await mr.process.stop("SIGTERM", 5000);
    await ha.process.stop("SIGTERM", 5000);
  }
}

// ---- the run -------------------------------------------------------------------------------------

export interface DataplaneBench {
  readonly seconds: number;
  readonly rows: PathResult[];
  readonly routerPeakRssMB: number;
  readonly homeAgentPeakRssMB: number;
  readonly headline: { monamiMbps: number; strongswanMbps: number; plainMbps: number; routerPeakRssMB: number };
}

async function monamiRun(seconds: number, batchSize: number, offload: boolean, label: string): Promise<{ result: PathResult; routerRss: number; haRss: number; h: Awaited<ReturnType<typeof startDataplaneLab>> }> {
  const h = await startDataplaneLab({ tag: "h9dpbench", batchSize, offload });
  try {
    const result = await measure(h.lab, label, seconds, [h.router.pid, h.homeAgent.pid]);
    return { result, routerRss: peakRssMb(h.router.pid), haRss: peakRssMb(h.homeAgent.pid), h };
  } catch (e) {
    await h.destroy();
    throw e;
  }
}

export async function runDataplaneBench(seconds: number, log: (line: string) => void): Promise<DataplaneBench> {
  log("monami, batch 1, no large segments …");
  const unbatched = await monamiRun(seconds, 1, false, "monami, batch 1, no TSO/GRO");
  await unbatched.h.destroy();
  log("monami, batch 64, no large segments …");
  const batched = await monamiRun(seconds, 64, false, "monami, batch 64, no TSO/GRO");
  await batched.h.destroy();
  log("monami, batch 64, large segments …");
  const monami = await monamiRun(seconds, 64, true, "monami (batch 64, TSO/GRO on TUN)");
  const lab = monami.h.lab;
  try {
    await monami.h.router.stop("SIGTERM", 5000);
    await monami.h.homeAgent.stop("SIGTERM", 5000);
    log("plain routed path …");
    const plain = await measure(lab, "plain routed (no tunnel)", seconds, []);
    log("strongSwan …");
    const strongswan = await measureStrongswan(lab, seconds);
    const rows = [monami.result, batched.result, unbatched.result, strongswan, plain];
    return {
      seconds,
      rows,
      routerPeakRssMB: monami.routerRss,
      homeAgentPeakRssMB: monami.haRss,
      headline: { monamiMbps: monami.result.mbps, strongswanMbps: strongswan.mbps, plainMbps: plain.mbps, routerPeakRssMB: monami.routerRss },
    };
  } finally {
    await monami.h.destroy();
  }
}

function table(b: DataplaneBench): string {
  const f = (x: number | undefined, d = 2) => (x === undefined ? "–" : x.toFixed(d));
  const lines = [
    `iperf3 TCP lan → cn, ${b.seconds} s, emulation off, AES-GCM-128 (CPU in cores; per Gbit/s = cores / (Gbit/s))`,
    "| path                                     | Mbit/s | retrans | endpoint CPU | endpoint CPU/Gbit/s | system CPU | system CPU/Gbit/s |",
    "|------------------------------------------|--------|---------|--------------|---------------------|------------|-------------------|",
    ...b.rows.map(
      (r) =>
        `| ${r.path.padEnd(40)} | ${r.mbps.toFixed(0).padStart(6)} | ${String(r.retransmits ?? "–").padStart(7)} | ${f(r.endpointCores).padStart(12)} | ${f(r.endpointCoresPerGbps).padStart(19)} | ${f(r.systemCores).padStart(10)} | ${f(r.systemCoresPerGbps).padStart(17)} |`,
    ),
    "",
    `monami / strongSwan: ${(b.headline.monamiMbps / b.headline.strongswanMbps).toFixed(2)}×   router peak RSS ${b.routerPeakRssMB.toFixed(1)} MB   home agent peak RSS ${b.homeAgentPeakRssMB.toFixed(1)} MB`,
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Bun.argv.slice(2), options: { json: { type: "boolean" }, seconds: { type: "string" } } });
  if (process.getuid?.() !== 0) {
    console.error("bench:dataplane needs root (network namespaces, TUN, raw sockets)");
    process.exit(2);
  }
  const seconds = Number(values.seconds ?? 10);
  const result = await runDataplaneBench(seconds, (line) => console.error(`[bench] ${line}`));
  console.log(values.json ? JSON.stringify(result, null, 2) : table(result));
}
