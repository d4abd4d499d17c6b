#!/bin/bash
# The install command: builds SmartRAG and installs it system-wide as smartrag.service (Debian 12).
#
#   sudo tools/install.sh                 install missing packages, build, install, activate
#   tools/install.sh --destdir=DIR        build and install into DIR only (a package's tree)
#   sudo tools/install.sh --uninstall     stop the service and remove the installed files
#
# Running it again upgrades in place: an edited /etc/smartrag/smartrag.conf is kept, and a
# running service is restarted on the new build. Data in /var/lib/smartrag is never touched.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/usr
DESTDIR=${DESTDIR:-}
BUILD_DIR=build-install
PACKAGES=1
ACTION=install
UNIT=smartrag.service

usage() {
  cat << EOF
Usage: tools/install.sh [OPTION]...
Build SmartRAG and install it as the system service $UNIT.

  --prefix=DIR      installation prefix (default: /usr, where systemd, D-Bus and polkit
                    look; configuration then goes to /etc, state to /var)
  --destdir=DIR     install into DIR as a staging root and skip every step that changes
                    the running system (also taken from \$DESTDIR)
  --build-dir=DIR   meson build directory (default: build-install in the source tree)
  --no-packages     do not install missing Debian packages
  --uninstall       stop and disable $UNIT and remove the files an earlier
                    install put in place; configuration, data and the account stay
  -h, --help        show this help and exit
EOF
}

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}
# shellcheck source=tools/lib/packages.sh
source "$SRC/tools/lib/packages.sh"
# What the service needs on a live system besides the build: the system bus, systemd and
# polkitd, which decides who may use it.
RUNTIME_PACKAGES=(dbus systemd polkitd)

parse_arguments() {
  local arg
  for arg in "$@"; do
    case $arg in
    --prefix=?*) PREFIX=${arg#*=} ;;
    --destdir=?*) DESTDIR=${arg#*=} ;;
    --build-dir=?*) BUILD_DIR=${arg#*=} ;;
    --no-packages) PACKAGES=0 ;;
    --uninstall) ACTION=uninstall ;;
    -h | --help)
      usage
      exit 0
      ;;
    --prefix | --destdir | --build-dir | --prefix= | --destdir= | --build-dir=)
      die "${arg%=} needs a value, as in ${arg%=}=DIR"
      ;;
    *) die "unknown argument '$arg'; see tools/install.sh --help" ;;
    esac
  done
  [[ $PREFIX == /* ]] || die "--prefix must be an absolute directory, not '$PREFIX'"
  [[ -z $DESTDIR || $DESTDIR == /* ]] || DESTDIR=$PWD/$DESTDIR
  [[ $BUILD_DIR == /* ]] || BUILD_DIR=$SRC/$BUILD_DIR
}

# Commands that change the system run as root: directly, or through sudo.
AS_ROOT=()
need_root() {
  ((EUID == 0)) && return 0
  command -v sudo > /dev/null || die "this step needs root: run tools/install.sh as root"
  AS_ROOT=(sudo)
}

# Runs a step of the live system, saying what it does; a failure is reported, not fatal,
# since the files are in place and the step can be repeated by hand.
step() {
  local what=$1
  shift
  say "$what"
  "${AS_ROOT[@]}" "$@" || { say "  failed: $*"; STEPS_FAILED=1; }
}
STEPS_FAILED=0

build() {
  # Warnings of a newer compiler must not stop an installation; the tests keep -Werror.
  local options=(--prefix="$PREFIX" -Dtests=false -Dwerror=false)
  if [[ -f $BUILD_DIR/meson-private/coredata.dat ]]; then
    meson setup --reconfigure "${options[@]}" "$BUILD_DIR" "$SRC" > /dev/null
  else
    meson setup "${options[@]}" "$BUILD_DIR" "$SRC" > /dev/null
  fi
  say "building in $BUILD_DIR"
  meson compile -C "$BUILD_DIR" > /dev/null
}

installed_dir() {
  meson introspect "$BUILD_DIR" --installed |
    /usr/bin/python3 -c 'import json, sys
for path in json.load(sys.stdin).values():
    if path.endswith("/" + sys.argv[1]):
        print(path.rsplit("/", 1)[0])
        break' "$1"
}

systemd_runs() { [[ -d /run/systemd/system ]]; }
system_bus_runs() { [[ -S /run/dbus/system_bus_socket ]]; }

activate() {
  local sysusers tmpfiles
  sysusers=$(installed_dir sysusers.d/smartrag.conf)/smartrag.conf
  tmpfiles=$(installed_dir tmpfiles.d/smartrag.conf)/smartrag.conf
  step "creating the account smartrag (systemd-sysusers)" systemd-sysusers "$sysusers"
  step "creating /var/backups/smartrag (systemd-tmpfiles)" systemd-tmpfiles --create "$tmpfiles"
  if systemd_runs; then
    step "making systemd read $UNIT (systemctl daemon-reload)" systemctl daemon-reload
    # A running daemon keeps the old program until it restarts.
    step "restarting $UNIT if it runs" systemctl try-restart "$UNIT"
  else
    say "systemd does not run here: skipped systemctl daemon-reload"
  fi
  if system_bus_runs; then
    step "making the system bus read the new policy (ReloadConfig)" \
      busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
  else
    say "no system bus runs here: it reads the policy when it starts"
  fi
}

print_next_steps() {
  local libexec
  libexec=$(installed_dir smartragd)
  cat << EOF

SmartRAG is installed. D-Bus activation starts it on the first call; next:

  sudo systemctl enable --now $UNIT    # start it now and at every boot (HTTP from boot)
  systemctl status $UNIT
  busctl call org.smartrag.Daemon /org/smartrag/Daemon org.smartrag.Daemon GetHealth
  busctl call org.smartrag.Daemon /org/smartrag/Daemon org.smartrag.Daemon CreateToken s my-script
                                        # an API token for HTTP on 127.0.0.1:8765
  curl -s --unix-socket /run/smartrag/http.sock http://localhost/health

Configuration: /etc/smartrag/smartrag.conf; check it with
  sudo $libexec/smartragd --check-config
and apply it with sudo systemctl reload $UNIT. See man smartragd and docs/deployment.md.
EOF
}

do_install() {
  if ((PACKAGES)); then
    if [[ -n $DESTDIR ]]; then
      ensure_packages "${BUILD_PACKAGES[@]}"
    else
      ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}"
    fi
  fi
  build
  if [[ -n $DESTDIR ]]; then
    say "installing into $DESTDIR"
    meson install -C "$BUILD_DIR" --no-rebuild --quiet --destdir "$DESTDIR"
    say "installed into $DESTDIR; skipped the steps that change this system (account,"
    say "directories, systemctl daemon-reload, D-Bus policy reload): run them on the target"
    return 0
  fi
  need_root
  say "installing under $PREFIX"
  "${AS_ROOT[@]}" meson install -C "$BUILD_DIR" --no-rebuild --quiet
  activate
  print_next_steps
  ((STEPS_FAILED == 0)) || die "some steps failed (see above); the files are installed"
}

do_uninstall() {
  [[ -f $BUILD_DIR/meson-logs/install-log.txt ]] ||
    die "$BUILD_DIR has no record of an installation: run tools/install.sh first, with the same --build-dir"
  [[ -z $DESTDIR ]] || die "--uninstall removes a live installation; remove $DESTDIR instead"
  need_root
  if systemd_runs; then
    step "stopping and disabling $UNIT" systemctl disable --now "$UNIT"
  fi
  say "removing the installed files"
  "${AS_ROOT[@]}" ninja -C "$BUILD_DIR" uninstall > /dev/null
  if systemd_runs; then
    step "making systemd forget $UNIT" systemctl daemon-reload
  fi
  if system_bus_runs; then
    step "making the system bus drop the policy" \
      busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
  fi
  cat << EOF

SmartRAG is uninstalled. Kept: /etc/smartrag (configuration), /var/lib/smartrag (every
session and document), /var/backups/smartrag and the account smartrag. Remove them
yourself once nothing there is needed:

  sudo rm -r /etc/smartrag /var/lib/smartrag /var/backups/smartrag
  sudo userdel smartrag
EOF
  ((STEPS_FAILED == 0)) || die "some steps failed (see above)"
}

parse_arguments "$@"
"do_$ACTION"
