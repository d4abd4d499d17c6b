#!/bin/bash
# The run command: installs what is missing, builds, starts smartragd in user mode and shows it working.
#
#   tools/run.sh                     demo, then keep SmartRAG running until Ctrl-C
#   SMARTRAG_DEMO_EXIT=1 tools/run.sh
#                                    demo, stop SmartRAG, exit 0 only if every step passed
#
# Where no session bus runs (a server, sudo, a container) it starts a private one with
# dbus-run-session; the demo then prints how to reach that bus from another terminal.
# BUILD_DIR (default: build) is the meson build directory, as for tools/test.sh.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$SRC/$BUILD_DIR
DEMO_EXIT=0
[[ ${SMARTRAG_DEMO_EXIT:-} == 1 ]] && DEMO_EXIT=1


BUS_NAME=org.smartrag.Daemon
DAEMON_PATH=/org/smartrag/Daemon
DAEMON_IFACE=org.smartrag.Daemon
SESSION_IFACE=org.smartrag.Daemon.Session
DOCUMENT_IFACE=org.smartrag.Daemon.Document
QUERY_IFACE=org.smartrag.Daemon.Query
DEMO_TITLE="My first session"
DEMO_CONTEXT='{"topic": "getting started", "language": "en"}'
RENAMED_TITLE="Getting started with SmartRAG"

# The demo's documents, added with AddText. A title ending in .md makes the text Markdown,
# so its headings come back with the search hits.
SAMPLE_TITLES=(tea-guide.md bicycle-care.md library-hours.txt)
SAMPLE_TEXTS=(
  '# Brewing tea

## Green tea

Green tea tastes best steeped for two to three minutes in water at about 80 degrees.
Boiling water and long steeping make it bitter.

## Black tea

Black tea wants freshly boiled water and four to five minutes. Milk is optional.
'
  '# Looking after a bicycle

## Tyres

Check the tyre pressure every week. Road tyres need six to eight bar, mountain bike
tyres much less.

## Chain

Clean the chain and oil it lightly after every ride in the rain, then wipe off the
excess oil.
'
  'The town library opens at nine in the morning from Tuesday to Saturday and closes at
six in the evening. It is closed on Sundays, Mondays and public holidays.
'
)
SEARCH_TEXT="How long should green tea steep?"
EXPECTED_FILENAME=tea-guide.md
EXPECTED_HEADING="Brewing tea > Green tea"
EXPECTED_ANSWER="two to three minutes"
# How long a document may take from AddText to ready.
READY_TIMEOUT=60

say() { printf 'run.sh: %s\n' "$*" >&2; }
# shellcheck source=tools/lib/packages.sh
source "$SRC/tools/lib/packages.sh"
# To run it: dbus-daemon brings dbus-run-session, systemd busctl, libglib2.0-bin gdbus;
# python3 reads busctl's JSON to print search hits.
PACKAGES=("${BUILD_PACKAGES[@]}" dbus-daemon systemd libglib2.0-bin python3)

# Quiet when all goes well; the whole output when something does not.
quietly() {
  local out
  out=$("$@" 2>&1) && return 0
  printf '%s\n' "$out" >&2
  return 1
}

build() {
  if [[ ! -f $BUILD_DIR/meson-private/coredata.dat ]]; then
    quietly meson setup "$BUILD_DIR" "$SRC"
  fi
  quietly meson compile -C "$BUILD_DIR"
  say "built $BUILD_DIR/src/smartragd"
}

have_session_bus() {
  [[ -n ${DBUS_SESSION_BUS_ADDRESS:-} ]] \
    || [[ -n ${XDG_RUNTIME_DIR:-} && -S ${XDG_RUNTIME_DIR}/bus ]]
}

# ---------------------------------------------------------------------------------------
# Showing commands as a person would type them, and what they answered.

quote() {
  local arg out=()
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=@,+-]+$ ]]; then
      out+=("$arg")
    else
      out+=("'${arg//\'/\'\\\'\'}'")
    fi
  done
  printf '%s' "${out[*]}"
}

# Runs a command, printing it and its output; the output is also left in OUT.
OUT=
show() {
  local status=0
  printf '  $ %s\n' "$(quote "$@")"
  OUT=$("$@" 2>&1) || status=$?
  [[ -n $OUT ]] && printf '%s\n' "$OUT" | sed 's/^/    /'
  return "$status"
}

fail() {
  printf '    ✗ %s\n' "$*"
  return 1
}

# ---------------------------------------------------------------------------------------
# The daemon.

DAEMON_PID=
DAEMON_LOG=

start_daemon() {
  if busctl --user status "$BUS_NAME" > /dev/null 2>&1; then
    say "$BUS_NAME already runs on this session bus; stop it first (it is not this demo's)"
    return 1
  fi
  DAEMON_LOG=$BUILD_DIR/smartragd-user.log
  # A session of its own keeps Ctrl-C away from it: this script stops it with one
  # SIGTERM, as systemd would. (A second signal while it closes the database would
  # take GLib's default action.)
  # Run from the build tree: the file parser is the one built next to the daemon.
  SMARTRAG_EXTRACT_HELPER=$BUILD_DIR/src/extract/smartrag-extract \
    setsid "$BUILD_DIR/src/smartragd" --user > "$DAEMON_LOG" 2>&1 &
  DAEMON_PID=$!

  local i
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$DAEMON_PID" 2> /dev/null; then
      wait "$DAEMON_PID" || true
      say "smartragd exited before taking its bus name; its log:"
      sed 's/^/  /' "$DAEMON_LOG" >&2
      DAEMON_PID=
      return 1
    fi
    busctl --user status "$BUS_NAME" > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  say "smartragd did not take $BUS_NAME within 10 s; its log is $DAEMON_LOG"
  return 1
}

daemon_alive() {
  [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2> /dev/null
}

# Stops smartragd the way systemd does (SIGTERM) and succeeds only on a clean exit.
stop_daemon() {
  [[ -n $DAEMON_PID ]] || return 0
  local status=0
  kill -TERM "$DAEMON_PID" 2> /dev/null || true
  wait "$DAEMON_PID" || status=$?
  DAEMON_PID=
  if ((status != 0)); then
    say "smartragd exited with status $status; its log is $DAEMON_LOG"
    return 1
  fi
  say "smartragd stopped cleanly"
}

# ---------------------------------------------------------------------------------------
# The demo: one function per step, run in the order of DEMO_STEPS. Later capabilities
# (questions with answers) add their steps here.

SESSION_PATH=

step_health() {
  echo "Is SmartRAG healthy? GetHealth returns an overall status and one entry per component."
  show busctl --user call "$BUS_NAME" "$DAEMON_PATH" "$DAEMON_IFACE" GetHealth || return 1
  [[ $OUT == 'sa{sv} "ok" '* || $OUT == 'sa{sv} "degraded" '* ]] \
    || fail "expected the status ok or degraded"
}

step_create_session() {
  echo "Create a session with a title and a JSON context; the answer is its object path."
  show busctl --user call "$BUS_NAME" "$DAEMON_PATH" "$DAEMON_IFACE" CreateSession \
    'a{sv}' 2 title s "$DEMO_TITLE" context s "$DEMO_CONTEXT" || return 1
  [[ $OUT =~ ^o\ \"($DAEMON_PATH/session/[0-9a-f]{32})\"$ ]] \
    || fail "expected an object path under $DAEMON_PATH/session/" || return 1
  SESSION_PATH=${BASH_REMATCH[1]}
}

step_list_sessions() {
  echo "List your sessions."
  show busctl --user call "$BUS_NAME" "$DAEMON_PATH" "$DAEMON_IFACE" ListSessions || return 1
  [[ $OUT == *"\"$SESSION_PATH\""* ]] || fail "the new session is not listed"
}

step_read_properties() {
  echo "Read the session's properties (times are microseconds since the epoch)."
  show busctl --user get-property "$BUS_NAME" "$SESSION_PATH" "$SESSION_IFACE" \
    Id Title Owner CreatedAt LastActive Context MessageCount DocumentCount || return 1
  local -a lines
  mapfile -t lines <<< "$OUT"
  [[ ${lines[1]} == "s \"$DEMO_TITLE\"" ]] || fail "Title is not \"$DEMO_TITLE\"" || return 1
  [[ ${lines[2]} == "u $(id -u)" ]] || fail "Owner is not your uid $(id -u)" || return 1
  # The context comes back as compact JSON.
  [[ ${lines[5]} == 's "{\"topic\":\"getting started\",\"language\":\"en\"}"' ]] \
    || fail "Context is not the compact form of $DEMO_CONTEXT"
}

step_rename() {
  echo "Title and Context are writable; change the title and read it back."
  show busctl --user set-property "$BUS_NAME" "$SESSION_PATH" "$SESSION_IFACE" \
    Title s "$RENAMED_TITLE" || return 1
  show busctl --user get-property "$BUS_NAME" "$SESSION_PATH" "$SESSION_IFACE" Title || return 1
  [[ $OUT == "s \"$RENAMED_TITLE\"" ]] || fail "Title did not change"
}

step_gdbus() {
  echo "The same with gdbus: all properties at once."
  show gdbus call --session --dest "$BUS_NAME" --object-path "$SESSION_PATH" \
    --method org.freedesktop.DBus.Properties.GetAll "$SESSION_IFACE" || return 1
  [[ $OUT == *"'Title': <'$RENAMED_TITLE'>"* ]] || fail "gdbus does not show the new title"
}

DOCUMENT_IDS=()

step_add_texts() {
  echo "Add three short documents with AddText (busctl cannot pass the file descriptors"
  echo "AddFile takes). Each call returns once the text is stored; parsing and indexing go"
  echo "on in the background."
  local i
  for i in "${!SAMPLE_TITLES[@]}"; do
    show busctl --user call "$BUS_NAME" "$SESSION_PATH" "$DOCUMENT_IFACE" AddText \
      'ssa{sv}' "${SAMPLE_TITLES[i]}" "${SAMPLE_TEXTS[i]}" 0 || return 1
    [[ $OUT =~ ^s\ \"([0-9a-f]{32})\"$ ]] || fail "expected a document id" || return 1
    DOCUMENT_IDS+=("${BASH_REMATCH[1]}")
  done
}

# The state of a document as GetDocument reports it, left in STATE; OUT keeps the answer.
STATE=
document_state() {
  OUT=$(busctl --user call "$BUS_NAME" "$SESSION_PATH" "$DOCUMENT_IFACE" GetDocument s "$1" 2>&1) \
    || return 1
  [[ $OUT =~ \"state\"\ s\ \"([a-z]+)\" ]] || return 1
  STATE=${BASH_REMATCH[1]}
}

# Polls GetDocument until the document is ready or failed, or READY_TIMEOUT passes.
wait_settled() {
  local id=$1 deadline=$((SECONDS + READY_TIMEOUT))
  while document_state "$id"; do
    [[ $STATE == ready || $STATE == failed ]] && return 0
    ((SECONDS < deadline)) || break
    sleep 0.2
  done
  return 1
}

step_wait_ready() {
  echo "Wait until each document is ready: GetDocument shows its state (stored, parsing,"
  echo "indexing, then ready or failed), progress, format and number of chunks."
  local id
  for id in "${DOCUMENT_IDS[@]}"; do
    if ! wait_settled "$id"; then
      fail "document $id is not ready after ${READY_TIMEOUT} s (state: ${STATE:-unknown})"
      return 1
    fi
    show busctl --user call "$BUS_NAME" "$SESSION_PATH" "$DOCUMENT_IFACE" GetDocument s "$id" \
      || return 1
    [[ $STATE == ready ]] || fail "document $id failed; its message says why" || return 1
  done
}

step_list_documents() {
  echo "List the session's documents; DocumentCount counts them."
  show busctl --user call "$BUS_NAME" "$SESSION_PATH" "$DOCUMENT_IFACE" ListDocuments || return 1
  [[ $OUT == "aa{sv} ${#DOCUMENT_IDS[@]} "* ]] \
    || fail "expected ${#DOCUMENT_IDS[@]} documents" || return 1
  show busctl --user get-property "$BUS_NAME" "$SESSION_PATH" "$SESSION_IFACE" DocumentCount \
    || return 1
  [[ $OUT == "u ${#DOCUMENT_IDS[@]}" ]] || fail "DocumentCount is not ${#DOCUMENT_IDS[@]}"
}

# Prints busctl's JSON answer of Search as numbered hits, best first.
print_hits() {
  python3 -c '
import json, sys
hits = json.load(sys.stdin)["data"][0]
for n, hit in enumerate(hits, 1):
    get = lambda key: hit[key]["data"] if key in hit else ""
    where = ": ".join(filter(None, [get("filename"), get("heading")]))
    print("  %d. %s  (score %.4f)" % (n, where, get("score")))
    print("     %s" % " ".join(get("text").split()))
'
}

# The filename and heading of the best hit in busctl's JSON answer of Search.
best_hit() {
  python3 -c '
import json, sys
hit = json.load(sys.stdin)["data"][0][0]
print(hit["filename"]["data"] + ": " + hit["heading"]["data"])
'
}

step_search() {
  echo "Ask a question: Search finds the best passages by words (BM25) and by meaning"
  echo "(vectors), fused by rank. Each hit names its document, heading and chunk."
  show busctl --user call "$BUS_NAME" "$SESSION_PATH" "$QUERY_IFACE" Search \
    'sa{sv}' "$SEARCH_TEXT" 1 k u 3 || return 1
  local json
  json=$(busctl --user --json=short call "$BUS_NAME" "$SESSION_PATH" "$QUERY_IFACE" Search \
    'sa{sv}' "$SEARCH_TEXT" 1 k u 3) || return 1
  echo "  The best hits:"
  print_hits <<< "$json" || return 1
  [[ $OUT == 'aa{sv} '[1-3]' '* ]] || fail "expected one to three hits" || return 1
  local best
  best=$(best_hit <<< "$json") || return 1
  [[ $best == "$EXPECTED_FILENAME: $EXPECTED_HEADING" ]] \
    || fail "the best hit is not from $EXPECTED_FILENAME under \"$EXPECTED_HEADING\""
}

# Prints busctl's JSON answer of AskAndWait: the answer, then its numbered sources.
print_answer() {
  python3 -c '
import json, sys
answer, sources, stats = json.load(sys.stdin)["data"]
print("  Answer (%s, %s, %.1f ms):" % (stats["backend"]["data"], stats["model"]["data"],
                                      stats["total_ms"]["data"]))
print("    " + answer)
for n, source in enumerate(sources, 1):
    where = ": ".join(filter(None, [source["filename"]["data"], source["heading"]["data"]]))
    print("    [%d] %s" % (n, where))
'
}

step_ask() {
  echo "Ask the question: the answer is made from the best passages and cites them."
  echo "(AskAndWait returns it whole; Ask streams it as Token signals. The demo asks the"
  echo "builtin generator, so that its answer is the same on every machine.)"
  local json
  json=$(busctl --user --json=short --timeout=60 call "$BUS_NAME" "$SESSION_PATH" \
    "$QUERY_IFACE" AskAndWait 'sa{sv}' "$SEARCH_TEXT" 2 k u 3 backend s builtin) \
    || fail "AskAndWait failed" || return 1
  print_answer <<< "$json" || return 1
  [[ $json == *"$EXPECTED_ANSWER"*"[1]"* ]] \
    || fail "the answer does not say \"$EXPECTED_ANSWER\" with a citation" || return 1
  echo "The question and its answer are now the session's conversation:"
  show busctl --user get-property "$BUS_NAME" "$SESSION_PATH" "$SESSION_IFACE" MessageCount \
    || return 1
  [[ $OUT == "u 2" ]] || fail "MessageCount is not 2"
}

# Only when the demo exits, before the session goes: removing one document.
step_remove_document() {
  echo "Remove a document: its chunks go, and Search no longer finds it."
  local id=${DOCUMENT_IDS[0]}
  show busctl --user call "$BUS_NAME" "$SESSION_PATH" "$DOCUMENT_IFACE" RemoveDocument s "$id" \
    || return 1
  show busctl --user call "$BUS_NAME" "$SESSION_PATH" "$QUERY_IFACE" Search \
    'sa{sv}' "$SEARCH_TEXT" 1 k u 3 || return 1
  [[ $OUT != *"\"$id\""* ]] || fail "the removed document is still found" || return 1
  echo "  Reading it now fails: org.smartrag.Error.NotFound."
  if show busctl --user call "$BUS_NAME" "$SESSION_PATH" "$DOCUMENT_IFACE" GetDocument s "$id"; then
    fail "the removed document can still be read"
  fi
}

# Only when the demo exits: leaves nothing behind, and proves Delete works.
step_delete() {
  echo "Delete the session; afterwards it is gone for everyone."
  show busctl --user call "$BUS_NAME" "$SESSION_PATH" "$SESSION_IFACE" Delete || return 1
  show busctl --user call "$BUS_NAME" "$DAEMON_PATH" "$DAEMON_IFACE" ListSessions || return 1
  [[ $OUT != *"\"$SESSION_PATH\""* ]] || fail "the deleted session is still listed" || return 1
  echo "  Reading it now fails: AccessDenied, as for any session you may not see."
  if show busctl --user get-property "$BUS_NAME" "$SESSION_PATH" "$SESSION_IFACE" Title; then
    fail "the deleted session can still be read"
  fi
}

DEMO_STEPS=(step_health step_create_session step_list_sessions step_read_properties
  step_rename step_gdbus step_add_texts step_wait_ready step_list_documents step_search
  step_ask)
((DEMO_EXIT)) && DEMO_STEPS+=(step_remove_document step_delete)

PASSED=0
FAILED=()

run_demo() {
  local step n=0
  for step in "${DEMO_STEPS[@]}"; do
    n=$((n + 1))
    printf '\n[%d/%d] ' "$n" "${#DEMO_STEPS[@]}"
    if ! daemon_alive; then
      echo "smartragd is no longer running; skipping the rest"
      FAILED+=("$step")
      continue
    fi
    if "$step"; then
      PASSED=$((PASSED + 1))
    else
      FAILED+=("$step")
      # Later steps build on the session; without one they cannot mean anything.
      [[ -n $SESSION_PATH ]] || { echo "no session was created; stopping the demo"; break; }
    fi
  done
  echo
  if ((${#FAILED[@]} == 0)); then
    say "demo: all ${#DEMO_STEPS[@]} steps passed"
  else
    say "demo: $PASSED of ${#DEMO_STEPS[@]} steps passed; failed: ${FAILED[*]}"
  fi
}

# ---------------------------------------------------------------------------------------

print_next_steps() {
  local path=${SESSION_PATH:-$DAEMON_PATH/session/<id>}
  cat << EOF

SmartRAG is running in user mode (pid $DAEMON_PID; state in ${XDG_STATE_HOME:-$HOME/.local/state}/smartrag).
EOF
  if [[ -n ${SMARTRAG_PRIVATE_BUS:-} ]]; then
    cat << EOF
No session bus was running, so this demo started a private one. To use it from another
terminal, as $(id -un), first run:

  export DBUS_SESSION_BUS_ADDRESS='$DBUS_SESSION_BUS_ADDRESS'
EOF
  fi
  cat << EOF

Try next:

  busctl --user call $BUS_NAME $DAEMON_PATH $DAEMON_IFACE CreateSession 'a{sv}' 1 title s Notes
  busctl --user call $BUS_NAME $DAEMON_PATH $DAEMON_IFACE ListSessions
  busctl --user introspect $BUS_NAME $path
  busctl --user set-property $BUS_NAME $path $SESSION_IFACE Context s '{"project": "demo"}'
  busctl --user call $BUS_NAME $path $DOCUMENT_IFACE AddText 'ssa{sv}' notes.md \\
    $'# Notes\n\nThe spare key is under the blue flower pot.\n' 0
  busctl --user call $BUS_NAME $path $DOCUMENT_IFACE ListDocuments
  busctl --user call $BUS_NAME $path $QUERY_IFACE Search 'sa{sv}' 'where is the key' 1 k u 3
  busctl --user call $BUS_NAME $path $QUERY_IFACE AskAndWait 'sa{sv}' 'where is the key' 0
  busctl --user call $BUS_NAME $path $QUERY_IFACE Ask 'sa{sv}' 'where is the key' 0
  busctl --user monitor $BUS_NAME   # in another terminal first: Ask's Token signals
  gdbus call --session --dest $BUS_NAME --object-path $path \\
    --method $DOCUMENT_IFACE.AddFile 3 report.pdf '{}' 3< report.pdf
  busctl --user call $BUS_NAME $path $SESSION_IFACE Delete
  gdbus call --session --dest $BUS_NAME --object-path $DAEMON_PATH \\
    --method $DAEMON_IFACE.CreateSession "{'title': <'Short-lived'>, 'expire_after': <'1h'>}"
  gdbus introspect --session --dest $BUS_NAME --object-path $DAEMON_PATH --recurse

The README and docs/dbus.md describe every method, property and error.
Press Ctrl-C to stop SmartRAG. Its log follows.

EOF
}

# Ctrl-C (or SIGTERM) in the foreground ends the run: a success when the demo passed
# and the daemon stopped cleanly.
on_stop_request() {
  echo
  stop_daemon && ((${#FAILED[@]} == 0)) && exit 0
  exit 1
}

# Runs the demo on a session bus that exists.
demo_main() {
  trap on_stop_request INT TERM
  start_daemon || exit 1
  run_demo

  if ((DEMO_EXIT)); then
    local status=0
    stop_daemon || status=1
    ((${#FAILED[@]} == 0)) || status=1
    exit "$status"
  fi

  print_next_steps
  tail -n +1 -f --pid="$DAEMON_PID" "$DAEMON_LOG" &
  # Returns early when Ctrl-C runs the trap; otherwise the daemon ended by itself.
  local status=0
  wait "$DAEMON_PID" || status=$?
  DAEMON_PID=
  say "smartragd exited by itself with status $status"
  exit 1
}

main() {
  if [[ -z ${SMARTRAG_RUN_BUILT:-} ]]; then
    ensure_packages "${PACKAGES[@]}"
    build
  fi
  if have_session_bus; then
    demo_main
  fi
  say "no session bus runs here; starting a private one with dbus-run-session"
  # Ctrl-C must not end the bus before smartragd has stopped: dbus-run-session and
  # dbus-daemon inherit the ignored SIGINT, and the script itself gets it back.
  trap '' INT
  SMARTRAG_RUN_BUILT=1 SMARTRAG_PRIVATE_BUS=1 BUILD_DIR=$BUILD_DIR \
    exec dbus-run-session -- env --default-signal=INT "$BASH" "${BASH_SOURCE[0]}" "$@"
}

main "$@"
