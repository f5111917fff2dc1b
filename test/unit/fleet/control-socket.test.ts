// The control socket and `monami status`: status round trip, 0600/0660 permissions, other users refused.

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { StatusDocument } from "../../../firmware/fleet/telemetry.ts";
import { groupId, queryControlSocket, serveControlSocket } from "../../../firmware/runtime/control-socket.ts";
import { fakeSnapshot } from "../../interop/mosquitto-device.ts";

const dir = mkdtempSync(join(tmpdir(), "monami-h7-control-"));
chmodSync(dir, 0o755); // so that only the socket's own mode decides who may connect
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;
const main = resolve(import.meta.dir, "../../../firmware/main.ts");

const status: StatusDocument = {
  ...fakeSnapshot(),
  deviceId: "bus-7",
  mqtt: { state: "connected", protocol: "5", broker: "mqtts://fleet:8883", clientId: "bus-7", session: 4, reconnects: 2, outbox: { messages: 3, bytes: 900, dropped: 1, maxBytes: 4096 } },
  config: { version: 12, transaction: "idle" },
  counters: { "mqtt.connected": 3 },
};

describe("control socket", () => {
  test("answers status with the document, refuses other commands", async () => {
    const socket = serveControlSocket(join(dir, "a.sock"), undefined, () => status);
    try {
      expect(await queryControlSocket(socket.path, "status")).toEqual(JSON.parse(JSON.stringify(status)));
      expect(await queryControlSocket(socket.path, "reboot")).toEqual({ error: "unknown command 'reboot'; try 'status'" });
    } finally {
      socket.stop();
    }
  });

  test.skipIf(!isRoot)("root-only without a group (0600), group-readable with one (0660, root:group)", () => {
    const a = serveControlSocket(join(dir, "b.sock"), undefined, () => status);
    try {
      const st = statSync(a.path);
      expect(st.mode & 0o777).toBe(0o600);
      expect([st.uid, st.gid]).toEqual([0, 0]);
    } finally {
      a.stop();
    }
    const gid = groupId("nogroup");
    expect(gid).toBeDefined();
    const b = serveControlSocket(join(dir, "c.sock"), "nogroup", () => status);
    try {
      const st = statSync(b.path);
      expect(st.mode & 0o777).toBe(0o660);
      expect([st.uid, st.gid]).toEqual([0, gid!]);
    } finally {
      b.stop();
    }
    expect(() => serveControlSocket(join(dir, "d.sock"), "no-such-group-h7", () => status)).toThrow("unknown group");
  });

  test.skipIf(!isRoot)("another local user cannot open it; a member of the group can", async () => {
    const socket = serveControlSocket(join(dir, "e.sock"), "nogroup", () => status);
    const probe = `Bun.connect({ unix: ${JSON.stringify(socket.path)}, socket: { open(s) { s.write("status\\n") }, data(_s, d) { process.stdout.write(d) } } }).catch((e) => { console.log("ERR " + e.code); process.exit(3) })`;
    // Asynchronous spawns: the server answers from this process's event loop.
    const as = async (extra: string[]) => {
      const child = Bun.spawn(["setpriv", "--reuid=65534", ...extra, "--", process.execPath, "-e", probe], { cwd: "/", stdout: "pipe", stderr: "pipe" });
      const [stdout, exitCode] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      return { stdout, exitCode };
    };
    try {
      const outsider = await as(["--regid=65533", "--clear-groups"]);
      expect(outsider.exitCode).toBe(3);
      expect(outsider.stdout).toContain("EACCES");
      const member = await as([`--regid=${groupId("nogroup")}`, "--clear-groups"]);
      expect(member.stdout).toContain('"deviceId":"bus-7"');
    } finally {
      socket.stop();
    }
  });

  test("monami status prints links, bindings, SAs, MQTT and decisions; --json the raw document", async () => {
    const socket = serveControlSocket(join(dir, "f.sock"), undefined, () => status);
    try {
      const human = Bun.spawn([process.execPath, main, "status", "--socket", socket.path], { stdout: "pipe", stderr: "pipe" });
      const text = await new Response(human.stdout).text();
      expect(await human.exited).toBe(0);
      for (const piece of ["device bus-7", "links:", "2001:db8:ffff::42", "bindings:", "security associations:", "c0ffee01", "mqtt: connected (MQTT 5)", "outbox: 3 messages, 900/4096 bytes, 1 dropped", "[priority] only uplink up"]) {
        expect(text).toContain(piece);
      }
      const json = Bun.spawn([process.execPath, main, "status", "--socket", socket.path, "--json"], { stdout: "pipe" });
      expect(JSON.parse(await new Response(json.stdout).text())).toEqual(JSON.parse(JSON.stringify(status)));
    } finally {
      socket.stop();
    }
    const missing = Bun.spawn([process.execPath, main, "status", "--socket", join(dir, "missing.sock")], { stdout: "pipe", stderr: "pipe" });
    expect(await missing.exited).toBe(1);
    expect(await new Response(missing.stderr).text()).toContain("is monami running?");
  });
});
