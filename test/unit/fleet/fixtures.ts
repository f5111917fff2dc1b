// Shared fixtures for the fleet unit tests: a valid device config and signed desired documents.

import { ed25519 } from "@noble/curves/ed25519.js";
import type { DeviceConfig } from "../../../firmware/config/schema.ts";
import { validateConfig } from "../../../firmware/config/validate.ts";
import { signDesired } from "../../../firmware/fleet/desired-codec.ts";
import { toHex } from "../../../firmware/core/hex.ts";

export const fleetSecretKey = ed25519.utils.randomSecretKey();
export const fleetPublicKeyHex = toHex(ed25519.getPublicKey(fleetSecretKey));

export function configInput(edit: (c: Record<string, any>) => void = () => {}): Record<string, any> {
  const c: Record<string, any> = {
    device: { id: "bus-1" },
    uplinks: [{ id: "lte1", driver: { kind: "simulated", name: "lte1" } }],
    ipsec: { auth: { method: "psk", psk: { ref: "file:/etc/monami/psk" } } },
    mobility: { homeAddress: "2001:db8:0:1::42", homeAgent: "2001:db8:0:1::1", mobileNetworkPrefixes: ["2001:db8:42::/48"] },
    mqtt: { url: "mqtts://fleet.example.net:8883" },
    ota: { config: { watchSeconds: 30, requireSignature: true, signingPublicKeyHex: fleetPublicKeyHex } },
  };
  edit(c);
  return c;
}

export function deviceConfig(edit?: (c: Record<string, any>) => void): DeviceConfig {
  const r = validateConfig(configInput(edit));
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

export function desired(version: number, config: unknown, options: { key?: Uint8Array; unsigned?: boolean; clientToken?: string } = {}): Uint8Array {
  const doc: Record<string, unknown> = { version, config };
  if (options.clientToken !== undefined) doc.clientToken = options.clientToken;
  if (!options.unsigned) doc.signature = signDesired(version, config, options.key ?? fleetSecretKey);
  return new TextEncoder().encode(JSON.stringify(doc));
}
