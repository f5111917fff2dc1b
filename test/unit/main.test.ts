// The entry point lists its subcommands and rejects unknown ones.
import { expect, test } from "bun:test";

test("monami --help lists usage and exits 0", () => {
  const r = Bun.spawnSync(["bun", "firmware/main.ts", "--help"]);
  expect(r.exitCode).toBe(0);
  expect(r.stdout.toString()).toContain("usage: monami <command>");
});

test("an unknown subcommand exits 2 with a message", () => {
  const r = Bun.spawnSync(["bun", "firmware/main.ts", "no-such-command"]);
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toContain("unknown command 'no-such-command'");
});

test("monami --version prints the package version", () => {
  const r = Bun.spawnSync(["bun", "firmware/main.ts", "--version"]);
  expect(r.exitCode).toBe(0);
  expect(r.stdout.toString()).toMatch(/^monami \d+\.\d+\.\d+ \(build /);
});
