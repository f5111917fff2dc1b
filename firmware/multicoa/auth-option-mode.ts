// `auth-option` as a design (RFC 4285, no IKEv2): `simultaneous`'s registrations and per-flow care-of addresses; payload tunnelled by mobility itself.
//
// The registrations are `simultaneous`'s (every usable CoA under its BID, BUs from the preferred one,
// make-before-break), only the signalling differs (auth-option-signalling.ts). The payload is
// IPv6-in-IPv6 (RFC 2473) from any registered CoA, chosen per flow; the home agent forwards what comes
// from a registered CoA of the inner source's owner and drops (and counts) the rest — without IPsec that
// check is the only one. `encryptPayload` (monami's extension, off by default) puts the payload in ESP
// tunnel SAs keyed from the MN-HA key instead (`deriveEspKeys`), with the same outer-source check.

import type { SteeringSpec } from "./flow-steering.ts";
import type { RouterModeOptions } from "./mode.ts";
import { SimultaneousHomeAgent, SimultaneousRouter } from "./simultaneous.ts";

export class AuthOptionRouter extends SimultaneousRouter {
  override readonly name: string = "auth-option";
  readonly #clearPayload: boolean;

  constructor(o: RouterModeOptions) {
    super(o);
    if (o.config.authOption === undefined) throw new Error('multiCoaMode "auth-option" needs ipsec.multiCoa.authOption (Mobility SPI and MN-HA key)');
    this.#clearPayload = !o.config.authOption.encryptPayload;
  }

  protected override steering(): SteeringSpec {
    return { ...super.steering(), clearPayload: this.#clearPayload };
  }

  override status(): Record<string, unknown> {
    return { ...super.status(), payload: this.#clearPayload ? "IPv6-in-IPv6 (no IPsec)" : "ESP keyed from the MN-HA key" };
  }
}

export class AuthOptionHomeAgent extends SimultaneousHomeAgent {
  override readonly name: string = "auth-option";
  readonly clearPayload: boolean;

  constructor(encryptPayload: boolean, log: (line: string) => void) {
    super(log);
    this.clearPayload = !encryptPayload;
  }

  override status(): Record<string, unknown> {
    return { ...super.status(), mode: this.name, payload: this.clearPayload ? "IPv6-in-IPv6 (no IPsec)" : "ESP keyed from the MN-HA key" };
  }
}
