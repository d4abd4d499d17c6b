#!/bin/bash
# The system bus policy in a private system-like bus: root may own org.smartrag.Daemon,
# an ordinary user may not, and that user may call the daemon's interfaces and no others.
set -euo pipefail

policy=$1 services=$2 smartragd=$3

for tool in dbus-daemon gdbus setpriv; do
  if ! command -v $tool >/dev/null; then
    echo "$tool is not installed"
    exit 77
  fi
done

tmp=$(mktemp -d)
chmod 0755 "$tmp"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

address=unix:path=$tmp/bus
# The default policy of the real system bus (deny owning and calling), plus ours.
cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>$address</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>$policy</include>
</busconfig>
CONF

# dbus-daemon refuses to start on a configuration it cannot parse.
dbus-daemon --config-file="$tmp/bus.conf" --nofork --nopidfile --nosyslog &
pids+=($!)
for _ in $(seq 100); do
  [ -S "$tmp/bus" ] && break
  sleep 0.1
done
if [ ! -S "$tmp/bus" ]; then
  echo "FAIL: dbus-daemon did not start with $policy included"
  exit 1
fi
chmod 0666 "$tmp/bus"

user=nobody
group=$(id -gn $user)
as_me() { gdbus call --address "$address" --timeout 10 "$@" 2>&1; }
as_user() {
  setpriv --reuid=$user --regid="$group" --clear-groups -- \
    gdbus call --address "$address" --timeout 10 "$@" 2>&1
}
bus_call() { as_me --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus "$@"; }

failed=0
expect() { # description, pattern the output must match, output
  if grep -Eq -- "$2" <<<"$3"; then
    echo "ok: $1"
  else
    echo "FAIL: $1: expected /$2/, got: $3"
    failed=1
  fi
}

# The activation file is read (its name matches the file) without starting anything.
expect "the system activation file is found" "'org.smartrag.Daemon'" \
  "$(bus_call --method org.freedesktop.DBus.ListActivatableNames)"

if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: only root can act as both root and another user on the bus"
  [ $failed -eq 0 ] && exit 77
  exit 1
fi

mkdir "$tmp/state"
# No HTTP: the default port and socket may be another daemon's (tests run in parallel).
printf '[http]\nsocket=\nlisten=\n' >"$tmp/smartrag.conf"
LC_ALL=C.UTF-8 LANGUAGE= "$smartragd" --address="$address" --state-dir="$tmp/state" \
  --config="$tmp/smartrag.conf" 2>"$tmp/smartragd.log" &
pids+=($!)
owned=
for _ in $(seq 100); do
  owned=$(bus_call --method org.freedesktop.DBus.NameHasOwner org.smartrag.Daemon || true)
  [ "$owned" = "(true,)" ] && break
  sleep 0.1
done
expect "root may own org.smartrag.Daemon" '^\(true,\)$' "$owned"
[ "$owned" = "(true,)" ] || cat "$tmp/smartragd.log"

expect "$user may not own org.smartrag.Daemon" \
  'AccessDenied.*not allowed to own the service "org.smartrag.Daemon"' \
  "$(as_user --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.RequestName org.smartrag.Daemon 0 || true)"

if id smartrag >/dev/null 2>&1; then
  # root holds the name, so an allowed request waits in the queue (2) instead.
  expect "smartrag may own org.smartrag.Daemon" '^\(uint32 2,\)$' \
    "$(setpriv --reuid=smartrag --regid=smartrag --clear-groups -- gdbus call \
      --address "$address" --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
      --method org.freedesktop.DBus.RequestName org.smartrag.Daemon 0 2>&1 || true)"
else
  echo "skipped: no smartrag account here to try owning the name with"
fi

daemon=(--dest org.smartrag.Daemon --object-path /org/smartrag/Daemon)
session=(--dest org.smartrag.Daemon --object-path /org/smartrag/Daemon/session/00000000000000000000000000000000)
expect "$user may call org.smartrag.Daemon" '^\(@ao \[\],\)$' \
  "$(as_user "${daemon[@]}" --method org.smartrag.Daemon.ListSessions || true)"
expect "$user may read properties" '^\(<' \
  "$(as_user "${daemon[@]}" --method org.freedesktop.DBus.Properties.Get \
    org.smartrag.Daemon Version || true)"
expect "$user may introspect" '<interface name="org.smartrag.Daemon">' \
  "$(as_user "${daemon[@]}" --method org.freedesktop.DBus.Introspectable.Introspect || true)"
expect "$user may ping" '^\(\)$' \
  "$(as_user "${daemon[@]}" --method org.freedesktop.DBus.Peer.Ping || true)"
# The daemon itself answers these: the bus let them through.
expect "$user reaches org.smartrag.Daemon.Session" 'does not exist or you may not access it' \
  "$(as_user "${session[@]}" --method org.smartrag.Daemon.Session.Delete || true)"
for interface in org.smartrag.Daemon.Document org.smartrag.Daemon.Query; do
  reply=$(as_user "${session[@]}" --method $interface.Nothing || true)
  if grep -q 'Rejected send message' <<<"$reply"; then
    echo "FAIL: the bus keeps $user from calling $interface: $reply"
    failed=1
  else
    echo "ok: $user reaches $interface"
  fi
done
expect "$user may not call other interfaces" 'AccessDenied.*Rejected send message' \
  "$(as_user "${daemon[@]}" --method org.freedesktop.DBus.ObjectManager.GetManagedObjects || true)"
exit $failed
