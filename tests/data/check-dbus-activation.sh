#!/bin/bash
# The session activation file starts smartragd --user on the first call, as a session
# bus without a systemd user manager (dbus-run-session) does it.
set -euo pipefail

service=$1 installed=$2 built=$(realpath "$3")

for tool in dbus-daemon gdbus; do
  if ! command -v $tool >/dev/null; then
    echo "$tool is not installed"
    exit 77
  fi
done

tmp=$(mktemp -d)
bus_pid=
daemon_pid=
cleanup() {
  for pid in $daemon_pid $bus_pid; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

for line in "Name=org.smartrag.Daemon" "Exec=$installed --user" "SystemdService=smartrag.service"; do
  if ! grep -qxF "$line" "$service"; then
    echo "FAIL: $service lacks the line $line"
    exit 1
  fi
done
# Before installation the daemon is the built one.
mkdir "$tmp/services"
sed "s|^Exec=$installed |Exec=$built |" "$service" >"$tmp/services/org.smartrag.Daemon.service"

address=unix:path=$tmp/bus
cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>$address</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$tmp/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF

# Activated services inherit the bus's environment: state and config stay in $tmp.
export DBUS_SESSION_BUS_ADDRESS=$address
export XDG_STATE_HOME=$tmp/state XDG_CONFIG_HOME=$tmp/config
# No HTTP: the default port and socket may be another daemon's (tests run in parallel).
mkdir -p "$tmp/config/smartrag"
printf '[http]\nsocket=\nlisten=\n' >"$tmp/config/smartrag/smartrag.conf"
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile --nosyslog &
bus_pid=$!
for _ in $(seq 100); do
  [ -S "$tmp/bus" ] && break
  sleep 0.1
done

bus() { gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus "$@"; }
if [ "$(bus --method org.freedesktop.DBus.NameHasOwner org.smartrag.Daemon)" != "(false,)" ]; then
  echo "FAIL: org.smartrag.Daemon has an owner before anything called it"
  exit 1
fi

health=$(gdbus call --session --timeout 20 --dest org.smartrag.Daemon \
  --object-path /org/smartrag/Daemon --method org.smartrag.Daemon.GetHealth 2>&1) || {
  echo "FAIL: GetHealth did not activate smartragd: $health"
  exit 1
}
echo "GetHealth: $health"
daemon_pid=$(bus --method org.freedesktop.DBus.GetConnectionUnixProcessID org.smartrag.Daemon |
  sed -n 's/^(uint32 \([0-9]*\),)$/\1/p')
echo "activated smartragd as pid $daemon_pid: $(tr '\0' ' ' </proc/$daemon_pid/cmdline)"
if ! grep -qF -- "--user" "/proc/$daemon_pid/cmdline"; then
  echo "FAIL: the activated daemon does not run in user mode"
  exit 1
fi
if [ ! -e "$tmp/state/smartrag/smartrag.db" ]; then
  echo "FAIL: the activated daemon keeps no database in \$XDG_STATE_HOME/smartrag"
  exit 1
fi
