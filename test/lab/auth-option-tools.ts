// Helper programs the auth-option and bypass lab tests run inside namespaces: crafted Mobility Header packets and IPv6-in-IPv6 packets.
//
//   bun auth-option-tools.ts bu PCAP DEVICE VARIANT KEYHEX SPI
//       takes the last packet of PCAP (classic pcap, Ethernet, a BU the router sent) and sends it out of DEVICE to its
//       destination: `replay` as captured, `bad-authenticator` with one bit of the authenticator flipped, `no-mesg-id`
//       without its Mesg-ID option but correctly authenticated with the key (RFC 4285 §5.1); prints "sent"
//   bun auth-option-tools.ts clear DEVICE DESTINATION INNER_SOURCE INNER_DESTINATION SOURCE_PORT DESTINATION_PORT COUNT
//       sends COUNT IPv6-in-IPv6 packets (inner UDP) out of DEVICE from the address the kernel picks there; prints how many left

import { readFileSync } from "node:fs";
import { openRawSocket } from "../../board/linux/raw-socket.ts";
import { fromHex } from "../../firmware/core/hex.ts";
import { decodeMobilityPacket, encodeMobilityPacket } from "../../firmware/mobility/mobility-packet.ts";
import { sign } from "../../firmware/multicoa/auth-option.ts";
import { readPcap } from "../../firmware/pcap/pcap-reader.ts";
import { parseIpv6 } from "../../firmware/wire/address.ts";
import { emitIpv6Packet } from "../../firmware/wire/ipv6.ts";
import { IpProtocol } from "../../firmware/wire/protocol-numbers.ts";

const ETHERNET_HEADER = 14;
const [mode, ...args] = Bun.argv.slice(2);

function must<T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T {
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

if (mode === "bu") {
  const [pcap, device, variant, keyHex, spi] = args;
  const records = must(readPcap(new Uint8Array(readFileSync(pcap!))));
  const frame = records.at(-1);
  if (frame === undefined || frame.linkType !== 1) throw new Error(`${pcap}: no Ethernet frame`);
  const captured = frame.data.subarray(ETHERNET_HEADER);
  const r = must(decodeMobilityPacket(captured));
  if (r.message.type !== "binding-update" || r.homeAddressOption === undefined) throw new Error("the last packet is not a BU with a Home Address option");
  const transmit = { source: r.source, destination: r.destination, homeAddressOption: r.homeAddressOption };
  let packet: Uint8Array;
  if (variant === "replay") {
    packet = captured;
  } else if (variant === "bad-authenticator") {
    const options = r.message.options;
    const last = options.at(-1);
    if (last?.type !== "mobility-message-authentication") throw new Error("no authentication option last");
    const flipped = Uint8Array.from(last.authenticationData);
    flipped[0]! ^= 0x80;
    packet = encodeMobilityPacket({ ...transmit, message: { ...r.message, options: [...options.slice(0, -1), { ...last, authenticationData: flipped }] } });
  } else if (variant === "no-mesg-id") {
    const bare = { ...r.message, options: r.message.options.filter((o) => o.type !== "mobility-message-replay-protection" && o.type !== "mobility-message-authentication") };
    const signed = sign(bare, r.source, r.homeAddressOption, { mobilitySpi: Number(spi), key: fromHex(keyHex!)!, algorithm: "hmac-sha1-96" });
    packet = encodeMobilityPacket({ ...transmit, message: signed });
  } else {
    throw new Error(`unknown variant '${variant}'`);
  }
  const socket = must(openRawSocket("ipv6-header-included", { device: device! }));
  must(socket.sendTo(packet, parseIpv6(r.destination)!));
  socket.close();
  console.log("sent");
} else if (mode === "clear") {
  const [device, destination, innerSource, innerDestination, sourcePort, destinationPort, count] = args;
  const payload = new Uint8Array(8 + 32);
  const sp = Number(sourcePort);
  const dp = Number(destinationPort);
  payload.set([sp >> 8, sp & 0xff, dp >> 8, dp & 0xff, 0, payload.length, 0, 0]);
  const inner = emitIpv6Packet({ source: innerSource!, destination: innerDestination!, upperProtocol: IpProtocol.udp, upperPayload: payload });
  const socket = must(openRawSocket("ipv6-in-ipv6", { device: device! }));
  let sent = 0;
  for (let i = 0; i < Number(count); i++) if (socket.sendTo(inner, parseIpv6(destination!)!).ok) sent++;
  socket.close();
  console.log(String(sent));
} else {
  console.error("usage: auth-option-tools.ts bu PCAP DEVICE VARIANT KEYHEX SPI | clear DEVICE DESTINATION INNER_SOURCE INNER_DESTINATION SOURCE_PORT DESTINATION_PORT COUNT");
  process.exit(2);
}
