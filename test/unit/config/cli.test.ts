// `monami config validate|schema|example` as a user runs them: exit codes, every error with its path, no secret echoed.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const main = resolve(import.meta.dir, "../../../firmware/main.ts");
const dir = mkdtempSync(join(tmpdir(), "monami-h7-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function monami(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([process.execPath, main, ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

describe("monami config", () => {
  test("example | validate round trip exits 0", async () => {
    const example = await monami("config", "example");
    expect(example.code).toBe(0);
    expect(example.stdout).toContain("// monami device configuration");
    const file = join(dir, "example.jsonc");
    writeFileSync(file, example.stdout);
    const ok = await monami("config", "validate", file);
    expect([ok.code, ok.stdout.trim()]).toEqual([0, `${file}: valid`]);
    const printed = await monami("config", "validate", file, "--print");
    expect(JSON.parse(printed.stdout).mqtt.keepaliveSeconds).toBe(45);
  });

  test("validate lists every error with its path and exits 1, without echoing an inline secret", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ device: { id: "x" }, uplinks: [], mqtt: { url: "http://x", username: "u", password: "s3cr3t-inline" }, bogus: 1 }));
    const r = await monami("config", "validate", file);
    expect(r.code).toBe(1);
    for (const line of ["uplinks: needs at least one uplink", "ipsec: missing required field 'ipsec'", "mqtt.url: must be mqtt://", "mqtt.password: must be a secret reference", "bogus: unknown field 'bogus'"]) {
      expect(r.stderr).toContain(line);
    }
    expect(r.stderr + r.stdout).not.toContain("s3cr3t-inline");
  });

  test("schema prints JSON Schema; usage errors exit 2", async () => {
    const s = await monami("config", "schema");
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout).title).toBe("monami device configuration");
    expect((await monami("config")).code).toBe(2);
    expect((await monami("config", "validate")).code).toBe(2);
    expect((await monami("config", "validate", join(dir, "missing.json"))).code).toBe(1);
  });
});
