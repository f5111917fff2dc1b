// LEDs: the indicator interface the firmware drives (status, uplink, OTA progress, fault).

import type { LedRole } from "./board.ts";

export type LedState = "off" | "on" | "blink-slow" | "blink-fast";

export interface Leds {
  /** Sets an LED by role; a board without an LED for that role ignores the call. */
  set(role: LedRole, state: LedState): void;
}
