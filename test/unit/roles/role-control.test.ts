// The daemons' one control socket: root-only by default, root + one group when the device config names it; bad requests answered.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { queryRoleControl, type RoleControl, serveRoleControl } from "../../../firmware/roles/role-control.ts";
import { groupId } from "../../../firmware/runtime/control-socket.ts";

const asRoot = process.getuid?.() === 0;

describe("role control socket", () => {
  let dir: string | undefined;
  let control: RoleControl | undefined;
  afterEach(() => {
    control?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("mode 0600 without a group; a handler's error comes back as { error }", async () => {
    dir = mkdtempSync(join(tmpdir(), "monami-h13-ctl-"));
    const path = join(dir, "run", "router.sock");
    control = serveRoleControl(path, (words) => {
      if (words[0] === "status") return { ok: true, words };
      throw new Error(`unknown command '${words[0]}'`);
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "run")).mode & 0o777).toBe(0o700);
    expect(await queryRoleControl(path, "status  now")).toEqual({ ok: true, words: ["status", "now"] });
    expect(await queryRoleControl(path, "reboot")).toEqual({ error: "unknown command 'reboot'" });
  });

  test.skipIf(!asRoot)("with a group: 0660 owned by root and that group, its directory 0750; an unknown group is refused", () => {
    dir = mkdtempSync(join(tmpdir(), "monami-h13-ctl-"));
    const group = ["daemon", "adm", "sys", "nogroup"].find((g) => groupId(g) !== undefined)!;
    const path = join(dir, "run", "router.sock");
    control = serveRoleControl(path, () => ({}), group);
    const st = statSync(path);
    expect(st.mode & 0o777).toBe(0o660);
    expect(st.gid).toBe(groupId(group)!);
    expect(st.uid).toBe(0);
    expect(statSync(join(dir, "run")).mode & 0o777).toBe(0o750);
    expect(() => serveRoleControl(join(dir!, "other.sock"), () => ({}), "no-such-group-h13")).toThrow("unknown group 'no-such-group-h13'");
  });
});
