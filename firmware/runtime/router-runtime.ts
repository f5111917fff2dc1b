// The router as a fleet device: board, device config, automatic link selection, MQTT fleet link, OTA agent and hardware watchdog.

import { dirname, join } from "node:path";
import { formatBoardSelectionError, selectBoard, type BoardDefinition, type SlotName } from "../../board/api/board.ts";
import { knownBoards, probeBoard } from "../../board/boards/index.ts";
import type { Counters } from "../core/counters.ts";
import { err, ok, type Result } from "../core/result.ts";
import type { SecretBytes } from "../core/secret.ts";
import { configStorePaths, loadStoredConfig } from "../config/store.ts";
import type { DeviceConfig } from "../config/schema.ts";
import { formatIssue } from "../config/validate.ts";
import type { DataplaneHandle } from "../dataplane/dataplane-handle.ts";
import type { OfflineReason } from "../fleet/messages.ts";
import type { BindingState, DecisionRecord, DeviceSnapshot, SecurityAssociationState } from "../fleet/telemetry.ts";
import type { LinkDecision } from "../links/explain.ts";
import type { BindingUpdateListEntry } from "../mobility/binding-update-list.ts";
import { monotonicNow } from "../roles/daemon.ts";
import { linkConfigOf, linkPolicyOf } from "../roles/link-settings.ts";
import type { ProbeKeyRing } from "../roles/link-probes.ts";
import type { RouterConfig } from "../roles/role-config.ts";
import { RouterLinks } from "../roles/router-links.ts";
import { buildId, version } from "../version.ts";
import { loadPublicKeys } from "../../ota/cli/keys.ts";
import type { BootStateStore } from "../../ota/slots/boot-state-store.ts";
import { FileBootStateStore } from "../../ota/slots/file-boot-state.ts";
import { UbootEnvStore } from "../../ota/slots/uboot-env.ts";
import { FleetLink } from "./fleet-link.ts";
import { fleetLinkChannel, OtaAgent } from "./ota-agent.ts";
import { radioSources, type RadioSources } from "./radio-sources.ts";
import { startWatchdog, type WatchdogRuntime } from "./watchdog-runtime.ts";
import { systemHealth } from "./system-health.ts";

/** What the router's own core exposes to the device services (router.ts builds it). */
export interface RouterCore {
  readonly config: RouterConfig;
  readonly handle: DataplaneHandle;
  readonly counters: Counters;
  readonly log: (line: string) => void;
  /** The in-tunnel probe key (static: derived from the tunnel SAs before they went to the loop; IKE: re-keyed with the tunnel CHILD_SA). */
  readonly probeKey: SecretBytes | ProbeKeyRing;
  bindings(): readonly BindingUpdateListEntry[];
  /** Index of the uplink carrying traffic, −1 for none. */
  activeUplink(): number;
  /** Registers uplink `index`'s care-of address (a BU with its BID). */
  register(index: number): void;
  deregister(index: number): void;
  /** Moves all traffic and the preferred binding to uplink `index` (−1: no uplink). */
  moveTraffic(index: number): void;
  /** Uplink `index` has a new care-of address (renumbering): its BID is registered again with it (RFC 5648 §6.2). */
  addressChanged?(index: number, careOfAddress: string): void;
}

export interface RouterServices {
  /** Fields of the status document (`monami status`): links, bindings, SAs, MQTT, decisions, system, config. */
  status(): Record<string, unknown>;
  /** Call after the binding update list produced events. */
  bindingsChanged(): void;
  /** An inner packet to the probe port (the data plane's `onLocal`): a link probe reply. */
  handleLocal(uplink: number, packet: Uint8Array): void;
  /** The group allowed to open the control socket (device config `control.group`). */
  readonly controlGroup: string | undefined;
  stop(): Promise<void>;
}

/** A probe answered within this long means the home agent is reachable through the tunnel. */
const HOME_AGENT_REACHABLE_MS = 5_000;
/** Decision records kept for status and telemetry. */
const DECISIONS_KEPT = 20;
/** The data-plane counters are refreshed this often for the (synchronous) snapshot. */
const COUNTER_REFRESH_MS = 1_000;

/**
 * Picks the board (refusing an unknown one), loads the device config (checking it describes this router),
 * then starts link selection, the fleet link, the OTA agent and the watchdog. Throws with a clear message
 * when the device cannot run; everything started so far is stopped first.
 */
export async function startRouterServices(core: RouterCore, deviceConfigPath: string, env: Record<string, string | undefined> = process.env): Promise<RouterServices> {
  const log = core.log;
  const board = selectBoard(knownBoards(env), probeBoard(env));
  if (!board.ok) throw new Error(formatBoardSelectionError(board.error));
  log(`board ${board.value.name}: ${board.value.description}`);
  const loaded = loadStoredConfig(configStorePaths(deviceConfigPath));
  if (!loaded.ok) throw new Error(`device config ${deviceConfigPath}: ${[...loaded.error.active, ...loaded.error.lastGood].map(formatIssue).join("; ")}`);
  const initial = loaded.value.config;
  const mismatch = mismatchWithRole(initial, core.config);
  if (mismatch) throw new Error(`device config ${deviceConfigPath} does not describe this router: ${mismatch}`);
  return new Services(core, board.value, deviceConfigPath, initial, env).start();
}

/** Why a device config cannot drive this router (the mobility addresses and uplink ids must agree), or undefined. */
export function mismatchWithRole(device: DeviceConfig, role: RouterConfig): string | undefined {
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));
  if (device.mobility.homeAddress !== role.homeAddress) return `mobility.homeAddress ${device.mobility.homeAddress} ≠ ${role.homeAddress}`;
  if (device.mobility.homeAgent !== role.homeAgent) return `mobility.homeAgent ${device.mobility.homeAgent} ≠ ${role.homeAgent}`;
  if (!same(device.mobility.mobileNetworkPrefixes, role.mobileNetworkPrefixes)) return "mobility.mobileNetworkPrefixes differ from the router's";
  const missing = role.uplinks.filter((u) => !device.uplinks.some((d) => d.id === u.id)).map((u) => u.id);
  if (missing.length > 0) return `uplinks ${missing.join(", ")} are not in the device config`;
  return undefined;
}

class Services implements RouterServices {
  readonly #core: RouterCore;
  readonly #board: BoardDefinition;
  readonly #path: string;
  readonly #env: Record<string, string | undefined>;
  readonly #links: RouterLinks;
  readonly #radio: RadioSources;
  readonly #decisions: DecisionRecord[] = [];
  #config: DeviceConfig;
  /** The link settings in force (policy and enabled links), to rebuild the engine only when they change. */
  #linkSettings: string;
  #fleet: FleetLink | undefined;
  #ota: OtaAgent | undefined;
  #watchdog: WatchdogRuntime | undefined;
  #dataplaneCounters: Record<string, number> = {};
  #counterTimer: ReturnType<typeof setInterval> | undefined;
  #slot: SlotName | undefined;
  #rebootReason: "ota-install" | "ota-rollback" | undefined;

  constructor(core: RouterCore, board: BoardDefinition, path: string, config: DeviceConfig, env: Record<string, string | undefined>) {
    this.#core = core;
    this.#board = board;
    this.#path = path;
    this.#config = config;
    this.#env = env;
    this.#linkSettings = this.#linkSettingsOf(config);
    const c = core.config;
    this.#radio = radioSources({ board, uplinks: config.uplinks.filter((d) => c.uplinks.some((r) => r.id === d.id)), env, counters: core.counters, log: core.log });
    this.#links = new RouterLinks(
      {
        uplinks: c.uplinks.map((u, index) => ({ id: u.id, index, interfaceName: u.interface, bindingId: u.bindingId, careOfAddress: u.careOfAddress })),
        homeAddress: c.homeAddress,
        homeAgent: c.homeAgent,
        probeKey: core.probeKey,
        sendProbe: (index, packet) => core.handle.sendLocal(index, packet),
        actions: {
          isRegistered: (id) => this.#registered(id),
          prepare: (id) => this.#prepare(id),
          release: (id) => {
            if (this.#index(id) !== core.activeUplink()) core.deregister(this.#index(id));
          },
          setPrimary: (id, previous) => this.#setPrimary(id, previous),
          // The engine's verdicts drive the multi-CoA design as a link monitor would: a dead uplink is left at once.
          linkUsable: (id, usable) => (usable ? core.register(this.#index(id)) : core.deregister(this.#index(id))),
          addressChanged: (id, address) => core.addressChanged?.(this.#index(id), address),
        },
        onDecision: (d) => this.#recordDecision(d),
        counters: core.counters,
        log: core.log,
        radio: this.#radio.sources,
      },
      linkPolicyOf(config),
      this.#enabledLinks(config),
    );
  }

  get controlGroup(): string | undefined {
    return this.#config.control.group;
  }

  async start(): Promise<this> {
    const core = this.#core;
    try {
      this.#links.start();
      this.#counterTimer = setInterval(() => void this.#refreshCounters(), COUNTER_REFRESH_MS);
      await this.#refreshCounters();
      const store = bootStateStore(this.#board);
      const booted = await store.bootedSlot();
      if (booted.ok) this.#slot = booted.value;
      const ota = this.#makeOtaAgent(store);
      this.#ota = ota;
      this.#fleet = await FleetLink.start({
        configPath: this.#path,
        firmware: `${version} (${buildId})`,
        snapshot: () => this.#snapshot(),
        health: { "home-agent": () => this.#links.homeAgentReachable(HOME_AGENT_REACHABLE_MS), bindings: () => this.#bindingsUp() },
        applyConfig: (config) => this.#apply(config),
        ...(ota ? { subscriptions: OtaAgent.subscriptions, onMessage: ota.handleMessage } : {}),
        log: (line) => core.log(`fleet: ${line}`),
        env: this.#env,
      });
      // The stored config may have fallen back to its last-known-good copy: run what the fleet link runs.
      await this.#apply(this.#fleet.running.config);
      if (ota) await ota.start(fleetLinkChannel(this.#fleet));
      this.#watchdog = startWatchdog(this.#board, core.handle, core.log);
      core.log(`device ${this.#config.device.id}: link selection automatic, fleet link to ${this.#config.mqtt.url}${ota ? ", OTA agent on" : ""}`);
      return this;
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  #makeOtaAgent(store: BootStateStore): OtaAgent | undefined {
    const image = this.#config.ota.image;
    const keys = loadPublicKeys([image.publicKeyFile]);
    if (!keys.ok) {
      this.#core.log(`ota: agent off: ${keys.error}`);
      this.#core.counters.increment("router.ota.no-trusted-key");
      return undefined;
    }
    return new OtaAgent({
      board: this.#board,
      store,
      trusted: keys.value,
      stateDir: join(dirname(this.#config.telemetry.outbox.path), "ota"),
      imagePolicy: image,
      links: () => this.#links.otaLinkSet(),
      bindingsUp: () => this.#bindingsUp(),
      reboot: (reason) => this.#reboot(reason),
      log: (line) => this.#core.log(line),
    });
  }

  status(): Record<string, unknown> {
    const fleet = this.#fleet?.status();
    return {
      ...(fleet ?? this.#snapshot()),
      counters: { ...this.#core.counters.snapshot(), ...this.#dataplaneCounters, ...(fleet?.counters ?? {}) },
      board: this.#board.name,
      radio: this.#radio.status(),
      ...(this.#ota ? { ota: this.#ota.progress() ?? null } : {}),
      watchdog: this.#watchdog?.state() ?? "off",
    };
  }

  bindingsChanged(): void {
    this.#links.bindingsChanged();
  }

  handleLocal(uplink: number, packet: Uint8Array): void {
    this.#links.handleProbePacket(uplink, packet);
  }

  async stop(): Promise<void> {
    this.#links.stop();
    this.#radio.close();
    if (this.#counterTimer) clearInterval(this.#counterTimer);
    await this.#ota?.stop();
    const reason: OfflineReason = this.#rebootReason ? "ota" : "shutdown";
    await this.#fleet?.stop(reason);
    this.#watchdog?.stop();
    if (this.#rebootReason && this.#board.name !== "simulated") {
      this.#core.log(`rebooting (${this.#rebootReason})`);
      Bun.spawn(["systemctl", "reboot"], { stdout: "ignore", stderr: "ignore" });
    }
  }

  // -------------------------------------------------------------------------------------------

  #index(id: string): number {
    const i = this.#core.config.uplinks.findIndex((u) => u.id === id);
    if (i < 0) throw new RangeError(`no uplink '${id}'`);
    return i;
  }

  #registered(id: string): boolean {
    const index = this.#core.config.uplinks.findIndex((u) => u.id === id);
    const bid = this.#core.config.uplinks[index]?.bindingId;
    return this.#core.bindings().some((b) => b.bindingId === bid && b.state === "registered");
  }

  /** The uplink carrying traffic is enabled and its binding acknowledged by the home agent. */
  #bindingsUp(): boolean {
    const active = this.#core.config.uplinks[this.#core.activeUplink()];
    return active !== undefined && this.#links.enabled(active.id) && this.#registered(active.id);
  }

  #linkSettingsOf(config: DeviceConfig): string {
    return JSON.stringify({ policy: linkPolicyOf(config), links: this.#enabledLinks(config) });
  }

  #enabledLinks(config: DeviceConfig) {
    return config.uplinks.filter((u) => u.enabled && this.#core.config.uplinks.some((r) => r.id === u.id)).map(linkConfigOf);
  }

  /**
   * Registers the uplink's care-of address now in every design (RFC 5648: several bindings at once); the
   * design decides what it carries (`primary`: nothing protected until it is made primary, its BU leaving
   * from the primary so the home agent's tunnel endpoint does not move, firmware/multicoa/signalled-coa.ts).
   */
  #prepare(id: string): "ready" | "pending" {
    this.#core.register(this.#index(id));
    return this.#registered(id) ? "ready" : "pending";
  }

  /**
   * The move: the target is registered (the policy waited for its BA), traffic and the preferred binding
   * move (the design re-registers the target's BID from its CoA, which tells the home agent). The target's
   * path is known good from its own probes.
   */
  #setPrimary(id: string, previous: string | undefined): void {
    const core = this.#core;
    const index = this.#index(id);
    // Always (idempotent): a link disabled by a config and enabled again by its rollback may still look
    // registered while its de-registration is in flight; the design must count it usable again.
    core.register(index);
    const before = core.activeUplink();
    core.moveTraffic(index);
    // The previous uplink stays registered while it works (RFC 5648: every usable CoA; the designs decide
    // what it carries); a dead one was already left by the engine's verdict (`linkUsable`).
    if (before !== index) {
      // The MQTT connection left from the old care-of address: reconnect now rather than at the keep-alive.
      if (before >= 0) this.#fleet?.networkChanged();
      this.#ota?.linksChanged();
    }
  }

  #recordDecision(d: LinkDecision): void {
    const wallAt = Math.round(Date.now() - Math.max(0, monotonicNow() - d.at));
    const handover = d.primaryBefore !== d.primaryAfter;
    const record: DecisionRecord = {
      at: wallAt,
      kind: handover ? "handover" : "decision",
      ...(d.primaryBefore !== undefined ? { from: d.primaryBefore } : {}),
      to: (handover ? d.primaryAfter : (d.link ?? d.primaryAfter)) ?? "none",
      rule: d.rule,
      reason: d.summary,
      inputs: {
        sequence: d.sequence,
        links: d.links.map((l) => ({ link: l.link, kind: l.kind, health: l.health, score: l.score.total, rttMs: l.rttMs, lossRatio: l.lossRatio, jitterMs: l.jitterMs, marginDb: l.marginDb, prepare: l.prepare })),
      },
    };
    this.#decisions.push(record);
    if (this.#decisions.length > DECISIONS_KEPT) this.#decisions.shift();
    this.#fleet?.publishEvent(record.kind, record);
  }

  /** A desired config being applied (or rolled back to): link settings; the rest is the fleet link's. */
  async #apply(config: DeviceConfig): Promise<Result<void, string>> {
    const mismatch = mismatchWithRole(config, this.#core.config);
    if (mismatch) return err(`does not describe this router: ${mismatch}`);
    this.#config = config;
    const settings = this.#linkSettingsOf(config);
    if (settings === this.#linkSettings) return ok(undefined);
    this.#linkSettings = settings;
    this.#links.reconfigure(linkPolicyOf(config), this.#enabledLinks(config));
    const active = this.#core.config.uplinks[this.#core.activeUplink()];
    if (active !== undefined && !this.#links.enabled(active.id)) {
      // A disabled uplink carries nothing: traffic stops until the policy moves it to an enabled link.
      this.#core.log(`uplink ${active.id} disabled by the config: traffic stops on it`);
      this.#core.moveTraffic(-1);
      this.#core.deregister(this.#index(active.id));
    }
    return ok(undefined);
  }

  #reboot(reason: "ota-install" | "ota-rollback"): void {
    this.#core.log(`ota: reboot requested (${reason})`);
    this.#rebootReason = reason;
    process.kill(process.pid, "SIGTERM");
  }

  async #refreshCounters(): Promise<void> {
    this.#dataplaneCounters = await this.#core.handle.counters();
  }

  #snapshot(): DeviceSnapshot {
    return {
      links: this.#links.metrics(),
      bindings: this.#bindingStates(),
      securityAssociations: this.#securityAssociations(),
      decisions: this.#decisions.slice(),
      system: systemHealth(`${version} (${buildId})`, this.#slot),
    };
  }

  #bindingStates(): BindingState[] {
    const now = monotonicNow();
    const linkOf = new Map(this.#core.config.uplinks.map((u) => [u.bindingId, u.id]));
    return this.#core.bindings().map((b) => ({
      bindingId: b.bindingId,
      linkId: linkOf.get(b.bindingId) ?? String(b.linkId),
      careOfAddress: b.careOfAddress.address,
      state: b.state === "registered" ? "active" : b.state === "pending" ? "registering" : "expired",
      lifetimeRemainingSeconds: b.expiresAt === undefined ? 0 : Math.max(0, Math.round((b.expiresAt - now) / 1000)),
    }));
  }

  /** The tunnel SA pair from the loop's counters (drops by reason), the signalling pair from the control plane's. */
  #securityAssociations(): SecurityAssociationState[] {
    const c = { ...this.#core.counters.snapshot(), ...this.#dataplaneCounters };
    const ipsec = this.#core.config.ipsec;
    const active = this.#core.config.uplinks[this.#core.activeUplink()]?.id;
    // Static keys name their SPIs; IKEv2-keyed SAs have theirs in the `ike` status.
    const spi = (n: number | undefined) => (n === undefined ? "ike" : n.toString(16).padStart(8, "0"));
    const drops = (prefixes: readonly string[]) =>
      Object.fromEntries(
        Object.entries(c)
          .filter(([k, n]) => n > 0 && prefixes.some((p) => k.startsWith(p)))
          .map(([k, n]) => [k.slice(k.lastIndexOf(".") + 1), n]),
      );
    return [
      { spi: spi(ipsec.tunnel?.outbound.spi), direction: "outbound", ...(active ? { linkId: active } : {}), bytes: c["esp.tx.bytes"] ?? 0, packets: c["esp.tx.packets"] ?? 0, drops: drops(OUTBOUND_DROPS) },
      { spi: spi(ipsec.tunnel?.inbound.spi), direction: "inbound", bytes: c["esp.rx.bytes"] ?? 0, packets: c["esp.rx.packets"] ?? 0, drops: drops(INBOUND_DROPS) },
      { spi: spi(ipsec.signalling?.outbound.spi), direction: "outbound", bytes: 0, packets: c["router.bu.sent"] ?? 0, drops: {} },
      { spi: spi(ipsec.signalling?.inbound.spi), direction: "inbound", bytes: 0, packets: c["signalling.rx.ok"] ?? 0, drops: drops(["signalling.drop."]) },
    ];
  }
}

/** Outbound drop counters of the tunnel SA (the loop's `ForwardingCounter` names). */
const OUTBOUND_DROPS = ["dataplane.drop.no-policy", "dataplane.drop.policy-", "dataplane.drop.no-sa", "dataplane.drop.no-uplink", "dataplane.drop.too-big", "dataplane.drop.send-failed", "esp.outbound."];
/** Inbound: ESP's own checks (replay, authentication, lifetime, selectors) and the path's. */
const INBOUND_DROPS = ["esp.drop.", "dataplane.drop.not-tunnel-mode", "dataplane.drop.truncated", "dataplane.drop.tun-write-failed"];

function bootStateStore(board: BoardDefinition): BootStateStore {
  return board.bootSelection.kind === "file" ? new FileBootStateStore(board.bootSelection.path) : new UbootEnvStore({ configFile: board.bootSelection.configFile });
}
