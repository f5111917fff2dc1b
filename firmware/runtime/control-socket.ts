// The local control socket for technicians: a Unix socket only root and one group may open; never on the network.

import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { StatusDocument } from "../fleet/telemetry.ts";

/** Largest request line accepted; anything longer is answered with an error and closed. */
const MAX_REQUEST_BYTES = 256;

/** The group id of a group name from /etc/group, or undefined when it does not exist. */
export function groupId(name: string, groupFile = "/etc/group"): number | undefined {
  for (const line of readFileSync(groupFile, "utf8").split("\n")) {
    const [group, , gid] = line.split(":");
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

export interface ControlSocket {
  readonly path: string;
  stop(): void;
}

/**
 * Serves `status` on a Unix socket at `path`. Access is by file permissions: the socket is mode 0660, owned by
 * root and `group` (root only without a group), in a directory of mode 0750 (0710 without a group), so no
 * other local user can connect. Protocol: one request line (`status`), one JSON line back, then close.
 */
export function serveControlSocket(path: string, group: string | undefined, status: () => StatusDocument): ControlSocket {
  const gid = group === undefined ? undefined : groupId(group);
  if (group !== undefined && gid === undefined) throw new Error(`control socket: unknown group '${group}'`);
  const dir = dirname(path);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    if (gid !== undefined) chownSync(dir, 0, gid);
    chmodSync(dir, gid !== undefined ? 0o750 : 0o710);
  }
  if (existsSync(path)) unlinkSync(path);
  const buffers = new WeakMap<object, string>();
  const listener = Bun.listen<undefined>({
    unix: path,
    socket: {
      data(socket, data) {
        const text = (buffers.get(socket) ?? "") + data.toString("utf8");
        if (text.length > MAX_REQUEST_BYTES) {
          socket.end(`${JSON.stringify({ error: "request too long" })}\n`);
          return;
        }
        const newline = text.indexOf("\n");
        if (newline < 0) {
          buffers.set(socket, text);
          return;
        }
        const command = text.slice(0, newline).trim();
        let reply: unknown;
        try {
          reply = command === "status" ? status() : { error: `unknown command '${command.slice(0, 32)}'; try 'status'` };
        } catch (e) {
          reply = { error: `status failed: ${e instanceof Error ? e.message : String(e)}` };
        }
        socket.end(`${JSON.stringify(reply)}\n`);
      },
    },
  });
  // Restrict before anyone can race to connect: permissions first, then ownership.
  chmodSync(path, gid !== undefined ? 0o660 : 0o600);
  chownSync(path, 0, gid ?? 0);
  return {
    path,
    stop() {
      listener.stop(true);
      if (existsSync(path)) unlinkSync(path);
    },
  };
}

/** Asks a control socket for one command and returns the parsed JSON reply. */
export async function queryControlSocket(path: string, command: string, timeoutMs = 5000): Promise<unknown> {
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from ${path} within ${timeoutMs} ms`)), timeoutMs);
    Bun.connect({
      unix: path,
      socket: {
        open(socket) {
          socket.write(`${command}\n`);
        },
        data(_socket, data) {
          chunks.push(Buffer.from(data));
        },
        close() {
          clearTimeout(timer);
          resolve();
        },
        error(_socket, error) {
          clearTimeout(timer);
          reject(error);
        },
      },
    }).catch((error: unknown) => {
      clearTimeout(timer);
      reject(error instanceof Error ? error : new Error(String(error)));
    });
  });
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}
