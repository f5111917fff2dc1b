// Traffic between monami's ESP and strongSwan's (charon, kernel-libipsec, ESP in UDP): `monami router` as initiator against charon, charon against `monami homeagent`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CHARON, HOME_ADDRESS, LAN_HOST, LAN_ROUTER, MOBILE_NETWORK, OURS, PEER, PEER_INNER, TrafficLab } from "./strongswan-traffic-lab.ts";
import { sh } from "./strongswan-lab.ts";

const isRoot = process.getuid?.() === 0;
const haveTools = existsSync(CHARON) && sh(["which", "swanctl", "tshark", "openssl"]).code === 0;
const PSK = "h12-traffic-psk-0123456789abcdef";
const STREAM = resolve(import.meta.dir, "../lab/ike-dataplane-stream.ts");
const TOOLS = resolve(import.meta.dir, "../lab/dataplane-tools.ts");
const SUITES = [
  { ike: "aes128gcm16-prfsha256-x25519", esp: "aes128gcm16", encr: "AES_GCM_16", keysize: "128", dh: "CURVE_25519" },
  { ike: "aes256gcm16-prfsha384-ecp384", esp: "aes256gcm16", encr: "AES_GCM_16", keysize: "256", dh: "ECP_384" },
] as const;

type Auth = "psk" | "pubkey";

function charonConf(role: "responder" | "initiator", auth: Auth, ike: string, esp: string, ids: { local: string; remote: string }, ts: { local: string; remote: string }): string {
  const local = auth === "psk" ? `auth = psk\n      id = ${ids.local}` : `auth = pubkey\n      certs = peer.pem\n      id = ${ids.local}`;
  const remote = auth === "psk" ? `auth = psk\n      id = ${ids.remote}` : `auth = pubkey\n      cacerts = ca.pem\n      id = ${ids.remote}`;
  return `connections {
  ${role === "responder" ? "rw" : "ini"} {
    version = 2
    local_addrs = ${PEER.lte}
    remote_addrs = ${role === "responder" ? "%any" : OURS.lte}
    proposals = ${ike}
    dpd_delay = 5s
    local {
      ${local}
    }
    remote {
      ${remote}
    }
    children {
      net {
        mode = tunnel
        local_ts = ${ts.local}
        remote_ts = ${ts.remote}
        esp_proposals = ${esp}
      }
    }
  }
}
secrets {
  ike-lab {
    id-a = ${ids.local}
    id-b = ${ids.remote}
    secret = "${PSK}"
  }
}
`;
}

function keyLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#")) : [];
}

describe.skipIf(!isRoot || !haveTools)("strongSwan interop with traffic", () => {
  const lab = new TrafficLab("h12");
  let pskFile = "";
  const keyFiles = () => ({ ikev2: join(lab.dir, "ikev2_decryption_table"), esp: join(lab.dir, "esp_sa") });
  const authOf = (auth: Auth, pki?: { ca: string; cert: string; key: string }) =>
    auth === "psk" ? { method: "psk", psk: { ref: `file:${pskFile}` } } : { method: "pubkey", certificateFile: pki!.cert, privateKey: { ref: `file:${pki!.key}` }, trustAnchorFile: pki!.ca };

  beforeAll(async () => {
    await lab.up();
    pskFile = join(lab.dir, "psk");
    writeFileSync(pskFile, PSK, { mode: 0o600 });
  }, 30_000);
  afterAll(async () => {
    await lab.down();
    const left = sh(["ip", "netns", "list"]).out;
    expect(left).not.toContain(lab.ours);
    expect(left).not.toContain(lab.peer);
  }, 30_000);

  function routerConfig(auth: Auth, suite: (typeof SUITES)[number], over: Record<string, unknown> = {}, pki?: { ca: string; cert: string; key: string }) {
    return {
      role: "router",
      homeAddress: HOME_ADDRESS,
      homeAgent: PEER.lte,
      mobileNetworkPrefixes: [MOBILE_NETWORK],
      lan: { interface: "lan0", address: LAN_ROUTER },
      tunnel: { interface: "mnr0" },
      uplinks: [
        { id: "lte", interface: "lte0", bindingId: 1, careOfAddress: OURS.lte },
        { id: "wifi", interface: "wlan0", bindingId: 2, careOfAddress: OURS.wifi },
      ],
      activeUplink: "lte",
      security: "ikev2",
      // charon is no home agent: no BU/BA CHILD_SA, the payload tunnel only.
      ike: { auth: authOf(auth, pki), localId: "a.lab", remoteId: "b.lab", proposals: [suite.ike], espProposals: [suite.esp], remoteTs: ["2001:db8:b::/64"], signalling: false, keyExport: keyFiles(), ...over },
      controlSocket: lab.controlSocket,
      loop: { placement: "worker" },
    };
  }

  /** Our DELETE on shutdown reached charon: it holds no IKE SA for us (polled: charon answers asynchronously). */
  async function deleted(): Promise<void> {
    for (let i = 0; i < 30 && lab.sas()["rw"] !== undefined; i++) await Bun.sleep(100);
    if (lab.sas()["rw"] !== undefined) console.log(lab.logs.slice(-25).join("\n"), readFileSync(join(lab.dir, "charon.log"), "utf8").split("\n").slice(-40).join("\n"));
    expect(lab.sas()["rw"]).toBeUndefined();
  }

  async function ping(from: "lan" | "peer", count = 5): Promise<string> {
    const r = from === "lan" ? lab.exec(lab.lan, ["ping", "-6", "-c", String(count), "-i", "0.2", "-W", "2", PEER_INNER]) : lab.exec(lab.peer, ["ping", "-6", "-c", String(count), "-i", "0.2", "-W", "2", "-I", PEER_INNER, LAN_HOST]);
    return r.out;
  }

  /** A hashed TCP transfer of `bytes` from one side to the other; returns both ends' "<bytes> <sha256>". */
  async function transfer(from: "lan" | "peer", bytes: number): Promise<{ sent: string; received: string }> {
    const [sinkNs, sinkAddress, sourceNs] = from === "lan" ? [lab.peer, PEER_INNER, lab.lan] : [lab.lan, LAN_HOST, lab.peer];
    const port = 7000 + Math.floor(Math.random() * 1000);
    const sink = lab.spawn(sinkNs, [process.execPath, TOOLS, "sink", sinkAddress, String(port)]);
    const reader = sink.stdout.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("listening");
    const source = lab.exec(sourceNs, [process.execPath, TOOLS, "source", sinkAddress, String(port), String(bytes)]);
    let rest = "";
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      rest += new TextDecoder().decode(chunk.value);
    }
    return { sent: source.out.trim(), received: rest.trim() };
  }

  const matrix: [Auth, (typeof SUITES)[number]][] = [
    ["psk", SUITES[0]],
    ["psk", SUITES[1]],
    ["pubkey", SUITES[0]],
    ["pubkey", SUITES[1]],
  ];

  for (const [auth, suite] of matrix) {
    test(`monami router → charon, ${suite.ike} / ${suite.esp}, ${auth}: ping and hashed TCP both ways between lan and charon's side, ESP in UDP`, async () => {
      const pki = auth === "pubkey" ? lab.makePki({ name: "a.lab", type: suite.dh === "ECP_384" ? "ed25519" : "ec" }, { name: "b.lab", type: suite.dh === "ECP_384" ? "ec" : "ed25519" }) : undefined;
      lab.load(charonConf("responder", auth, suite.ike, suite.esp, { local: "b.lab", remote: "a.lab" }, { local: "2001:db8:b::/64", remote: `${MOBILE_NETWORK},${HOME_ADDRESS}/128` }));
      const mark = lab.logs.length;
      await lab.startDaemon("router", routerConfig(auth, suite, {}, pki));
      try {
        await lab.waitForLog(/router: .*CHILD_SA payload tunnel .* in UDP/, 15_000, mark);
        const rw = lab.sas()["rw"]!;
        expect([rw["encr-alg"], rw["encr-keysize"], rw["dh-group"], rw["remote-id"]]).toEqual([suite.encr, suite.keysize, suite.dh, "a.lab"]);
        const child = Object.values(rw["child-sas"] as Record<string, any>)[0]!;
        expect([child.encap, child.mode]).toEqual(["yes", "TUNNEL"]);
        expect(await ping("lan")).toContain(" 0% packet loss");
        expect(await ping("peer")).toContain(" 0% packet loss");
        const up = await transfer("lan", 5_000_000);
        expect(up.received).toBe(up.sent);
        const down = await transfer("peer", 5_000_000);
        expect(down.received).toBe(down.sent);
        expect(up.sent.startsWith("5000000 ")).toBe(true);
        // charon counted our ESP and we counted its ESP (both through UDP 4500).
        const after = Object.values(lab.sas()["rw"]!["child-sas"] as Record<string, any>)[0]!;
        expect(Number(after["packets-in"])).toBeGreaterThan(1000);
        const counters = await lab.control("counters");
        expect(counters["esp.rx.packets"]).toBeGreaterThan(1000);
        expect(counters["dataplane.udp.ike.sent"]).toBeGreaterThan(0);
      } finally {
        await lab.stopDaemon();
      }
      // DELETE on shutdown: charon holds nothing afterwards.
      await deleted();
    }, 90_000);
  }

  test("monami router → charon: CHILD_SA and IKE SA rekeyed by both sides under a numbered UDP stream, nothing lost; liveness; MOBIKE move and charon's CHILD_SA rekey; tshark decrypts", async () => {
    const suite = SUITES[0];
    lab.load(charonConf("responder", "psk", suite.ike, suite.esp, { local: "b.lab", remote: "a.lab" }, { local: "2001:db8:b::/64", remote: `${MOBILE_NETWORK},${HOME_ADDRESS}/128` }));
    const capture = join(lab.dir, "lte.pcap");
    const tshark = lab.spawn(lab.ours, ["tshark", "-n", "-q", "-i", "lte0", "-w", capture]);
    await Bun.sleep(1500);
    const mark = lab.logs.length;
    await lab.startDaemon("router", routerConfig("psk", suite, { childRekeySeconds: 5, ikeRekeySeconds: 6, dpdSeconds: 2 }));
    try {
      await lab.waitForLog(/router: .*CHILD_SA payload tunnel .* in UDP/, 15_000, mark);
      // // lan ──UDP #0…3599 (200/s)──> b::1, while both ends rekey.
      const before = await lab.control("counters");
      const streamMark = lab.logs.length;
      const sink = lab.spawn(lab.peer, [process.execPath, STREAM, "sink", PEER_INNER, "5555", "19"]);
      const out = new Response(sink.stdout).text();
      await Bun.sleep(800);
      const source = lab.spawn(lab.lan, [process.execPath, STREAM, "source", PEER_INNER, "5555", "200", "3600"]);
      await Bun.sleep(4000);
      expect(lab.swanctl("--rekey", "--child", "net").code).toBe(0);
      await Bun.sleep(3000);
      expect(lab.swanctl("--rekey", "--ike", "rw").code).toBe(0);
      await source.exited;
      const result = JSON.parse((await out).trim().split("\n").at(-1)!) as { received: number; missing: number };
      const during = lab.logs.slice(streamMark);
      const after = await lab.control("counters");
      const by = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
      const rekeys = {
        child: during.filter((l) => /CHILD_SA payload tunnel .*\(rekeys /.test(l)).length,
        ike: during.filter((l) => /IKE: SA .* rekeyed as /.test(l)).length,
        childByUs: by("ike.child.rekey-due"),
        ikeByUs: by("ike.sa.rekey-due"),
      };
      console.log(JSON.stringify({ stream: result, rekeys }));
      expect(rekeys.childByUs).toBeGreaterThanOrEqual(1);
      expect(rekeys.ikeByUs).toBeGreaterThanOrEqual(1);
      // Charon's own rekeys were asked with swanctl above (exit 0); a rekey-due of ours may end in a collision (§2.8.1).
      expect(rekeys.child).toBeGreaterThanOrEqual(2);
      expect(rekeys.ike).toBeGreaterThanOrEqual(2);
      expect(result.received).toBe(3600);
      expect(result.missing).toBe(0);

      // Liveness (RFC 7296 §2.4): idle, our 2 s DPD asks charon and keeps the SA.
      await Bun.sleep(3500);
      const counters = await lab.control("counters");
      expect(counters["ike.liveness.due"]).toBeGreaterThan(0);
      expect(lab.sas()["rw"]?.state).toBe("ESTABLISHED");

      // MOBIKE: traffic moves to Wi-Fi; charon follows (UPDATE_SA_ADDRESSES) and rekeys its CHILD_SA (libipsec).
      const moveMark = lab.logs.length;
      await lab.control("uplink wifi");
      await lab.waitForLog(new RegExp(`router: .*IKE: SA .* now \\[${OURS.wifi}\\]:4500`), 10_000, moveMark).catch(async (e) => {
        console.log(JSON.stringify(await lab.control("counters")));
        console.log(readFileSync(join(lab.dir, "charon.log"), "utf8").split("\n").slice(-60).join("\n"));
        throw e;
      });
      for (let i = 0; i < 50 && lab.sas()["rw"]?.["remote-host"] !== OURS.wifi; i++) await Bun.sleep(100);
      expect(lab.sas()["rw"]?.["remote-host"]).toBe(OURS.wifi);
      expect(await ping("lan")).toContain(" 0% packet loss");
    } finally {
      await lab.stopDaemon();
      tshark.kill("SIGINT");
      await tshark.exited;
    }
    await deleted();
    // tshark: our IKE_AUTH and the ESP that followed, with the keys monami exported.
    const ike = keyLines(keyFiles().ikev2);
    const esp = keyLines(keyFiles().esp);
    const args = ["-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE", ...ike.flatMap((l) => ["-o", `uat:ikev2_decryption_table:${l}`]), ...esp.flatMap((l) => ["-o", `uat:esp_sa:${l}`])];
    const auth = lab.exec(lab.ours, ["tshark", "-n", "-r", capture, ...args, "-Y", "isakmp.exchangetype==35", "-T", "fields", "-e", "isakmp.id.data.fqdn"]);
    expect(auth.out).toContain("a.lab");
    const decrypted = lab.exec(lab.ours, ["tshark", "-n", "-r", capture, ...args, "-Y", `esp && udp.dstport==5555`, "-T", "fields", "-e", "esp.icv_good"]);
    expect(decrypted.out.split("\n").filter((l) => /^(1|True)$/.test(l.trim())).length).toBeGreaterThan(1000);
  }, 120_000);
  function homeAgentConfig(auth: Auth, suite: (typeof SUITES)[number], over: Record<string, unknown> = {}, pki?: { ca: string; cert: string; key: string }) {
    return {
      role: "homeagent",
      address: OURS.lte,
      uplink: { interface: "lte0" },
      tunnel: { interface: "mnh0" },
      // charon plays the mobile router: its network 2001:db8:b::/64, identity b.lab, no Mobile IPv6 signalling.
      mobileRouters: [
        {
          homeAddress: PEER_INNER,
          mobileNetworkPrefixes: ["2001:db8:b::/64"],
          security: "ikev2",
          ike: { auth: authOf(auth, pki), localId: "a.lab", remoteId: "b.lab", proposals: [suite.ike], espProposals: [suite.esp], signalling: false, keyExport: keyFiles(), ...over },
        },
      ],
      controlSocket: lab.controlSocket,
      loop: { placement: "worker" },
    };
  }

  async function initiateFromCharon(mark: number): Promise<void> {
    const r = lab.swanctl("--initiate", "--child", "net", "--ike", "ini", "--timeout", "10");
    if (r.code !== 0) throw new Error(`swanctl --initiate: ${r.out}${r.err}\n${lab.logs.slice(mark).join("\n")}`);
    await lab.waitForLog(/homeagent: .*CHILD_SA payload tunnel .* in UDP/, 10_000, mark);
  }

  for (const [auth, suite] of matrix) {
    test(`charon → monami homeagent, ${suite.ike} / ${suite.esp}, ${auth}: ping and hashed TCP both ways, ESP in UDP; charon's DELETE`, async () => {
      const pki = auth === "pubkey" ? lab.makePki({ name: "a.lab", type: suite.dh === "ECP_384" ? "ec" : "ed25519" }, { name: "b.lab", type: suite.dh === "ECP_384" ? "ed25519" : "ec" }) : undefined;
      lab.load(charonConf("initiator", auth, suite.ike, suite.esp, { local: "b.lab", remote: "a.lab" }, { local: "2001:db8:b::/64", remote: MOBILE_NETWORK }));
      const mark = lab.logs.length;
      await lab.startDaemon("homeagent", homeAgentConfig(auth, suite, {}, pki));
      try {
        await initiateFromCharon(mark);
        const ini = lab.sas()["ini"]!;
        expect([ini["encr-alg"], ini["encr-keysize"], ini["dh-group"], ini["remote-id"]]).toEqual([suite.encr, suite.keysize, suite.dh, "a.lab"]);
        expect(await ping("peer")).toContain(" 0% packet loss");
        expect(await ping("lan")).toContain(" 0% packet loss");
        const up = await transfer("lan", 5_000_000);
        expect(up.received).toBe(up.sent);
        const down = await transfer("peer", 5_000_000);
        expect(down.received).toBe(down.sent);
        const closeMark = lab.logs.length;
        expect(lab.swanctl("--terminate", "--ike", "ini", "--timeout", "5").code).toBe(0);
        await lab.waitForLog(/homeagent: .*IKE: SA .* closed: deleted by peer/, 5_000, closeMark);
        const status = await lab.control("status");
        expect(status.ike).toEqual([]);
      } finally {
        await lab.stopDaemon();
      }
    }, 90_000);
  }

  test("charon → monami homeagent: CHILD_SA and IKE SA rekeyed by both sides under a numbered UDP stream, nothing lost", async () => {
    const suite = SUITES[1];
    lab.load(charonConf("initiator", "psk", suite.ike, suite.esp, { local: "b.lab", remote: "a.lab" }, { local: "2001:db8:b::/64", remote: MOBILE_NETWORK }));
    const mark = lab.logs.length;
    await lab.startDaemon("homeagent", homeAgentConfig("psk", suite, { childRekeySeconds: 5, ikeRekeySeconds: 6 }));
    try {
      await initiateFromCharon(mark);
      const before = await lab.control("counters");
      const streamMark = lab.logs.length;
      // // b::1 (behind charon) ──UDP #0…3599 (200/s)──> lan, while both ends rekey.
      const sink = lab.spawn(lab.lan, [process.execPath, STREAM, "sink", LAN_HOST, "5556", "19"]);
      const out = new Response(sink.stdout).text();
      await Bun.sleep(800);
      const source = lab.spawn(lab.peer, [process.execPath, STREAM, "source", LAN_HOST, "5556", "200", "3600"]);
      await Bun.sleep(4000);
      expect(lab.swanctl("--rekey", "--child", "net").code).toBe(0);
      await Bun.sleep(3000);
      expect(lab.swanctl("--rekey", "--ike", "ini").code).toBe(0);
      await source.exited;
      const result = JSON.parse((await out).trim().split("\n").at(-1)!) as { received: number; missing: number };
      const during = lab.logs.slice(streamMark);
      const after = await lab.control("counters");
      const by = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
      const rekeys = {
        child: during.filter((l) => /CHILD_SA payload tunnel .*\(rekeys /.test(l)).length,
        ike: during.filter((l) => /IKE: SA .* rekeyed as /.test(l)).length,
        childByUs: by("ike.child.rekey-due"),
        ikeByUs: by("ike.sa.rekey-due"),
      };
      console.log(JSON.stringify({ stream: result, rekeys }));
      expect(rekeys.childByUs).toBeGreaterThanOrEqual(1);
      expect(rekeys.ikeByUs).toBeGreaterThanOrEqual(1);
      // Charon's own rekeys were asked with swanctl above (exit 0); a rekey-due of ours may end in a collision (§2.8.1).
      expect(rekeys.child).toBeGreaterThanOrEqual(2);
      expect(rekeys.ike).toBeGreaterThanOrEqual(2);
      expect(result.received).toBe(3600);
      expect(result.missing).toBe(0);
    } finally {
      await lab.stopDaemon();
    }
    // Our DELETE on shutdown: charon holds nothing afterwards.
    for (let i = 0; i < 30 && lab.sas()["ini"] !== undefined; i++) await Bun.sleep(100);
    expect(lab.sas()["ini"]).toBeUndefined();
  }, 90_000);
});
