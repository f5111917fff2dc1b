// Test harness for the sans-IO IKE core: configs, a seeded random source and a lossless in-memory network.

import { sha256 } from "@noble/hashes/sha2.js";
import { instant, type Instant } from "../../../firmware/core/instant.ts";
import { SecretBytes } from "../../../firmware/core/secret.ts";
import { defaultChildLifetimes, defaultIkeLifetimes, defaultPorts, defaultRetransmit, type AuthConfig, type IkeConfig } from "../../../firmware/ike/config.ts";
import type { RandomSource } from "../../../firmware/ike/dh.ts";
import type { Datagram } from "../../../firmware/ike/endpoint.ts";
import type { IkeEvent } from "../../../firmware/ike/events.ts";
import type { IkeEndpoint } from "../../../firmware/ike/ike-endpoint.ts";
import { parseIdentity } from "../../../firmware/ike/identity.ts";
import { parseProposals } from "../../../firmware/ike/proposal.ts";
import { selectorFromPrefix } from "../../../firmware/ike/traffic-selectors.ts";

/** A deterministic random source (SHA-256 in counter mode over a seed). */
export function seededRandom(seed: string): RandomSource {
  let counter = 0;
  return (length) => {
    const out = new Uint8Array(length);
    for (let at = 0; at < length; at += 32) {
      const block = sha256(new TextEncoder().encode(`${seed}/${counter++}`));
      out.set(block.subarray(0, Math.min(32, length - at)), at);
    }
    return out;
  };
}

export const psk = (text = "lab-psk-0123456789abcdef"): AuthConfig => ({ kind: "psk", secret: new SecretBytes(new TextEncoder().encode(text)) });

export function config(over: Omit<Partial<IkeConfig>, "localTs" | "remoteTs"> & { ike?: string; esp?: string; local?: string; remote?: string; localTs?: string; remoteTs?: string } = {}): IkeConfig {
  const ike = parseProposals(over.ike ?? "aes128gcm16-prfsha256-x25519", "ike");
  const esp = parseProposals(over.esp ?? "aes128gcm16", "esp");
  if (!ike.ok || !esp.ok) throw new Error("bad proposal in test");
  const { ike: _i, esp: _e, local, remote, localTs, remoteTs, ...rest } = over;
  return {
    name: "test",
    localId: parseIdentity(local ?? "a.lab"),
    auth: psk(),
    ikeProposals: ike.value,
    espProposals: esp.value,
    childName: "net",
    localTs: [selectorFromPrefix(localTs ?? "2001:db8:a::/64")!],
    remoteTs: [selectorFromPrefix(remoteTs ?? "2001:db8:b::/64")!],
    mode: "tunnel",
    mobike: true,
    fragmentation: true,
    maxMessageSize: 1280,
    childLifetimes: defaultChildLifetimes,
    ikeLifetimes: defaultIkeLifetimes,
    livenessIntervalMs: 0,
    retransmit: defaultRetransmit,
    ports: defaultPorts,
    exportKeys: false,
    ...(remote ? { remoteId: parseIdentity(remote) } : {}),
    ...rest,
  };
}

export interface Net {
  now: Instant;
  readonly log: { from: string; d: Datagram }[];
  readonly events: Map<IkeEndpoint, IkeEvent[]>;
  /** What the network loses (stays in force for later runs and ticks). */
  drop: ((d: Datagram, n: number) => boolean) | undefined;
  /** Delivers datagrams until both sides are quiet. */
  run(): void;
  /** Advances time to the next timeout of either side and runs. */
  tick(): boolean;
}

/** Two endpoints joined by a lossless network addressed by IP: a's datagrams go to b and back. */
let sent = 0;

export function connect(a: IkeEndpoint, b: IkeEndpoint, aAddresses: string[], bAddresses: string[]): Net {
  const net: Net = {
    now: instant(0),
    log: [],
    events: new Map([
      [a, []],
      [b, []],
    ]),
    drop: undefined,
    run() {
      for (let guard = 0; guard < 10_000; guard++) {
        let moved = false;
        for (const [from, to, toAddresses] of [
          [a, b, bAddresses],
          [b, a, aAddresses],
        ] as const) {
          for (let d = from.pollTransmit(); d; d = from.pollTransmit()) {
            moved = true;
            net.log.push({ from: from === a ? "a" : "b", d });
            if (net.drop?.(d, sent++)) continue;
            if (!toAddresses.includes(d.remote.address)) continue;
            if (d.bytes.length === 1 && d.bytes[0] === 0xff) continue; // NAT keepalive
            to.handleDatagram({ local: d.remote, remote: d.local, bytes: d.bytes, nonEspMarker: d.nonEspMarker }, net.now);
          }
          for (let e = from.pollEvent(); e; e = from.pollEvent()) net.events.get(from)!.push(e);
        }
        if (!moved) return;
      }
      throw new Error("livelock: datagrams still flowing after 10000 rounds");
    },
    tick() {
      const ta = a.pollTimeout();
      const tb = b.pollTimeout();
      const next = ta === undefined ? tb : tb === undefined ? ta : Math.min(ta, tb);
      if (next === undefined) return false;
      net.now = instant(Math.max(net.now, next));
      a.handleTimeout(net.now);
      b.handleTimeout(net.now);
      net.run();
      return true;
    },
  };
  return net;
}

export function eventsOf<K extends IkeEvent["kind"]>(list: readonly IkeEvent[], kind: K): Extract<IkeEvent, { kind: K }>[] {
  return list.filter((e): e is Extract<IkeEvent, { kind: K }> => e.kind === kind);
}
