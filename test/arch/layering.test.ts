// Architecture rules, checked on the source tree: sans-IO cores, one way for imports, bun:ffi in one folder.
import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { dirname, relative, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");

/** Protocol cores and codecs: bytes/events in, bytes/actions out, clock injected. */
const coreFolders = ["firmware/core", "firmware/wire", "firmware/ipsec", "firmware/ike", "firmware/mobility", "firmware/links", "firmware/multicoa", "firmware/fleet"];
/** What a core may not touch: the real clock, timers, sockets, FFI, processes, the file system. */
const forbiddenInCores: readonly [RegExp, string][] = [
  [/\bDate\.now\s*\(/, "Date.now()"],
  [/\bnew Date\s*\(\s*\)/, "new Date()"],
  [/\bperformance\.now\s*\(/, "performance.now()"],
  [/\bset(Timeout|Interval|Immediate)\s*\(/, "timers"],
  [/\bBun\.(spawn|file|write|connect|listen|udpSocket|sleep)/, "Bun I/O"],
  [/from\s+["'](node:)?(fs|net|dgram|child_process|fs\/promises)["']/, "node I/O modules"],
  [/from\s+["']bun:ffi["']/, "bun:ffi"],
];

function sourceFiles(): string[] {
  const files: string[] = [];
  for (const top of ["firmware", "board", "ota"]) {
    for (const f of new Glob(`${top}/**/*.ts`).scanSync({ cwd: root })) files.push(f);
  }
  return files.sort();
}

function imports(text: string): { spec: string; typeOnly: boolean }[] {
  const out: { spec: string; typeOnly: boolean }[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[3] ?? m[4];
    if (spec) out.push({ spec, typeOnly: Boolean(m[2]) });
  }
  return out;
}

const files = sourceFiles();
const texts = new Map(files.map((f) => [f, require("node:fs").readFileSync(resolve(root, f), "utf8") as string]));

describe("architecture", () => {
  test("the tree has source files to check", () => {
    expect(files.length).toBeGreaterThan(5);
  });

  test("bun:ffi is imported only under board/linux/ffi/", () => {
    const offenders = files.filter((f) => /from\s+["']bun:ffi["']/.test(texts.get(f)!) && !f.startsWith("board/linux/ffi/"));
    expect(offenders).toEqual([]);
  });

  test("protocol cores use no real clock, timers, sockets, files or FFI", () => {
    const offenders: string[] = [];
    for (const f of files) {
      if (!coreFolders.some((d) => f.startsWith(`${d}/`))) continue;
      const text = texts.get(f)!.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
      for (const [re, what] of forbiddenInCores) if (re.test(text)) offenders.push(`${f}: ${what}`);
    }
    expect(offenders).toEqual([]);
  });

  test("firmware cores import from board/ only types", () => {
    const offenders: string[] = [];
    for (const f of files) {
      if (!coreFolders.some((d) => f.startsWith(`${d}/`)) && !f.startsWith("firmware/crypto/")) continue;
      for (const { spec, typeOnly } of imports(texts.get(f)!)) {
        if (!spec.startsWith(".")) continue;
        const target = relative(root, resolve(root, dirname(f), spec));
        if (target.startsWith("board/") && !typeOnly) offenders.push(`${f} -> ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test("the wire layer imports nothing above it", () => {
    const offenders: string[] = [];
    for (const f of files.filter((f) => f.startsWith("firmware/wire/"))) {
      for (const { spec } of imports(texts.get(f)!)) {
        if (!spec.startsWith(".")) continue;
        const target = relative(root, resolve(root, dirname(f), spec));
        if (!target.startsWith("firmware/wire/") && !target.startsWith("firmware/core/")) offenders.push(`${f} -> ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test("the IKE and IPsec cores do not import each other (firmware/multicoa/sa-install.ts joins them)", () => {
    const offenders: string[] = [];
    for (const f of files) {
      const from = f.startsWith("firmware/ike/") ? "firmware/ipsec/" : f.startsWith("firmware/ipsec/") ? "firmware/ike/" : undefined;
      if (!from) continue;
      for (const { spec } of imports(texts.get(f)!)) {
        const target = relative(root, resolve(root, dirname(f), spec));
        if (target.startsWith(from)) offenders.push(`${f} -> ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test("the mobility and IPsec cores do not import each other (the multi-CoA designs sit above both)", () => {
    const offenders: string[] = [];
    for (const f of files) {
      const from = f.startsWith("firmware/mobility/") ? "firmware/ipsec/" : f.startsWith("firmware/ipsec/") ? "firmware/mobility/" : undefined;
      if (!from) continue;
      for (const { spec } of imports(texts.get(f)!)) {
        const target = relative(root, resolve(root, dirname(f), spec));
        if (target.startsWith(from)) offenders.push(`${f} -> ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
