#!/bin/bash
# meson install into a staging root puts each file where systemd, D-Bus, polkit and man look.
set -euo pipefail

build=$1 meson=$2 check_units=$3 apparmor_profile=$4

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
failed=0
fail() {
  echo "FAIL: $*"
  failed=1
}

"$meson" install -C "$build" --no-rebuild --quiet --destdir "$root" >"$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log"
  fail "meson install --destdir did not succeed"
  exit 1
}

# The build's own directories, which the daemon was compiled with.
option() {
  "$meson" introspect "$build" --buildoptions |
    /usr/bin/python3 -c 'import json, sys; print(next(str(o["value"]) for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$1"
}
prefix=$(option prefix)
under_prefix() { [[ $1 == /* ]] && echo "$1" || echo "$prefix/$1"; }
sysconfdir=$(under_prefix "$(option sysconfdir)")
localedir=$(under_prefix "$(option localedir)")
mandir=$(under_prefix "$(option mandir)")
apparmor=$(option apparmor)

# The one installed copy of @name among the directories a program searches, as a path
# on the target system (without the staging root); fails when there is none.
FOUND=
find_in() {
  local what=$1 name=$2 dir
  shift 2
  FOUND=
  for dir in "$@"; do
    if [[ -f $root$dir/$name ]]; then
      [[ -z $FOUND ]] || { fail "$what is installed twice: $FOUND and $dir/$name"; return 1; }
      FOUND=$dir/$name
    fi
  done
  [[ -n $FOUND ]] || { fail "$what: no $name in any of $*"; return 1; }
  echo "ok: $what: $FOUND"
}

# Where systemd, systemd-sysusers/-tmpfiles, dbus-daemon, polkitd and man look for files
# of packages (not the administrator's /etc), on Debian 12 with merged /usr.
system_units=(/usr/local/lib/systemd/system /usr/lib/systemd/system /lib/systemd/system)
user_units=(/usr/local/lib/systemd/user /usr/lib/systemd/user)
sysusers_dirs=(/usr/local/lib/sysusers.d /usr/lib/sysusers.d)
tmpfiles_dirs=(/usr/local/lib/tmpfiles.d /usr/lib/tmpfiles.d)
bus_policy_dirs=(/usr/share/dbus-1/system.d)
bus_system_services=(/usr/local/share/dbus-1/system-services /usr/share/dbus-1/system-services
  /lib/dbus-1/system-services)
bus_session_services=(/usr/local/share/dbus-1/services /usr/share/dbus-1/services)
bus_interfaces=(/usr/local/share/dbus-1/interfaces /usr/share/dbus-1/interfaces)
polkit_actions=(/usr/share/polkit-1/actions)

# The value of @key= in an installed file; fails when it is not there exactly once.
value_of() {
  local file=$1 key=$2 values
  values=$(grep "^$key=" "$root$file" | cut -d= -f2-) || true
  if [[ -z $values || $(wc -l <<<"$values") -ne 1 ]]; then
    fail "$file: expected one $key= line"
    return 1
  fi
  echo "$values"
}

installed_executable() {
  local what=$1 path=$2
  [[ $path == /* && -x $root$path && -f $root$path ]] || { fail "$what: $path is not installed"; return 1; }
  echo "ok: $what: $path"
}

# --- systemd ---------------------------------------------------------------------
find_in "system unit" smartrag.service "${system_units[@]}" && system_unit=$FOUND
find_in "user unit" smartrag.service "${user_units[@]}" && user_unit=$FOUND
find_in "sysusers.d" smartrag.conf "${sysusers_dirs[@]}" || true
find_in "tmpfiles.d" smartrag.conf "${tmpfiles_dirs[@]}" || true

daemon=
if [[ -n ${system_unit:-} ]]; then
  exec_start=$(value_of "$system_unit" ExecStart) && daemon=${exec_start%% *}
  [[ $exec_start == "$daemon --system" ]] || fail "$system_unit: ExecStart=$exec_start"
  installed_executable smartragd "$daemon" || daemon=
fi
if [[ -n ${user_unit:-} ]]; then
  exec_start=$(value_of "$user_unit" ExecStart) || true
  [[ $exec_start == "$daemon --user" ]] || fail "$user_unit: ExecStart=$exec_start, not $daemon --user"
fi
[[ -n $daemon ]] || { echo "no daemon to check further"; exit 1; }

# The document reader the daemon was compiled to start.
helper=$(grep -ao '/[[:alnum:]/._-]*/smartrag-extract' "$root$daemon" | head -n 1) || true
installed_executable "smartrag-extract, as smartragd starts it" "$helper" || true
[[ $(dirname "$helper") == "$(dirname "$daemon")" ]] ||
  fail "smartrag-extract ($helper) is not beside smartragd ($daemon)"

# systemd-analyze verify on the installed units, as on the built ones.
if [[ -n ${system_unit:-} && -n ${user_unit:-} ]]; then
  bash "$check_units" "$root$system_unit" "$root$user_unit" "$daemon" "$root$daemon" || failed=1
fi
# Any other unit of ours (a backup .service and .timer) is verified with it, its
# programs read from the staging root.
others=$(cd "$root" && for dir in "${system_units[@]}"; do
  ls "./$dir"/smartrag?*.service "./$dir"/smartrag?*.timer 2>/dev/null || true
done)
if [[ -n $others ]] && command -v systemd-analyze >/dev/null; then
  mkdir "$tmp/others"
  for unit in $others; do
    sed -E "s#^(Exec[A-Za-z]*=[-@:+!]*)(/[^ ]*)#\1$root\2#" "$root/$unit" >"$tmp/others/$(basename "$unit")"
  done
  if output=$(systemd-analyze verify "$tmp"/others/* 2>&1) && ! grep -q smartrag <<<"$output"; then
    echo "ok: systemd-analyze verify $others"
  else
    fail "systemd-analyze verify $others: $output"
  fi
fi

# --- D-Bus -------------------------------------------------------------------------
find_in "bus policy" org.smartrag.Daemon.conf "${bus_policy_dirs[@]}" || true
if find_in "system bus activation" org.smartrag.Daemon.service "${bus_system_services[@]}"; then
  activation=$FOUND
  [[ $(value_of "$activation" Name) == org.smartrag.Daemon ]] || fail "$activation: Name="
  [[ $(value_of "$activation" User) == smartrag ]] || fail "$activation: User="
  service=$(value_of "$activation" SystemdService) || true
  [[ -n ${system_unit:-} && $service == "$(basename "$system_unit")" ]] ||
    fail "$activation: SystemdService=$service is not the installed system unit"
  # systemd starts the service; the bus's own Exec= must never run.
  [[ $(value_of "$activation" Exec) == /bin/false ]] || fail "$activation: Exec= is not /bin/false"
fi
if find_in "session bus activation" org.smartrag.Daemon.service "${bus_session_services[@]}"; then
  [[ $(value_of "$FOUND" Exec) == "$daemon --user" ]] || fail "$FOUND: Exec= is not $daemon --user"
  [[ $(value_of "$FOUND" SystemdService) == smartrag.service ]] || fail "$FOUND: SystemdService="
fi
find_in "interface description" org.smartrag.Daemon.xml "${bus_interfaces[@]}" || true

# --- polkit ------------------------------------------------------------------------
if find_in "polkit actions" org.smartrag.policy "${polkit_actions[@]}"; then
  for action in org.smartrag.use org.smartrag.admin; do
    grep -q "<action id=\"$action\">" "$root$FOUND" || fail "$FOUND lacks the action $action"
  done
fi

# --- configuration, translations, manual --------------------------------------------
# Where the installed daemon itself looks, as --check-config says (its first word).
config=$("$root$daemon" --check-config 2>/dev/null | sed -n '1s/: .*//p')
[[ $config == "$sysconfdir/smartrag/smartrag.conf" ]] ||
  fail "smartragd reads $config, not $sysconfdir/smartrag/smartrag.conf"
if [[ -f $root$config ]]; then
  echo "ok: configuration: $config"
  "$root$daemon" --check-config --config="$root$config" >/dev/null || fail "$config is not valid"
else
  fail "no configuration at $config"
fi
# Installing again keeps an edited configuration.
echo "# edited" >>"$root$config"
"$meson" install -C "$build" --no-rebuild --quiet --destdir "$root" >"$tmp/install.log" 2>&1 ||
  fail "meson install did not succeed a second time: $(cat "$tmp/install.log")"
tail -n 1 "$root$config" | grep -qx '# edited' || fail "installing again replaced $config"

mo=$localedir/de/LC_MESSAGES/smartrag.mo
if [[ -f $root$mo ]]; then echo "ok: translation: $mo"; else fail "no German translation at $mo"; fi

manpath=$(manpath -g 2>/dev/null || echo /usr/share/man:/usr/local/share/man)
[[ ":$manpath:" == *":$mandir:"* ]] || fail "man does not search $mandir ($manpath)"
page=$mandir/man8/smartragd.8
if [[ -f $root$page ]]; then
  echo "ok: manual: $page"
  if command -v groff >/dev/null; then
    warnings=$(groff -man -ww -z "$root$page" 2>&1)
    [[ -z $warnings ]] || fail "groff warns about $page: $warnings"
  fi
else
  fail "no manual page at $page"
fi

# --- AppArmor ------------------------------------------------------------------------
profile_name=$(basename "$apparmor_profile")
[[ $profile_name == "$(sed 's#^/##; s#/#.#g' <<<"$daemon")" ]] ||
  fail "the AppArmor profile $profile_name is not named after $daemon"
profile=$sysconfdir/apparmor.d/$profile_name
if [[ $apparmor == True ]]; then
  if [[ -f $root$profile ]]; then
    echo "ok: AppArmor profile: $profile"
  else
    fail "no AppArmor profile at $profile"
  fi
else
  [[ ! -e $root$profile ]] || fail "$profile is installed although apparmor=false"
fi
grep -qF "profile smartragd $daemon " "$apparmor_profile" || fail "$profile_name does not confine $daemon"
grep -qF "profile smartrag-extract $helper " "$apparmor_profile" || fail "$profile_name does not confine $helper"
if command -v apparmor_parser >/dev/null; then
  # -Q: parse only, -T: no cache, -K: no kernel; its note about the cache is no error.
  if output=$(apparmor_parser -Q -T -K "$apparmor_profile" 2>&1); then
    echo "ok: apparmor_parser accepts $profile_name"
  else
    fail "apparmor_parser refuses $profile_name: $output"
  fi
else
  echo "apparmor_parser is not installed: the profile's syntax is not checked"
fi

exit $failed
