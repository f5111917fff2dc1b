// Lab harness for the data plane: the lab with emulation off and both daemons on static lab keys (board/lab/role-daemons.ts starts them), torn down always.

import { createLab, type Lab, type LabOptions, type LabProcess } from "../../board/lab/lab.ts";
import { LAB_HOME_ADDRESS as HOME_ADDRESS, LAB_KEYS, startRoleDaemons } from "../../board/lab/role-daemons.ts";
import { ipv6Of } from "../../board/lab/topology.ts";
import type { LoopPlacement } from "../../firmware/dataplane/dataplane-handle.ts";

export { HOME_ADDRESS, LAB_KEYS };

export interface DataplaneLab {
  readonly lab: Lab;
  readonly router: LabProcess;
  readonly homeAgent: LabProcess;
  readonly routerControl: string;
  readonly homeAgentControl: string;
  readonly homeAgentAddress: string;
  /** Everything both daemons wrote on stderr so far. */
  readonly logs: string[];
  routerCommand(command: string): Promise<Record<string, unknown>>;
  homeAgentCommand(command: string): Promise<Record<string, unknown>>;
  /** Waits until the home agent's binding table steers towards `careOfAddress` (its first entry's chosen CoA). */
  waitForBinding(careOfAddress: string, timeoutMs?: number): Promise<void>;
  destroy(): Promise<void>;
}

export interface DataplaneLabOptions {
  readonly tag: string;
  readonly placement?: LoopPlacement;
  readonly batchSize?: number;
  /** Large segments across the tunnel interfaces (vnet header + TSO); default true. */
  readonly offload?: boolean;
  /** The uplink MTUs the router is told (its inner MTU per uplink follows). Default 1500 each. */
  readonly uplinkMtus?: { readonly lte?: number; readonly wifi?: number };
  readonly labOptions?: LabOptions;
  readonly log?: (line: string) => void;
}

/** The lab with both daemons running and the router registered over LTE (emulation off: plain veth). */
export async function startDataplaneLab(options: DataplaneLabOptions): Promise<DataplaneLab> {
  const lab = await createLab({ tag: options.tag, profiles: { lte: "off", wifi: "off" }, ...options.labOptions });
  try {
    const d = await startRoleDaemons(lab, {
      ...(options.placement !== undefined ? { placement: options.placement } : {}),
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      ...(options.offload !== undefined ? { offload: options.offload } : {}),
      ...(options.uplinkMtus !== undefined ? { uplinkMtus: options.uplinkMtus } : {}),
      ...(options.log !== undefined ? { log: options.log } : {}),
    });
    const harness: DataplaneLab = {
      lab,
      router: d.router,
      homeAgent: d.homeAgent,
      routerControl: d.routerControl,
      homeAgentControl: d.homeAgentControl,
      homeAgentAddress: d.homeAgentAddress,
      logs: d.logs,
      routerCommand: d.routerCommand,
      homeAgentCommand: d.homeAgentCommand,
      async waitForBinding(careOfAddress, timeoutMs = 10_000) {
        const deadline = performance.now() + timeoutMs;
        for (;;) {
          const status = await d.homeAgentCommand("status");
          const table = (status.table ?? []) as { careOfAddresses: string[] }[];
          if (table.length > 0 && table[0]!.careOfAddresses[0] === careOfAddress) return;
          if (performance.now() > deadline) throw new Error(`no binding to ${careOfAddress}: ${JSON.stringify(status)}\n${d.logs.join("\n")}`);
          await Bun.sleep(50);
        }
      },
      async destroy() {
        await d.stop();
        await lab.destroy();
      },
    };
    await harness.waitForBinding(ipv6Of(lab.topology.access.lte.router));
    return harness;
  } catch (e) {
    await lab.destroy();
    throw e;
  }
}
