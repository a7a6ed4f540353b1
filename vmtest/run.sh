#!/usr/bin/env bash
# Build the initramfs and boot the cgroup-v2-only guest by hand (the test
# app/tests/cgroup2_vm.rs does the same and checks the results).
#
#   vmtest/run.sh [WHARF_BINARY]     (default: target/debug/wharf)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
wharf=${1:-$here/../target/debug/wharf}
out=${VMTEST_OUT:-$here/../target/vmtest}
"$here/build-initramfs.sh" "$out" "$wharf"
timeout -s KILL "${VMTEST_TIMEOUT:-600}" "$here/boot.sh" "$out"
