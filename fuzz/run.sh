#!/usr/bin/env bash
# Run every fuzz target for a bounded time, one after the other.
#
#   fuzz/run.sh                       # 60 s per target
#   FUZZ_SECONDS=600 fuzz/run.sh      # longer
#   fuzz/run.sh flags policy          # only these targets
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`); layer_unpack and
# image_load need root (a private mount namespace, mknod, chown). The corpus of each
# target grows in fuzz/corpus/<target>/ (only the seed-* files are in git), crashes go to
# fuzz/artifacts/<target>/, the full libFuzzer output to fuzz/logs/<target>.log. Prints
# one line per target (runs, execs/s, edges covered, corpus) and exits 1 if any target
# crashed. Not part of `cargo test`.
set -uo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-60}
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "building ${#targets[@]} targets (nightly, ASan, debug assertions)..."
if ! cargo +nightly fuzz build >/dev/null 2>build.log; then
    cat build.log
    exit 2
fi
rm -f build.log

# The file-writing targets make their scratch trees (tmpfs mounts in their own mount
# namespace) under this directory.
scratch=$(mktemp -d /dev/shm/wharf-fuzz-run.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
export FUZZ_TMP=$scratch

mkdir -p logs
failed=()
printf '%-14s %10s %9s %8s %8s %10s  %s\n' target runs execs/s edges features corpus result
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    extra=()
    case $t in
    layer_unpack | image_load)
        # Tar tokens; leak checking off (the hashing threads' thread-locals are still
        # allocated at exit: not a leak of the code under test).
        extra=(-dict=dict/tar.dict -detect_leaks=0)
        ;;
    esac
    log=logs/$t.log
    cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=20 -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
    edges=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
    if [ $rc -eq 0 ]; then
        result=ok
    else
        crash=$(grep -o 'artifacts/[^ ]*' "$log" | head -1)
        result="CRASH ${crash:-exit $rc} (see fuzz/$log)"
        failed+=("$t")
    fi
    printf '%-14s %10s %9s %8s %8s %10s  %s\n' "$t" "${runs:-?}" "${rate:-?}" "${edges:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]}"
    exit 1
fi
