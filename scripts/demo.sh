#!/usr/bin/env bash
# monami's main job: install what is needed, then drive a vehicle between LTE and Wi-Fi in the namespace lab
# (`monami demo`: real router and home agent, ESP tunnel, voice call and download, Mosquitto fleet view, live
# view, HTML + JSON report) and tear everything down — also on Ctrl-C, SIGTERM or failure. Needs root.
#
#   bash scripts/demo.sh [monami demo options]      e.g. --duration 30 --report /tmp/r.html --mode primary
#   npm run demo -- --duration 30 --report /tmp/r.html      (bun run demo -- … works the same)
set -uo pipefail
cd "$(dirname "$0")/.."

say() { printf '[demo] %s\n' "$*"; }

for arg in "$@"; do
  if [ "$arg" = "-h" ] || [ "$arg" = "--help" ]; then
    command -v bun >/dev/null 2>&1 && exec bun firmware/main.ts demo --help
  fi
done

if [ "$(id -u)" -ne 0 ]; then
  echo "[demo] needs root (network namespaces, TUN devices, nftables); try: sudo bash scripts/demo.sh $*" >&2
  exit 1
fi

say "installing what the demo needs (scripts/setup.sh)"
bash scripts/setup.sh || { echo "[demo] setup failed" >&2; exit 1; }

child=""
cleanup() {
  # The demo tears its lab down on SIGINT/SIGTERM/exit; this catches anything a killed run left behind.
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null
    wait "$child" 2>/dev/null
  fi
  bun firmware/main.ts lab sweep >/dev/null 2>&1 || true
}
on_signal() {
  printf '\n'
  say "interrupted: tearing the lab down"
  cleanup
  exit 130
}
trap on_signal INT TERM HUP
trap cleanup EXIT

# In the background with `wait`, so a signal to this script is handled at once, not after the child ends.
bun firmware/main.ts demo "$@" &
child=$!
wait "$child"
status=$?
child=""

left=$(ip netns list | grep -c '^mnm-demo-' || true)
if [ "$left" -ne 0 ]; then say "namespaces left behind: ${left}"; fi
if [ "$status" -ne 0 ]; then say "demo FAILED (exit ${status})"; fi
exit "$status"
