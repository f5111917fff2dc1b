// Version and build id of this binary. `scripts/build.ts` replaces the build id at compile time.

import pkg from "../package.json" with { type: "json" };

declare const MONAMI_BUILD_ID: string | undefined;

export const version: string = pkg.version;
export const buildId: string = typeof MONAMI_BUILD_ID === "string" ? MONAMI_BUILD_ID : "dev";
