#!/usr/bin/env bash
# Installs what monami needs on a fresh Debian machine (run as root): Bun from npm,
# the Debian packages the lab, tests and demo use, and the project's npm dependencies.
# Idempotent: anything already present is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

BUN_VERSION="$(sed -n 's/.*"packageManager": *"bun@\([0-9.]*\)".*/\1/p' package.json)"
DEBIAN_PACKAGES=(
  iproute2 iputils-ping nftables procps psmisc kmod
  tshark iperf3 mosquitto mosquitto-clients
  strongswan strongswan-swanctl libcharon-extra-plugins
  qemu-user-static libc6-arm64-cross openssl conntrack
)

log() { printf '[setup] %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  log "not root or no apt-get: skipping Debian packages (lab and interop tests will be skipped)"
fi

if ! command -v bun >/dev/null 2>&1 || [ "$(bun --version)" != "$BUN_VERSION" ]; then
  log "installing bun@$BUN_VERSION from npm"
  npm install -g --silent "bun@$BUN_VERSION" >/dev/null 2>&1 || npm install -g "bun@$BUN_VERSION"
fi
bun --version >/dev/null

if [ ! -d node_modules ] || [ bun.lock -nt node_modules ] || [ package.json -nt node_modules ]; then
  log "installing npm dependencies"
  bun install --frozen-lockfile >/dev/null
  touch node_modules
fi
