// The libc FFI binding and the TUN device: errno names, poll, and a real echo through a TUN (root, own namespace).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  close,
  errnoName,
  type Fd,
  O_NONBLOCK,
  O_RDONLY,
  O_WRONLY,
  open,
  POLLIN,
  PollSet,
  read,
  setNonBlocking,
  write,
} from "../../board/linux/ffi/libc.ts";
import { TunDevice } from "../../board/linux/tun.ts";
import { requireRoot } from "../../board/lab/lab.ts";
import { mustRun, run } from "../../board/lab/netns.ts";

describe("libc", () => {
  test("a failing call returns its errno by name", () => {
    const missing = open("/nonexistent/monami", O_RDONLY);
    expect(missing).toEqual({ ok: false, error: { call: "open", errno: 2, code: "ENOENT" } });
    const bad = read(987654 as Fd, new Uint8Array(4));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.code).toBe("EBADF");
    expect(errnoName(11)).toBe("EAGAIN");
    expect(errnoName(4)).toBe("EINTR");
    expect(errnoName(9999)).toBe("errno9999");
  });

  test("read, write, poll and O_NONBLOCK on a pipe", () => {
    // A FIFO gives a reader and a writer fd through plain open(2).
    const path = `/tmp/monami-libc-fifo-${process.pid}`;
    Bun.spawnSync(["mkfifo", path]);
    try {
      const reader = open(path, O_RDONLY | O_NONBLOCK);
      expect(reader.ok).toBe(true);
      if (!reader.ok) return;
      const writer = open(path, O_WRONLY);
      expect(writer.ok).toBe(true);
      if (!writer.ok) return;
      const empty = read(reader.value, new Uint8Array(8));
      expect(empty.ok ? "ok" : empty.error.code).toBe("EAGAIN");
      const set = new PollSet(1);
      set.add(reader.value, POLLIN);
      expect(set.poll(0)).toEqual({ ok: true, value: 0 });
      expect(write(writer.value, new Uint8Array([1, 2, 3]))).toEqual({ ok: true, value: 3 });
      expect(set.poll(1000)).toEqual({ ok: true, value: 1 });
      expect(set.revents(0) & POLLIN).toBe(POLLIN);
      const into = new Uint8Array(16);
      expect(read(reader.value, into.subarray(4))).toEqual({ ok: true, value: 3 });
      expect([...into.subarray(4, 7)]).toEqual([1, 2, 3]);
      expect(setNonBlocking(writer.value).ok).toBe(true);
      expect(close(writer.value).ok).toBe(true);
      expect(close(reader.value).ok).toBe(true);
      expect(close(reader.value)).toEqual({ ok: false, error: { call: "close", errno: 9, code: "EBADF" } });
    } finally {
      Bun.spawnSync(["rm", "-f", path]);
    }
  });

  test("ppoll honours a sub-millisecond timeout", () => {
    const set = new PollSet(1);
    set.add(0 as Fd, 0);
    const start = performance.now();
    for (let i = 0; i < 20; i++) set.poll(0.2);
    const elapsed = performance.now() - start;
    expect(elapsed).toBeGreaterThan(20 * 0.2 * 0.9);
    expect(elapsed).toBeLessThan(20); // poll(2) would round each up to 1 ms
  });
});

describe("TunDevice", () => {
  test("rejects an empty or over-long name without a system call", () => {
    expect(TunDevice.open("").ok).toBe(false);
    expect(TunDevice.open("x".repeat(16)).ok).toBe(false);
  });

  test.skipIf(!requireRoot("TUN echo"))("a packet written into the TUN is answered through it", async () => {
    const ns = `mnm-test-${process.pid}-tun-x`;
    await mustRun(["ip", "netns", "add", ns]);
    try {
      const r = await run(["ip", "netns", "exec", ns, process.execPath, join(import.meta.dir, "fixtures", "tun-echo.ts")]);
      expect(r.stderr).toBe("");
      const report = JSON.parse(r.stdout) as { name: string; emptyRead: string; written: number; reply?: number[] };
      expect(report.name).toBe("tunt0");
      expect(report.emptyRead).toBe("EAGAIN");
      expect(report.written).toBe(52);
      expect(report.reply).toBeDefined();
      const reply = Uint8Array.from(report.reply ?? []);
      expect(reply[0]! >> 4).toBe(6);
      expect(reply[40]).toBe(129); // echo reply
      expect([...reply.subarray(44, 52)]).toEqual([0x12, 0x34, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]);
    } finally {
      await run(["ip", "netns", "del", ns]);
    }
  });
});
