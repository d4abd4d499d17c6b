#!/bin/bash
# systemd-analyze verify on the generated system and user units of smartragd and the backup timer.
set -euo pipefail

system_unit=$1 user_unit=$2 installed=$3 built=$(realpath "$4")
# The backup units and the smartrag-cli they run, installed and built (optional).
backup_unit=${5:-} backup_timer=${6:-} installed_cli=${7:-} built_cli=${8:+$(realpath "$8")}

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

# The backup service and its timer, verified together: the timer names the service.
verify_backup() {
  local dir=$tmp/backup output status=0
  mkdir -p "$dir"
  if ! grep -qxF "ExecStart=$installed_cli backup --comment \"daily backup by smartrag-backup.timer\"" \
    "$backup_unit"; then
    echo "FAIL: $backup_unit does not run $installed_cli backup:"
    grep '^ExecStart=' "$backup_unit" || true
    return 1
  fi
  sed "s|^ExecStart=$installed_cli |ExecStart=$built_cli |" "$backup_unit" \
    >"$dir/smartrag-backup.service"
  cp "$backup_timer" "$dir/smartrag-backup.timer"
  for key in OnCalendar=daily Persistent=true RandomizedDelaySec=; do
    if ! grep -q "^$key" "$dir/smartrag-backup.timer"; then
      echo "FAIL: $backup_timer lacks $key"
      return 1
    fi
  done
  output=$(systemd-analyze verify "$dir/smartrag-backup.service" "$dir/smartrag-backup.timer" 2>&1) \
    || status=$?
  if [ "$status" -ne 0 ] || grep -q smartrag <<<"$output"; then
    echo "FAIL: systemd-analyze verify $backup_unit $backup_timer (exit $status):"
    echo "$output"
    return 1
  fi
  echo "ok: $backup_unit, $backup_timer"
}

failed=0
verify system "$system_unit" || failed=1
if [[ -n $backup_unit ]]; then
  verify_backup || failed=1
fi

# A user manager needs a runtime directory of its own, even just to verify.
mkdir -m 0700 "$tmp/runtime"
XDG_RUNTIME_DIR=$tmp/runtime verify user "$user_unit" --user || failed=1
exit $failed
