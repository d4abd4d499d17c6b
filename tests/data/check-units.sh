#!/bin/bash
# systemd-analyze verify on the generated system and user units of smartragd.
set -euo pipefail

system_unit=$1 user_unit=$2 installed=$3 built=$(realpath "$4")

if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze is not installed"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# verify insists that ExecStart names an executable. Before installation that is the
# built daemon, so each unit is checked as a copy that differs only in that path.
verify() {
  local mode=$1 unit=$2 dir=$tmp/$1
  shift 2
  if ! grep -qxF "ExecStart=$installed --$mode" "$unit"; then
    echo "FAIL: $unit does not start $installed --$mode:"
    grep '^ExecStart=' "$unit" || true
    return 1
  fi
  # systemctl reload sends SIGHUP, which makes smartragd read its configuration again.
  if ! grep -qxF 'ExecReload=kill -HUP $MAINPID' "$unit"; then
    echo "FAIL: $unit does not reload with SIGHUP"
    return 1
  fi
  mkdir -p "$dir"
  sed "s|^ExecStart=$installed |ExecStart=$built |" "$unit" >"$dir/smartrag.service"

  local output status=0
  output=$(systemd-analyze "$@" verify "$dir/smartrag.service" 2>&1) || status=$?
  # verify exits 0 after lines it could not parse and ignored, so any word about the
  # unit counts as a failure too.
  if [ "$status" -ne 0 ] || grep -q smartrag <<<"$output"; then
    echo "FAIL: systemd-analyze ${*:+$* }verify $unit (exit $status):"
    echo "$output"
    return 1
  fi
  echo "ok: $unit ($mode)"
}

failed=0
verify system "$system_unit" || failed=1

# A user manager needs a runtime directory of its own, even just to verify.
mkdir -m 0700 "$tmp/runtime"
XDG_RUNTIME_DIR=$tmp/runtime verify user "$user_unit" --user || failed=1
exit $failed
