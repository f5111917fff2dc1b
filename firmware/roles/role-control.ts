// A daemon's local control socket: one command line in, one JSON line out, on a Unix socket only root may open.

import { chmodSync, chownSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { groupId } from "../runtime/control-socket.ts";

const MAX_REQUEST_BYTES = 512;

export type ControlHandler = (words: readonly string[]) => Promise<unknown> | unknown;

export interface RoleControl {
  readonly path: string;
  stop(): void;
}

/**
 * Serves `handler` at `path`: mode 0600 (directory 0700 when created), or with `group` (the device config's
 * `control.group`, for `monami status` by technicians) 0660 owned by root and that group (directory 0750).
 * A thrown error becomes `{ error }`.
 */
export function serveRoleControl(path: string, handler: ControlHandler, group?: string): RoleControl {
  const gid = group === undefined ? undefined : groupId(group);
  if (group !== undefined && gid === undefined) throw new Error(`control socket: unknown group '${group}'`);
  const dir = dirname(path);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: gid === undefined ? 0o700 : 0o750 });
    if (gid !== undefined) chownSync(dir, 0, gid);
  }
  if (existsSync(path)) unlinkSync(path);
  const pending = new WeakMap<object, string>();
  const listener = Bun.listen<undefined>({
    unix: path,
    socket: {
      async data(socket, data) {
        const text = (pending.get(socket) ?? "") + data.toString("utf8");
        if (text.length > MAX_REQUEST_BYTES) {
          socket.end(`${JSON.stringify({ error: "request too long" })}\n`);
          return;
        }
        const newline = text.indexOf("\n");
        if (newline < 0) {
          pending.set(socket, text);
          return;
        }
        let reply: unknown;
        try {
          reply = await handler(text.slice(0, newline).trim().split(/\s+/).filter((w) => w !== ""));
        } catch (e) {
          reply = { error: e instanceof Error ? e.message : String(e) };
        }
        socket.end(`${JSON.stringify(reply)}\n`);
      },
    },
  });
  chmodSync(path, gid === undefined ? 0o600 : 0o660);
  if (gid !== undefined) chownSync(path, 0, gid);
  return {
    path,
    stop() {
      listener.stop(true);
      if (existsSync(path)) unlinkSync(path);
    },
  };
}

/** Sends one command line and returns the parsed JSON reply. */
export async function queryRoleControl(path: string, command: string, timeoutMs = 5000): Promise<unknown> {
  let received = "";
  const reply = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply from ${path} within ${timeoutMs} ms`)), timeoutMs);
    Bun.connect({
      unix: path,
      socket: {
        open(socket) {
          socket.write(`${command}\n`);
        },
        data(_socket, data) {
          received += data.toString("utf8");
        },
        close() {
          clearTimeout(timer);
          resolve(received);
        },
        error(_socket, error) {
          clearTimeout(timer);
          reject(error);
        },
      },
    }).catch((e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return JSON.parse((await reply).trim());
}
