// Simulated LEDs: remember each role's state and the history of changes, for tests and the demo's status view.

import type { Clock, Instant } from "../../firmware/core/instant.ts";
import type { LedRole } from "../api/board.ts";
import type { LedState, Leds } from "../api/led.ts";

export interface LedChange {
  readonly at: Instant;
  readonly role: LedRole;
  readonly state: LedState;
}

export class SimLeds implements Leds {
  readonly #clock: Clock;
  readonly #roles: ReadonlySet<LedRole>;
  readonly #states = new Map<LedRole, LedState>();
  readonly history: LedChange[] = [];

  constructor(clock: Clock, roles: readonly LedRole[]) {
    this.#clock = clock;
    this.#roles = new Set(roles);
  }

  set(role: LedRole, state: LedState): void {
    if (!this.#roles.has(role) || this.#states.get(role) === state) return;
    this.#states.set(role, state);
    this.history.push({ at: this.#clock.now(), role, state });
  }

  state(role: LedRole): LedState {
    return this.#states.get(role) ?? "off";
  }
}
