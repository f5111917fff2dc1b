// Run inside a namespace by dataplane-sockets.test.ts: `receive` prints what arrives, `send` sends it.
import { readdirSync } from "node:fs";
import { interfaceIndex } from "../../board/linux/ffi/libc.ts";
import { MessageBatch, writeSockaddrIn6 } from "../../board/linux/ffi/socket-structs.ts";
import { openSignallingPacketSocket } from "../../board/linux/packet-socket.ts";
import { openRawSocket } from "../../board/linux/raw-socket.ts";
import { openUdpSocket } from "../../board/linux/udp-socket.ts";
import { toHex } from "../../firmware/core/hex.ts";
import { formatIpv6, parseIpv6 } from "../../firmware/wire/address.ts";
import { emitIpv6Packet } from "../../firmware/wire/ipv6.ts";

const fds = () => readdirSync("/proc/self/fd").length;
const must = <T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T => {
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
};

if (Bun.argv[2] === "receive") {
  const before = fds();
  const esp = must(openRawSocket("esp6", { device: "va", receivePacketInfo: true, bufferBytes: 1 << 20 }));
  const signalling = must(openSignallingPacketSocket("va"));
  const udp = must(openUdpSocket(parseIpv6("2001:db8:99::a")!, 4500, { device: "va" }));
  console.log("ready");
  const batch = new MessageBatch(8, 2048);
  const lines: string[] = [];
  const names = new Map([[must(interfaceIndex("va")), "va"]]);
  const deadline = performance.now() + 10_000;
  let espSeen = 0;
  let signallingSeen = 0;
  let udpSeen = 0;
  while (performance.now() < deadline && (espSeen < 4 || signallingSeen < 1 || udpSeen < 1)) {
    batch.prepareReceive(8, true);
    const n = esp.receiveBatch(batch, 8);
    for (let i = 0; i < n; i++) {
      const at = batch.slotOffset(i);
      const info = batch.receivedPacketInfo(i);
      const ifindex = new DataView(batch.control.buffer).getUint32(info + 16, true);
      const source = formatIpv6(batch.names.subarray(batch.nameOffset(i) + 8, batch.nameOffset(i) + 24));
      lines.push(`esp ${batch.receivedLength(i)} ${source} ${formatIpv6(batch.control.subarray(info, info + 16))} ${names.get(ifindex)} ${toHex(batch.data.subarray(at, at + 8))}`);
      espSeen++;
    }
    batch.prepareReceive(8, false);
    const m = signalling.receiveBatch(batch, 8);
    for (let i = 0; i < m; i++) {
      lines.push(`signalling ${batch.receivedLength(i)} ${batch.data[batch.slotOffset(i) + 6] === 60 ? "dstopts" : "other"}`);
      signallingSeen++;
    }
    batch.prepareReceive(8, false);
    const u = udp.receiveBatch(batch, 8);
    for (let i = 0; i < u; i++) {
      lines.push(`udp ${batch.receivedLength(i)} ${new TextDecoder().decode(batch.data.subarray(batch.slotOffset(i), batch.slotOffset(i) + batch.receivedLength(i)))}`);
      udpSeen++;
    }
    if (n <= 0 && m <= 0 && u <= 0) await Bun.sleep(5);
  }
  esp.close();
  signalling.close();
  udp.close();
  esp.close(); // idempotent
  lines.push(`fds-after-close ${fds() === before ? "same" : `${before}→${fds()}`}`);
  console.log(lines.join("\n"));
} else {
  const esp = must(openRawSocket("esp6", { device: "vb" }));
  const batch = new MessageBatch(8, 2048);
  const destination = parseIpv6("2001:db8:99::a")!;
  const source = parseIpv6("2001:db8:99::b")!;
  for (let i = 0; i < 4; i++) {
    const at = batch.slotOffset(i);
    batch.data.fill(0, at, at + 200);
    batch.data[at + 3] = 0x42;
    batch.data[at + 7] = i + 1;
    writeSockaddrIn6(batch.names, batch.nameOffset(i), destination, 0);
    batch.prepareSend(i, 0, 100 + i, 28);
    batch.setSourceIpv6(i, source, 0, 0);
  }
  const sent = esp.sendBatch(batch, 0, 4);
  const raw = must(openRawSocket("ipv6-header-included", { device: "vb" }));
  const bu = emitIpv6Packet({
    source: "2001:db8:99::b",
    destination: "2001:db8:99::a",
    extensionHeaders: [{ kind: "destination-options", options: [{ type: "home-address", homeAddress: "2001:db8:10::20" }] }],
    upperProtocol: 50,
    upperPayload: new Uint8Array(40).fill(7),
  });
  must(raw.sendTo(bu, destination));
  const udp = must(openUdpSocket(new Uint8Array(16), 0, { device: "vb" }));
  must(udp.sendTo(new TextEncoder().encode("hello"), destination, 4500));
  const missing = openRawSocket("esp6", { device: "nosuchdev0" });
  console.log(`sent ${sent} unknown-device ${missing.ok ? "opened" : missing.error.code}`);
  esp.close();
  raw.close();
  udp.close();
}
