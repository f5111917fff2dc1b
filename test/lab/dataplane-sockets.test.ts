// The socket layer over bun:ffi in two namespaces (root): sendmmsg/recvmmsg with packet info, the signalling packet socket, UDP, errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { requireRoot } from "../../board/lab/lab.ts";
import { mustRun, run } from "../../board/lab/netns.ts";

const canRun = requireRoot("data plane sockets");
const A = `h9sock${process.pid}a`;
const B = `h9sock${process.pid}b`;
const SCRIPT = `${import.meta.dir}/dataplane-socket-probe.ts`;
const bun = /(^|\/)bun[^/]*$/.test(process.execPath) ? process.execPath : "bun";

describe.skipIf(!canRun)("sockets over bun:ffi", () => {
  beforeAll(async () => {
    await mustRun(["ip", "netns", "add", A]);
    await mustRun(["ip", "netns", "add", B]);
    await mustRun(["ip", "-n", A, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", B]);
    for (const [ns, dev, addr] of [[A, "va", "2001:db8:99::a/64"], [B, "vb", "2001:db8:99::b/64"]] as const) {
      await mustRun(["ip", "-n", ns, "addr", "add", addr, "dev", dev, "nodad"]);
      await mustRun(["ip", "-n", ns, "link", "set", dev, "up"]);
      await mustRun(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
  });

  afterAll(async () => {
    await run(["ip", "netns", "del", A]);
    await run(["ip", "netns", "del", B]);
  });

  test("ESP batches: four messages with an explicit source arrive with source, destination and interface, and every descriptor is closed", async () => {
    const receiver = Bun.spawn(["ip", "netns", "exec", A, bun, SCRIPT, "receive"], { stdout: "pipe", stderr: "pipe" });
    const reader = receiver.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("ready");
    const sent = await run(["ip", "netns", "exec", B, bun, SCRIPT, "send"]);
    expect(sent.stdout.trim()).toBe("sent 4 unknown-device ENODEV");
    let text = "";
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    expect(await receiver.exited).toBe(0);
    const lines = text.trim().split("\n");
    expect(lines.slice(0, 4)).toEqual([0, 1, 2, 3].map((i) => `esp ${100 + i} 2001:db8:99::b 2001:db8:99::a va 00000042000000${(i + 1).toString(16).padStart(2, "0")}`));
    expect(lines).toContain("signalling 104 dstopts");
    expect(lines).toContain("udp 5 hello");
    expect(lines.at(-1)).toBe("fds-after-close same");
  }, 30_000);
});

