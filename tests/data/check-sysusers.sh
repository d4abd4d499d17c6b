#!/bin/bash
# sysusers.d makes the smartrag account, and tmpfiles.d then makes its directories.
set -euo pipefail

sysusers=$1 tmpfiles=$2

for tool in systemd-sysusers systemd-tmpfiles; do
  if ! command -v $tool >/dev/null; then
    echo "$tool is not installed"
    exit 77
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "only root can give files to the smartrag account"
  exit 77
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir "$root/etc"

# Both tools work on the files under --root, never on this machine's accounts.
systemd-sysusers --root="$root" "$sysusers"
entry=$(grep '^smartrag:' "$root/etc/passwd") || {
  echo "FAIL: no smartrag account in $root/etc/passwd"
  exit 1
}
IFS=: read -r _ _ uid gid _ home shell <<<"$entry"
echo "account: $entry"
grep -q "^smartrag:x:$gid:" "$root/etc/group" || {
  echo "FAIL: no smartrag group with gid $gid"
  exit 1
}
[ "$uid" -lt 1000 ] || { echo "FAIL: uid $uid is not a system uid"; exit 1; }
[ "$home" = /var/lib/smartrag ] || { echo "FAIL: home is $home"; exit 1; }
case $shell in
*/nologin | */false) ;;
*) echo "FAIL: the account can log in with $shell"; exit 1 ;;
esac

systemd-tmpfiles --create --root="$root" "$tmpfiles"
backups=$(stat -c '%a %u %g' "$root/var/backups/smartrag")
echo "/var/backups/smartrag: $backups"
[ "$backups" = "700 $uid $gid" ] || {
  echo "FAIL: expected mode 700 owned by $uid:$gid"
  exit 1
}
