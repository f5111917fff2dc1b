// Helper programs the data-plane lab tests run inside namespaces: a hashed TCP transfer, and a crafted ESP packet sender.
//
//   bun dataplane-tools.ts sink ADDRESS PORT            accept one connection, print "<bytes> <sha256>" when it closes
//   bun dataplane-tools.ts source ADDRESS PORT BYTES    send BYTES of seeded pseudo-random data, print "<bytes> <sha256>"
//   bun dataplane-tools.ts esp DEVICE DESTINATION SEQUENCE COUNT INNER_SOURCE INNER_DESTINATION
//       send COUNT ICMPv6 echo requests sealed with the lab's router→home-agent tunnel SA (sequence numbers
//       from SEQUENCE), out of DEVICE from the address the kernel picks there; prints how many left

import { createHash } from "node:crypto";
import { openRawSocket } from "../../board/linux/raw-socket.ts";
import { Counters } from "../../firmware/core/counters.ts";
import { instant } from "../../firmware/core/instant.ts";
import { SecretBytes } from "../../firmware/core/secret.ts";
import { EspOutbound } from "../../firmware/ipsec/esp-outbound.ts";
import { SecurityAssociationDatabase, spi } from "../../firmware/ipsec/sad.ts";
import { fastestCryptoProvider } from "../../firmware/runtime/crypto-backends.ts";
import { parseIpv6 } from "../../firmware/wire/address.ts";
import { emitIcmpv6 } from "../../firmware/wire/icmpv6.ts";
import { emitIpv6Packet } from "../../firmware/wire/ipv6.ts";
import { IpProtocol } from "../../firmware/wire/protocol-numbers.ts";
import { LAB_KEYS } from "./dataplane-harness.ts";

const [mode, ...args] = Bun.argv.slice(2);

/** xorshift32 stream: the same bytes on both ends without shipping a file. */
function fill(buffer: Uint8Array, state: { x: number }): void {
  const words = new Uint32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength >>> 2);
  let x = state.x;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  state.x = x;
}

if (mode === "sink") {
  const [address, port] = args;
  const hash = createHash("sha256");
  let bytes = 0;
  const server = Bun.listen({
    hostname: address!,
    port: Number(port),
    socket: {
      data(_s, data) {
        hash.update(data);
        bytes += data.length;
      },
      close() {
        console.log(`${bytes} ${hash.digest("hex")}`);
        server.stop(true);
        process.exit(0);
      },
    },
  });
  console.log("listening");
} else if (mode === "source") {
  const [address, port, total] = args;
  const want = Number(total);
  const hash = createHash("sha256");
  const chunk = new Uint8Array(64 * 1024);
  const state = { x: 0x12345678 };
  let sent = 0;
  let pending: Uint8Array | undefined;
  const done = Promise.withResolvers<void>();
  const pump = (s: { write(d: Uint8Array): number; end(): void }) => {
    for (;;) {
      if (pending === undefined) {
        if (sent >= want) {
          s.end();
          done.resolve();
          return;
        }
        fill(chunk, state);
        const n = Math.min(chunk.length, want - sent);
        pending = chunk.subarray(0, n);
        hash.update(pending);
        sent += n;
      }
      const w = s.write(pending);
      if (w < pending.length) {
        pending = pending.subarray(w);
        return;
      }
      pending = undefined;
    }
  };
  await Bun.connect({ hostname: address!, port: Number(port), socket: { open: pump, drain: pump, data() {} } });
  await done.promise;
  console.log(`${sent} ${hash.digest("hex")}`);
} else if (mode === "esp") {
  const [device, destination, sequence, count, innerSource, innerDestination] = args;
  const counters = new Counters();
  const sad = new SecurityAssociationDatabase(await fastestCryptoProvider());
  const k = LAB_KEYS.tunnelToHomeAgent;
  const added = sad.add({ spi: spi(k.spi), direction: "outbound", mode: "tunnel", suite: "aes128gcm16", extendedSequenceNumbers: true, keys: { encryption: new SecretBytes(Uint8Array.from(k.keymat)) } }, instant(0));
  if (!added.ok) throw new Error(JSON.stringify(added.error));
  const sa = added.value;
  sa.sequenceLow = Number(sequence) - 1;
  const outbound = new EspOutbound(sad, counters);
  const socket = openRawSocket("esp6", { device: device! });
  if (!socket.ok) throw new Error(JSON.stringify(socket.error));
  let sent = 0;
  for (let i = 0; i < Number(count); i++) {
    const addresses = { source: parseIpv6(innerSource!)!, destination: parseIpv6(innerDestination!)! };
    const echo = emitIcmpv6({ kind: "echo-request", identifier: 0x4242, sequenceNumber: i, data: new Uint8Array(32) }, addresses);
    const inner = emitIpv6Packet({ source: innerSource!, destination: innerDestination!, upperProtocol: IpProtocol.icmpv6, upperPayload: echo });
    const length = outbound.protectTunnel(sa, inner, instant(0));
    if (length < 0) throw new Error(`seal: ${outbound.lastDrop}`);
    const r = socket.value.sendTo(sa.output!.subarray(0, length), parseIpv6(destination!)!);
    if (r.ok) sent++;
  }
  socket.value.close();
  console.log(`${sent}`);
} else {
  console.error("usage: dataplane-tools.ts sink|source|esp …");
  process.exit(2);
}
