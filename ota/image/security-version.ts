// The security version this source tree releases with: bump it in the release that fixes a vulnerability.

/**
 * Devices refuse images whose security version is below the installed one (anti-rollback), so
 * bumping it makes every older image uninstallable on devices that took this release.
 */
export const SECURITY_VERSION = 1;
