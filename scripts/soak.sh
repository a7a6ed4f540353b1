#!/usr/bin/env bash
# Fault soak: concurrent CLI workers on one state root (some through `wharf serve`),
# SIGKILL injected into workers, container monitors and the server, then the state is
# checked against what exists on the host.
#
#   scripts/soak.sh                           # ~5 minutes, 1000 operations, 4 workers
#   SOAK_SECONDS=60 SOAK_OPS=200 scripts/soak.sh
#
# Environment:
#   SOAK_SECONDS   time budget of the operations phase (default 300); the checks follow
#   SOAK_OPS       operations in all (default 1000), shared by the workers
#   SOAK_WORKERS   concurrent CLI workers (default 4; the odd ones go through the socket)
#   SOAK_SEED      random seed (default: the time); printed, reused for the workers
#   SOAK_SERVE_KILLS  times `wharf serve` is killed and restarted (default 3)
#   SOAK_KEEP=1    keep the state root after a failed run (it is removed otherwise)
#   WHARF          the wharf binary (default: target/debug/wharf, built first)
#
# Needs root, busybox-static (/bin/busybox) for the demo image, jq. Every container runs
# with --network none. Runs on a fresh temporary state root and removes what it made:
# containers, processes of its containers, monitors of its root, cgroups named for its
# containers, mounts under its root. Only processes it started (or that run for its
# root) are killed, by pid. Exit status 1 when an invariant fails. Not part of
# `cargo test`.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_BUDGET=${SOAK_SECONDS:-300}
OPS=${SOAK_OPS:-1000}
WORKERS=${SOAK_WORKERS:-4}
SEED=${SOAK_SEED:-$(date +%s)}
SERVE_KILLS=${SOAK_SERVE_KILLS:-3}
OP_TIMEOUT=${SOAK_OP_TIMEOUT:-90}

if [ "$(id -u)" != 0 ]; then
    echo "soak: run as root (containers, cgroups)" >&2
    exit 2
fi
for tool in jq /bin/busybox; do
    command -v "$tool" >/dev/null || { echo "soak: $tool is needed" >&2; exit 2; }
done
if [ -z "${WHARF:-}" ]; then
    # Built from this tree (quick when up to date), so a stale binary is never soaked.
    (cd "$here" && cargo build -q -p wharf) || exit 2
    WHARF=$here/target/debug/wharf
fi

R=$(mktemp -d /tmp/wharf-soak.XXXXXX)
WORK=$(mktemp -d /tmp/wharf-soak-work.XXXXXX)
SOCK=$R/soak.sock
mkdir -p "$WORK/pids" "$WORK/roots"
: >"$WORK/ops.log"
: >"$WORK/kills.log"
: >"$WORK/names"
: >"$WORK/images"
: >"$WORK/volumes"
w() { "$WHARF" --root "$R" "$@"; }

say() { printf '[soak %s] %s\n' "$(date +%T)" "$*"; }

# ---------------------------------------------------------------- cleanup
serve_pid=
killer_pid=
worker_pids=()
failed=0

# The command line of process $1, words separated by spaces (empty when it is gone).
cmdline() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null; }

# Processes whose command line runs for our root (monitors, exec helpers, serve).
root_procs() {
    local p
    for p in /proc/[0-9]*; do
        if cmdline "${p#/proc/}" | grep -qF -- "--root $R "; then
            echo "${p#/proc/}"
        fi
    done
}

# Every container id this root ever had: its event journal's creates, and what is there.
all_ids() {
    {
        cat "$R"/events.jsonl* 2>/dev/null | jq -r 'select(.Type=="container" and .Action=="create") | .Actor.ID' 2>/dev/null
        ls "$R/containers" 2>/dev/null
    } | grep -E '^[0-9a-f]{64}$' | sort -u
}

# cgroup directories named for one of our ids: "path".
our_cgroups() {
    local ids
    ids=$(all_ids)
    [ -n "$ids" ] || return 0
    find /sys/fs/cgroup -maxdepth 4 -type d -path '*wharf*' 2>/dev/null | while read -r d; do
        if grep -qxF "$(basename "$d")" <<<"$ids"; then
            echo "$d"
        fi
    done
}

cleanup() {
    local rc=$?
    set +e
    [ -n "$killer_pid" ] && kill -9 "$killer_pid" 2>/dev/null
    for p in "${worker_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for f in "$WORK"/pids/* "$WORK/serve.pid"; do
        [ -f "$f" ] && read -r p _ <"$f" && [ -n "$p" ] &&
            cmdline "$p" | grep -qF -- "--root $R " && kill -9 "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ -d "$R" ]; then
        ids=$(w ps -a -q --no-trunc 2>/dev/null)
        [ -n "$ids" ] && w rm -f $ids >/dev/null 2>&1
        for p in $(root_procs); do kill -9 "$p" 2>/dev/null; done
        # Processes left in our containers' cgroups, then the cgroups.
        for d in $(our_cgroups); do
            for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        done
        sleep 0.5
        for d in $(our_cgroups | sort -r); do rmdir "$d" 2>/dev/null; done
        grep -F " $R" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null
        done
    fi
    for d in "$WORK"/roots/*; do
        [ -d "$d" ] && rm -rf "$d"
    done
    if [ "$failed" != 0 ] && [ "${SOAK_KEEP:-0}" = 1 ]; then
        say "kept the state root $R and the work directory $WORK"
    else
        rm -rf "$R" "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- setup
say "root $R, seed $SEED, $WORKERS workers, $OPS operations, ${SECONDS_BUDGET}s"
w image demo >/dev/null || { echo "soak: wharf image demo failed" >&2; exit 2; }
# A small image to load: a few files imported and saved.
mkdir -p "$WORK/tiny/etc" && echo tiny >"$WORK/tiny/etc/tiny" && ln -s tiny "$WORK/tiny/etc/link"
tar -C "$WORK/tiny" -cf "$WORK/tiny-rootfs.tar" . &&
    w import "$WORK/tiny-rootfs.tar" soak/tiny:1 >/dev/null &&
    w save -o "$WORK/tiny.tar" soak/tiny:1 || { echo "soak: making the small archive failed" >&2; exit 2; }
# A volume with known data, checked at the end.
known="known-$SEED-$RANDOM"
w volume create soakdata >/dev/null &&
    w run --rm --network none -v soakdata:/data wharf/demo sh -c "echo $known > /data/known.txt" ||
    { echo "soak: writing the known volume failed" >&2; exit 2; }
echo tiny-cp >"$WORK/cpin.txt"
veths_before=$(ip -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^wv' | sort)

start_serve() {
    rm -f "$SOCK"
    "$WHARF" serve --root "$R" --socket "$SOCK" >>"$WORK/serve.log" 2>&1 &
    serve_pid=$!
    disown "$serve_pid"
    echo "$serve_pid" >"$WORK/serve.pid"
    for _ in $(seq 50); do
        [ -S "$SOCK" ] && return 0
        sleep 0.1
    done
    echo "soak: wharf serve did not come up" >&2
    return 1
}
start_serve || exit 2

# ---------------------------------------------------------------- workers
KINDS=(run run create start stop kill pause unpause rm exec logs cp_in cp_out commit tag rmi
    volume_create volume_rm load prune)

pick() { # a random line of file $1 (empty if none)
    local n
    n=$(wc -l <"$1")
    [ "$n" -gt 0 ] || return 0
    sed -n "$((RANDOM % n + 1))p" "$1"
}

worker() {
    local i=$1 n=$2 deadline=$3
    RANDOM=$((SEED + i * 7919))
    local host=()
    if [ $((i % 2)) = 1 ]; then host=(--host "unix://$SOCK"); fi
    local k kind c cmd pid rc outcome start wait_ms filter
    # The operations are spread over the time budget: operation k starts around
    # start + k * budget / n (sooner when the ones before took long).
    start=$(date +%s%3N)
    for ((k = 0; k < n; k++)); do
        [ "$(date +%s)" -lt "$deadline" ] || break
        wait_ms=$((start + k * SECONDS_BUDGET * 950 / n - $(date +%s%3N) + RANDOM % 400))
        [ "$wait_ms" -gt 0 ] && sleep "$((wait_ms / 1000)).$(printf '%03d' $((wait_ms % 1000)))"
        kind=${KINDS[$((RANDOM % ${#KINDS[@]}))]}
        # A container in a state the operation applies to, mostly; sometimes any name
        # ever used (it may be gone: the error path is exercised too).
        if [ $((RANDOM % 8)) = 0 ]; then
            c=$(pick "$WORK/names")
        else
            case $kind in
            start) filter=(-f status=exited -f status=created) ;;
            unpause) filter=(-f status=paused) ;;
            stop | kill | pause | exec | cp_in | cp_out | commit) filter=(-f status=running) ;;
            *) filter=() ;;
            esac
            w ps -a -q "${filter[@]}" >"$WORK/candidates-$i" 2>/dev/null
            c=$(pick "$WORK/candidates-$i")
            [ -n "$c" ] || c=$(pick "$WORK/names")
        fi
        case $kind in
        run)
            c="soak-$i-$k"
            echo "$c" >>"$WORK/names"
            if [ $((RANDOM % 3)) = 0 ]; then
                cmd=(run -d --network none --name "$c" -v soakdata:/data:ro wharf/demo sleep 300)
            elif [ $((RANDOM % 2)) = 0 ]; then
                cmd=(run -d --network none --name "$c" wharf/demo sh -c "echo start; sleep $((RANDOM % 5))")
            else
                cmd=(run -d --network none --name "$c" wharf/demo sleep 300)
            fi
            ;;
        create)
            c="soak-$i-$k"
            echo "$c" >>"$WORK/names"
            cmd=(create --network none --name "$c" wharf/demo sleep 300)
            ;;
        start) cmd=(start "${c:-none}") ;;
        stop) cmd=(stop -t $((RANDOM % 2)) "${c:-none}") ;;
        kill) cmd=(kill "${c:-none}") ;;
        pause) cmd=(pause "${c:-none}") ;;
        unpause) cmd=(unpause "${c:-none}") ;;
        rm) cmd=(rm -f "${c:-none}") ;;
        exec) cmd=(exec "${c:-none}" sh -c 'echo hi > /tmp/e && cat /tmp/e') ;;
        logs) cmd=(logs "${c:-none}") ;;
        cp_in) cmd=(cp "$WORK/cpin.txt" "${c:-none}:/tmp/cpin.txt") ;;
        cp_out) cmd=(cp "${c:-none}:/etc/hostname" "$WORK/cpout-$i.txt") ;;
        commit)
            echo "soak/commit:$i-$k" >>"$WORK/images"
            cmd=(commit "${c:-none}" "soak/commit:$i-$k")
            ;;
        tag)
            echo "soak/tag:$i-$k" >>"$WORK/images"
            cmd=(tag wharf/demo "soak/tag:$i-$k")
            ;;
        rmi)
            w images 2>/dev/null | awk 'NR > 1 && $1 ~ /^soak\// {print $1 ":" $2}' >"$WORK/candidates-$i"
            cmd=(rmi "$(pick "$WORK/candidates-$i" | grep . || pick "$WORK/images" | grep . || echo soak/none:1)")
            ;;
        volume_create)
            echo "soakv-$i-$k" >>"$WORK/volumes"
            cmd=(volume create "soakv-$i-$k")
            ;;
        volume_rm)
            w volume ls -q 2>/dev/null | grep '^soakv-' >"$WORK/candidates-$i"
            cmd=(volume rm "$(pick "$WORK/candidates-$i" | grep . || echo soakv-none)")
            ;;
        load) cmd=(load -q -i "$WORK/tiny.tar") ;;
        prune)
            case $((RANDOM % 3)) in
            0) cmd=(container prune -f) ;;
            1) cmd=(image prune -f) ;;
            *) cmd=(volume prune -f) ;;
            esac
            ;;
        esac
        "$WHARF" --root "$R" "${host[@]}" "${cmd[@]}" >/dev/null 2>>"$WORK/errors-$i.log" </dev/null &
        pid=$!
        echo "$pid $(date +%s) $kind" >"$WORK/pids/w$i"
        { wait "$pid"; } 2>/dev/null
        rc=$?
        : >"$WORK/pids/w$i"
        if grep -qx "worker $pid" "$WORK/kills.log"; then
            outcome=killed
        elif grep -qx "hung $pid" "$WORK/kills.log"; then
            outcome=hung
        elif [ $rc = 0 ]; then
            outcome=ok
        else
            outcome=error
            echo "  ^ $kind ${cmd[*]} -> $rc" >>"$WORK/errors-$i.log"
        fi
        printf '%s %s %s\n' "$kind" "$outcome" "$( [ ${#host[@]} -gt 0 ] && echo socket || echo direct)" >>"$WORK/ops.log"
    done
}

# ---------------------------------------------------------------- killer
killer() {
    RANDOM=$((SEED + 1))
    local serve_left=$SERVE_KILLS deadline=$1 f p t kind now pids
    local serve_every=$((SECONDS_BUDGET / (SERVE_KILLS + 1) + 1)) next_serve
    next_serve=$(($(date +%s) + serve_every))
    while :; do
        sleep "0.$((RANDOM % 9 + 1))"
        now=$(date +%s)
        # Operations that hang are killed and counted.
        for f in "$WORK"/pids/w*; do
            read -r p t kind <"$f" 2>/dev/null || continue
            if [ -n "$p" ] && [ $((now - t)) -gt "$OP_TIMEOUT" ]; then
                echo "hung $p" >>"$WORK/kills.log"
                echo "hung-op $kind" >>"$WORK/kills.log"
                kill -9 "$p" 2>/dev/null
            fi
        done
        case $((RANDOM % 20)) in
        0 | 1 | 2)
            # A worker's CLI mid-operation: wait (up to 3 s) for one to be running, let
            # it get 0-250 ms into its work, then kill it.
            p=
            for _ in $(seq 60); do
                for f in "$WORK"/pids/w*; do
                    read -r p t kind <"$f" 2>/dev/null && [ -n "$p" ] && break 2
                    p=
                done
                sleep 0.05
            done
            [ -n "$p" ] || continue
            sleep "0.$(printf '%03d' $((RANDOM % 250)))"
            if cmdline "$p" | grep -qF -- "--root $R "; then
                echo "worker $p" >>"$WORK/kills.log"
                echo "worker-op $kind" >>"$WORK/kills.log"
                kill -9 "$p" 2>/dev/null
            fi
            ;;
        3)
            # A container monitor of this root.
            pids=()
            for p in /proc/[0-9]*; do
                if cmdline "${p#/proc/}" | grep -qF -- "--root $R __monitor "; then
                    pids+=("${p#/proc/}")
                fi
            done
            if [ ${#pids[@]} -gt 0 ]; then
                p=${pids[$((RANDOM % ${#pids[@]}))]}
                echo "monitor $p" >>"$WORK/kills.log"
                kill -9 "$p" 2>/dev/null
            fi
            ;;
        esac
        if [ "$serve_left" -gt 0 ] && [ "$now" -ge "$next_serve" ] && [ "$now" -lt "$deadline" ]; then
            p=$(cat "$WORK/serve.pid")
            if cmdline "$p" | grep -qF -- "serve --root $R "; then
                echo "serve $p" >>"$WORK/kills.log"
                kill -9 "$p" 2>/dev/null
            fi
            sleep "$((RANDOM % 3 + 1))"
            rm -f "$SOCK"
            "$WHARF" serve --root "$R" --socket "$SOCK" >>"$WORK/serve.log" 2>&1 &
            echo $! >"$WORK/serve.pid"
            disown $!
            serve_left=$((serve_left - 1))
            next_serve=$((now + serve_every))
        fi
    done
}

deadline=$(($(date +%s) + SECONDS_BUDGET))
per=$(((OPS + WORKERS - 1) / WORKERS))
t0=$(date +%s)
killer "$deadline" &
killer_pid=$!
for ((i = 0; i < WORKERS; i++)); do
    n=$per
    [ $((i * per + n)) -gt "$OPS" ] && n=$((OPS - i * per))
    worker "$i" "$n" "$deadline" &
    worker_pids+=($!)
done
wait "${worker_pids[@]}"
worker_pids=()
kill -9 "$killer_pid" 2>/dev/null
wait "$killer_pid" 2>/dev/null
killer_pid=
serve_pid=$(cat "$WORK/serve.pid")
t1=$(date +%s)
say "operations done in $((t1 - t0))s; checking"

# ---------------------------------------------------------------- checks
pass=0
fail=0
check() { # name, then the command; its output explains a failure
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        pass=$((pass + 1))
        printf '  ok    %s\n' "$name"
    else
        fail=$((fail + 1))
        printf '  FAIL  %s\n' "$name"
        sed 's/^/        /' <<<"$out" | head -40
    fi
}

alive() { # pid: running and not a zombie
    [ -n "$1" ] && [ "$1" != 0 ] && [ -r "/proc/$1/stat" ] &&
        [ "$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]
}

cgroup_procs() { # id: live pids in the container's cgroup (pids controller, or v2)
    local d
    for d in /sys/fs/cgroup/pids/wharf/"$1" /sys/fs/cgroup/wharf/"$1" /sys/fs/cgroup/unified/wharf/"$1"; do
        [ -f "$d/cgroup.procs" ] && cat "$d/cgroup.procs"
    done 2>/dev/null | while read -r p; do alive "$p" && echo "$p"; done
}

# The engine's word against the processes, for every container. Containers caught in a
# transition are looked at again a few times before a disagreement counts.
containers_agree() {
    local bad=0 id st pid state live tries
    for id in $(w ps -a -q --no-trunc); do
        for tries in 1 2 3 4 5 6; do
            st=$(w inspect "$id" 2>/dev/null | jq -c '(.[0] // .).State | {Status, Pid, Running, Paused}')
            state=$(jq -r .Status <<<"$st")
            pid=$(jq -r .Pid <<<"$st")
            live=$(cgroup_procs "$id" | tr '\n' ' ')
            case $state in
            running | paused)
                alive "$pid" && grep -qw "$pid" <<<"$live" && break
                ;;
            *)
                [ "$pid" = 0 ] && [ -z "$live" ] && break
                ;;
            esac
            if [ "$tries" = 6 ]; then
                echo "container ${id:0:12}: engine says $st; live processes in its cgroup: [${live}]; pid alive: $(alive "$pid" && echo yes || echo no)"
                bad=1
            fi
            sleep 1
        done
    done
    return $bad
}

no_orphan_processes() {
    # Processes in cgroups of containers the engine no longer has.
    local bad=0 id have
    have=$(w ps -a -q --no-trunc)
    for id in $(all_ids); do
        grep -qx "$id" <<<"$have" && continue
        local live
        live=$(cgroup_procs "$id" | tr '\n' ' ')
        if [ -n "$live" ]; then
            echo "removed container ${id:0:12} still has processes: $live"
            bad=1
        fi
    done
    # Monitors for containers that are not running.
    local p cid
    for p in $(root_procs); do
        cid=$(cmdline "$p" | tr ' ' '\n' | sed -n '/^__monitor$/{n;p}')
        [ -n "$cid" ] || continue
        state=$(w inspect "$cid" 2>/dev/null | jq -r '(.[0] // .).State.Status')
        case $state in
        running | paused | restarting) ;;
        *)
            echo "monitor $p for ${cid:0:12} runs, container is ${state:-gone}"
            bad=1
            ;;
        esac
    done
    return $bad
}

# What is on disk is what the engine lists: no container or volume directories that a
# killed create left behind without the engine knowing them.
no_unlisted_state() {
    local bad=0 d have
    have=$(w ps -a -q --no-trunc)
    for d in "$R"/containers/*; do
        [ -d "$d" ] || continue
        grep -qx "$(basename "$d")" <<<"$have" && continue
        echo "container directory the engine does not list: $d ($(ls "$d" | tr '\n' ' '))"
        bad=1
    done
    have=$(w volume ls -q)
    for d in "$R"/volumes/*; do
        [ -d "$d" ] || continue
        grep -qx "$(basename "$d")" <<<"$have" && continue
        echo "volume directory the engine does not list: $d ($(ls "$d" | tr '\n' ' '))"
        bad=1
    done
    return $bad
}

no_leaked_mounts() {
    local m
    m=$(awk -v r="$R" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo)
    [ -z "$m" ] || { echo "mounts under the root: $m"; return 1; }
}

no_leaked_cgroups() {
    local have bad=0 d
    have=$(w ps -a -q --no-trunc)
    for d in $(our_cgroups); do
        grep -qx "$(basename "$d")" <<<"$have" && continue
        echo "cgroup of removed container: $d"
        bad=1
    done
    return $bad
}

no_veths() {
    local now new
    now=$(ip -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^wv' | sort)
    new=$(comm -13 <(echo "$veths_before") <(echo "$now") | grep .)
    [ -z "$new" ] || { echo "veths appeared: $new"; return 1; }
}

no_staging() {
    w images >/dev/null || return 1 # an engine start cleans what killed loads left
    local left
    left=$(ls -A "$R/tmp" 2>/dev/null)
    [ -z "$left" ] || { echo "left in $R/tmp: $left"; ls -la "$R/tmp"; return 1; }
}

images_load() {
    local bad=0 id r2
    for id in $(w images -a -q --no-trunc); do
        r2=$(mktemp -d "$WORK/roots/load.XXXXXX")
        if ! w save -o "$r2.tar" "$id" >/dev/null; then
            echo "image $id does not save"
            bad=1
        elif ! "$WHARF" --root "$r2" load -q -i "$r2.tar" >/dev/null; then
            echo "image $id saved but does not load"
            bad=1
        elif ! "$WHARF" --root "$r2" images -a -q --no-trunc | grep -q "${id#sha256:}"; then
            echo "image $id loads as another image"
            bad=1
        fi
        rm -rf "$r2" "$r2.tar"
    done
    return $bad
}

volumes_intact() {
    local got v
    got=$(w run --rm --network none -v soakdata:/data:ro wharf/demo cat /data/known.txt) || return 1
    [ "$got" = "$known" ] || { echo "soakdata holds ${got@Q}, not ${known@Q}"; return 1; }
    for v in $(w volume ls -q); do
        w volume inspect "$v" >/dev/null || { echo "volume $v does not inspect"; return 1; }
    done
}

journals_parse() {
    local f n
    for f in "$R"/events.jsonl*; do
        [ -f "$f" ] || continue
        jq -e . "$f" >/dev/null || { echo "$f does not parse"; return 1; }
    done
    n=$(cat "$R"/events.jsonl* | wc -l)
    local m
    m=$(w events --since 0 --until "$(date +%s)" --format json | wc -l)
    [ "$m" -ge 1 ] || { echo "the engine reads no events back"; return 1; }
    echo "$n events stored, $m read back"
}

# Let containers that were mid-start or mid-stop settle first.
sleep 3
check "ps -a and inspect agree with the processes" containers_agree
check "no processes or monitors of stopped or removed containers" no_orphan_processes
check "no container or volume directories the engine does not list" no_unlisted_state
check "no mounts left under the root" no_leaked_mounts
check "no cgroups of removed containers" no_leaked_cgroups
check "no veths (everything ran with --network none)" no_veths
check "no staging left in tmp/ after an engine start" no_staging
check "audit verify" w audit verify
check "every image saves and loads" images_load
check "volume data intact" volumes_intact
check "event journal parses" journals_parse

# ---------------------------------------------------------------- report
echo
echo "operations by kind and outcome ($(wc -l <"$WORK/ops.log") in $((t1 - t0))s, seed $SEED):"
printf '  %-14s %6s %6s %6s %6s\n' kind ok error killed hung
for kind in $(cut -d' ' -f1 "$WORK/ops.log" | sort -u) all; do
    printf '  %-14s' "$kind"
    for o in ok error killed hung; do
        if [ "$kind" = all ]; then
            printf ' %6d' "$(grep -c " $o " "$WORK/ops.log")"
        else
            printf ' %6d' "$(grep -c "^$kind $o " "$WORK/ops.log")"
        fi
    done
    echo
done
echo "  through the socket: $(grep -c ' socket$' "$WORK/ops.log"), direct: $(grep -c ' direct$' "$WORK/ops.log")"
echo "kills injected: workers $(grep -c '^worker ' "$WORK/kills.log"), monitors $(grep -c '^monitor ' "$WORK/kills.log"), serve $(grep -c '^serve ' "$WORK/kills.log"), hung operations $(grep -c '^hung ' "$WORK/kills.log")"
echo "  workers killed during: $(sed -n 's/^worker-op //p' "$WORK/kills.log" | sort | uniq -c | sort -rn | awk '{printf "%s %s, ", $2, $1}' | sed 's/, $//')"
echo "errors, most frequent first (all in $WORK/errors-*.log while it runs):"
cat "$WORK"/errors-*.log 2>/dev/null | grep -v '^  ^' | sed -E 's/[0-9a-f]{12,64}/<id>/g; s/soak(v)?-[0-9]+-[0-9]+/<name>/g; s/[0-9]+-[0-9]+/<n>/g' |
    sort | uniq -c | sort -rn | head -15
echo "invariant checks: $pass passed, $fail failed"
if [ "$fail" -gt 0 ]; then
    failed=1
    exit 1
fi
