// Chooses the design object of each role from `ipsec.multiCoaMode` (the same name on router and home agent).

import type { MultiCoaMode } from "../config/schema.ts";
import { AuthOptionHomeAgent, AuthOptionRouter } from "./auth-option-mode.ts";
import type { MultiCoaConfig } from "./mode-config.ts";
import type { HomeAgentMode, RouterMode, RouterModeOptions } from "./mode.ts";
import { MobikeHomeAgent, MobikeRouter } from "./mobike.ts";
import { PerCoaHomeAgent, PerCoaRouter } from "./per-coa.ts";
import { PrimaryHomeAgent } from "./primary.ts";
import { createPrimaryRouter } from "./primary-by-mobike.ts";
import { SimultaneousHomeAgent, SimultaneousRouter } from "./simultaneous.ts";

/** `bypass-flows` is `simultaneous` with a bypass list that must not be empty (the config schema's name for it). */
function checkBypass(mode: MultiCoaMode, config: MultiCoaConfig): void {
  if (mode === "bypass-flows" && config.bypass.length === 0) throw new Error('multiCoaMode "bypass-flows" needs ipsec.multiCoa.bypass selectors');
}

export function createRouterMode(mode: MultiCoaMode, o: RouterModeOptions): RouterMode {
  checkBypass(mode, o.config);
  switch (mode) {
    case "primary":
      return createPrimaryRouter(o);
    case "simultaneous":
    case "bypass-flows":
      return new SimultaneousRouter(o);
    case "auth-option":
      return new AuthOptionRouter(o);
    case "mobike":
      return new MobikeRouter(o);
    case "per-coa":
      return new PerCoaRouter(o);
  }
}

export function createHomeAgentMode(mode: MultiCoaMode, config: MultiCoaConfig, log: (line: string) => void): HomeAgentMode {
  checkBypass(mode, config);
  switch (mode) {
    case "primary":
      return new PrimaryHomeAgent(config.primaryDrainMs, log);
    case "simultaneous":
    case "bypass-flows":
      return new SimultaneousHomeAgent(log);
    case "auth-option":
      if (config.authOption === undefined) throw new Error('multiCoaMode "auth-option" needs ipsec.multiCoa.authOption (Mobility SPI and MN-HA key)');
      return new AuthOptionHomeAgent(config.authOption.encryptPayload, log);
    case "mobike":
      return new MobikeHomeAgent(config.primaryDrainMs, log);
    case "per-coa":
      return new PerCoaHomeAgent(log);
  }
}
