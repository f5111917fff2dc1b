// Building a signed image file for one or more boards from a compiled binary (used by `monami image build` and scripts/build.ts).

import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { EXAMPLE_CONFIG } from "../../firmware/config/example.ts";
import { formatIssue, parseConfigText } from "../../firmware/config/validate.ts";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { BoardDefinition } from "../../board/api/board.ts";
import { buildImage, type BuiltImage } from "../sign/build-image.ts";
import type { SigningKey } from "../sign/ed25519.ts";

export interface ImageFileOptions {
  readonly boards: readonly BoardDefinition[];
  readonly binaryPath: string;
  /** Default configuration (JSON with comments, checked against the config schema); the example config when absent. */
  readonly configPath?: string;
  readonly version: string;
  readonly securityVersion: number;
  readonly buildId: string;
  readonly created: Date;
  readonly out: string;
}

/** The binary `scripts/build.ts` leaves for an architecture. */
export function distBinary(distDir: string, arch: "arm64" | "x64"): string {
  return join(distDir, `monami-linux-${arch}`);
}

export function buildImageFile(options: ImageFileOptions, key: SigningKey): Result<BuiltImage, string> {
  const arches = new Set(options.boards.map((b) => b.arch));
  if (options.boards.length === 0) return err("no board given (--board NAME)");
  if (arches.size !== 1) return err(`boards ${options.boards.map((b) => b.name).join(", ")} need different binaries (${[...arches].join(", ")}); build one image per architecture`);
  if (!existsSync(options.binaryPath)) return err(`binary ${options.binaryPath} not found (run 'bun run build' first, or pass --binary)`);
  const configText = options.configPath ? readFileSync(options.configPath, "utf8") : EXAMPLE_CONFIG;
  const config = parseConfigText(configText);
  if (!config.ok) return err(`default config ${options.configPath ?? "(example)"} is invalid: ${config.error.map(formatIssue).join("; ")}`);
  const encoder = new TextEncoder();
  let built: BuiltImage;
  try {
    built = buildImage(
      {
        version: options.version,
        securityVersion: options.securityVersion,
        compatible: options.boards.map((b) => b.name),
        buildId: options.buildId,
        created: options.created,
        parts: [
          { name: "binary", bytes: readFileSync(options.binaryPath) },
          { name: "board", bytes: encoder.encode(`${JSON.stringify(options.boards, null, 2)}\n`) },
          { name: "config", bytes: encoder.encode(configText) },
        ],
      },
      key,
    );
  } catch (error) {
    return err(error instanceof Error ? error.message : String(error));
  }
  const temp = join(dirname(options.out), `.${process.pid}.partial`);
  const fd = openSync(temp, "w", 0o644);
  try {
    for (const piece of [built.head, ...built.parts]) {
      let at = 0;
      while (at < piece.length) at += writeSync(fd, piece, at, piece.length - at);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, options.out);
  return ok(built);
}
