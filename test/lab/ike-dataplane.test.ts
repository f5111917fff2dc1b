// monami router ↔ monami homeagent keyed by IKEv2 only (no static keys): lan ↔ cn traffic, rekeys under a stream, MOBIKE on an uplink move, tshark decrypts with the exported keys.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ipv6Of } from "../../board/lab/topology.ts";
import { startIkeDataplaneLab, type IkeDataplaneLab } from "./ike-dataplane-harness.ts";

const isRoot = process.getuid?.() === 0;
const STREAM = join(import.meta.dir, "ike-dataplane-stream.ts");

function keyLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#")) : [];
}

describe.skipIf(!isRoot)("IKEv2-keyed data plane: monami router ↔ monami homeagent", () => {
  let h: IkeDataplaneLab;
  const cn = () => ipv6Of(h.lab.topology.correspondent);

  beforeAll(async () => {
    h = await startIkeDataplaneLab({ tag: "h12", childRekeySeconds: 6, ikeRekeySeconds: 10 });
  }, 60_000);
  afterAll(async () => {
    await h?.destroy();
  }, 30_000);

  test("the router registered over LTE only after IKE made the BU/BA SA; ping lan → cn passes", async () => {
    await h.waitForLog(/router: .*binding-registered/);
    const mhInstalled = h.logs.findIndex((l) => /router: .*CHILD_SA mh transport/.test(l));
    const registered = h.logs.findIndex((l) => /router: .*binding-registered/.test(l));
    expect(mhInstalled).toBeGreaterThanOrEqual(0);
    expect(registered).toBeGreaterThan(mhInstalled);
    const status = await h.routerCommand("status");
    const ike = (status.ike as { ike: { natLocal: boolean; natRemote: boolean; mobike: boolean } }).ike;
    expect([ike.natLocal, ike.natRemote, ike.mobike]).toEqual([false, false, true]);
    const ping = await h.lab.exec("lan", ["ping", "-6", "-c", "5", "-i", "0.2", "-W", "2", cn()]);
    expect(ping.stdout).toContain(" 0% packet loss");
  }, 30_000);

  test("a numbered UDP stream lan → cn loses nothing while CHILD_SAs and the IKE SA are rekeyed (both sides' timers)", async () => {
    const mark = h.logs.length;
    const sink = h.lab.spawn("cn", [process.execPath, STREAM, "sink", cn(), "5555", "14"]);
    const out = new Response(sink.process.stdout).text();
    await Bun.sleep(800);
    await h.lab.exec("lan", [process.execPath, STREAM, "source", cn(), "5555", "200", "2600"]);
    const result = JSON.parse((await out).trim().split("\n").at(-1)!) as { received: number; missing: number; duplicates: number };
    const during = h.logs.slice(mark);
    const childRekeys = during.filter((l) => /CHILD_SA payload tunnel .*\(rekeys /.test(l)).length;
    const ikeRekeys = during.filter((l) => /IKE: SA .* rekeyed as /.test(l)).length;
    console.log(JSON.stringify({ ...result, childRekeys, ikeRekeys }));
    expect(childRekeys).toBeGreaterThanOrEqual(2);
    expect(ikeRekeys).toBeGreaterThanOrEqual(1);
    expect(result.received).toBe(2600);
    expect(result.missing).toBe(0);
  }, 40_000);

  test("moving the router to Wi-Fi moves the IKE SA (MOBIKE) and the binding; traffic follows", async () => {
    const mark = h.logs.length;
    await h.routerCommand("uplink wifi");
    const wifi = ipv6Of(h.lab.topology.access.wifi.router);
    await h.waitForLog(new RegExp(`router: .*IKE: SA .* now \\[${wifi}\\]`), 10_000, mark);
    await h.waitForBinding(wifi);
    const ping = await h.lab.exec("lan", ["ping", "-6", "-c", "5", "-i", "0.2", "-W", "2", cn()]);
    if (!ping.stdout.includes(" 0% packet loss")) console.log(ping.stdout, JSON.stringify(await h.routerCommand("counters")), JSON.stringify(await h.homeAgentCommand("counters")), h.logs.slice(mark).join("\n"));
    expect(ping.stdout).toContain(" 0% packet loss");
  }, 30_000);

  test("tshark decrypts our IKE exchanges and the ESP that follows with the keys monami exported", async () => {
    await h.capture.stop();
    const ike = keyLines(h.keyFiles.ikev2);
    const esp = keyLines(h.keyFiles.esp);
    expect(ike.length).toBeGreaterThanOrEqual(1);
    expect(esp.length).toBeGreaterThanOrEqual(4);
    const args = ["-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE", ...ike.flatMap((l) => ["-o", `uat:ikev2_decryption_table:${l}`]), ...esp.flatMap((l) => ["-o", `uat:esp_sa:${l}`])];
    const auth = await h.lab.exec("ha", ["tshark", "-n", "-r", h.capture.file, ...args, "-Y", "isakmp.exchangetype==35", "-T", "fields", "-e", "isakmp.ts.start_ipv6", "-e", "isakmp.notify.msgtype"]);
    // IKE_AUTH decrypted: the selectors (home address, prefix, ::) are readable.
    expect(auth.stdout).toContain("2001:db8:10::20");
    const icmp = await h.lab.exec("ha", ["tshark", "-n", "-r", h.capture.file, ...args, "-Y", `esp && icmpv6.type==128 && ipv6.dst==${cn()}`, "-T", "fields", "-e", "esp.icv_good"]);
    const good = icmp.stdout.split("\n").filter((l) => l.trim() === "1" || l.trim() === "True");
    expect(good.length).toBeGreaterThanOrEqual(5);
  }, 30_000);
});
