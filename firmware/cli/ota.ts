// `monami ota status | install IMAGE | mark-good`: the device's A/B and OTA state, and the technician's local install and confirm.

import { parseArgs } from "node:util";
import { formatBoardSelectionError, selectBoard, slotNames, type BoardDefinition } from "../../board/api/board.ts";
import { knownBoards, probeBoard } from "../../board/boards/index.ts";
import { OtaJobStateStore, type OtaRecord } from "../../ota/download/job-state.ts";
import { loadPublicKeys } from "../../ota/cli/keys.ts";
import { formatBytes, formatProgressLine } from "../../ota/cli/progress.ts";
import { commitTrial } from "../../ota/install/boot-cycle.ts";
import { installImage } from "../../ota/install/installer.ts";
import { fileChunks } from "../../ota/io/file-chunks.ts";
import type { BootState } from "../../ota/slots/boot-state.ts";
import type { BootStateStore } from "../../ota/slots/boot-state-store.ts";
import { FileBootStateStore } from "../../ota/slots/file-boot-state.ts";
import { UbootEnvStore } from "../../ota/slots/uboot-env.ts";
import { formatRefusal } from "../../ota/verify/refusal.ts";
import { readImageHead } from "../../ota/verify/verify-image.ts";
import { ExitCode } from "./command.ts";

const DEFAULT_STATE_DIR = "/var/lib/monami/ota";
const DEFAULT_PUBKEY = "/etc/monami/ota-signing.pub";

const USAGE = `usage: monami ota status [--state-dir DIR] [--json]
       monami ota install IMAGE [--pubkey PUB ...]
       monami ota mark-good

status     the A/B slots (booted, boot order, attempts left, trial), the version in each slot, and the
           OTA job in progress or the last outcome (from the OTA state directory, default ${DEFAULT_STATE_DIR})
install    technician: verify IMAGE against the fleet key(s) (default ${DEFAULT_PUBKEY}) and the board,
           write it into the inactive slot, read it back, and mark that slot to be tried once at the next boot
mark-good  technician: confirm the running trial slot now (what the health gate does on its own)

The board is the one the firmware runs on (MONAMI_BOARD or the device tree).`;

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case "status":
        return await status(rest);
      case "install":
        return await install(rest);
      case "mark-good":
        return await markGood(rest);
      case undefined:
      case "-h":
      case "--help":
        console.log(USAGE);
        return sub === undefined ? ExitCode.usage : ExitCode.ok;
      default:
        console.error(`monami ota: unknown subcommand '${sub}'\n\n${USAGE}`);
        return ExitCode.usage;
    }
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`monami ota: ${(error as Error).message}\n\n${USAGE}`);
      return ExitCode.usage;
    }
    throw error;
  }
}

function board(): BoardDefinition | undefined {
  const selected = selectBoard(knownBoards(), probeBoard());
  if (selected.ok) return selected.value;
  console.error(`monami ota: ${formatBoardSelectionError(selected.error)}`);
  return undefined;
}

export function bootStateStoreFor(b: BoardDefinition): BootStateStore {
  return b.bootSelection.kind === "file" ? new FileBootStateStore(b.bootSelection.path) : new UbootEnvStore({ configFile: b.bootSelection.configFile });
}

export interface OtaStatusReport {
  readonly board: string;
  readonly booted: string | null;
  readonly bootState: BootState | null;
  readonly bootStateError?: string;
  readonly slots: Record<string, { readonly device: string; readonly version: string | null; readonly securityVersion: number | null }>;
  readonly ota: OtaRecord | null;
  readonly otaError?: string;
}

export async function gatherStatus(b: BoardDefinition, store: BootStateStore, stateDir: string): Promise<OtaStatusReport> {
  const [state, booted] = [await store.read(), await store.bootedSlot()];
  const slots: Record<string, { device: string; version: string | null; securityVersion: number | null }> = {};
  for (const slot of slotNames) {
    const head = await readImageHead(b.slots[slot].device);
    slots[slot] = { device: b.slots[slot].device, version: head.ok ? head.value.manifest.version : null, securityVersion: head.ok ? head.value.manifest.securityVersion : null };
  }
  const record = new OtaJobStateStore(stateDir).read();
  return {
    board: b.name,
    booted: booted.ok ? booted.value : null,
    bootState: state.ok ? state.value : null,
    ...(state.ok ? {} : { bootStateError: state.error }),
    slots,
    ota: record.ok ? record.value : null,
    ...(record.ok ? {} : { otaError: record.error }),
  };
}

export function formatOtaStatus(r: OtaStatusReport): string {
  const out = [`board ${r.board}, booted from slot ${r.booted?.toUpperCase() ?? "?"}`];
  if (r.bootState) {
    out.push(`boot order ${r.bootState.order.map((s) => s.toUpperCase()).join(" ")}, attempts left A=${r.bootState.left.a} B=${r.bootState.left.b}${r.bootState.trial ? `, slot ${r.bootState.trial.toUpperCase()} ON TRIAL (not yet confirmed)` : ""}`);
  } else out.push(`boot state unreadable: ${r.bootStateError ?? "?"}`);
  for (const [slot, s] of Object.entries(r.slots)) out.push(`  slot ${slot.toUpperCase()}: ${s.version ?? "(no image)"}${s.securityVersion !== null ? ` (security version ${s.securityVersion})` : ""}  ${s.device}`);
  const current = r.ota?.current;
  if (current) {
    const job = current.job;
    out.push(
      current.phase === "downloading"
        ? `ota job ${job.jobId}: downloading ${job.version}, ${formatBytes(current.offset)} of ${formatBytes(job.size)} stored (${Math.floor((current.offset * 100) / job.size)} %), ${formatBytes(current.meteredBytes)} over metered links`
        : `ota job ${job.jobId}: ${job.version} installed in slot ${current.slot?.toUpperCase() ?? "?"}, waiting for its trial boot`,
    );
  } else out.push("ota: no job in progress");
  const last = r.ota?.last;
  if (last) out.push(`last ota result: ${last.state} ${last.jobId ?? "(unreadable job)"} ${last.version ?? ""} at ${new Date(last.at).toISOString()}${last.detail ? `: ${last.detail}` : ""}`);
  if (r.otaError) out.push(`ota record unreadable: ${r.otaError}`);
  return out.join("\n");
}

async function status(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { "state-dir": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log(USAGE);
    return ExitCode.ok;
  }
  const b = board();
  if (!b) return ExitCode.failure;
  const report = await gatherStatus(b, bootStateStoreFor(b), values["state-dir"] ?? DEFAULT_STATE_DIR);
  console.log(values.json ? JSON.stringify(report, null, 2) : formatOtaStatus(report));
  return report.bootState ? ExitCode.ok : ExitCode.failure;
}

async function install(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { pubkey: { type: "string", multiple: true }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log(USAGE);
    return ExitCode.ok;
  }
  const image = positionals[0];
  if (!image || positionals.length !== 1) {
    console.error(`monami ota install: exactly one IMAGE is required\n\n${USAGE}`);
    return ExitCode.usage;
  }
  const keys = loadPublicKeys(values.pubkey ?? [DEFAULT_PUBKEY]);
  if (!keys.ok) {
    console.error(`monami ota install: ${keys.error}`);
    return ExitCode.usage;
  }
  const b = board();
  if (!b) return ExitCode.failure;
  const started = performance.now();
  let lastLine = 0;
  const result = await installImage(fileChunks(image), {
    board: b,
    store: bootStateStoreFor(b),
    trusted: keys.value,
    onState: (state) => {
      if (state.phase === "downloading" && state.total !== undefined && (performance.now() - lastLine > 1000 || state.received === state.total)) {
        lastLine = performance.now();
        console.log(formatProgressLine("install", { done: state.received, total: state.total, elapsedMs: performance.now() - started }));
      } else if (state.phase === "verifying") console.log(`install: reading back slot ${state.slot.toUpperCase()}`);
    },
  }).catch((error: unknown) => ({ ok: false as const, error: { kind: "io-error" as const, target: image, detail: error instanceof Error ? error.message : String(error) } }));
  if (!result.ok) {
    console.error(`monami ota install: REFUSED: ${formatRefusal(result.error)} (nothing was written to the active slot)`);
    return ExitCode.failure;
  }
  const slot = result.value.slot.toUpperCase();
  console.log(`installed ${result.value.head.manifest.version} into slot ${slot} (SHA-256 ${result.value.imageSha256}).`);
  console.log(`Reboot to try slot ${slot} once. It becomes permanent when its health checks pass (or with 'monami ota mark-good'); otherwise the device returns to the current slot.`);
  return ExitCode.ok;
}

async function markGood(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log(USAGE);
    return ExitCode.ok;
  }
  const b = board();
  if (!b) return ExitCode.failure;
  const store = bootStateStoreFor(b);
  const booted = await store.bootedSlot();
  if (!booted.ok) {
    console.error(`monami ota mark-good: ${booted.error}`);
    return ExitCode.failure;
  }
  const committed = await commitTrial(store, booted.value);
  if (!committed.ok) {
    console.error(`monami ota mark-good: ${committed.error} (nothing to confirm)`);
    return ExitCode.failure;
  }
  console.log(`slot ${booted.value.toUpperCase()} marked good: it is now the primary slot`);
  return ExitCode.ok;
}
