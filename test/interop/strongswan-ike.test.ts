// IKEv2 interop with strongSwan 5.9.8 (charon, kernel-libipsec) in two namespaces: our initiator against charon, charon against our responder.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CHARON, OUR_ADDRESS, PEER_ADDRESS, sh, StrongSwanLab } from "./strongswan-lab.ts";

const isRoot = process.getuid?.() === 0;
const haveTools = existsSync(CHARON) && sh(["which", "swanctl", "tshark", "openssl"]).code === 0;
const PSK = "lab-psk-0123456789abcdef";
const SUITES = [
  { ike: "aes128gcm16-prfsha256-x25519", esp: "aes128gcm16", encr: "AES_GCM_16", keysize: "128", prf: "PRF_HMAC_SHA2_256", dh: "CURVE_25519" },
  { ike: "aes256gcm16-prfsha384-ecp384", esp: "aes256gcm16", encr: "AES_GCM_16", keysize: "256", prf: "PRF_HMAC_SHA2_384", dh: "ECP_384" },
] as const;

function conf(role: "responder" | "initiator", auth: "psk" | "pubkey", ike: string, esp: string): string {
  const local = auth === "psk" ? "auth = psk\n      id = b.lab" : "auth = pubkey\n      certs = b.pem\n      id = b.lab";
  const remote = auth === "psk" ? "auth = psk\n      id = a.lab" : "auth = pubkey\n      cacerts = ca.pem\n      id = a.lab";
  return `connections {
  ${role === "responder" ? "rw" : "ini"} {
    version = 2
    local_addrs = ${PEER_ADDRESS}
    remote_addrs = ${role === "responder" ? "%any" : OUR_ADDRESS}
    proposals = ${ike}
    local {
      ${local}
    }
    remote {
      ${remote}
    }
    children {
      net {
        mode = tunnel
        local_ts = 2001:db8:b::/64
        remote_ts = 2001:db8:a::/64
        esp_proposals = ${esp}
      }
    }
  }
}
secrets {
  ike-lab {
    id-a = a.lab
    id-b = b.lab
    secret = "${PSK}"
  }
}
`;
}

describe.skipIf(!isRoot || !haveTools)("strongSwan interop (IKE)", () => {
  const lab = new StrongSwanLab();
  let pskFile = "";
  const authArgs = (auth: "psk" | "pubkey", pki?: { ca: string; cert: string; key: string }) =>
    auth === "psk" ? ["--psk-file", pskFile] : ["--cert", pki!.cert, "--key", pki!.key, "--ca", pki!.ca];
  const common = ["--id", "a.lab", "--remote-id", "b.lab", "--local-ts", "2001:db8:a::/64", "--remote-ts", "2001:db8:b::/64"];

  beforeAll(async () => {
    await lab.up();
    pskFile = join(lab.dir, "psk");
    writeFileSync(pskFile, PSK);
  });
  afterAll(async () => {
    await lab.down();
    expect(sh(["ip", "netns", "list"]).out).not.toContain(lab.ours);
  });

  /** Runs a probe; while it holds the SAs, snapshots charon's view. */
  async function probe(args: string[], during?: () => Promise<void> | void) {
    const child = lab.monami(["probe", "--peer", PEER_ADDRESS, "--local", OUR_ADDRESS, ...common, "--timeout", "15", ...args]);
    let snapshot: Record<string, Record<string, unknown>> = {};
    if (during) {
      for (let i = 0; i < 100; i++) {
        snapshot = lab.sas();
        const rw = snapshot["rw"] as { state?: string; "child-sas"?: Record<string, { state?: string }> } | undefined;
        if (rw?.state === "ESTABLISHED" && Object.values(rw["child-sas"] ?? {}).some((c) => c.state === "INSTALLED")) break;
        await Bun.sleep(50);
      }
      await during();
    }
    const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    let json: Record<string, any> = {};
    try {
      json = JSON.parse(out);
    } catch {
      throw new Error(`probe printed no JSON (exit ${code}): ${out}\n${err}`);
    }
    return { code, json, err, snapshot };
  }

  for (const auth of ["psk", "pubkey"] as const) {
    for (const s of SUITES) {
      test(`monami probe → charon: ${s.ike} / ${s.esp}, ${auth}; swanctl --list-sas agrees; DELETE clean`, async () => {
        const pki = auth === "pubkey" ? lab.makePki(s.dh === "ECP_384" ? "ed25519" : "ec", s.dh === "ECP_384" ? "ec" : "ed25519") : undefined;
        lab.load(conf("responder", auth, s.ike, s.esp));
        const r = await probe(["--proposal", s.ike, "--esp-proposal", s.esp, "--hold", "1", ...authArgs(auth, pki)], () => {});
        expect(r.code).toBe(0);
        expect(r.json.ok).toBe(true);
        expect(r.json.deleted).toBe(true);
        const rw = r.snapshot["rw"] as Record<string, any>;
        expect(rw).toBeDefined();
        expect(rw["initiator-spi"]).toBe(r.json.ike.initiatorSpi);
        expect(rw["responder-spi"]).toBe(r.json.ike.responderSpi);
        expect([rw["encr-alg"], rw["encr-keysize"], rw["prf-alg"], rw["dh-group"]]).toEqual([s.encr, s.keysize, s.prf, s.dh]);
        expect([r.json.ike.encryption, String(r.json.ike.keySize), r.json.ike.prf, r.json.ike.dhGroup]).toEqual([s.encr, s.keysize, s.prf, s.dh]);
        expect(rw["remote-id"]).toBe("a.lab");
        const child = Object.values(rw["child-sas"] as Record<string, any>)[0]!;
        expect(child["spi-in"]).toBe(r.json.child.spiOut);
        expect(child["spi-out"]).toBe(r.json.child.spiIn);
        expect([child["encr-alg"], child["encr-keysize"], child.encap, child.mode]).toEqual([s.encr, s.keysize, "yes", "TUNNEL"]);
        expect(child["local-ts"]).toEqual(r.json.child.remoteTs);
        expect(child["remote-ts"]).toEqual(r.json.child.localTs);
        // libipsec fakes NAT (interop-lab §2.5): we must have detected it and floated to 4500.
        expect(r.json.ike.natDetected).toBe(true);
        expect(r.json.ike.local.port).toBe(4500);
        expect(r.json.ike.mobike).toBe(true);
        expect(r.json.child.esn).toBe(false);
        // DELETE clean: charon holds nothing afterwards.
        expect(lab.sas()["rw"]).toBeUndefined();
      }, 40_000);
    }
  }

  test("monami probe → charon: liveness, CREATE_CHILD_SA, CHILD_SA rekey with PFS, IKE SA rekey, all initiated by us", async () => {
    lab.load(conf("responder", "psk", SUITES[0].ike, "aes128gcm16, aes128gcm16-x25519"));
    const r = await probe(["--proposal", SUITES[0].ike, "--esp-proposal", "aes128gcm16-x25519,aes128gcm16", "--liveness", "--create-child", "--rekey-child", "--pfs", "--rekey-ike", ...authArgs("psk")]);
    expect(r.code).toBe(0);
    expect(r.json.exchanges.map((e: { exchange: string; ok: boolean }) => `${e.exchange}:${e.ok}`)).toEqual(["liveness:true", "create-child:true", "rekey-child:true", "rekey-ike:true"]);
    expect(r.json.children.some((c: { dhGroup?: string }) => c.dhGroup === "CURVE_25519")).toBe(true);
    expect(r.json.deleted).toBe(true);
    expect(lab.sas()["rw"]).toBeUndefined();
  }, 40_000);

  test("charon rekeys the CHILD_SA and the IKE SA of our initiator; we follow and still delete cleanly", async () => {
    lab.load(conf("responder", "psk", SUITES[0].ike, SUITES[0].esp));
    const r = await probe(["--proposal", SUITES[0].ike, "--esp-proposal", SUITES[0].esp, "--hold", "3", ...authArgs("psk")], async () => {
      expect(lab.swanctl("--rekey", "--child", "net").code).toBe(0);
      expect(lab.swanctl("--rekey", "--ike", "rw").code).toBe(0);
    });
    expect(r.code).toBe(0);
    expect(r.json.deleted).toBe(true);
    expect(r.json.counters["ike.sa.rekeyed"]).toBe(1);
    expect(lab.sas()["rw"]).toBeUndefined();
  }, 40_000);

  test("MOBIKE: our initiator moves to another address with UPDATE_SA_ADDRESSES; charon follows (and rekeys its CHILD_SA)", async () => {
    lab.load(conf("responder", "psk", SUITES[0].ike, SUITES[0].esp));
    expect(sh(["ip", "-n", lab.ours, "-6", "addr", "add", "2001:db8:1::aa/64", "dev", lab.ours, "nodad"]).code).toBe(0);
    let moved: Record<string, any> | undefined;
    const r = await probe(["--proposal", SUITES[0].ike, "--esp-proposal", SUITES[0].esp, "--move-to", "2001:db8:1::aa", "--hold", "2", ...authArgs("psk")], async () => {
      for (let i = 0; i < 60 && !moved; i++) {
        const rw = lab.sas()["rw"] as Record<string, any> | undefined;
        if (rw?.["remote-host"] === "2001:db8:1::aa") moved = rw;
        else await Bun.sleep(50);
      }
    });
    expect(r.code).toBe(0);
    expect(r.json.exchanges).toEqual([{ exchange: "mobike", ok: true, result: expect.objectContaining({ event: "endpoints-updated", local: { address: "2001:db8:1::aa", port: 4500 } }) }]);
    expect(moved?.["remote-port"]).toBe("4500");
    // libipsec cannot update SAs in place: charon rekeys the CHILD_SA right after the update (interop-lab §2.8), and we answer it.
    expect(r.json.children?.map((c: { rekeys?: string }) => c.rekeys !== undefined)).toEqual([false, true]);
    expect(r.json.deleted).toBe(true);
    expect(lab.sas()["rw"]).toBeUndefined();
  }, 40_000);

  test("IKE fragmentation (RFC 7383) both ways: certificate IKE_AUTH split by us and by charon", async () => {
    const pki = lab.makePki("ec", "ed25519");
    lab.load(conf("responder", "pubkey", SUITES[0].ike, SUITES[0].esp));
    const r = await probe(["--proposal", SUITES[0].ike, "--esp-proposal", SUITES[0].esp, "--fragment-size", "300", ...authArgs("pubkey", pki)]);
    expect(r.code).toBe(0);
    expect(r.json.ike.fragmentation).toBe(true);
    expect(r.json.counters["ike.fragments.sent"]).toBeGreaterThan(1);
    expect(r.json.counters["ike.fragments.received"]).toBeGreaterThan(1);
    expect(r.json.deleted).toBe(true);
  }, 40_000);

  test("a wrong PSK fails with AUTHENTICATION_FAILED and a non-zero exit", async () => {
    lab.load(conf("responder", "psk", SUITES[0].ike, SUITES[0].esp));
    const wrong = join(lab.dir, "wrong-psk");
    writeFileSync(wrong, "not-the-secret");
    const r = await probe(["--proposal", SUITES[0].ike, "--psk-file", wrong]);
    expect(r.code).toBe(1);
    expect(r.json.notify).toBe("AUTHENTICATION_FAILED");
  }, 40_000);

  for (const auth of ["psk", "pubkey"] as const) {
    for (const s of SUITES) {
      test(`charon → monami respond: ${s.ike} / ${s.esp}, ${auth}; rekeys by charon; DELETE clean`, async () => {
        const pki = auth === "pubkey" ? lab.makePki("ec", "ed25519") : undefined;
        lab.load(conf("initiator", auth, s.ike, s.esp));
        const responder = lab.monami(["respond", "--local", OUR_ADDRESS, "--id", "a.lab", "--remote-id", "b.lab", "--local-ts", "2001:db8:a::/64", "--remote-ts", "2001:db8:b::/64", "--proposal", s.ike, "--esp-proposal", s.esp, "--once", "--timeout", "20", ...authArgs(auth, pki)]);
        const reader = responder.stdout.getReader();
        let text = "";
        while (!text.includes('"listening"')) {
          const { value, done } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
        }
        const init = lab.swanctl("--initiate", "--child", "net");
        expect(init.code).toBe(0);
        const ini = lab.sas()["ini"] as Record<string, any>;
        expect(lab.swanctl("--rekey", "--child", "net").code).toBe(0);
        expect(lab.swanctl("--rekey", "--ike", "ini").code).toBe(0);
        await Bun.sleep(300);
        expect(lab.swanctl("--terminate", "--ike", "ini").code).toBe(0);
        const code = await responder.exited;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
        }
        expect(code).toBe(0);
        const events = text.trim().split("\n").map((l) => JSON.parse(l));
        const up = events.find((e) => e.event === "ike-sa-established");
        expect(up.ike.initiatorSpi).toBe(ini["initiator-spi"]);
        expect(up.ike.responderSpi).toBe(ini["responder-spi"]);
        expect([up.ike.encryption, String(up.ike.keySize), up.ike.prf, up.ike.dhGroup]).toEqual([ini["encr-alg"], ini["encr-keysize"], ini["prf-alg"], ini["dh-group"]]);
        const child = events.find((e) => e.event === "child-sa-installed").child;
        const theirs = Object.values(ini["child-sas"] as Record<string, any>)[0]!;
        expect(child.spiIn).toBe(theirs["spi-out"]);
        expect(child.spiOut).toBe(theirs["spi-in"]);
        expect(events.filter((e) => e.event === "child-sa-installed")).toHaveLength(2);
        expect(events.filter((e) => e.event === "ike-sa-rekeyed")).toHaveLength(1);
        expect(events.filter((e) => e.event === "ike-sa-closed").map((e) => e.reason)).toEqual(["deleted by peer", "deleted by peer"]);
        expect(lab.sas()["ini"]).toBeUndefined();
      }, 40_000);
    }
  }

  test("tshark decrypts our IKE exchange with the ikev2_decryption_table monami exported", async () => {
    lab.load(conf("responder", "psk", SUITES[1].ike, SUITES[1].esp));
    const pcap = join(lab.dir, "ike.pcapng");
    const keys = join(lab.dir, "ikev2_decryption_table");
    const esp = join(lab.dir, "esp_sa");
    const capture = Bun.spawn(["ip", "netns", "exec", lab.ours, "tshark", "-q", "-i", lab.ours, "-f", "udp", "-w", pcap], { stdout: "ignore", stderr: "pipe" });
    const errText = capture.stderr.getReader();
    for (let seen = ""; !seen.includes("Capturing on"); ) {
      const { value, done } = await errText.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    const r = await probe(["--proposal", SUITES[1].ike, "--esp-proposal", SUITES[1].esp, "--rekey-child", "--ikev2-keys", keys, "--esp-keys", esp, ...authArgs("psk")]);
    await Bun.sleep(300);
    capture.kill("SIGTERM");
    await capture.exited;
    expect(r.code).toBe(0);
    const lines = readFileSync(keys, "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith(`${r.json.ike.initiatorSpi},${r.json.ike.responderSpi},`)).toBe(true);
    expect(readFileSync(esp, "utf8").split("\n").filter((l) => l.startsWith('"IPv6"'))).toHaveLength(4);
    const t = sh(["tshark", "-r", pcap, "-o", `uat:ikev2_decryption_table:${lines[0]}`, "-Y", "isakmp", "-T", "fields", "-e", "isakmp.exchangetype", "-e", "isakmp.id.data.fqdn", "-e", "isakmp.ts.start_ipv6", "-e", "isakmp.notify.msgtype"]);
    expect(t.code).toBe(0);
    const rows = t.out.trim().split("\n").map((l) => l.split("\t"));
    const auth = rows.filter((x) => x[0] === "35");
    expect(auth).toHaveLength(2);
    expect(auth[0]![1]).toBe("a.lab,b.lab");
    expect(auth[1]![1]).toBe("b.lab");
    expect(auth[0]![2]).toBe("2001:db8:a::,2001:db8:b::");
    // The CREATE_CHILD_SA rekey decrypted too: REKEY_SA (16393) is visible.
    expect(rows.some((x) => x[0] === "36" && (x[3] ?? "").split(",").includes("16393"))).toBe(true);
    expect(rows.filter((x) => x[0] === "37").length).toBeGreaterThanOrEqual(2);
  }, 40_000);
});

test.skipIf(isRoot && haveTools)("strongSwan interop (IKE) needs root, charon, swanctl, tshark and openssl", () => {
  expect(isRoot && haveTools).toBe(false);
});
