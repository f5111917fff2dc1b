// strongSwan (charon, kernel-libipsec) where the home agent's IKE/ESP is, against the real `monami router` in each IKE-keyed multi-CoA design: what works and what charon does differently, measured.
//
//   lan ─ ours (monami router: lte0 2001:db8:1::a, wlan0 2001:db8:2::a) ═ peer (charon on 2001:db8:1::b, ipsec0 → 2001:db8:b::1)
//
// charon is the responder; its local TS is what a home agent offers (the correspondent side), its remote TS
// the router's mobile network and home address. The router runs IKE + ESP only (`ike.signalling: false`):
// charon speaks no Mobile IPv6, so there are no BU/BA; every usable uplink counts as registered, `primary`
// and `mobike` move the IKE SA (and with it the one CoA they use) by MOBIKE. One lab and one charon serve
// every test (namespaces swm{l,o,p}<pid>).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { listIkeSas, must, repoRoot, sh } from "./strongswan-lab.ts";
import { CHARON, HOME_ADDRESS, LAN_HOST, LAN_ROUTER, MOBILE_NETWORK, OURS, PEER, PEER_INNER, TrafficLab } from "./strongswan-traffic-lab.ts";

const isRoot = process.getuid?.() === 0;
const haveTools = existsSync(CHARON) && sh(["which", "swanctl", "tshark"]).code === 0;
const PSK = "swm-modes-psk-0123456789abcdef";
const STREAM = resolve(import.meta.dir, "../lab/ike-dataplane-stream.ts");
/** `simultaneous` and `per-coa`: UDP to port 5001 goes over LTE, everything else over the preferred uplink. */
/** A third host beside charon (its own namespace) for a second IKE SA of the router's identity. */
const THIRD = "2001:db8:3::c";
const THIRD_GATEWAY = "2001:db8:3::b";
const LTE_FLOW = { flowRules: [{ name: "udp-5001-on-lte", match: { protocol: [17], ports: [{ from: 5001, to: 5001 }] }, kinds: ["cellular"] }] };

type Design = "mobike" | "primary" | "simultaneous" | "per-coa";
type Unique = "no" | "replace";

/** charon as the home agent's IKE/ESP: responder, MOBIKE on (its default), the given `unique` policy. */
function charonConf(unique: Unique, extraChildren = ""): string {
  return `connections {
  rw {
    version = 2
    local_addrs = ${PEER.lte}
    remote_addrs = %any
    proposals = aes128gcm16-prfsha256-x25519
    unique = ${unique}
    local {
      auth = psk
      id = b.lab
    }
    remote {
      auth = psk
      id = a.lab
    }
    children {
      net {
        mode = tunnel
        local_ts = 2001:db8:b::/64
        remote_ts = ${MOBILE_NETWORK},${HOME_ADDRESS}/128
        esp_proposals = aes128gcm16
      }${extraChildren}
    }
  }
}
secrets {
  ike-lab {
    id-a = b.lab
    id-b = a.lab
    secret = "${PSK}"
  }
}
`;
}

/** One ESP packet seen on the router's uplinks (ESP in UDP 4500: libipsec has no raw ESP). */
interface EspRow {
  readonly src: string;
  readonly dst: string;
  /** 8 hex digits, as swanctl prints SPIs. */
  readonly spi: string;
}

const count = (rows: readonly EspRow[], f: (r: EspRow) => boolean) => rows.filter(f).length;

describe.skipIf(!isRoot || !haveTools)("strongSwan as the home agent's IKE/ESP peer of each multi-CoA design", () => {
  const lab = new TrafficLab("swm");
  const third = `swmx${process.pid}`;
  let pskFile = "";

  beforeAll(async () => {
    await lab.up();
    pskFile = join(lab.dir, "psk");
    writeFileSync(pskFile, PSK, { mode: 0o600 });
  }, 30_000);
  afterAll(async () => {
    await lab.down();
    sh(["ip", "netns", "del", third]);
    const left = sh(["ip", "netns", "list"]).out;
    for (const ns of [lab.lan, lab.ours, lab.peer, third]) expect(left).not.toContain(ns);
  }, 30_000);

  function routerConfig(design: Design, ike: Record<string, unknown>, multiCoa: Record<string, unknown>) {
    return {
      role: "router",
      homeAddress: HOME_ADDRESS,
      homeAgent: PEER.lte,
      mobileNetworkPrefixes: [MOBILE_NETWORK],
      lan: { interface: "lan0", address: LAN_ROUTER },
      tunnel: { interface: "mnr0" },
      uplinks: [
        { id: "lte", interface: "lte0", bindingId: 1, careOfAddress: OURS.lte, kind: "cellular" },
        { id: "wifi", interface: "wlan0", bindingId: 2, careOfAddress: OURS.wifi, kind: "wifi" },
      ],
      activeUplink: "lte",
      security: "ikev2",
      ipsec: { multiCoaMode: design, multiCoa },
      ike: {
        auth: { method: "psk", psk: { ref: `file:${pskFile}` } },
        localId: "a.lab",
        remoteId: "b.lab",
        proposals: ["aes128gcm16-prfsha256-x25519"],
        espProposals: ["aes128gcm16"],
        remoteTs: ["2001:db8:b::/64"],
        signalling: false,
        // The IKE SA follows a new care-of address the MOBIKE way (charon has no K-bit BU to move it by).
        addressUpdate: "mobike",
        ...ike,
      },
      controlSocket: lab.controlSocket,
      loop: { placement: "worker" },
    };
  }

  const charonLog = () => (existsSync(join(lab.dir, "charon.log")) ? readFileSync(join(lab.dir, "charon.log"), "utf8") : "");
  /** charon's IKE SAs of the `rw` connection (one per router address in `per-coa`). */
  const charonSas = () => listIkeSas(lab.dir, lab.uri).filter((x) => x.connection === "rw").map((x) => x.sa);
  const hosts = () => charonSas().map((sa) => sa["remote-host"] as string).sort();
  const installed = (sa: Record<string, any> | undefined): Record<string, any> | undefined => Object.values((sa?.["child-sas"] ?? {}) as Record<string, any>).find((c) => c.state === "INSTALLED");
  const saOn = (address: string) => charonSas().find((sa) => sa["remote-host"] === address);

  async function until(what: string, f: () => boolean, ms = 10_000): Promise<void> {
    for (const deadline = performance.now() + ms; performance.now() < deadline; await Bun.sleep(100)) if (f()) return;
    throw new Error(`${what} not within ${ms} ms\nrouter:\n${lab.logs.slice(-30).join("\n")}\ncharon:\n${charonLog().split("\n").slice(-30).join("\n")}`);
  }

  async function ping(from: "lan" | "peer"): Promise<number> {
    const r = from === "lan" ? lab.exec(lab.lan, ["ping", "-6", "-c", "5", "-i", "0.2", "-W", "2", PEER_INNER]) : lab.exec(lab.peer, ["ping", "-6", "-c", "5", "-i", "0.2", "-W", "2", "-I", PEER_INNER, LAN_HOST]);
    return Number(r.out.match(/(\d+) received/)?.[1] ?? 0);
  }

  /** tshark on router uplinks; `stop` returns the ESP seen. `file` is the capture (for the clear-text check). */
  async function capture(name: string, interfaces: readonly string[]): Promise<{ stop: () => Promise<EspRow[]>; file: string }> {
    const file = join(lab.dir, `${name}.pcapng`);
    const proc = lab.spawn(lab.ours, ["tshark", "-n", "-q", ...interfaces.flatMap((i) => ["-i", i]), "-w", file]);
    const reader = proc.stderr.getReader();
    let text = "";
    for (let i = 0; i < 50 && !text.includes("Capturing on"); i++) {
      const chunk = await Promise.race([reader.read(), Bun.sleep(200).then(() => undefined)]);
      if (chunk && !chunk.done) text += new TextDecoder().decode(chunk.value);
    }
    reader.releaseLock();
    return {
      file,
      stop: async () => {
        await Bun.sleep(300);
        proc.kill("SIGINT");
        await proc.exited;
        const r = lab.exec(lab.ours, ["tshark", "-n", "-r", file, "-Y", "esp", "-T", "fields", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "esp.spi"]);
        return r.out
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => {
            const [src, dst, spi] = l.split("\t");
            return { src: src!, dst: dst!, spi: spi!.replace(/^0x/, "").padStart(8, "0") };
          });
      },
    };
  }

  /** Frames on the uplinks showing the LAN host's or charon's inner address in clear (none may). */
  function clearInner(file: string): number {
    const r = lab.exec(lab.ours, ["tshark", "-n", "-r", file, "-Y", `ipv6.addr == ${LAN_HOST} || ipv6.addr == ${PEER_INNER}`, "-T", "fields", "-e", "frame.number"]);
    return r.out.split("\n").filter((l) => l.trim() !== "").length;
  }

  /** A numbered UDP stream (200/s, `count` datagrams) into `port`: lan → charon's side, or back. */
  async function stream(from: "lan" | "peer", port: number, count = 400): Promise<{ received: number; missing: number }> {
    const [sinkNs, sinkAddress, sourceNs] = from === "lan" ? [lab.peer, PEER_INNER, lab.lan] : [lab.lan, LAN_HOST, lab.peer];
    const sink = lab.spawn(sinkNs, [process.execPath, STREAM, "sink", sinkAddress, String(port), String(count / 200 + 1)]);
    const out = new Response(sink.stdout).text();
    await Bun.sleep(400);
    await lab.spawn(sourceNs, [process.execPath, STREAM, "source", sinkAddress, String(port), "200", String(count)]).exited;
    // The sink reports 3 s after its first datagram; none at all: it never reports.
    const done = await Promise.race([out, Bun.sleep(count * 5 + 3000).then(() => undefined)]);
    if (done === undefined) sink.kill();
    const last = done?.trim().split("\n").at(-1) ?? "";
    return last.startsWith("{") ? (JSON.parse(last) as { received: number; missing: number }) : { received: 0, missing: count };
  }

  /** 800 datagrams each way (4 s at 200/s), `event` ~1.5 s in: what each direction received and lost across it. */
  async function streamsAcross(event: () => Promise<unknown>): Promise<{ up: { received: number; missing: number }; down: { received: number; missing: number } }> {
    const both = Promise.all([stream("lan", 5002, 800), stream("peer", 5003, 800)]);
    await Bun.sleep(1900);
    await event();
    const [up, down] = await both;
    return { up, down };
  }

  async function start(design: Design, unique: Unique, ike: Record<string, unknown> = {}, multiCoa: Record<string, unknown> = {}, extraChildren = ""): Promise<{ mark: number; charonMark: number }> {
    lab.load(charonConf(unique, extraChildren));
    const charonMark = charonLog().length;
    const mark = lab.logs.length;
    await lab.startDaemon("router", routerConfig(design, ike, multiCoa));
    return { mark, charonMark };
  }

  /** The uplink loses carrier (its addresses and routes go with it) and the link monitor says so. */
  async function breakUplink(id: "lte" | "wifi"): Promise<void> {
    lab.exec(lab.ours, ["ip", "link", "set", id === "lte" ? "lte0" : "wlan0", "down"]);
    await lab.control(`link ${id} down`);
  }

  /** Stops the router (its DELETEs reach charon) and restores both uplinks. */
  async function stop(): Promise<void> {
    await lab.stopDaemon();
    for (let i = 0; i < 40 && charonSas().length > 0; i++) await Bun.sleep(100);
    lab.exec(lab.ours, ["ip", "link", "set", "lte0", "up"]);
    lab.exec(lab.ours, ["ip", "link", "set", "wlan0", "up"]);
    // A link set down loses its IPv6 addresses (keep_addr_on_down = 0) and its routes: put them back.
    for (const [dev, address] of [["lte0", OURS.lte], ["wlan0", OURS.wifi]] as const) lab.exec(lab.ours, ["ip", "-6", "addr", "replace", `${address}/64`, "dev", dev, "nodad"]);
    lab.exec(lab.ours, ["ip", "-6", "route", "replace", `${PEER.lte}/128`, "dev", "lte0", "metric", "100"]);
    lab.exec(lab.ours, ["ip", "-6", "route", "replace", `${PEER.lte}/128`, "via", PEER.wifi, "dev", "wlan0", "metric", "200"]);
    lab.exec(lab.peer, ["ip", "-6", "route", "replace", `${OURS.lte}/128`, "dev", "lte-p"]);
    await Bun.sleep(300);
  }

  const firstChild = (mark: number) => lab.waitForLog(/router: .*CHILD_SA payload tunnel .* in UDP/, 15_000, mark);

  /**
   * `mobike` and `primary` without BU/BA: one IKE SA on LTE; (a) Wi-Fi preferred → UPDATE_SA_ADDRESSES from Wi-Fi
   * announcing LTE, traffic moves on charon's answer (make-before-break), charon re-keys the CHILD_SA; (b) Wi-Fi
   * breaks → the update from LTE, traffic with it. A stream runs across each event; returns what it lost.
   */
  async function makeBeforeBreakThenBreak(design: "mobike" | "primary"): Promise<{ makeBeforeBreak: { up: number; down: number }; break: { up: number; down: number } }> {
    const { mark, charonMark } = await start(design, "no");
    const inUse = async () => {
      const m = (await lab.control("status")).multiCoa;
      return design === "primary" ? m.primary : m.inUse;
    };
    try {
      await firstChild(mark);
      expect(hosts()).toEqual([OURS.lte]);
      expect(await inUse()).toBe("lte");
      expect((await lab.control("status")).multiCoa.registered).toEqual(["lte", "wifi"]);
      expect(await ping("lan")).toBe(5);
      expect(await ping("peer")).toBe(5);

      // (a) make-before-break: INFORMATIONAL { UPDATE_SA_ADDRESSES, NAT_D, COOKIE2, ADDITIONAL_IP6_ADDRESS lte } --> from Wi-Fi
      const a = await capture(`${design}-a`, ["lte0", "wlan0"]);
      const moved = lab.waitForLog(new RegExp(`router: .*IKE: SA .* now \\[${OURS.wifi}\\]:4500`), 10_000, lab.logs.length);
      const across = await streamsAcross(() => lab.control("uplink wifi"));
      await moved;
      await until("charon's IKE SA on Wi-Fi", () => hosts().join() === OURS.wifi);
      expect(await inUse()).toBe("wifi");
      const log = charonLog().slice(charonMark);
      expect(log).toMatch(/parsed INFORMATIONAL request \d+ \[ N\(UPD_SA_ADDR\) N\(NATD_S_IP\) N\(NATD_D_IP\) N\(COOKIE2\) N\(ADD_6_ADDR\) \]/);
      expect(log).toContain(`remote endpoint changed from ${OURS.lte}[4500] to ${OURS.wifi}[4500]`);
      // libipsec cannot update an SA's addresses: charon re-keys the CHILD_SA instead (interop-lab §2.8).
      expect(log).toMatch(/generating CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\) SA No TSi TSr \]/);
      await lab.waitForLog(/router: .*CHILD_SA payload tunnel .* \(rekeys /, 5_000, mark);
      const rowsA = await a.stop();
      // Before the answer everything was on LTE; after it, both directions on Wi-Fi.
      expect(count(rowsA, (r) => r.src === OURS.lte)).toBeGreaterThan(100);
      expect(count(rowsA, (r) => r.src === OURS.wifi)).toBeGreaterThan(100);
      expect(count(rowsA, (r) => r.dst === OURS.wifi)).toBeGreaterThan(100);
      expect(clearInner(a.file)).toBe(0);
      expect([across.up.received + across.up.missing, across.down.received + across.down.missing]).toEqual([800, 800]);

      // (b) break: Wi-Fi loses carrier; the update leaves from LTE (NO_ADDITIONAL_ADDRESSES) and the traffic with it.
      const b = await capture(`${design}-b`, ["lte0"]);
      const back = lab.waitForLog(new RegExp(`router: .*IKE: SA .* now \\[${OURS.lte}\\]:4500`), 10_000, lab.logs.length);
      const broken = await streamsAcross(() => breakUplink("wifi"));
      await back;
      await until("charon's IKE SA back on LTE", () => hosts().join() === OURS.lte);
      expect(await inUse()).toBe("lte");
      expect(charonLog().slice(charonMark)).toContain(`remote endpoint changed from ${OURS.wifi}[4500] to ${OURS.lte}[4500]`);
      const rowsB = await b.stop();
      const child = installed(saOn(OURS.lte))!;
      expect(count(rowsB, (r) => r.src === OURS.lte && r.spi === child["spi-in"])).toBeGreaterThan(100);
      expect(count(rowsB, (r) => r.dst === OURS.lte && r.spi === child["spi-out"])).toBeGreaterThan(100);
      expect(clearInner(b.file)).toBe(0);
      const after = await Promise.all([stream("lan", 5002), stream("peer", 5003)]);
      expect(after.map((s) => [s.received, s.missing])).toEqual([
        [400, 0],
        [400, 0],
      ]);
      const figures = { makeBeforeBreak: { up: across.up.missing, down: across.down.missing }, break: { up: broken.up.missing, down: broken.down.missing } };
      console.log(`strongswan-modes ${design} lost (200/s each way): ${JSON.stringify(figures)}`);
      return figures;
    } finally {
      await stop();
    }
  }

  test("mobike: one IKE SA on LTE; Wi-Fi preferred → UPDATE_SA_ADDRESSES from Wi-Fi, traffic moves on charon's answer (make-before-break), charon re-keys the CHILD_SA; Wi-Fi breaks → back to LTE at once", async () => {
    const lost = await makeBeforeBreakThenBreak("mobike");
    expect(lost.makeBeforeBreak).toEqual({ up: 0, down: 0 });
    // The break is declared at once (carrier): what it costs is the update's round trip and the loop's turn, < 200 ms.
    expect(Math.max(lost.break.up, lost.break.down)).toBeLessThanOrEqual(40);
  }, 90_000);

  test("primary without BU/BA: the primary is the IKE SA's CoA — LTE at once, switched to Wi-Fi by MOBIKE (make-before-break) and back to LTE on a break", async () => {
    const lost = await makeBeforeBreakThenBreak("primary");
    expect(lost.makeBeforeBreak).toEqual({ up: 0, down: 0 });
    // The break is declared at once (carrier): what it costs is the update's round trip and the loop's turn, < 200 ms.
    expect(Math.max(lost.break.up, lost.break.down)).toBeLessThanOrEqual(40);
  }, 90_000);

  test("primary with BU/BA against charon: asked for the BU/BA transport CHILD_SA (RFC 4877 §4.3), charon answers TS_UNACCEPTABLE and the router never starts its links", async () => {
    // ike.signalling true, charon offered a transport child for MH between the home agent and the home address.
    const mh = `
      mh {
        mode = transport
        local_ts = ${PEER.lte}/128[135]
        remote_ts = ${HOME_ADDRESS}/128[135]
        esp_proposals = aes128gcm16
      }`;
    const { mark, charonMark } = await start("primary", "no", { signalling: true }, {}, mh);
    try {
      await firstChild(mark);
      await lab.waitForLog(/router: .*IKE: CHILD_SA mh failed: peer refused CREATE_CHILD_SA \(TS_UNACCEPTABLE\)/, 10_000, mark);
      expect(charonLog().slice(charonMark)).toMatch(/parsed CREATE_CHILD_SA request \d+ \[ N\(USE_TRANSP\) SA No TSi TSr \][\s\S]*generating CREATE_CHILD_SA response \d+ \[ N\(TS_UNACCEPT\) \]/);
      // Without the BU/BA SA the router never starts its links.
      expect((await lab.control("status")).multiCoa.usable).toEqual([]);
    } finally {
      await stop();
    }
  }, 60_000);

  test("simultaneous: one SA from both CoAs at once — libipsec accepts ESP from the address that is not the IKE SA's, but sends all of its ESP to the IKE SA's address; a break of that CoA moves the IKE SA by MOBIKE", async () => {
    const { mark, charonMark } = await start("simultaneous", "no", {}, LTE_FLOW);
    const both = await capture("simultaneous-a", ["lte0", "wlan0"]);
    try {
      await firstChild(mark);
      expect(hosts()).toEqual([OURS.lte]);
      expect(await ping("lan")).toBe(5);
      // Wi-Fi preferred: before any BA every usable CoA carries; the default flow moves at once, the IKE SA follows (MOBIKE).
      await lab.control("uplink wifi");
      await lab.waitForLog(new RegExp(`router: .*IKE: SA .* now \\[${OURS.wifi}\\]:4500`), 10_000, mark);
      await until("charon's IKE SA on Wi-Fi", () => hosts().join() === OURS.wifi);
      await lab.waitForLog(/router: .*CHILD_SA payload tunnel .* \(rekeys /, 5_000, mark);
      expect(charonLog().slice(charonMark)).toContain(`remote endpoint changed from ${OURS.lte}[4500] to ${OURS.wifi}[4500]`);
      // // lan ──UDP 5001 (flow rule: LTE)──> b::1 ; lan ──UDP 5002 (default: Wi-Fi)──> b::1 ; b::1 ──UDP 5003──> lan, at once
      const streams = await Promise.all([stream("lan", 5001), stream("lan", 5002), stream("peer", 5003)]);
      expect(streams.map((s) => [s.received, s.missing])).toEqual([
        [400, 0],
        [400, 0],
        [400, 0],
      ]);
      const child = installed(saOn(OURS.wifi))!;
      const rows = await both.stop();
      // The one CHILD_SA, from both source addresses; libipsec decrypted both (RFC 5648 §9.3.2's "irrelevant to IPsec").
      const fromLte = count(rows, (r) => r.src === OURS.lte && r.dst === PEER.lte && r.spi === child["spi-in"]);
      const fromWifi = count(rows, (r) => r.src === OURS.wifi && r.dst === PEER.lte && r.spi === child["spi-in"]);
      expect(fromLte).toBeGreaterThanOrEqual(400);
      expect(fromWifi).toBeGreaterThanOrEqual(400);
      expect(Number(child["packets-in"])).toBeGreaterThanOrEqual(fromLte + fromWifi);
      // charon's side: every packet to the IKE SA's address (no per-flow return path, no binding cache).
      expect(count(rows, (r) => r.src === PEER.lte && r.spi === child["spi-out"] && r.dst === OURS.wifi)).toBeGreaterThanOrEqual(400);
      expect(count(rows, (r) => r.src === PEER.lte && r.spi === child["spi-out"] && r.dst !== OURS.wifi)).toBe(0);
      expect(clearInner(both.file)).toBe(0);

      // Break of Wi-Fi, where the IKE SA is: traffic and the IKE SA move to LTE.
      const lte = await capture("simultaneous-b", ["lte0"]);
      await breakUplink("wifi");
      await lab.waitForLog(new RegExp(`router: .*IKE: SA .* now \\[${OURS.lte}\\]:4500`), 10_000, mark);
      await until("charon's IKE SA back on LTE", () => hosts().join() === OURS.lte);
      const after = await Promise.all([stream("lan", 5002), stream("peer", 5003)]);
      expect(after.map((s) => [s.received, s.missing])).toEqual([
        [400, 0],
        [400, 0],
      ]);
      const back = await lte.stop();
      expect(count(back, (r) => r.src === PEER.lte && r.dst === OURS.lte)).toBeGreaterThanOrEqual(400);
      expect(clearInner(lte.file)).toBe(0);
    } finally {
      await stop();
    }
  }, 60_000);

  test("per-coa: charon (unique = no) keeps an IKE SA per CoA — INITIAL_CONTACT only on the first; each CoA's ESP under its own SA; charon sends only on the newest CHILD_SA, so losing that CoA loses the downlink; another IKE SA with INITIAL_CONTACT makes charon destroy ours silently", async () => {
    const { mark, charonMark } = await start("per-coa", "no", {}, LTE_FLOW);
    const both = await capture("per-coa-a", ["lte0", "wlan0"]);
    try {
      await lab.waitForLog(/router: .*per-coa: wifi SA /, 15_000, mark);
      await until("two IKE SAs at charon", () => hosts().join() === [OURS.lte, OURS.wifi].join());
      const log = charonLog().slice(charonMark);
      const auths = [...log.matchAll(/parsed IKE_AUTH request 1 \[ ([^\]]*) \]/g)].map((m) => m[1]!);
      expect(auths).toHaveLength(2);
      expect(auths.map((a) => a.includes("N(INIT_CONTACT)"))).toEqual([true, false]);
      expect(log).not.toContain("deleting duplicate IKE_SA");
      const lteSa = installed(saOn(OURS.lte))!;
      const wifiSa = installed(saOn(OURS.wifi))!;
      // Same selectors: one reqid, two SA pairs.
      expect(lteSa.reqid).toBe(wifiSa.reqid);
      expect(await ping("lan")).toBe(5);
      expect(await ping("peer")).toBe(5);
      await lab.control("uplink wifi");
      await Bun.sleep(300);
      const streams = await Promise.all([stream("lan", 5001), stream("lan", 5002), stream("peer", 5003)]);
      expect(streams.map((s) => [s.received, s.missing])).toEqual([
        [400, 0],
        [400, 0],
        [400, 0],
      ]);
      const rows = await both.stop();
      expect(count(rows, (r) => r.src === OURS.lte && r.spi === lteSa["spi-in"])).toBeGreaterThanOrEqual(400);
      expect(count(rows, (r) => r.src === OURS.wifi && r.spi === wifiSa["spi-in"])).toBeGreaterThanOrEqual(400);
      // Two outbound SAs for one policy: libipsec uses the one installed last (Wi-Fi's), towards its address.
      const down = rows.filter((r) => r.src === PEER.lte);
      expect(down.length).toBeGreaterThanOrEqual(405);
      expect(down.every((r) => r.spi === wifiSa["spi-out"] && r.dst === OURS.wifi)).toBe(true);
      expect(installed(saOn(OURS.lte))!["packets-out"]).toBe("0");
      expect(clearInner(both.file)).toBe(0);

      // Wi-Fi breaks: the router sends everything under LTE's SA; charon keeps sending on Wi-Fi's.
      const lte = await capture("per-coa-b", ["lte0"]);
      await breakUplink("wifi");
      await Bun.sleep(300);
      const [up, lost] = await Promise.all([stream("lan", 5002), stream("peer", 5003)]);
      expect([up.received, up.missing]).toEqual([400, 0]);
      expect(lost.received).toBe(0);
      const back = await lte.stop();
      expect(count(back, (r) => r.src === OURS.lte && r.spi === lteSa["spi-in"])).toBeGreaterThanOrEqual(400);
      expect(count(back, (r) => r.src === PEER.lte)).toBe(0);
      expect(hosts()).toEqual([OURS.lte, OURS.wifi]);

      // A fresh IKE SA of the same identity with INITIAL_CONTACT (what every per-coa IKE_AUTH carried before),
      // from a third host (the router's data plane holds UDP 4500).
      const probeMark = charonLog().length;
      must(["ip", "netns", "add", third]);
      must(["ip", "link", "add", "swmx0", "netns", third, "type", "veth", "peer", "name", "swmx-p", "netns", lab.peer]);
      for (const [ns, dev, address] of [[third, "swmx0", THIRD], [lab.peer, "swmx-p", THIRD_GATEWAY]] as const) {
        must(["ip", "-n", ns, "link", "set", dev, "up"]);
        must(["ip", "-n", ns, "-6", "addr", "add", `${address}/64`, "dev", dev, "nodad"]);
      }
      must(["ip", "-n", third, "-6", "route", "add", `${PEER.lte}/128`, "via", THIRD_GATEWAY]);
      const probe = lab.spawn(third, [process.execPath, join(repoRoot, "firmware/main.ts"), "ike", "probe", "--peer", PEER.lte, "--local", THIRD, "--id", "a.lab", "--remote-id", "b.lab", "--psk-file", pskFile, "--proposal", "aes128gcm16-prfsha256-x25519", "--esp-proposal", "aes128gcm16", "--local-ts", MOBILE_NETWORK, "--remote-ts", "2001:db8:b::/64", "--hold", "1", "--timeout", "15"]);
      const [probeOut, probeErr, probeCode] = await Promise.all([new Response(probe.stdout).text(), new Response(probe.stderr).text(), probe.exited]);
      if (probeCode !== 0) console.log(probeOut, probeErr);
      expect(probeCode).toBe(0);
      const probeLog = charonLog().slice(probeMark);
      expect(probeLog).toMatch(/parsed IKE_AUTH request 1 \[ IDi N\(INIT_CONTACT\)/);
      // Both of the router's IKE SAs are destroyed silently (no DELETE): the router still holds them and sends into nothing.
      expect(probeLog.match(/destroying duplicate IKE_SA for peer 'a\.lab', received INITIAL_CONTACT/g)?.length).toBe(2);
      expect(charonSas()).toHaveLength(0);
      expect((await lab.control("status")).ike.ikeSAs).toBe(2);
      expect(await ping("lan")).toBe(0);
    } finally {
      sh(["ip", "netns", "del", third]);
      await stop();
    }
  }, 90_000);

  test("per-coa against unique = replace: charon deletes the first IKE SA when the second CoA's arrives; the router ends with one IKE SA", async () => {
    const { mark, charonMark } = await start("per-coa", "replace", {}, LTE_FLOW);
    try {
      await firstChild(mark);
      await lab.waitForLog(/router: .*IKE: SA home-agent\[1\] closed: deleted by peer/, 10_000, mark);
      expect(charonLog().slice(charonMark)).toContain("deleting duplicate IKE_SA for peer 'a.lab' due to uniqueness policy");
      // The router re-establishes its first IKE SA (2 s later), which in turn replaces the Wi-Fi one.
      await Bun.sleep(4000);
      expect(charonSas()).toHaveLength(1);
      expect((await lab.control("status")).ike.ikeSAs).toBe(1);
    } finally {
      await stop();
    }
  }, 60_000);
});
