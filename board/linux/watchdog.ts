// Linux watchdog driver: /dev/watchdog via plain writes (keepalive) and the magic close 'V' (Documentation/watchdog/watchdog-api.rst).

import { closeSync, openSync, writeSync } from "node:fs";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { Watchdog, WatchdogError } from "../api/watchdog.ts";

/** Any write pets the watchdog; a zero byte does so without arming the magic close. */
const KEEPALIVE = new Uint8Array([0]);
/** Writing 'V' tells drivers with WDIOF_MAGICCLOSE that the following close is intentional. */
const MAGIC_CLOSE = new Uint8Array([0x56]);

export class LinuxWatchdog implements Watchdog {
  readonly #device: string;
  #fd: number | undefined;

  private constructor(device: string, fd: number) {
    this.#device = device;
    this.#fd = fd;
  }

  /** Opens (and so arms) the watchdog. The timeout is the one the driver was configured with. */
  static open(device: string): Result<LinuxWatchdog, WatchdogError> {
    try {
      return ok(new LinuxWatchdog(device, openSync(device, "w")));
    } catch (error) {
      return err({ kind: "open-failed", detail: `${device}: ${describe(error)}` });
    }
  }

  keepalive(): Result<void, WatchdogError> {
    return this.#write(KEEPALIVE);
  }

  close(): Result<void, WatchdogError> {
    const written = this.#write(MAGIC_CLOSE);
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch (error) {
        return err({ kind: "write-failed", detail: `${this.#device}: close: ${describe(error)}` });
      }
    }
    return written;
  }

  #write(bytes: Uint8Array): Result<void, WatchdogError> {
    if (this.#fd === undefined) return err({ kind: "closed", detail: `${this.#device} is closed` });
    try {
      writeSync(this.#fd, bytes);
      return ok(undefined);
    } catch (error) {
      return err({ kind: "write-failed", detail: `${this.#device}: ${describe(error)}` });
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
