// Test tool: carries the router's MQTT connection from inside its namespace to the broker in the root namespace, over a Unix socket.
//
// A Unix socket path is visible from every network namespace, a TCP port is not: `bun fleet-relay.ts HOST PORT PATH`
// (run in the router's namespace) listens on HOST:PORT and forwards each connection to PATH; `serveUnixToTcp`
// (in the test process, root namespace) accepts on PATH and connects to the broker's TCP port.

import { createConnection, createServer, type Server, type Socket } from "node:net";

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const close = () => {
    a.destroy();
    b.destroy();
  };
  a.on("error", close).on("close", close);
  b.on("error", close).on("close", close);
}

/** Root side: Unix socket at `path` → TCP `host`:`port`. */
export function serveUnixToTcp(path: string, host: string, port: number): Promise<Server> {
  const server = createServer((client) => pipeBoth(client, createConnection({ host, port })));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve(server));
  });
}

if (import.meta.main) {
  const [host, port, path] = process.argv.slice(2);
  if (host === undefined || port === undefined || path === undefined) {
    console.error("usage: bun fleet-relay.ts HOST PORT UNIX-PATH");
    process.exit(2);
  }
  const server = createServer((client) => pipeBoth(client, createConnection({ path })));
  server.listen(Number(port), host, () => console.log("listening"));
}
