// `bun run build`: compiles monami for linux-x64 and linux-arm64 (minified, bytecode, build id embedded) and signs images.

import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };
import { knownBoards } from "../board/boards/index.ts";
import { buildImageFile, distBinary } from "../ota/cli/image-build.ts";
import { loadSigningKey } from "../ota/cli/keys.ts";
import { SECURITY_VERSION } from "../ota/image/security-version.ts";
import { formatPublicKeyFile, formatSecretKeyFile, generateSigningKey } from "../ota/sign/ed25519.ts";

type Arch = "x64" | "arm64";
const root = resolve(import.meta.dir, "..");

const usage = `usage: bun run build [--target x64|arm64 ...] [--out DIR] [--key KEY] [--no-images] [--no-bytecode] [--build-id ID]

Compiles firmware/main.ts into dist/monami-linux-x64 and dist/monami-linux-arm64, then builds signed images:
dist/monami-<version>-arm64.img (generic-arm64-gateway, rpi-cm4) and dist/monami-<version>-simulated.img.
Images are signed with --key (or MONAMI_IMAGE_KEY); without one, a development key is made in DIR/dev-key/
(devices trusting only the fleet key refuse those images).

The arm64 runtime: bun fetches bun-linux-aarch64 from the npm registry (@oven/bun-linux-aarch64) into its cache on
first use. To supply it yourself: npm install --no-save --force @oven/bun-linux-aarch64@${Bun.version} (--force: the package
declares cpu arm64), or set MONAMI_BUN_ARM64 to a bun-linux-aarch64 executable; this script then passes it with --compile-executable-path.`;

function buildId(explicit: string | undefined): string {
  if (explicit) return explicit;
  const git = Bun.spawnSync(["git", "rev-parse", "--short=10", "HEAD"], { cwd: root });
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { cwd: root }).stdout.toString().trim() !== "";
  const sha = git.exitCode === 0 ? git.stdout.toString().trim() : "nogit";
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
  return `${pkg.version}-g${sha}${dirty ? ".dirty" : ""}-${stamp}`;
}

/** A bun-linux-aarch64 runtime to compile against, when bun's own cache does not have it. */
function arm64Runtime(): string | undefined {
  const explicit = process.env["MONAMI_BUN_ARM64"];
  if (explicit) return explicit;
  const cacheDir = process.env["BUN_INSTALL_CACHE_DIR"] ?? join(process.env["BUN_INSTALL"] ?? join(homedir(), ".bun"), "install", "cache");
  if (existsSync(join(cacheDir, `bun-linux-aarch64-v${Bun.version}`))) return undefined;
  const fromNpm = join(root, "node_modules", "@oven", "bun-linux-aarch64", "bin", "bun");
  return existsSync(fromNpm) ? fromNpm : undefined;
}

export function compile(arch: Arch, out: string, id: string, bytecode: boolean): void {
  const argv = ["bun", "build", "--compile", `--target=bun-linux-${arch}`, "--minify", "--sourcemap=none", ...(bytecode ? ["--bytecode"] : [])];
  argv.push("--define", `MONAMI_BUILD_ID=${JSON.stringify(id)}`);
  const runtime = arch === "arm64" && process.arch !== "arm64" ? arm64Runtime() : undefined;
  if (runtime) argv.push(`--compile-executable-path=${runtime}`);
  // The packet loop's Worker is a second entry point. `--root` puts it at the top of the executable's file system
  // (/$bunfs/root/loop-worker.js), where `new URL("./loop-worker.ts", import.meta.url)` in the bundle points.
  argv.push(`--root=${join(root, "firmware", "dataplane")}`, join(root, "firmware", "main.ts"), join(root, "firmware", "dataplane", "loop-worker.ts"), "--outfile", out);
  const started = performance.now();
  const r = Bun.spawnSync(argv, { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`bun build for ${arch} failed:\n${r.stderr.toString()}${r.stdout.toString()}`);
  const mib = (statSync(out).size / 1024 / 1024).toFixed(1);
  console.log(`[build] ${out}: ${mib} MiB (${arch}${bytecode ? ", bytecode" : ""}${runtime ? `, runtime ${runtime}` : ""}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      target: { type: "string", multiple: true },
      out: { type: "string", default: join(root, "dist") },
      key: { type: "string" },
      "no-images": { type: "boolean" },
      "no-bytecode": { type: "boolean" },
      "build-id": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const targets = (values.target ?? ["x64", "arm64"]) as Arch[];
  if (!targets.every((t) => t === "x64" || t === "arm64")) {
    console.error(usage);
    return 2;
  }
  const out = resolve(values.out);
  mkdirSync(out, { recursive: true });
  const id = buildId(values["build-id"] ?? process.env["MONAMI_BUILD_ID"]);
  writeFileSync(join(out, "BUILD_ID"), `${id}\n`);
  console.log(`[build] monami ${pkg.version}, build id ${id}`);
  for (const arch of targets) compile(arch, distBinary(out, arch), id, !values["no-bytecode"]);
  if (values["no-images"]) return 0;

  const keyPath = values.key ?? process.env["MONAMI_IMAGE_KEY"] ?? developmentKey(out);
  const key = loadSigningKey(keyPath);
  if (!key.ok) {
    console.error(`[build] ${key.error}`);
    return 1;
  }
  const boards = knownBoards();
  const images: { arch: Arch; name: string; boards: string[] }[] = [
    { arch: "arm64", name: "arm64", boards: ["generic-arm64-gateway", "rpi-cm4"] },
    { arch: "x64", name: "simulated", boards: ["simulated"] },
  ];
  for (const image of images.filter((i) => targets.includes(i.arch))) {
    const file = join(out, `monami-${pkg.version}-${image.name}.img`);
    const built = buildImageFile(
      {
        boards: boards.filter((b) => image.boards.includes(b.name)).map((b) => ({ ...b, arch: image.arch })),
        binaryPath: distBinary(out, image.arch),
        version: pkg.version,
        securityVersion: SECURITY_VERSION,
        buildId: id,
        created: new Date(),
        out: file,
      },
      key.value,
    );
    if (!built.ok) {
      console.error(`[build] ${file}: ${built.error}`);
      return 1;
    }
    console.log(`[build] ${file}: ${(built.value.length / 1024 / 1024).toFixed(1)} MiB, signed image for ${image.boards.join(", ")}`);
  }
  key.value.secretKey.wipe();
  return 0;
}

/** A development key pair in DIR/dev-key/, made once and reused; never the fleet key. */
function developmentKey(out: string): string {
  const dir = join(out, "dev-key");
  const secret = join(dir, "dev.key");
  if (!existsSync(secret)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = generateSigningKey();
    writeFileSync(secret, formatSecretKeyFile(key), { mode: 0o600 });
    writeFileSync(join(dir, "dev.pub"), formatPublicKeyFile(key.publicKey));
    key.secretKey.wipe();
  }
  console.log(`[build] no --key or MONAMI_IMAGE_KEY: signing with the development key ${secret} (public key ${join(dir, "dev.pub")})`);
  return secret;
}

if (import.meta.main) process.exit(await main());
