#!/usr/bin/env bash
# monami's main job for now: install what is needed, bring the namespace lab up, show it working
# (IPv6 ping lan→cn with the RTT of each access network, iperf3 through the shaped links, NAT44, the link
# emulator's counters), and tear it down — also on Ctrl-C, SIGTERM or failure. Needs root.
set -uo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n[demo] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "[demo] needs root (network namespaces, TUN devices, nftables); try: sudo bash scripts/demo.sh" >&2
  exit 1
fi

say "installing what the demo needs (scripts/setup.sh)"
bash scripts/setup.sh || { echo "[demo] setup failed" >&2; exit 1; }

child=""
cleanup() {
  # The lab tears itself down on SIGINT/SIGTERM/exit; this catches anything a killed run left behind.
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null
    wait "$child" 2>/dev/null
  fi
  bun firmware/main.ts lab sweep >/dev/null 2>&1 || true
}
on_signal() {
  say "interrupted: tearing the lab down"
  cleanup
  exit 130
}
trap on_signal INT TERM HUP
trap cleanup EXIT

say "building the lab (mr, lan, net, ha, cn) and running the checks"
# In the background with `wait`, so a signal to this script is handled at once, not after the child ends.
MONAMI_LAB_TAG=demo bun firmware/main.ts lab smoke &
child=$!
wait "$child"
status=$?
child=""

left=$(ip netns list | grep -c '^mnm-demo-' || true)
say "namespaces left behind: ${left}"
if [ "$status" -eq 0 ]; then say "demo passed"; else say "demo FAILED (exit ${status})"; fi
exit "$status"
