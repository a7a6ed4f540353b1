#!/bin/sh
# The checks, run inside the cgroup-v2-only guest by the real wharf binary.
#
#   sh checks.sh            run every check, one "WHARF-VM PASS|FAIL <name>" line each
#   sh checks.sh one NAME   run one check (used by the runner, under a time limit)
#
# A check is a function check_<name> that returns 0 when it passes; whatever it prints
# is shown (last lines) when it fails. The harness on the host (app/tests/cgroup2_vm.rs)
# fails unless every check it expects reports PASS.

R=/var/lib/wharf-vm           # state root (on the guest's tmpfs /)
CG=/sys/fs/cgroup
export WHARF_ROOT=$R

# Checks in the order they run.
CHECKS="boot cgroup2_only controllers info_v2"

# Per-check time limit, seconds (emulated CPU: generous).
CHECK_TIMEOUT=${CHECK_TIMEOUT:-120}

fail() { echo "$*"; return 1; }

# --- checks -------------------------------------------------------------------------

check_boot() {
  t=$(stat -f -c %T /)
  [ "$t" = tmpfs ] || fail "/ is $t, not tmpfs (switch_root did not happen)"
}

check_cgroup2_only() {
  grep -q '^[^ ]* /sys/fs/cgroup cgroup2 ' /proc/mounts || fail "no cgroup2 mount on /sys/fs/cgroup: $(cat /proc/mounts)"
  ! awk '$3 == "cgroup"' /proc/mounts | grep -q . || fail "cgroup v1 hierarchies mounted: $(awk '$3 == "cgroup"' /proc/mounts)"
  # No controller bound to a v1 hierarchy (column 2 of /proc/cgroups is the hierarchy id).
  bound=$(awk 'NR > 1 && $2 != 0 { print $1 }' /proc/cgroups)
  [ -z "$bound" ] || fail "controllers bound to v1: $bound"
  [ -e $CG/cgroup.controllers ] || fail "$CG/cgroup.controllers missing"
}

check_controllers() {
  have=" $(cat $CG/cgroup.controllers) "
  enabled=" $(cat $CG/cgroup.subtree_control) "
  echo "available:$have"
  echo "enabled:$enabled"
  for c in cpu cpuset io memory pids; do
    case "$have" in *" $c "*) ;; *) fail "controller $c not available" || return 1 ;; esac
    case "$enabled" in *" $c "*) ;; *) fail "controller $c not enabled in subtree_control" || return 1 ;; esac
  done
}

check_info_v2() {
  out=$(wharf info 2>&1) || fail "wharf info failed: $out" || return 1
  echo "$out"
  echo "$out" | grep -q '^Cgroup mode: *v2$' || fail "wharf info does not say cgroup mode v2" || return 1
  json=$(wharf info --format json 2>&1) || fail "wharf info --format json failed: $json" || return 1
  echo "$json" | grep -q '"cgroup_mode": *"v2"' || fail "wharf info --format json: cgroup_mode is not v2"
}

# --- runner -------------------------------------------------------------------------

if [ "${1:-}" = one ]; then
  set -u
  "check_$2"
  exit $?
fi

mkdir -p $R /tmp/vmtest
npass=0
nfail=0
for name in $CHECKS; do
  log=/tmp/vmtest/$name.log
  start=$(date +%s)
  timeout -s KILL "$CHECK_TIMEOUT" sh "$0" one "$name" > "$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    echo "WHARF-VM PASS $name (${secs}s)"
    npass=$((npass + 1))
  else
    [ $rc -eq 137 ] && echo "timed out after ${CHECK_TIMEOUT}s" >> "$log"
    echo "WHARF-VM FAIL $name (${secs}s, rc $rc): $(tail -n 1 "$log")"
    tail -n 30 "$log" | sed "s/^/WHARF-VM   | /"
    nfail=$((nfail + 1))
  fi
done
if [ $nfail -gt 0 ]; then
  echo "WHARF-VM kernel log (last lines):"
  dmesg | tail -n 20 | sed "s/^/WHARF-VM   | /"
fi
echo "WHARF-VM DONE passed=$npass failed=$nfail"
