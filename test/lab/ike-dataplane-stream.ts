// A numbered UDP stream for loss checks across rekeys (run inside namespaces):
//
//   bun ike-dataplane-stream.ts sink ADDRESS PORT SECONDS     count datagrams for SECONDS after the first, print JSON
//   bun ike-dataplane-stream.ts source ADDRESS PORT RATE COUNT  send COUNT datagrams (4-octet sequence) at RATE per second

export {};

const [mode, address, port, a, b] = Bun.argv.slice(2);

if (mode === "sink") {
  const seen = new Uint8Array(1 << 20);
  let received = 0;
  let duplicates = 0;
  let highest = -1;
  const done = Promise.withResolvers<void>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const socket = await Bun.udpSocket({
    hostname: address!,
    port: Number(port),
    socket: {
      data(_s, data) {
        if (data.length < 4) return;
        const n = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
        if (n >= seen.length) return;
        if (seen[n]) duplicates++;
        else received++;
        seen[n] = 1;
        if (n > highest) highest = n;
        timer ??= setTimeout(() => done.resolve(), Number(a) * 1000);
      },
    },
  });
  console.log("listening");
  await done.promise;
  socket.close();
  let missing = 0;
  for (let i = 0; i <= highest; i++) if (!seen[i]) missing++;
  console.log(JSON.stringify({ received, missing, duplicates, highest }));
  process.exit(0);
} else if (mode === "source") {
  const rate = Number(a);
  const count = Number(b);
  const socket = await Bun.udpSocket({ hostname: address!.includes(":") ? "::" : "0.0.0.0" });
  const payload = new Uint8Array(200);
  const view = new DataView(payload.buffer);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    view.setUint32(0, i);
    socket.send(payload, Number(port), address!);
  }
  socket.close();
  console.log(JSON.stringify({ sent: count }));
} else {
  console.error("usage: ike-dataplane-stream.ts sink|source …");
  process.exit(2);
}
