// The packet loop's side of IKE: applies CHILD_SA installs and SA events to the loop's SAD/SPD, reports lifetimes and ESP activity back.

import type { Instant } from "../core/instant.ts";
import { espSpi } from "../ike/child-sa.ts";
import type { SecurityAssociationDatabase } from "../ipsec/sad.ts";
import type { SecurityPolicyDatabase } from "../ipsec/spd.ts";
import { IkeSaInstaller } from "../multicoa/sa-installer.ts";
import { childSaInstallOf, type IkeFromLoop, type IkeToLoop, wipeChildSaInstall } from "./ike-loop-protocol.ts";

/** How often inbound SAs that carried packets are reported to the IKE core (liveness, RFC 7296 §2.4). */
export const ACTIVITY_REPORT_MS = 1000;

/**
 * Lives in the loop's thread next to the SAD it feeds. Sans-IO apart from `post`: `handle(command, now)`
 * applies installs and events; `tick(now)` (called between batches) runs grace-period deletes, drains
 * the SAD's lifetime events and reports activity.
 */
export class IkeSaSink {
  readonly #sad: SecurityAssociationDatabase;
  readonly #installer: IkeSaInstaller;
  readonly #post: (report: IkeFromLoop) => void;
  readonly #packetsSeen = new Map<number, number>();
  #activityAt = 0;

  constructor(sad: SecurityAssociationDatabase, spd: SecurityPolicyDatabase, post: (report: IkeFromLoop) => void) {
    this.#sad = sad;
    this.#installer = new IkeSaInstaller(sad, spd);
    this.#post = post;
  }

  /** Applies an install or SA event (`send` commands belong to the NAT-T socket, not here). */
  handle(command: IkeToLoop, now: Instant): void {
    if (command.kind === "install") {
      const child = childSaInstallOf(command.child);
      const r = this.#installer.handleEvent({ kind: "child-sa-installed", child }, now, command.replayWindow !== undefined ? { replayWindow: command.replayWindow } : {});
      // The installer copied the keys into the SAD; the record's copies go now.
      wipeChildSaInstall(child);
      if (!r.ok) this.#post({ kind: "install-failed", childName: child.childName, detail: `${r.error.kind}: ${r.error.detail}` });
      return;
    }
    if (command.kind === "event") this.#installer.handleEvent(command.event, now);
  }

  tick(now: Instant): void {
    this.#installer.handleTimeout(now);
    this.#sad.handleTimeout(now);
    const sink = {
      childLifetimeExpired: (spi: ReturnType<typeof espSpi>, direction: "inbound" | "outbound", hard: boolean) => {
        this.#post({ kind: "lifetime", spi, direction, hard });
        return true;
      },
    };
    for (let e = this.#sad.pollEvent(); e !== undefined; e = this.#sad.pollEvent()) this.#installer.forwardLifetimeEvent(e, sink, now);
    if (now - this.#activityAt < ACTIVITY_REPORT_MS) return;
    this.#activityAt = now;
    const active: ReturnType<typeof espSpi>[] = [];
    const live = new Set<number>();
    for (const sa of this.#sad.all()) {
      if (sa.direction !== "inbound") continue;
      live.add(sa.spi);
      const packets = sa.lifetime.packets;
      if (packets !== (this.#packetsSeen.get(sa.spi) ?? 0)) active.push(espSpi(sa.spi));
      this.#packetsSeen.set(sa.spi, packets);
    }
    for (const spi of this.#packetsSeen.keys()) if (!live.has(spi)) this.#packetsSeen.delete(spi);
    if (active.length > 0) this.#post({ kind: "activity", inboundSpis: active });
  }
}
