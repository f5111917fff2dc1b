// U-Boot environment backend: fw_printenv parsing, one fw_setenv script per write, booted slot from the kernel command line.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { markTryOnce, factoryBootState, encodeBootVariables } from "../../../ota/slots/boot-state.ts";
import { UbootEnvStore, type CommandRunner } from "../../../ota/slots/uboot-env.ts";

/** An in-memory environment that behaves like libubootenv's tools for the options monami uses. */
function fakeEnv(initial: Record<string, string>): { env: Record<string, string>; calls: string[][]; run: CommandRunner } {
  const env = { ...initial };
  const calls: string[][] = [];
  const run: CommandRunner = async (argv) => {
    calls.push([...argv]);
    if (argv[0] === "fw_printenv") return { exitCode: 0, stdout: Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(""), stderr: "" };
    if (argv[0] === "fw_setenv" && argv[3] === "-s") {
      for (const line of readFileSync(argv[4]!, "utf8").split("\n").filter(Boolean)) {
        const [name, ...value] = line.split(" ");
        if (value.length === 0) delete env[name!];
        else env[name!] = value.join(" ");
      }
      return { exitCode: 0, stdout: "", stderr: "" };
    }
    return { exitCode: 1, stdout: "", stderr: "Cannot parse config file" };
  };
  return { env, calls, run };
}

describe("U-Boot environment store", () => {
  test("reads the state among other variables", async () => {
    const fake = fakeEnv({ bootdelay: "2", ...encodeBootVariables(factoryBootState()) });
    const store = new UbootEnvStore({ configFile: "/etc/fw_env.config", run: fake.run });
    const s = await store.read();
    expect(s.ok && s.value).toEqual(factoryBootState());
    expect(fake.calls[0]).toEqual(["fw_printenv", "-c", "/etc/fw_env.config"]);
  });

  test("writes every variable in one fw_setenv script, deleting an empty BOOT_TRIAL", async () => {
    const fake = fakeEnv({ bootdelay: "2", ...encodeBootVariables(factoryBootState()) });
    const store = new UbootEnvStore({ configFile: "/etc/fw_env.config", run: fake.run });
    expect((await store.write(markTryOnce(factoryBootState(), "b"))).ok).toBe(true);
    expect(fake.env).toEqual({ bootdelay: "2", BOOT_ORDER: "B A", BOOT_A_LEFT: "3", BOOT_B_LEFT: "1", BOOT_TRIAL: "B" });
    expect(fake.calls.filter((c) => c[0] === "fw_setenv")).toHaveLength(1);
    expect((await store.write(factoryBootState())).ok).toBe(true);
    expect(fake.env["BOOT_TRIAL"]).toBeUndefined();
  });

  test("a failing tool is an error with its message, and a missing BOOT_ORDER is reported", async () => {
    const broken = new UbootEnvStore({ configFile: "/x", run: async () => ({ exitCode: 243, stdout: "", stderr: "Cannot access MTD device" }) });
    const r = await broken.read();
    expect(!r.ok && r.error).toContain("Cannot access MTD device");
    const empty = new UbootEnvStore({ configFile: "/x", run: fakeEnv({ bootdelay: "2" }).run });
    const e = await empty.read();
    expect(!e.ok && e.error).toContain("BOOT_ORDER");
  });

  test("the booted slot comes from rauc.slot= or monami.slot= on the kernel command line", async () => {
    const store = (cmdline: string) => new UbootEnvStore({ configFile: "/x", run: fakeEnv({}).run, readCmdline: () => cmdline });
    const b = await store("console=ttyS0 root=/dev/mmcblk0p2 rauc.slot=B quiet").bootedSlot();
    expect(b.ok && b.value).toBe("b");
    const a = await store("monami.slot=A").bootedSlot();
    expect(a.ok && a.value).toBe("a");
    expect((await store("root=/dev/sda1").bootedSlot()).ok).toBe(false);
  });
});
