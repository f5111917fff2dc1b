// Interop with strongSwan 5.9.8: monami's own timers rekey the CHILD_SA and the IKE SA and run liveness checks against charon.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CHARON, OUR_ADDRESS, PEER_ADDRESS, sh, StrongSwanLab } from "./strongswan-lab.ts";

const isRoot = process.getuid?.() === 0;
const haveTools = existsSync(CHARON) && sh(["which", "swanctl"]).code === 0;
const PSK = "lab-psk-0123456789abcdef";

const CONF = `connections {
  rw {
    version = 2
    local_addrs = ${PEER_ADDRESS}
    remote_addrs = %any
    proposals = aes128gcm16-prfsha256-x25519
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
        remote_ts = 2001:db8:a::/64
        esp_proposals = aes128gcm16-x25519, aes128gcm16
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

describe.skipIf(!isRoot || !haveTools)("strongSwan interop (IKE lifetimes)", () => {
  const lab = new StrongSwanLab("h11");

  beforeAll(async () => {
    await lab.up();
    writeFileSync(join(lab.dir, "psk"), PSK);
  });
  afterAll(async () => {
    await lab.down();
    expect(sh(["ip", "netns", "list"]).out).not.toContain(lab.ours);
  });

  test("monami rekeys CHILD_SA (with PFS) and IKE SA on its own lifetimes and checks liveness; charon follows, DELETE clean", async () => {
    lab.load(CONF);
    const child = lab.monami([
      "probe", "--peer", PEER_ADDRESS, "--local", OUR_ADDRESS, "--id", "a.lab", "--remote-id", "b.lab",
      "--local-ts", "2001:db8:a::/64", "--remote-ts", "2001:db8:b::/64", "--psk-file", join(lab.dir, "psk"),
      "--proposal", "aes128gcm16-prfsha256-x25519", "--esp-proposal", "aes128gcm16-x25519,aes128gcm16",
      "--child-rekey", "3", "--ike-rekey", "5", "--dpd", "1", "--hold", "8", "--timeout", "30",
    ]);
    const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    let json: Record<string, any>;
    try {
      json = JSON.parse(out);
    } catch {
      throw new Error(`probe printed no JSON (exit ${code}): ${out}\n${err}`);
    }
    expect(code).toBe(0);
    expect(json.deleted).toBe(true);
    // 8 s at a 3 s rekey time (up to 0.3 s earlier): at least two lifetime-driven CHILD_SA rekeys, each with a fresh X25519 exchange.
    expect(json.counters["ike.child.rekey-due"]).toBeGreaterThanOrEqual(2);
    expect(json.children.length).toBeGreaterThanOrEqual(3);
    expect(json.children.slice(1).every((c: { dhGroup?: string; rekeys?: string }) => c.dhGroup === "CURVE_25519" && c.rekeys !== undefined)).toBe(true);
    expect(json.counters["ike.sa.rekey-due"]).toBeGreaterThanOrEqual(1);
    expect(json.counters["ike.sa.rekeyed"]).toBeGreaterThanOrEqual(1);
    expect(json.counters["ike.liveness.due"]).toBeGreaterThanOrEqual(1);
    expect(json.counters["ike.retransmit.give-up"] ?? 0).toBe(0);
    expect(json.counters["ike.child.expired"] ?? 0).toBe(0);
    expect(json.ike.name).not.toBe("probe[1]");
    expect(lab.sas()["rw"]).toBeUndefined();
  }, 60_000);
});

test.skipIf(isRoot && haveTools)("strongSwan interop (IKE lifetimes) needs root, charon and swanctl", () => {
  expect(isRoot && haveTools).toBe(false);
});
