// The demo's traffic programs, run inside lab namespaces; each prints one JSON line per report interval on stdout.
//
//   bun traffic-tool.ts voice LOCAL_ADDRESS PORT PEER_ADDRESS PEER_PORT
//       both ends of a voice call: 50 packets/s of 160 octets to the peer, and the receiver accounting of the peer's
//   bun traffic-tool.ts serve ADDRESS PORT RATE_BPS
//       a download server: every connection gets pseudo-random bytes, paced to RATE_BPS (0 = as fast as TCP goes)
//   bun traffic-tool.ts fetch ADDRESS PORT
//       a download client: reads, reports goodput, reconnects a second after the connection ends
//
// SIGUSR1 stops a voice end's sending (it keeps receiving). SIGTERM makes each print a last line with `"final": true` and exit.

import { decodeVoicePacket, encodeVoicePacket, VOICE_INTERVAL_MS, VOICE_PAYLOAD_BYTES, VoiceReceiver } from "./voice-stats.ts";

const REPORT_MS = 500;
const [mode, ...args] = Bun.argv.slice(2);
const nowNs = () => process.hrtime.bigint();
const nowMs = () => Number(nowNs()) / 1e6;
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

function onTerm(last: () => void): void {
  const stop = () => {
    last();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

async function voice(local: string, port: number, peer: string, peerPort: number): Promise<void> {
  const receiver = new VoiceReceiver();
  let sent = 0;
  let sendErrors = 0;
  const socket = await Bun.udpSocket({
    hostname: local,
    port,
    socket: {
      data(_s, data) {
        const packet = decodeVoicePacket(data);
        if (packet) receiver.handlePacket(packet.sequence, packet.sentNs, nowNs());
      },
    },
  });
  const payload = new Uint8Array(VOICE_PAYLOAD_BYTES);
  const start = nowMs();
  // Paced on the clock, not on timer ticks: every due frame leaves, so late timers never thin the flow.
  const pace = setInterval(() => {
    const due = Math.floor((nowMs() - start) / VOICE_INTERVAL_MS) + 1;
    while (sent < due) {
      encodeVoicePacket(payload, sent, nowNs());
      try {
        if (!socket.send(payload, peerPort, peer)) sendErrors++;
      } catch {
        sendErrors++; // no route while an uplink is cut: the frame is lost like on air
      }
      sent++;
    }
  }, VOICE_INTERVAL_MS / 2);
  const report = setInterval(() => emit({ t: nowMs(), sent, sendErrors, total: receiver.received, ...receiver.takeInterval(nowNs()) }), REPORT_MS);
  // SIGUSR1: hang up (stop sending) but keep listening, so what is still in flight is counted before SIGTERM.
  process.on("SIGUSR1", () => clearInterval(pace));
  onTerm(() => {
    clearInterval(pace);
    clearInterval(report);
    receiver.finish(nowNs());
    emit({ final: true, t: nowMs(), sent, sendErrors, received: receiver.received, duplicates: receiver.duplicates, expected: receiver.expected, outages: receiver.outages });
  });
}

/** xorshift32 filler, so the bytes are not compressible or constant. */
function fill(buffer: Uint8Array, seed: number): void {
  const words = new Uint32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength >>> 2);
  let x = seed || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
}

interface Writer {
  write(data: Uint8Array): number;
}

function serve(address: string, port: number, rateBps: number): void {
  const chunk = new Uint8Array(16 * 1024);
  fill(chunk, 0x2545f491);
  const clients = new Set<Writer>();
  let sentBytes = 0;
  let credit = 0;
  let last = nowMs();
  const pump = (s: Writer) => {
    for (;;) {
      const budget = rateBps === 0 ? chunk.length : Math.min(chunk.length, Math.floor(credit));
      if (budget <= 0) return;
      const n = s.write(chunk.subarray(0, budget));
      sentBytes += n;
      credit -= n;
      if (n < budget) return;
    }
  };
  Bun.listen({
    hostname: address,
    port,
    socket: {
      open(s) {
        clients.add(s);
        pump(s);
      },
      drain(s) {
        pump(s);
      },
      close(s) {
        clients.delete(s);
      },
      error(s) {
        clients.delete(s);
      },
      data() {},
    },
  });
  setInterval(() => {
    const now = nowMs();
    credit = Math.min(credit + ((now - last) / 1000) * (rateBps / 8), rateBps / 8 / 5);
    last = now;
    for (const s of clients) pump(s);
  }, 10);
  emit({ listening: true });
  onTerm(() => emit({ final: true, t: nowMs(), sentBytes }));
}

async function fetch(address: string, port: number): Promise<void> {
  let bytes = 0;
  let connects = 0;
  let connected = false;
  const connect = async () => {
    try {
      await Bun.connect({
        hostname: address,
        port,
        socket: {
          open() {
            connected = true;
            connects++;
          },
          data(_s, data) {
            bytes += data.byteLength;
          },
          close() {
            connected = false;
            setTimeout(connect, 1000);
          },
          error() {
            connected = false;
          },
        },
      });
    } catch {
      connected = false;
      setTimeout(connect, 1000);
    }
  };
  await connect();
  const report = setInterval(() => emit({ t: nowMs(), bytes, connected, connects }), REPORT_MS);
  onTerm(() => {
    clearInterval(report);
    emit({ final: true, t: nowMs(), bytes, connects });
  });
}

const num = (s: string | undefined) => Number(s ?? Number.NaN);
if (mode === "voice" && args.length === 4) await voice(args[0]!, num(args[1]), args[2]!, num(args[3]));
else if (mode === "serve" && args.length === 3) serve(args[0]!, num(args[1]), num(args[2]));
else if (mode === "fetch" && args.length === 2) await fetch(args[0]!, num(args[1]));
else {
  console.error("usage: traffic-tool.ts voice LOCAL PORT PEER PEER_PORT | serve ADDRESS PORT RATE_BPS | fetch ADDRESS PORT");
  process.exit(2);
}
