#!/usr/bin/env bash
# Make the console's screenshots from real runs: a temporary state root with the
# offline demo image and a few real containers (network none), the real `wharf`
# binary in tmux, `tmux capture-pane -e` (ANSI colours) converted to SVG by
# ansi2svg.py. Needs root (containers), tmux, busybox-static and python3.
#
#   screenshots/make.sh            # writes screenshots/*.svg
#   WHARF=path/to/wharf screenshots/make.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
if [ -z "${WHARF:-}" ]; then
  cargo build --release -p wharf >&2
  WHARF="$PWD/target/release/wharf"
fi
root="$(mktemp -d /tmp/wharf-shots.XXXXXX)"
sock="wharf-shots-$$"
export WHARF_ROOT="$root"

cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  for id in $("$WHARF" ps -aq 2>/dev/null); do "$WHARF" rm -f "$id" >/dev/null 2>&1 || true; done
  rm -rf "$root"
}
trap cleanup EXIT

# A demo setup: the offline demo image and some real containers in varied states.
"$WHARF" image demo >/dev/null
"$WHARF" tag wharf/demo:latest lab/worker:7 >/dev/null
"$WHARF" volume create pgdata >/dev/null
"$WHARF" volume create cache >/dev/null
run() { "$WHARF" run -d --network none "$@" >/dev/null; }
run --name web-1 -l team=web wharf/demo:latest sh -c 'trap "exit 0" TERM; i=0; while true; do echo "$(date +%T) GET /api/items?page=$i 200 $((i % 13))ms"; i=$((i+1)); sleep 1; done'
run --name db -l team=data wharf/demo:latest sh -c 'trap "exit 0" TERM; echo "database system is ready to accept connections"; while true; do sleep 1; done'
run --name cruncher -m 64m wharf/demo:latest sh -c 'trap "exit 0" TERM; while true; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 0.3; done'
run --name worker-3 lab/worker:7 sh -c 'trap "exit 0" TERM; while true; do sleep 1; done'
run --name batch-17 lab/worker:7 sh -c 'echo processed 1200 records; exit 0'
run --name broken wharf/demo:latest sh -c 'echo "fatal: config /etc/app.conf missing" >&2; exit 3'
"$WHARF" pause worker-3 >/dev/null
sleep 3

t() { tmux -L "$sock" "$@"; }
shot() { # name width height
  sleep "${SETTLE:-0.8}"
  t capture-pane -e -p > "$here/$1.ansi"
  python3 "$here/ansi2svg.py" "$2" "$3" < "$here/$1.ansi" > "$here/$1.svg"
  rm -f "$here/$1.ansi"
  echo "screenshots/$1.svg" >&2
}
keys() { t send-keys "$@"; sleep 0.3; }

t new-session -d -x 160 -y 45 "env WHARF_ROOT=$root $WHARF"
sleep 2
keys Down; shot containers 160 45
keys Space; keys Space; keys d; shot confirm-remove 160 45
keys Escape; keys Escape
keys :; t send-keys -l "logs web-1"; keys Enter; SETTLE=2 shot logs 160 45
keys s; t send-keys -l "page=1"; keys Enter; keys t; shot logs-search 160 45
keys 1; keys i; shot inspect 160 45
keys Escape; keys 2; shot images 160 45
keys 3; shot networks 160 45
keys 4; shot volumes 160 45
keys 5; SETTLE=8 shot stats 160 45
keys 6; shot events 160 45
keys 1; keys n; t send-keys -l "wharf/demo:latest"; keys Tab; t send-keys -l "web-2"; keys Tab
t send-keys -l "sh -c 'echo hi; sleep 60'"; keys Tab; t send-keys -l "MODE=demo"; keys Tab; t send-keys -l "8080:99999"
keys Tab; keys Tab; t send-keys -l "none"; shot run-form 160 45
keys Escape; keys '?'; shot help 160 45
keys Escape; keys 8; shot console-log 160 45
# A shell in web-1: the console steps aside and comes back when the shell exits.
keys 1; keys /; t send-keys -l "web-1"; keys Enter
keys e; sleep 2; t send-keys -l "hostname; ps"; keys Enter; SETTLE=1.5 shot shell 160 45
t send-keys -l "exit"; keys Enter; sleep 1.5; keys Escape; shot shell-back 160 45
keys q
sleep 1

t new-session -d -x 80 -y 24 "env WHARF_ROOT=$root $WHARF"
sleep 2
shot containers-80x24 80 24
keys 6; shot events-80x24 80 24
keys q
sleep 0.5
t new-session -d -x 120 -y 30 "env NO_COLOR=1 WHARF_ROOT=$root $WHARF"
sleep 2
shot containers-no-color 120 30
keys q
