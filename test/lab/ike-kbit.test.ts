// `primary` with IKEv2 and the K bit (RFC 4877 §7.4, RFC 5648 §9.1): switching the primary LTE → Wi-Fi moves the IKE SA at both
// ends with the accepted BU/BA (K=1, no MOBIKE exchange); traffic continues and the next CHILD_SA rekey runs over the new address.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ipv6Of } from "../../board/lab/topology.ts";
import { startIkeDataplaneLab, type IkeDataplaneLab } from "./ike-dataplane-harness.ts";

const isRoot = process.getuid?.() === 0;
type Json = Record<string, unknown>;
type Summary = { local: { address: string }; remote: { address: string }; mobike: boolean };

describe.skipIf(!isRoot)("primary mode, IKEv2, K-bit moves", () => {
  let h: IkeDataplaneLab;
  const cn = () => ipv6Of(h.lab.topology.correspondent);
  const lte = () => ipv6Of(h.lab.topology.access.lte.router);
  const wifi = () => ipv6Of(h.lab.topology.access.wifi.router);
  const routerSa = async () => ((await h.routerCommand("status")).ike as { ike: Summary }).ike;
  const homeAgentSa = async () => ((await h.homeAgentCommand("status")).ike as (Summary & { state: string })[]).find((s) => s.state === "established")!;

  beforeAll(async () => {
    h = await startIkeDataplaneLab({ tag: `h18k${process.pid}`.slice(0, 12), multiCoaMode: "primary", addressUpdate: "k-bit", childRekeySeconds: 8, ikeRekeySeconds: 3600 });
    await h.waitForLog(/router: .*binding-registered/);
  }, 60_000);
  afterAll(async () => {
    await h?.destroy();
  }, 30_000);

  test("the BU/BA carry K=1 and MOBIKE is not negotiated; the IKE SA starts on LTE", async () => {
    const r = await routerSa();
    expect(r.mobike).toBe(false);
    expect(r.local.address).toBe(lte());
    expect((await homeAgentSa()).remote.address).toBe(lte());
    const binding = ((await h.routerCommand("status")).bindings as Json[])[0]!;
    expect(binding).toBeDefined();
  });

  test("switching the primary to Wi-Fi moves the IKE SA at both ends (K bit, no MOBIKE exchange); traffic continues; the next rekey runs from Wi-Fi", async () => {
    const mark = h.logs.length;
    await h.routerCommand("uplink wifi");
    await h.waitForBinding(wifi());
    // Both ends moved with the accepted BU/BA: the router at the BA, the home agent when it accepted the BU.
    const deadline = performance.now() + 8_000;
    while (performance.now() < deadline && ((await routerSa()).local.address !== wifi() || (await homeAgentSa()).remote.address !== wifi())) await Bun.sleep(100);
    expect((await routerSa()).local.address).toBe(wifi());
    expect((await homeAgentSa()).remote.address).toBe(wifi());
    const rc = await h.routerCommand("counters");
    const hc = await h.homeAgentCommand("counters");
    expect(rc["router.ike.k-bit-moves"]).toBe(1);
    expect(hc["homeagent.ike.k-bit-moves"]).toBe(1);
    // No MOBIKE UPDATE_SA_ADDRESSES went out.
    expect(h.logs.slice(mark).some((l) => /UPDATE_SA_ADDRESSES|mobike-update/.test(l))).toBe(false);
    const ping = await h.lab.exec("lan", ["ping", "-6", "-c", "5", "-i", "0.2", "-W", "2", cn()]);
    expect(ping.stdout).toContain(" 0% packet loss");
    // A CHILD_SA rekey after the move (8 s lifetimes): its exchange runs between Wi-Fi and the home agent.
    const rekeyMark = h.logs.length;
    await h.waitForLog(/router: .*CHILD_SA payload tunnel .*\(rekeys /, 20_000, rekeyMark);
    await h.capture.stop();
    const fromWifi = await h.lab.exec("ha", ["tshark", "-n", "-r", h.capture.file, "-Y", `isakmp && ipv6.src==${wifi()}`, "-T", "fields", "-e", "isakmp.exchangetype"]);
    const exchanges = fromWifi.stdout.split("\n").filter((l) => l.trim() !== "");
    console.log(`[h18] IKE messages from the Wi-Fi care-of address after the K-bit move: ${exchanges.length} (exchange types ${[...new Set(exchanges)].join(",")})`);
    // 36 = CREATE_CHILD_SA (RFC 7296 §3.1); nothing from Wi-Fi before the move (no MOBIKE), so these are the rekey's.
    expect(exchanges).toContain("36");
    const after = await h.lab.exec("lan", ["ping", "-6", "-c", "5", "-i", "0.2", "-W", "2", cn()]);
    expect(after.stdout).toContain(" 0% packet loss");
    expect((await routerSa()).local.address).toBe(wifi());
  }, 60_000);
});
