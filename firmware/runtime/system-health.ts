// System health for telemetry: firmware version and slot, uptime, CPU share since the last call, memory.

import { freemem, totalmem } from "node:os";
import type { SlotName } from "../../board/api/board.ts";
import type { SystemHealth } from "../fleet/telemetry.ts";

let last: { at: number; cpu: NodeJS.CpuUsage } | undefined;

/** CPU is this process's share of one core since the previous call (undefined on the first). */
export function systemHealth(firmwareVersion: string, slot: SlotName | undefined): SystemHealth & { readonly rssBytes: number } {
  const at = performance.now();
  const cpu = process.cpuUsage();
  let cpuPercent: number | undefined;
  if (last !== undefined && at > last.at) {
    const usedUs = cpu.user - last.cpu.user + (cpu.system - last.cpu.system);
    cpuPercent = Math.round((usedUs / 1000 / (at - last.at)) * 1000) / 10;
  }
  last = { at, cpu };
  const total = totalmem();
  return {
    firmwareVersion,
    ...(slot !== undefined ? { slot } : {}),
    uptimeSeconds: Math.round(process.uptime()),
    ...(cpuPercent !== undefined ? { cpuPercent } : {}),
    memoryUsedBytes: total - freemem(),
    memoryTotalBytes: total,
    rssBytes: process.memoryUsage.rss(),
  };
}
