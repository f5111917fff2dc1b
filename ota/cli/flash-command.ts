// `monami flash IMAGE --to DEVICE|FILE`: the technician's tool. Verifies signature and board before writing, shows progress, reads back, audits.

import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { ExitCode } from "../../firmware/cli/command.ts";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import { formatBoardSelectionError, selectBoard } from "../../board/api/board.ts";
import { knownBoards, probeBoard } from "../../board/boards/index.ts";
import { fileChunks } from "../io/file-chunks.ts";
import { hashPrefix, SlotWriter } from "../slots/slot-writer.ts";
import { formatRefusal, type Refusal } from "../verify/refusal.ts";
import { verifyImageFile, type VerifiedImage } from "../verify/verify-image.ts";
import { appendAuditEntry, defaultAuditPath, type AuditEntry } from "./audit.ts";
import { loadPublicKeys } from "./keys.ts";
import { ProgressReporter } from "./progress.ts";

const usage = `usage: monami flash IMAGE --to DEVICE|FILE --pubkey FLEET.pub [--pubkey ...] [--board NAME]
                    [--audit-log FILE] [--technician NAME]

Writes a signed image to a slot partition, an SD/eMMC block device or an image file, after checking
the signature against the fleet key(s) and that the image is built for the board. Nothing is written
if any check fails. The written bytes are read back and verified. Every attempt, refused or not, is
appended to the audit log (default ${defaultAuditPath()}), which the router uploads on its next connection.

--board defaults to the board this machine is (MONAMI_BOARD or the device tree) when flashing on the device.`;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        to: { type: "string" },
        pubkey: { type: "string", multiple: true },
        board: { type: "string" },
        "audit-log": { type: "string" },
        technician: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`monami flash: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return ExitCode.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(usage);
    return ExitCode.ok;
  }
  const image = positionals[0];
  if (!image || positionals.length !== 1 || !values.to) {
    console.error(`monami flash: one IMAGE and --to are required\n\n${usage}`);
    return ExitCode.usage;
  }
  const keys = loadPublicKeys(values.pubkey ?? []);
  if (!keys.ok) {
    console.error(`monami flash: ${keys.error}`);
    return ExitCode.usage;
  }
  const target = values.to;
  const auditPath = values["audit-log"] ?? defaultAuditPath();
  const base: AuditEntry = {
    time: new Date().toISOString(),
    technician: values.technician ?? process.env["SUDO_USER"] ?? process.env["USER"] ?? process.env["LOGNAME"] ?? safeUser(),
    host: hostname(),
    tool: "monami flash",
    image: basename(image),
    target,
    result: "refused",
  };
  const audit = (entry: Partial<AuditEntry>): void => appendAuditEntry(auditPath, { ...base, ...entry });

  const board = chooseBoard(values.board);
  if (!board.ok) {
    audit({ reason: board.error });
    console.error(`monami flash: REFUSED: ${board.error}`);
    return ExitCode.failure;
  }
  // 1. everything about the image, before the target is even opened
  const verified = await verifyImageFile(image, keys.value, { policy: { board: board.value, installedSecurityVersion: 0 } }).catch(
    (error: unknown): Result<VerifiedImage, Refusal> => err({ kind: "io-error", target: image, detail: error instanceof Error ? error.message : String(error) }),
  );
  if (!verified.ok) {
    const reason = formatRefusal(verified.error);
    audit({ board: board.value, reason });
    console.error(`monami flash: REFUSED: ${image}: ${reason}`);
    return ExitCode.failure;
  }
  const { head, imageSha256 } = verified.value;
  const described = { board: board.value, imageSha256, version: head.manifest.version, securityVersion: head.manifest.securityVersion, buildId: head.manifest.buildId };
  const capacity = targetCapacity(target);
  if (!capacity.ok) {
    audit({ ...described, reason: capacity.error });
    console.error(`monami flash: REFUSED: ${capacity.error}`);
    return ExitCode.failure;
  }
  if (head.imageLength > capacity.value) {
    const reason = formatRefusal({ kind: "too-large", imageLength: head.imageLength, capacity: capacity.value });
    audit({ ...described, reason });
    console.error(`monami flash: REFUSED: ${reason}`);
    return ExitCode.failure;
  }
  console.log(`flashing ${image} (version ${head.manifest.version}, security version ${head.manifest.securityVersion}, board ${board.value}) to ${target}`);

  // 2. write, hashing what is written (the file could change between verification and writing)
  const written = await writeImage(image, target, head.imageLength, capacity.value);
  if (written.ok && written.value !== imageSha256) {
    const reason = `${image} changed while flashing (SHA-256 ${written.value}, verified ${imageSha256})`;
    audit({ ...described, result: "failed", reason });
    console.error(`monami flash: FAILED: ${reason}`);
    return ExitCode.failure;
  }
  // 3. read back and verify the signature of what is now on the target
  const readBack = written.ok ? await hashPrefix(target, head.imageLength) : written;
  const checked: Result<void, Refusal> = !readBack.ok
    ? readBack
    : readBack.value !== imageSha256
      ? err({ kind: "readback-mismatch", target, expected: imageSha256, actual: readBack.value })
      : await verifyImageFile(target, keys.value, { stopAtImageEnd: true }).then((r) => (r.ok ? ok(undefined) : r));
  if (!checked.ok) {
    const reason = formatRefusal(checked.error);
    audit({ ...described, result: "failed", reason });
    console.error(`monami flash: FAILED: ${reason}`);
    return ExitCode.failure;
  }
  audit({ ...described, result: "flashed", bytes: head.imageLength });
  console.log(`flashed and verified ${head.imageLength} bytes (SHA-256 ${imageSha256}); audit entry in ${auditPath}`);
  return ExitCode.ok;
}

function chooseBoard(name: string | undefined): Result<string, string> {
  const known = knownBoards();
  const selected = selectBoard(known, name !== undefined ? { override: name } : probeBoard());
  if (selected.ok) return ok(selected.value.name);
  if (name === undefined) return err(`${formatBoardSelectionError(selected.error)}; name the target board with --board`);
  return err(formatBoardSelectionError(selected.error).replace("(from MONAMI_BOARD or the config) ", "(from --board) "));
}

/** Bytes the target can hold: a block device's size, unbounded for a regular or new file. */
function targetCapacity(target: string): Result<number, string> {
  let info;
  try {
    info = statSync(target);
  } catch {
    return ok(Number.MAX_SAFE_INTEGER);
  }
  if (info.isFile()) return ok(Number.MAX_SAFE_INTEGER);
  if (!info.isBlockDevice()) return err(`${target} is neither a block device nor a regular file`);
  try {
    const name = basename(target);
    return ok(Number(readFileSync(`/sys/class/block/${name}/size`, "utf8").trim()) * 512);
  } catch (error) {
    return err(`cannot read the size of ${target}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function writeImage(image: string, target: string, length: number, capacity: number): Promise<Result<string, Refusal>> {
  const opened = await SlotWriter.open(target, { capacityBytes: capacity, truncate: false });
  if (!opened.ok) return opened;
  const writer = opened.value;
  const progress = new ProgressReporter({ label: "flash", total: length, tty: Boolean(process.stdout.isTTY), write: (t) => process.stdout.write(t), now: () => performance.now() });
  const hash = createHash("sha256");
  try {
    for await (const chunk of fileChunks(image, 0, length, 1024 * 1024)) {
      const wrote = await writer.write(chunk);
      if (!wrote.ok) return wrote;
      hash.update(chunk);
      progress.update(writer.written);
    }
    if (writer.written !== length) return err({ kind: "io-error", target: image, detail: `image shrank to ${writer.written} bytes while flashing` });
    const synced = await writer.sync();
    if (!synced.ok) return synced;
    progress.finish();
    return ok(hash.digest("hex"));
  } finally {
    await writer.close();
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
