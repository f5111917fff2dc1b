// `monami image keygen | build | inspect`: fleet signing keys, signed image builds, and verified inspection.

import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { toHex } from "../../firmware/core/hex.ts";
import { ExitCode } from "../../firmware/cli/command.ts";
import { buildId as runningBuildId, version as runningVersion } from "../../firmware/version.ts";
import { knownBoards } from "../../board/boards/index.ts";
import { SECURITY_VERSION } from "../image/security-version.ts";
import { formatPublicKeyFile, formatSecretKeyFile, generateSigningKey } from "../sign/ed25519.ts";
import { formatRefusal } from "../verify/refusal.ts";
import { verifyImageFile } from "../verify/verify-image.ts";
import { buildImageFile, distBinary } from "./image-build.ts";
import { loadPublicKeys, loadSigningKey } from "./keys.ts";

const usage = `usage: monami image keygen --out DIR [--name NAME] [--force]
       monami image build --key KEY --board NAME [--board NAME ...] --out IMAGE
                          [--binary PATH] [--config FILE] [--version V] [--security-version N] [--build-id ID]
       monami image inspect IMAGE --pubkey PUB [--pubkey PUB ...] [--json]

keygen   writes an Ed25519 key pair: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub
build    packs the binary (default dist/monami-linux-<arch>), the board definitions and the default
         config into a signed image for the given boards
inspect  prints the manifest; exits 1 unless the signature (by one of the keys) and every digest verify`;

export async function run(args: string[]): Promise<number> {
  try {
    return await dispatch(args);
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) return fail(`image: ${(error as Error).message}\n\n${usage}`, ExitCode.usage);
    throw error;
  }
}

async function dispatch(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "keygen":
      return keygen(rest);
    case "build":
      return build(rest);
    case "inspect":
      return inspect(rest);
    case undefined:
    case "-h":
    case "--help":
      console.log(usage);
      return sub === undefined ? ExitCode.usage : ExitCode.ok;
    default:
      console.error(`monami image: unknown subcommand '${sub}'\n\n${usage}`);
      return ExitCode.usage;
  }
}

function keygen(args: string[]): number {
  const { values } = parseArgs({ args, options: { out: { type: "string" }, name: { type: "string", default: "fleet" }, force: { type: "boolean" }, help: { type: "boolean", short: "h" } } });
  if (values.help) return help();
  if (!values.out) return fail("image keygen: --out DIR is required", ExitCode.usage);
  const secretPath = join(values.out, `${values.name}.key`);
  const publicPath = join(values.out, `${values.name}.pub`);
  if (!values.force && (existsSync(secretPath) || existsSync(publicPath))) return fail(`image keygen: ${secretPath} or ${publicPath} exists (use --force to replace)`);
  mkdirSync(values.out, { recursive: true, mode: 0o700 });
  const key = generateSigningKey();
  writeFileSync(secretPath, formatSecretKeyFile(key), { mode: 0o600 });
  chmodSync(secretPath, 0o600);
  writeFileSync(publicPath, formatPublicKeyFile(key.publicKey), { mode: 0o644 });
  key.secretKey.wipe();
  console.log(`secret key: ${secretPath} (keep offline)\npublic key: ${publicPath}\nkey id:     ${toHex(key.keyId)}`);
  return ExitCode.ok;
}

function build(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      key: { type: "string" },
      board: { type: "string", multiple: true },
      out: { type: "string" },
      binary: { type: "string" },
      config: { type: "string" },
      version: { type: "string", default: runningVersion },
      "security-version": { type: "string", default: String(SECURITY_VERSION) },
      "build-id": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return help();
  if (!values.key || !values.out || !values.board?.length) return fail("image build: --key, --board and --out are required", ExitCode.usage);
  const known = knownBoards();
  const boards = [];
  for (const name of values.board.flatMap((b) => b.split(","))) {
    const board = known.find((b) => b.name === name);
    if (!board) return fail(`image build: unknown board '${name}'; known boards: ${known.map((b) => b.name).join(", ")}`, ExitCode.usage);
    boards.push(board);
  }
  const securityVersion = Number(values["security-version"]);
  if (!Number.isSafeInteger(securityVersion) || securityVersion < 0) return fail("image build: --security-version must be a non-negative integer", ExitCode.usage);
  const key = loadSigningKey(values.key);
  if (!key.ok) return fail(`image build: ${key.error}`);
  const built = buildImageFile(
    {
      boards,
      binaryPath: values.binary ?? distBinary(resolve("dist"), boards[0]!.arch),
      ...(values.config ? { configPath: values.config } : {}),
      version: values.version,
      securityVersion,
      buildId: values["build-id"] ?? runningBuildId,
      created: new Date(),
      out: values.out,
    },
    key.value,
  );
  key.value.secretKey.wipe();
  if (!built.ok) return fail(`image build: ${built.error}`);
  const m = built.value.manifest;
  console.log(`${values.out}: ${built.value.length} bytes, version ${m.version}, security version ${m.securityVersion}, for ${m.compatible.join(", ")}, signed by ${toHex(key.value.keyId)}`);
  return ExitCode.ok;
}

async function inspect(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { pubkey: { type: "string", multiple: true }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } } });
  if (values.help) return help();
  const path = positionals[0];
  if (!path || positionals.length !== 1) return fail("image inspect: exactly one IMAGE is required", ExitCode.usage);
  const keys = loadPublicKeys(values.pubkey ?? []);
  if (!keys.ok) return fail(`image inspect: ${keys.error}`, ExitCode.usage);
  const verified = await verifyImageFile(path, keys.value).catch((error: unknown) => ({ ok: false as const, error: { kind: "io-error" as const, target: path, detail: error instanceof Error ? error.message : String(error) } }));
  if (!verified.ok) return fail(`image inspect: ${path}: REFUSED: ${formatRefusal(verified.error)}`);
  const { head, imageSha256, key } = verified.value;
  if (values.json) {
    console.log(JSON.stringify({ manifest: head.manifest, keyId: toHex(key.keyId), imageSha256, imageLength: head.imageLength, verified: true }, null, 2));
    return ExitCode.ok;
  }
  const m = head.manifest;
  console.log(
    [
      `image:            ${path} (${head.imageLength} bytes, SHA-256 ${imageSha256})`,
      `version:          ${m.version}`,
      `security version: ${m.securityVersion}`,
      `compatible:       ${m.compatible.join(", ")}`,
      `build id:         ${m.buildId}`,
      `created:          ${m.created}`,
      `signed by:        ${toHex(key.keyId)} (signature verified)`,
      "parts:",
      ...m.parts.map((p) => `  ${p.name.padEnd(8)} ${String(p.size).padStart(11)} bytes  sha256 ${p.sha256}  verified`),
    ].join("\n"),
  );
  return ExitCode.ok;
}

function help(): number {
  console.log(usage);
  return ExitCode.ok;
}

function fail(message: string, code: number = ExitCode.failure): number {
  console.error(`monami ${message}`);
  return code;
}
